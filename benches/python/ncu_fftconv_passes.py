"""Per-launch Nsight Compute profile of one fftconv bench row: time and DRAM bytes per kernel.

On the GPU machine, from the device bundle:

    bash .device/run.sh python ncu_fftconv_passes.py TAG COUNT BENCH-ARGS...

e.g. `ncu_fftconv_passes.py causal4m 40 --op fftconv --long --setting causal --len 4194304
--no-torch --no-cufft --iters 0,1`. It runs `./bench BENCH-ARGS` under `ncu` at the card's own
clocks, profiles the first COUNT launches of `fftconv_*` kernels (with `--iters 0,1` the bench
runs each step once: prepare, forward, raw forward, backward), keeps the raw CSV as
`$OUT/ncu-TAG.csv` and prints one line per launch (µs, DRAM MB read and written, registers,
grid), then the sums per kernel name.
"""

import collections
import csv
import io
import os
import subprocess
import sys

METRICS = [
    "gpu__time_duration.sum",
    "dram__bytes_read.sum",
    "dram__bytes_write.sum",
    "launch__registers_per_thread",
    "launch__grid_size",
]


def number(text):
    return float(text.replace(",", ""))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    tag, count, bench_args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    out = os.environ.get("OUT", "/tmp")
    cmd = ["ncu", "--clock-control", "none", "-k", "regex:fftconv_", "--launch-count", str(count),
           "--metrics", ",".join(METRICS), "--csv", "--page", "raw", "./bench"] + bench_args
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=550)
    with open(f"{out}/ncu-{tag}.csv", "w") as f:
        f.write(done.stdout)
    lines = [l for l in done.stdout.splitlines() if l.startswith('"')]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows:
        print(tag, "no rows; stderr tail:", done.stderr[-2000:])
        sys.exit(1)
    head, data = rows[0], rows[2:]
    col = {m: head.index(m) for m in METRICS}
    name = head.index("Kernel Name")
    print(f"## {tag}: {len(data)} launches")
    print("| # | kernel | µs | DRAM read MB | DRAM write MB | GB/s | regs | grid |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    sums = collections.OrderedDict()
    for i, r in enumerate(data):
        us = number(r[col["gpu__time_duration.sum"]]) / 1000
        rd = number(r[col["dram__bytes_read.sum"]]) / 1e6
        wr = number(r[col["dram__bytes_write.sum"]]) / 1e6
        print(f"| {i} | `{r[name]}` | {us:.1f} | {rd:.1f} | {wr:.1f} | {(rd + wr) / us * 1e3:.0f} "
              f"| {r[col['launch__registers_per_thread']]} | {r[col['launch__grid_size']]} |")
        s = sums.setdefault(r[name], [0, 0.0, 0.0, 0.0])
        s[0] += 1
        s[1] += us
        s[2] += rd
        s[3] += wr
    print(f"\n## {tag}: per kernel")
    print("| kernel | launches | µs | DRAM read MB | DRAM write MB | GB/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, (n, us, rd, wr) in sums.items():
        print(f"| `{k}` | {n} | {us:.1f} | {rd:.1f} | {wr:.1f} | {(rd + wr) / us * 1e3:.0f} |")


if __name__ == "__main__":
    main()
