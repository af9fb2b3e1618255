"""PyTorch baseline for the FFT-convolution benchmark: a gated FFT conv with torch.fft.

Reads one JSON object per line on stdin ({"setting", "gated", "dtype", "batch", "heads", "len",
"fft_size", "kernel_len"}) and prints one JSON line per input with the median forward and
backward times in ms (CUDA events, after warm-up):

    z = u.float() * in_gate                       (u, gates: (B, H, L) in bf16 / f16)
    y = (irfft(rfft(z, n=N) * K, n=N)[..., :L] * out_gate).to(dtype)
    K = rfft(k, n=N)                              (k: (H, Lk) f32)

the way a PyTorch user writes it (the FFTs in f32, as the original FlashFFTConv's reference
`fftconv_ref` does). The forward is timed with K precomputed (like flashfftconv's prepared
kernel); the backward is autograd through the whole graph (K computed from k inside it) for the
gradients of u, k and both gates, timed as `torch.autograd.grad` alone. A shape that runs out
of GPU memory reports null times and a note.
"""
import json
import math
import sys

import torch

DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16}


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


def fftconv(u, k_f, in_gate, out_gate, n, dtype):
    z = u.float() if in_gate is None else u.float() * in_gate
    y = torch.fft.irfft(torch.fft.rfft(z, n=n) * k_f, n=n)[..., : u.shape[-1]]
    if out_gate is not None:
        y = y * out_gate
    return y.to(dtype)


def run(case):
    b, h, l = case["batch"], case["heads"], case["len"]
    n, lk = case["fft_size"], case["kernel_len"]
    dtype = DTYPES[case["dtype"]]
    dev = "cuda"
    result = {**case, "torch_fwd_ms": None, "torch_bwd_ms": None, "torch": torch.__version__}
    try:
        u = torch.randn(b, h, l, device=dev, dtype=dtype)
        gates = [torch.randn(b, h, l, device=dev, dtype=dtype) for _ in range(2)] if case["gated"] else [None, None]
        k = torch.randn(h, lk, device=dev, dtype=torch.float32) / math.sqrt(lk)
        with torch.no_grad():
            k_f = torch.fft.rfft(k, n=n)
            result["torch_fwd_ms"] = median_ms(lambda: fftconv(u, k_f, gates[0], gates[1], n, dtype))
        del k_f
        leaves = [u.requires_grad_(True), k.requires_grad_(True)] + [g.requires_grad_(True) for g in gates if g is not None]
        y = fftconv(u, torch.fft.rfft(k, n=n), gates[0], gates[1], n, dtype)
        dy = torch.randn_like(y)
        result["torch_bwd_ms"] = median_ms(lambda: torch.autograd.grad(y, leaves, dy, retain_graph=True))
    except torch.cuda.OutOfMemoryError as e:
        result["torch_note"] = "PyTorch out of GPU memory: " + str(e).split("\n")[0][:160]
    return result


def main():
    for line in sys.stdin:
        line = line.strip()
        if line:
            print(json.dumps(run(json.loads(line))), flush=True)
            torch.cuda.empty_cache()  # the shape's tensors are gone once run returns


if __name__ == "__main__":
    main()
