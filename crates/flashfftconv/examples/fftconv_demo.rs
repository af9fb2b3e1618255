//! FFT convolution on random data, checked against the f64 reference and timed — on the GPU when
//! there is one, on the CPU reference alone otherwise:
//!
//! 1. causal (Hyena-style): bf16, `N = 2L`, a decaying kernel as long as the sequence, forward
//!    and backward with the raw kernel;
//! 2. bidirectional (circular): f16, `Lk = N = L`, both gates, a kernel prepared once and reused.
//!
//! `cargo run --release -p flashfftconv --example fftconv_demo`

use flashfftconv::half::{bf16, f16};
use flashfftconv::{FftConv, FftConvGrads, FftElement, FftInput, Gates, Gpu, KernelInput};
use flashfftconv_reference::bounds::{FFTCONV_DK_MAX_REL_L2, FFTCONV_MAX_RATIO};
use flashfftconv_reference::data::{seed_from_env, Rng};
use flashfftconv_reference::fftconv::{self as reference, FftConvShape};
use flashfftconv_reference::metric::{compare, rel_l2};
use flashfftconv_reference::DType;
use std::time::Instant;

type DemoResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn main() -> DemoResult {
    let seed = seed_from_env();
    let mut rng = Rng::new(seed);
    println!("seed {seed}");
    let gpu = match Gpu::new(0) {
        Ok(gpu) => Some(gpu),
        Err(why) => {
            println!("no GPU run: {why}");
            None
        }
    };
    causal(gpu.as_ref(), &mut rng)?;
    bidirectional(gpu.as_ref(), &mut rng)
}

/// 1. Causal: `y[t] = Σ_{s ≤ t} k[t − s] · u[s]`, which needs `N ≥ L + Lk − 1`; `N = 2L`.
fn causal(gpu: Option<&Gpu>, rng: &mut Rng) -> DemoResult {
    let (batch, heads, len) = (4, 768, 4096);
    let shape = FftConvShape::causal(batch, heads, len); // kernel_len = L, fft_size = 2L
    println!("\n1. causal FFT conv: B={batch} H={heads} L={len} Lk={} N={}, bf16", shape.kernel_len, shape.fft_size);
    let u = rng.unit(shape.u_len(), DType::BF16);
    let k = rng.decaying(shape.k_len(), DType::F32, 1e-3);
    let dy = rng.unit(shape.u_len(), DType::BF16);
    let started = Instant::now();
    let y_ref = reference::forward(&shape, &u, &k, None, None)?;
    let grads_ref = reference::backward(&shape, &u, &k, None, None, &dy)?;
    println!("f64 CPU reference (forward + backward): {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let Some(gpu) = gpu else { return Ok(()) };

    let stream = gpu.context().default_stream();
    let conv = FftConv::new(gpu, shape.fft_size)?;
    let u_dev = stream.clone_htod(&to_dtype::<bf16>(&u))?;
    let k_dev = stream.clone_htod(&k.iter().map(|&v| v as f32).collect::<Vec<_>>())?;
    let dy_dev = stream.clone_htod(&to_dtype::<bf16>(&dy))?;
    let mut y_dev = stream.alloc_zeros::<bf16>(shape.u_len())?;
    let mut du_dev = stream.alloc_zeros::<bf16>(shape.u_len())?;
    let mut dk_dev = stream.alloc_zeros::<f32>(shape.k_len())?;
    let (u_view, k_view, dy_view) = (u_dev.as_view(), k_dev.as_view(), dy_dev.as_view());
    let x = FftInput { u: &u_view, batch, heads, len };
    let kernel = KernelInput::Raw { k: &k_view, kernel_len: shape.kernel_len };

    let forward_ms = time(gpu, || conv.forward(gpu, &stream, x, kernel, Gates::none(), &mut y_dev.as_view_mut()))?;
    let backward_ms = time(gpu, || {
        let grads = FftConvGrads {
            du: &mut du_dev.as_view_mut(),
            dk: &mut dk_dev.as_view_mut(),
            d_in_gate: None,
            d_out_gate: None,
        };
        conv.backward(gpu, &stream, x, kernel, Gates::none(), &dy_view, grads)
    })?;
    println!("GPU ({}): forward {forward_ms:.3} ms, backward {backward_ms:.3} ms", gpu.context().name()?);
    check("y", &from_dtype(&stream.clone_dtoh(&y_dev)?), &y_ref, DType::BF16)?;
    check("du", &from_dtype(&stream.clone_dtoh(&du_dev)?), &grads_ref.du, DType::BF16)?;
    check_dk(&stream.clone_dtoh(&dk_dev)?, &grads_ref.dk)
}

/// 2. Bidirectional: `Lk = N`, every output sees every input (circular convolution), with an
///    input and an output gate, and the kernel's spectrum prepared once.
fn bidirectional(gpu: Option<&Gpu>, rng: &mut Rng) -> DemoResult {
    let (batch, heads, n) = (2, 256, 2048);
    let shape = FftConvShape { batch, heads, len: n, kernel_len: n, fft_size: n };
    println!("\n2. bidirectional FFT conv: B={batch} H={heads} L=Lk=N={n}, f16, both gates, prepared kernel");
    let u = rng.unit(shape.u_len(), DType::F16);
    let in_gate = rng.unit(shape.u_len(), DType::F16);
    let out_gate = rng.unit(shape.u_len(), DType::F16);
    let k = rng.unit(shape.k_len(), DType::F32);
    let started = Instant::now();
    let y_ref = reference::forward(&shape, &u, &k, Some(&in_gate), Some(&out_gate))?;
    println!("f64 CPU reference (forward): {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let Some(gpu) = gpu else { return Ok(()) };

    let stream = gpu.context().default_stream();
    let conv = FftConv::new(gpu, n)?;
    let u_dev = stream.clone_htod(&to_dtype::<f16>(&u))?;
    let in_dev = stream.clone_htod(&to_dtype::<f16>(&in_gate))?;
    let out_dev = stream.clone_htod(&to_dtype::<f16>(&out_gate))?;
    let k_dev = stream.clone_htod(&k.iter().map(|&v| v as f32).collect::<Vec<_>>())?;
    let mut y_dev = stream.alloc_zeros::<f16>(shape.u_len())?;
    // Once per set of weights: FFT(k) for every head, reused by every call below.
    let prepared = conv.prepare(gpu, &stream, &k_dev.as_view(), heads, n)?;
    let (u_view, in_view, out_view) = (u_dev.as_view(), in_dev.as_view(), out_dev.as_view());
    let x = FftInput { u: &u_view, batch, heads, len: n };
    let gates = Gates::both(&in_view, &out_view);
    let forward_ms =
        time(gpu, || conv.forward(gpu, &stream, x, KernelInput::Prepared(&prepared), gates, &mut y_dev.as_view_mut()))?;
    println!("GPU ({}): forward {forward_ms:.3} ms (prepared kernel)", gpu.context().name()?);
    check("y", &from_dtype(&stream.clone_dtoh(&y_dev)?), &y_ref, DType::F16)
}

/// Mean time of one call in ms over 20 calls after a warm-up, synchronising before and after.
fn time(gpu: &Gpu, mut call: impl FnMut() -> flashfftconv::Result<()>) -> DemoResult<f64> {
    let stream = gpu.context().default_stream();
    call()?;
    stream.synchronize()?;
    let iters = 20;
    let started = Instant::now();
    for _ in 0..iters {
        call()?;
    }
    stream.synchronize()?;
    Ok(started.elapsed().as_secs_f64() * 1e3 / iters as f64)
}

fn to_dtype<T: FftElement>(xs: &[f64]) -> Vec<T> {
    xs.iter().map(|&v| T::from_f64(v)).collect()
}

fn from_dtype<T: FftElement>(xs: &[T]) -> Vec<f64> {
    xs.iter().map(|&v| v.to_f64()).collect()
}

fn check(what: &str, got: &[f64], reference: &[f64], dtype: DType) -> DemoResult {
    let report = compare(got, reference, dtype);
    println!("{what}: {report}");
    if report.passes(FFTCONV_MAX_RATIO) {
        Ok(())
    } else {
        Err(format!("{what}: error / rounding floor = {} exceeds {FFTCONV_MAX_RATIO}", report.ratio).into())
    }
}

fn check_dk(got: &[f32], reference: &[f64]) -> DemoResult {
    let got: Vec<f64> = got.iter().map(|&v| v as f64).collect();
    let err = rel_l2(&got, reference);
    println!("dk: rel_l2 {err:.3e}");
    if err <= FFTCONV_DK_MAX_REL_L2 {
        Ok(())
    } else {
        Err(format!("dk: relative L2 error {err:.3e} exceeds {FFTCONV_DK_MAX_REL_L2}").into())
    }
}
