//! Criterion bench of the FFT-convolution forward (prepared kernel) for two sizes of the issue-3
//! table: bf16 gated causal L = 1K (N = 2K, B = 64, H = 768) and bf16 ungated circular N = 4K
//! (B = 16, H = 1024), with device time from CUDA events (`iter_custom`). Without a GPU it
//! prints one line and returns.

use criterion::{criterion_group, criterion_main, Criterion};
use flashfftconv::cudarc::driver::sys;
use flashfftconv::{half::bf16, FftConv, FftInput, Gates, Gpu, KernelInput};
use flashfftconv_bench::fftconv::FftConvBenchShape;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let gpu = match flashfftconv::device_count() {
        Ok(n) if n > 0 => match Gpu::new(0) {
            Ok(g) => g,
            Err(e) => {
                println!("fftconv criterion bench skipped: {e}");
                return;
            }
        },
        _ => {
            println!("fftconv criterion bench skipped: no CUDA device");
            return;
        }
    };
    let stream = gpu.context().default_stream();
    for shape in
        [FftConvBenchShape::causal("bf16", 64, 768, 1024), FftConvBenchShape::circular("bf16", false, 16, 1024, 4096)]
    {
        let (b, h, l, n, lk) = (shape.batch, shape.heads, shape.len, shape.fft_size, shape.kernel_len);
        let conv = match FftConv::new(&gpu, n) {
            Ok(conv) => conv,
            Err(e) => {
                println!("fftconv criterion bench: N = {n} skipped: {e}");
                continue;
            }
        };
        let fill = |len: usize, salt: usize| -> Vec<bf16> {
            (0..len).map(|i| bf16::from_f32((((i * 7919 + salt) % 2003) as f32 / 1001.0) - 1.0)).collect()
        };
        let u = stream.clone_htod(&fill(b * h * l, 1)).expect("upload");
        let in_gate = stream.clone_htod(&fill(b * h * l, 2)).expect("upload");
        let out_gate = stream.clone_htod(&fill(b * h * l, 3)).expect("upload");
        let k = stream.clone_htod(&vec![1.0f32 / lk as f32; h * lk]).expect("upload");
        let prepared = conv.prepare(&gpu, &stream, &k.as_view(), h, lk).expect("prepare");
        let mut y = stream.alloc_zeros::<bf16>(b * h * l).expect("alloc");
        let name = format!(
            "fftconv_fwd_{}_{}_bf16_B{b}_H{h}_L{l}_N{n}",
            shape.setting,
            if shape.gated { "gated" } else { "ungated" }
        );
        c.bench_function(&name, |bench| {
            bench.iter_custom(|iters| {
                let flags = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
                let start = gpu.context().new_event(flags).expect("event");
                let end = gpu.context().new_event(flags).expect("event");
                start.record(&stream).expect("record");
                for _ in 0..iters {
                    let (ig, og) = (in_gate.as_view(), out_gate.as_view());
                    let gates = if shape.gated { Gates::both(&ig, &og) } else { Gates::none() };
                    conv.forward(
                        &gpu,
                        &stream,
                        FftInput { u: &u.as_view(), batch: b, heads: h, len: l },
                        KernelInput::Prepared(&prepared),
                        gates,
                        &mut y.as_view_mut(),
                    )
                    .expect("forward");
                }
                end.record(&stream).expect("record");
                end.synchronize().expect("sync");
                Duration::from_secs_f64(start.elapsed_ms(&end).expect("elapsed") as f64 * 1e-3)
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
