"""PyTorch baseline for the depthwise conv1d benchmark: nn.Conv1d(D, D, K, groups=D).

Reads one JSON object per line on stdin ({"layout", "batch", "channels", "len", "taps",
"pad_left", "pad_right", "dtype"}) and prints one JSON line per input with the median forward and
backward times in ms (CUDA events, after warm-up). The BLH layout is what a user of a (B, L, D)
model does: transpose to (B, D, L), convolve, transpose back (contiguous).
"""
import json
import sys

import torch
import torch.nn.functional as F

DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}


def median_ms(fn, warmup=5, iters=30):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def run(case):
    b, d, l, k = case["batch"], case["channels"], case["len"], case["taps"]
    pl, pr = case["pad_left"], case["pad_right"]
    dtype = DTYPES[case["dtype"]]
    dev = "cuda"
    w = torch.randn(d, 1, k, device=dev, dtype=dtype)
    bias = torch.randn(d, device=dev, dtype=dtype)
    shape = (b, d, l) if case["layout"] == "bhl" else (b, l, d)
    x = torch.randn(*shape, device=dev, dtype=dtype, requires_grad=True)

    def fwd():
        xi = x if case["layout"] == "bhl" else x.transpose(1, 2)
        y = F.conv1d(F.pad(xi, (pl, pr)), w, bias, groups=d)
        return y if case["layout"] == "bhl" else y.transpose(1, 2).contiguous()

    with torch.no_grad():
        fwd_ms = median_ms(fwd)
    y = fwd()
    dy = torch.randn_like(y)

    def bwd():
        torch.autograd.grad(y, (x,), dy, retain_graph=True)

    w.requires_grad_(True)
    bias.requires_grad_(True)
    y = fwd()

    def bwd_all():
        torch.autograd.grad(y, (x, w, bias), dy, retain_graph=True)

    bwd_ms = median_ms(bwd_all)
    return {**case, "torch_fwd_ms": fwd_ms, "torch_bwd_ms": bwd_ms, "torch": torch.__version__}


def main():
    torch.backends.cudnn.benchmark = True
    for line in sys.stdin:
        line = line.strip()
        if line:
            print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
