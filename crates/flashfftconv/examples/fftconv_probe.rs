//! Accuracy probe over FFT sizes, dtypes and gates (small shapes): prints the error ratios of
//! y, du, d_in_gate, d_out_gate and dk's relative L2 error. A development tool; the full sweep
//! is `cargo xtask test-gpu`.

use flashfftconv::half::{bf16, f16};
use flashfftconv::{FftConv, FftConvGrads, FftElement, FftInput, Gates, Gpu, KernelInput};
use flashfftconv_reference::data::{seed_from_env, Rng};
use flashfftconv_reference::fftconv::{self as reference, FftConvShape};
use flashfftconv_reference::metric::{compare, rel_l2};
use flashfftconv_reference::DType;

type R<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn main() -> R {
    let seed = seed_from_env();
    let mut rng = Rng::new(seed);
    println!("seed {seed}");
    let gpu = Gpu::new(0)?;
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes: Vec<usize> = if args.is_empty() { (8..=15).map(|l| 1 << l).collect() } else { args };
    println!(
        "{:>6} {:>6} {:>5} {:>4} | {:>6} {:>6} {:>6} {:>6} {:>9}",
        "N", "L", "dt", "gate", "y", "du", "dgi", "dgo", "dk"
    );
    for &n in &sizes {
        for &(len, lk) in &[(n, n), (n / 2, n / 2), (n / 2 + 1, 3)] {
            for gated in [false, true] {
                run::<bf16>(&gpu, &mut rng, n, len, lk, gated, DType::BF16)?;
                run::<f16>(&gpu, &mut rng, n, len, lk, gated, DType::F16)?;
            }
        }
    }
    Ok(())
}

fn run<T: FftElement>(gpu: &Gpu, rng: &mut Rng, n: usize, len: usize, lk: usize, gated: bool, dt: DType) -> R {
    let (batch, heads) = (3, 5);
    let shape = FftConvShape { batch, heads, len, kernel_len: lk, fft_size: n };
    let u = rng.unit(shape.u_len(), dt);
    let gi = rng.unit(shape.u_len(), dt);
    let go = rng.unit(shape.u_len(), dt);
    let dy = rng.unit(shape.u_len(), dt);
    let k = rng.unit(shape.k_len(), DType::F32);
    let (gi_r, go_r) = if gated { (Some(&gi[..]), Some(&go[..])) } else { (None, None) };
    let y_ref = reference::forward(&shape, &u, &k, gi_r, go_r)?;
    let g_ref = reference::backward(&shape, &u, &k, gi_r, go_r, &dy)?;
    let stream = gpu.context().default_stream();
    let conv = FftConv::new(gpu, n)?;
    let to = |xs: &[f64]| xs.iter().map(|&v| T::from_f64(v)).collect::<Vec<T>>();
    let u_d = stream.clone_htod(&to(&u))?;
    let gi_d = stream.clone_htod(&to(&gi))?;
    let go_d = stream.clone_htod(&to(&go))?;
    let dy_d = stream.clone_htod(&to(&dy))?;
    let k_d = stream.clone_htod(&k.iter().map(|&v| v as f32).collect::<Vec<_>>())?;
    let mut y_d = stream.clone_htod(&to(&vec![0.0; shape.u_len()]))?;
    let mut du_d = stream.clone_htod(&to(&vec![0.0; shape.u_len()]))?;
    let mut dgi_d = stream.clone_htod(&to(&vec![0.0; shape.u_len()]))?;
    let mut dgo_d = stream.clone_htod(&to(&vec![0.0; shape.u_len()]))?;
    let mut dk_d = stream.alloc_zeros::<f32>(shape.k_len())?;
    let (uv, giv, gov, dyv, kv) = (u_d.as_view(), gi_d.as_view(), go_d.as_view(), dy_d.as_view(), k_d.as_view());
    let x = FftInput { u: &uv, batch, heads, len };
    let kernel = KernelInput::Raw { k: &kv, kernel_len: lk };
    let gates = if gated { Gates::both(&giv, &gov) } else { Gates::none() };
    conv.forward(gpu, &stream, x, kernel, gates, &mut y_d.as_view_mut())?;
    let (mut duv, mut dkv, mut dgiv, mut dgov) =
        (du_d.as_view_mut(), dk_d.as_view_mut(), dgi_d.as_view_mut(), dgo_d.as_view_mut());
    let grads = FftConvGrads {
        du: &mut duv,
        dk: &mut dkv,
        d_in_gate: if gated { Some(&mut dgiv) } else { None },
        d_out_gate: if gated { Some(&mut dgov) } else { None },
    };
    conv.backward(gpu, &stream, x, kernel, gates, &dyv, grads)?;
    let back = |d: &flashfftconv::cudarc::driver::CudaSlice<T>| -> R<Vec<f64>> {
        Ok(stream.clone_dtoh(d)?.iter().map(|v| v.to_f64()).collect())
    };
    let ry = compare(&back(&y_d)?, &y_ref, dt).ratio;
    let rdu = compare(&back(&du_d)?, &g_ref.du, dt).ratio;
    let (rgi, rgo) = if gated {
        (
            compare(&back(&dgi_d)?, g_ref.d_in_gate.as_ref().unwrap(), dt).ratio,
            compare(&back(&dgo_d)?, g_ref.d_out_gate.as_ref().unwrap(), dt).ratio,
        )
    } else {
        (0.0, 0.0)
    };
    let dk: Vec<f64> = stream.clone_dtoh(&dk_d)?.iter().map(|&v| v as f64).collect();
    let rdk = rel_l2(&dk, &g_ref.dk);
    println!(
        "{n:>6} {len:>6} {:>5} {:>4} | {ry:>6.3} {rdu:>6.3} {rgi:>6.3} {rgo:>6.3} {rdk:>9.2e}",
        format!("{dt:?}"),
        gated
    );
    Ok(())
}
