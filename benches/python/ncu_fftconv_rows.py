"""Per-row Nsight Compute profile of the fftconv bench rows (what bounds each row).

On the GPU machine, from the device bundle:

    bash .device/run.sh python ncu_fftconv_rows.py [--pass fwd|bwd] [--dtype bf16 ...] [--out DIR]

For each row of the N <= 32K table (causal L = 256 ... 16K, circular L = 256 ... 32K) it runs
`./bench --op fftconv --setting S --len L --dtype D --no-torch --no-cufft` under `ncu`, profiles
the 6th launch of the pass's kernel (after 5 warm-up launches) at the card's own clocks, keeps
the raw CSV in DIR and prints one markdown table: duration, DRAM and pipe utilisation, achieved
occupancy, registers and the main stall reasons (cycles per issued instruction).
"""

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys

ROWS = [("causal", n) for n in (256, 1024, 4096, 8192, 16384)] + [
    ("circular", n) for n in (256, 1024, 4096, 8192, 16384, 32768)
]

# (ncu metric, column title)
METRICS = [
    ("gpu__time_duration.sum", "µs"),
    ("dram__throughput.avg.pct_of_peak_sustained_elapsed", "DRAM %"),
    ("smsp__issue_active.avg.pct_of_peak_sustained_active", "issue %"),
    ("sm__warps_active.avg.pct_of_peak_sustained_active", "warps %"),
    ("sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active", "tensor %"),
    ("sm__pipe_alu_cycles_active.avg.pct_of_peak_sustained_active", "ALU %"),
    ("sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active", "FMA %"),
    ("sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active", "XU %"),
    ("launch__registers_per_thread", "regs"),
    ("smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio", "long sb"),
    ("smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio", "barrier"),
    ("smsp__average_warps_issue_stalled_wait_per_issue_active.ratio", "wait"),
    ("smsp__average_warps_issue_stalled_not_selected_per_issue_active.ratio", "not sel."),
]


def ncu_path():
    found = shutil.which("ncu")
    return found or "/usr/local/cuda/bin/ncu"


def profile(bench, kind, dtype, setting, length, out_dir):
    """Runs one row under ncu; returns {metric: (value, unit)} and the kernel name, or None."""
    cmd = [
        ncu_path(), "--clock-control", "none", "-k", f"regex:fftconv_{kind}",
        "--launch-skip", "5", "--launch-count", "1",
        "--metrics", ",".join(m for m, _ in METRICS), "--csv", "--page", "raw",
        bench, "--op", "fftconv", "--setting", setting, "--len", str(length), "--dtype", dtype,
        "--no-torch", "--no-cufft", "--out", os.path.join(out_dir, "bench.json"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    name = os.path.join(out_dir, f"ncu-{kind}-{dtype}-{setting}-{length}")
    with open(name + ".csv", "w") as f:
        f.write(done.stdout)
    with open(name + ".err", "w") as f:
        f.write(done.stderr)
    lines = done.stdout.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), None)
    if start is None:
        return None, None
    header, units, values = list(csv.reader(io.StringIO("\n".join(lines[start:start + 3]))))
    got = {h: (v, u) for h, u, v in zip(header, units, values)}
    return got, got.get("Kernel Name", ("?", ""))[0]


def number(value, unit, metric):
    x = float(value.replace(",", ""))
    if metric == "gpu__time_duration.sum":
        x *= {"ns": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}.get(unit, float("nan"))
        return f"{x:.0f}"
    return f"{x:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pass", dest="kind", choices=["fwd", "bwd"], action="append")
    ap.add_argument("--dtype", choices=["bf16", "f16"], action="append")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "ncu-rows"))
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    header = "| pass | dtype | setting | L | kernel | " + " | ".join(t for _, t in METRICS) + " |"
    table = [header, "|" + "---|" * (5 + len(METRICS))]
    for kind in args.kind or ["fwd"]:
        for dtype in args.dtype or ["bf16", "f16"]:
            for setting, length in ROWS:
                got, kernel = profile(args.bench, kind, dtype, setting, length, args.out)
                if got is None:
                    print(f"ncu_fftconv_rows: no profile for {kind} {dtype} {setting} {length}", file=sys.stderr)
                    continue
                cells = [number(*got[m], m) if m in got else "?" for m, _ in METRICS]
                table.append(f"| {kind} | {dtype} | {setting} | {length} | `{kernel}` | " + " | ".join(cells) + " |")
                print(f"ncu_fftconv_rows: {kind} {dtype} {setting} {length} done", file=sys.stderr)
    text = "\n".join(table) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
