"""Same-call A/B table from `run.sh ab` logs: the minimum over rounds of each row's forward and
backward time for the old and the new build, and the change in percent.

    python3 ab_table.py DIR     # DIR holds ab-old-1.log, ab-new-1.log, ab-old-2.log, ...

Reads the `bench: SETTING DTYPE L=.. N=..: fwd Some(..) ms, bwd Some(..)` lines of the fftconv
bench (a row that appears twice, the ungated one, is numbered #2) and the markdown rows of the
conv1d bench (columns found by their header, so old and new table layouts both work).
"""

import collections
import glob
import os
import re
import sys

FFTCONV = re.compile(r"bench: (\w+) (\w+) L=(\d+) N=(\d+): fwd Some\(([\d.]+)\) ms, bwd Some\(([\d.]+)\)")


def rows_of(text):
    """{key: (fwd ms, bwd ms)} of one log, in order."""
    out = collections.OrderedDict()
    seen = collections.Counter()
    for m in FFTCONV.finditer(text):
        key = m.group(1, 2, 3, 4)
        seen[key] += 1
        out[key + (str(seen[key]),)] = (float(m.group(5)), float(m.group(6)))
    header = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| layout |"):
            header = cells
        elif header and line.startswith("| b") and len(cells) == len(header):
            col = dict(zip(header, cells))
            key = (col["layout"], col["D"], col["L"], col["K"])
            out[key] = (float(col["fwd ms"]), float(col["bwd ms"]))
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    best = {"old": {}, "new": {}}
    order = []
    for path in sorted(glob.glob(os.path.join(d, "ab-*-*.log"))):
        kind = os.path.basename(path).split("-")[1]
        if kind not in best:
            continue
        for key, (fwd, bwd) in rows_of(open(path, errors="replace").read()).items():
            if key not in order:
                order.append(key)
            old = best[kind].get(key)
            best[kind][key] = (fwd, bwd) if old is None else (min(old[0], fwd), min(old[1], bwd))
    lines = [
        "| row | old fwd | new fwd | Δ fwd | old bwd | new bwd | Δ bwd |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key in order:
        if key not in best["old"] or key not in best["new"]:
            continue
        (of, ob), (nf, nb) = best["old"][key], best["new"][key]
        lines.append(
            f"| {' '.join(key)} | {of:.4g} | {nf:.4g} | {100 * (nf / of - 1):+.1f} % "
            f"| {ob:.4g} | {nb:.4g} | {100 * (nb / ob - 1):+.1f} % |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
