//! The main job on a fresh machine: a causal depthwise conv1d (bf16 activations, f32 weights,
//! `(B, L, D)` layout) on random data, checked against the f64 reference and timed — on the GPU
//! when there is one, on the CPU reference alone otherwise.
//!
//! `cargo run --release -p flashfftconv --example conv1d_demo`

use flashfftconv::{half::bf16, DepthwiseConv1d, Gpu, Input, Layout};
use flashfftconv_reference::bounds::CONV1D_MAX_RATIO;
use flashfftconv_reference::conv1d as reference;
use flashfftconv_reference::data::{seed_from_env, Rng};
use flashfftconv_reference::metric::compare;
use flashfftconv_reference::DType;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (batch, channels, len, taps) = (4, 768, 4096, 4);
    let conv = DepthwiseConv1d::causal(channels, taps).with_layout(Layout::Blh);
    let seed = seed_from_env();
    let mut rng = Rng::new(seed);
    let x = rng.unit(batch * len * channels, DType::BF16);
    let w = rng.unit(channels * taps, DType::F32);
    let bias = rng.unit(channels, DType::F32);
    println!("causal depthwise conv1d: B={batch} L={len} D={channels} K={taps}, bf16 x, f32 weights, seed {seed}");

    let shape = reference::Conv1dShape {
        batch,
        channels,
        len,
        taps,
        pad_left: taps - 1,
        pad_right: 0,
        layout: reference::Layout::Blh,
    };
    let started = Instant::now();
    let y_ref = reference::forward(&shape, &x, &w, Some(&bias))?;
    println!("f64 CPU reference: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);

    let gpu = match Gpu::new(0) {
        Ok(gpu) => gpu,
        Err(why) => {
            println!("no GPU run: {why}");
            return Ok(());
        }
    };
    let stream = gpu.context().default_stream();
    let x_dev = stream.clone_htod(&x.iter().map(|&v| bf16::from_f64(v)).collect::<Vec<_>>())?;
    let w_dev = stream.clone_htod(&w.iter().map(|&v| v as f32).collect::<Vec<_>>())?;
    let bias_dev = stream.clone_htod(&bias.iter().map(|&v| v as f32).collect::<Vec<_>>())?;
    let mut y_dev = stream.alloc_zeros::<bf16>(batch * conv.output_len(len)? * channels)?;
    let mut run = || {
        conv.forward(
            &gpu,
            &stream,
            Input { data: &x_dev.as_view(), batch, len },
            &w_dev.as_view(),
            Some(&bias_dev.as_view()),
            &mut y_dev.as_view_mut(),
        )
    };
    run()?; // warm-up
    stream.synchronize()?;
    let iters = 20;
    let started = Instant::now();
    for _ in 0..iters {
        run()?;
    }
    stream.synchronize()?;
    let per_call = started.elapsed().as_secs_f64() / iters as f64;
    let y: Vec<f64> = stream.clone_dtoh(&y_dev)?.iter().map(|v| v.to_f64()).collect();
    let report = compare(&y, &y_ref, DType::BF16);
    println!("GPU ({}): {:.3} ms per call; {report}", gpu.context().name()?, per_call * 1e3);
    if report.passes(CONV1D_MAX_RATIO) {
        println!("matches the reference: error / rounding floor = {:.3} ≤ {CONV1D_MAX_RATIO}", report.ratio);
        Ok(())
    } else {
        Err(format!("error / rounding floor = {} exceeds {CONV1D_MAX_RATIO}", report.ratio).into())
    }
}
