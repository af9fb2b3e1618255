//! Criterion bench of the depthwise conv1d forward (bf16, B=16, D=1024, L=4096, K=5) with
//! device time from CUDA events (`iter_custom`). Without a GPU it prints one line and returns.

use criterion::{criterion_group, criterion_main, Criterion};
use flashfftconv::cudarc::driver::sys;
use flashfftconv::{half::bf16, DepthwiseConv1d, Gpu, Input, Layout};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let gpu = match flashfftconv::device_count() {
        Ok(n) if n > 0 => match Gpu::new(0) {
            Ok(g) => g,
            Err(e) => {
                println!("conv1d criterion bench skipped: {e}");
                return;
            }
        },
        _ => {
            println!("conv1d criterion bench skipped: no CUDA device");
            return;
        }
    };
    let stream = gpu.context().default_stream();
    let (b, d, l, k) = (16, 1024, 4096, 5);
    for layout in [Layout::Bhl, Layout::Blh] {
        let conv = DepthwiseConv1d::same(d, k).with_layout(layout);
        let x = stream.clone_htod(&vec![bf16::from_f32(0.5); b * d * l]).expect("upload");
        let w = stream.clone_htod(&vec![bf16::from_f32(0.25); d * k]).expect("upload");
        let mut y = stream.alloc_zeros::<bf16>(b * d * l).expect("alloc");
        c.bench_function(&format!("conv1d_fwd_{layout:?}_bf16_B16_D1024_L4096_K5"), |bench| {
            bench.iter_custom(|iters| {
                let flags = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
                let start = gpu.context().new_event(flags).expect("event");
                let end = gpu.context().new_event(flags).expect("event");
                start.record(&stream).expect("record");
                for _ in 0..iters {
                    conv.forward(
                        &gpu,
                        &stream,
                        Input { data: &x.as_view(), batch: b, len: l },
                        &w.as_view(),
                        None,
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
