"""Per-SASS-instruction execution counts and stall samples of one fftconv bench row (ncu).

On the GPU machine, from the device bundle:

    bash .device/run.sh python ncu_sass_counts.py ROW [ROW ...] [--out DIR]

ROW is `pass:dtype:setting:L`, e.g. `fwd:bf16:causal:256`. For each row it profiles the 6th
launch of the pass's kernel in `./bench --op fftconv ...` with ncu's SourceCounters and
WarpStateStats sections, writes the SASS source page (one line per instruction: address,
SASS, warp-level instructions executed, stall samples) to DIR/sass-ROW.csv and prints the
executed warp instructions per opcode (the top 25). The CSV is what `docs/perf-notes.md`'s
per-phase instruction counts are read from (phases split at `BAR.SYNC`).
"""

import argparse
import collections
import csv
import io
import os
import shutil
import subprocess
import sys


def ncu_path():
    return shutil.which("ncu") or "/usr/local/cuda/bin/ncu"


def profile(bench, row, out_dir):
    kind, dtype, setting, length = row.split(":")
    tag = row.replace(":", "-")
    rep = os.path.join(out_dir, f"prof-{tag}")
    cmd = [
        ncu_path(), "--clock-control", "none", "-k", f"regex:fftconv_{kind}",
        "--launch-skip", "5", "--launch-count", "1",
        "--section", "SourceCounters", "--section", "WarpStateStats", "--import-source", "no",
        "-f", "-o", rep,
        bench, "--op", "fftconv", "--setting", setting, "--len", length, "--dtype", dtype,
        "--no-torch", "--no-cufft", "--out", os.path.join(out_dir, "bench.json"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
        return None
    page = subprocess.run(
        [ncu_path(), "-i", rep + ".ncu-rep", "--page", "source", "--print-source", "sass", "--csv"],
        capture_output=True, text=True, timeout=300,
    )
    path = os.path.join(out_dir, f"sass-{tag}.csv")
    with open(path, "w") as f:
        f.write(page.stdout)
    return path


def summarize(path):
    with open(path) as f:
        text = f.read()
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith('"Address"') or l.startswith('"#"')), 0)
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[start:]))))
    if not rows:
        return "no rows"
    key = next((k for k in rows[0] if k.startswith("Instructions Executed")), None)
    src = next((k for k in rows[0] if k == "Source"), None)
    if key is None or src is None:
        return "columns: " + ", ".join(rows[0].keys())
    per_op = collections.Counter()
    for r in rows:
        try:
            n = float(r[key].replace(",", "") or 0)
        except ValueError:
            continue
        words = [w for w in r[src].split() if not w.startswith("@")]
        op = words[0].split(".")[0] if words else "?"
        per_op[op] += n
    total = sum(per_op.values())
    out = [f"total warp instructions executed: {total:.4g}"]
    for op, n in per_op.most_common(25):
        out.append(f"  {op:10s} {n:12.4g}  {100 * n / total:5.1f} %")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="+")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "ncu-sass"))
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for row in args.rows:
        path = profile(args.bench, row, args.out)
        print(f"== {row}")
        print(summarize(path) if path else "profile failed")


if __name__ == "__main__":
    main()
