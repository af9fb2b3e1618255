//! FFT convolution in f64, the core operation of flashfftconv.
//!
//! ```text
//! z = in_gate ⊙ u                      u, in_gate, out_gate, y: (B, H, L) row-major
//! c = circ_N(z, k)[..L]                k: (H, Lk) row-major, shared over the batch
//! y = out_gate ⊙ c
//! circ_N(z, k)[t] = Σ_{s<L, m<Lk, s+m ≡ t (mod N)} z[s] · k[m]  =  iFFT_N(FFT_N(z) · FFT_N(k))[t]
//! ```
//!
//! `u` and `k` are zero-padded to the FFT size `N` (implicitly), the convolution is circular of
//! size `N`, and only the first `L` outputs are kept. A causal convolution
//! `y[t] = Σ_{s≤t} k[t−s] · u[s]` is `N ≥ L + Lk − 1` (usually `N = 2L`, `Lk ≤ L`); a
//! bidirectional (circular) one is `Lk = N`. Each gate is optional (absent means all ones).
//! Any `N ≥ 1` is accepted, with `1 ≤ L ≤ N` and `1 ≤ Lk ≤ N`.
//!
//! # Gradients
//!
//! The adjoint of a circular convolution is a circular correlation. With `g = out_gate ⊙ dy`
//! zero-padded to `N`:
//!
//! ```text
//! d_out_gate = dy ⊙ c
//! dz         = corr_N(g, k)[..L]  = iFFT(FFT(g) · conj(FFT(k)))[..L]
//! du         = dz ⊙ in_gate,      d_in_gate = dz ⊙ u
//! dk[h]      = Σ_b corr_N(g, z)[..Lk] = iFFT(Σ_b FFT(g) · conj(FFT(z)))[..Lk]
//! corr_N(g, k)[s] = Σ_t g[t] · k[(t − s) mod N]
//! ```
//!
//! # Implementation
//!
//! FFTs are planned with rustfft (plans are cached per thread) and every buffer is allocated
//! once per call, so a call costs
//! `O(B·H·N log N)` time and a few `N`-element complex buffers (`N = 2²³` takes about 0.5 GiB).
//! All signals are real, so two of them share one complex FFT:
//!
//! * forward: rows `b` and `b+1` of a head go in as `z_b + i·z_{b+1}`; the kernel spectrum is that
//!   of a real signal, so the inverse FFT returns `c_b + i·c_{b+1}`;
//! * backward: `p = z + i·g` is transformed once; `Z[f] = (P[f] + conj(P[−f]))/2` and
//!   `G[f] = (P[f] − conj(P[−f]))/(2i)` give both spectra, and one inverse FFT of
//!   `Z·K + i·G·conj(K)` returns `c + i·dz`. The `dk` spectrum is summed over the batch and
//!   inverted once per head.
//!
//! Before sharing an FFT each signal is scaled by a power of two (exact) that brings its largest
//! magnitude into `[1, 2)`, so a small signal sharing an FFT with a large one keeps its own
//! relative accuracy. [`direct_circular`] computes the forward pass by the definition, for
//! testing.

use crate::{check_len, product3, ShapeError};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::cell::RefCell;
use std::sync::Arc;

type C64 = Complex<f64>;

/// Shape of an FFT convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FftConvShape {
    /// Batch size B.
    pub batch: usize,
    /// Heads H (one kernel each).
    pub heads: usize,
    /// Sequence length L of `u` and `y` (`1 ≤ L ≤ N`).
    pub len: usize,
    /// Kernel length Lk (`1 ≤ Lk ≤ N`).
    pub kernel_len: usize,
    /// FFT size N (the circular convolution's period).
    pub fft_size: usize,
}

/// Gradients of an FFT convolution.
#[derive(Clone, Debug, PartialEq)]
pub struct FftConvGrads {
    /// `∂loss/∂u`, `(B, H, L)`.
    pub du: Vec<f64>,
    /// `∂loss/∂k`, `(H, Lk)`, summed over the batch.
    pub dk: Vec<f64>,
    /// `∂loss/∂in_gate`, `(B, H, L)`; present when `in_gate` was given.
    pub d_in_gate: Option<Vec<f64>>,
    /// `∂loss/∂out_gate`, `(B, H, L)`; present when `out_gate` was given.
    pub d_out_gate: Option<Vec<f64>>,
}

impl FftConvShape {
    /// A causal convolution: kernel as long as the sequence, `N = 2L`.
    pub fn causal(batch: usize, heads: usize, len: usize) -> Self {
        FftConvShape { batch, heads, len, kernel_len: len, fft_size: len.saturating_mul(2) }
    }

    /// Elements of `u`, the gates, `y` and `dy`: `B · H · L` (saturating).
    pub fn u_len(&self) -> usize {
        self.batch.saturating_mul(self.heads).saturating_mul(self.len)
    }

    /// Elements of `k` and `dk`: `H · Lk` (saturating).
    pub fn k_len(&self) -> usize {
        self.heads.saturating_mul(self.kernel_len)
    }

    /// Whether no output wraps around: `N ≥ L + Lk − 1`, so `y` is the linear (causal)
    /// convolution `y[t] = Σ_{s≤t} k[t−s] · z[s]`.
    pub fn is_linear(&self) -> bool {
        self.fft_size >= self.len.saturating_add(self.kernel_len).saturating_sub(1)
    }

    /// Checks `N ≥ 1`, `1 ≤ L ≤ N`, `1 ≤ Lk ≤ N` and that the element counts fit in `usize`.
    /// Zero batch or heads are valid (empty tensors).
    pub fn validate(&self) -> Result<(), ShapeError> {
        if self.fft_size == 0 {
            return Err(ShapeError::Invalid("fft_size must be at least 1"));
        }
        if self.len == 0 || self.len > self.fft_size {
            return Err(ShapeError::Invalid("len must be in 1..=fft_size"));
        }
        if self.kernel_len == 0 || self.kernel_len > self.fft_size {
            return Err(ShapeError::Invalid("kernel_len must be in 1..=fft_size"));
        }
        product3(self.batch, self.heads, self.len)?;
        product3(self.heads, self.kernel_len, 1)?;
        Ok(())
    }

    /// Checks the shape and every buffer length.
    fn check(&self, u: &[f64], k: &[f64], in_gate: Option<&[f64]>, out_gate: Option<&[f64]>) -> Result<(), ShapeError> {
        self.validate()?;
        check_len("u", u, self.u_len())?;
        check_len("k", k, self.k_len())?;
        if let Some(g) = in_gate {
            check_len("in_gate", g, self.u_len())?;
        }
        if let Some(g) = out_gate {
            check_len("out_gate", g, self.u_len())?;
        }
        Ok(())
    }

    /// Offset of row `(b, h)` in a `(B, H, L)` tensor.
    fn row(&self, b: usize, h: usize) -> usize {
        (b * self.heads + h) * self.len
    }
}

thread_local! {
    /// Plans made on this thread, kept for the thread's life so that the forward and backward
    /// passes of one test plan each size once (a test thread's plans go when the test ends).
    static PLANNER: RefCell<FftPlanner<f64>> = RefCell::new(FftPlanner::new());
}

/// Forward and inverse plans of one size, with their shared scratch.
struct Plans {
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    scratch: Vec<C64>,
}

impl Plans {
    fn new(n: usize) -> Self {
        let (forward, inverse) = PLANNER.with(|planner| {
            let mut planner = planner.borrow_mut();
            (planner.plan_fft_forward(n), planner.plan_fft_inverse(n))
        });
        let scratch_len = forward.get_inplace_scratch_len().max(inverse.get_inplace_scratch_len());
        Plans { forward, inverse, scratch: vec![C64::new(0.0, 0.0); scratch_len] }
    }

    /// Unnormalised forward DFT in place.
    fn forward(&mut self, buf: &mut [C64]) {
        self.forward.process_with_scratch(buf, &mut self.scratch);
    }

    /// Unnormalised inverse DFT in place (the result is `N` times the inverse transform).
    fn inverse(&mut self, buf: &mut [C64]) {
        self.inverse.process_with_scratch(buf, &mut self.scratch);
    }

    /// The spectrum of the real signal `x` zero-padded to `out.len()`.
    fn real_spectrum(&mut self, x: &[f64], out: &mut [C64]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = C64::new(v, 0.0);
        }
        out[x.len()..].fill(C64::new(0.0, 0.0));
        self.forward(out);
    }
}

/// `2^e` with `2^−e · max|x|` in `[1, 2)`: the exact scale that normalises a signal before it
/// shares an FFT. 1 for an all-zero or non-finite signal; `e` is clamped to `[−400, 400]` so that
/// products of two such scales stay normal.
fn power_of_two_scale(xs: &[f64]) -> f64 {
    let m = xs.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if m == 0.0 || !m.is_finite() {
        return 1.0;
    }
    let e = (((m.to_bits() >> 52) & 0x7ff) as i32 - 1023).clamp(-400, 400);
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// Writes `src[r..r+L] ⊙ gate[r..r+L]` (or just `src`) into `row`.
fn gated_row(row: &mut [f64], src: &[f64], gate: Option<&[f64]>, r: usize) {
    let n = row.len();
    match gate {
        Some(g) => {
            for ((o, &x), &gv) in row.iter_mut().zip(&src[r..r + n]).zip(&g[r..r + n]) {
                *o = x * gv;
            }
        }
        None => row.copy_from_slice(&src[r..r + n]),
    }
}

/// Forward FFT convolution: `y = out_gate ⊙ iFFT(FFT(in_gate ⊙ u) ⊙ FFT(k))[..L]`, `(B, H, L)`.
pub fn forward(
    shape: &FftConvShape,
    u: &[f64],
    k: &[f64],
    in_gate: Option<&[f64]>,
    out_gate: Option<&[f64]>,
) -> Result<Vec<f64>, ShapeError> {
    shape.check(u, k, in_gate, out_gate)?;
    let (n, l, lk) = (shape.fft_size, shape.len, shape.kernel_len);
    let mut y = vec![0.0; shape.u_len()];
    if y.is_empty() {
        return Ok(y);
    }
    let mut plans = Plans::new(n);
    let mut kf = vec![C64::new(0.0, 0.0); n];
    let mut buf = vec![C64::new(0.0, 0.0); n];
    let (mut z0, mut z1) = (vec![0.0; l], vec![0.0; l]);
    let inv_n = 1.0 / n as f64;
    for h in 0..shape.heads {
        plans.real_spectrum(&k[h * lk..(h + 1) * lk], &mut kf);
        for b in (0..shape.batch).step_by(2) {
            let r0 = shape.row(b, h);
            let r1 = (b + 1 < shape.batch).then(|| shape.row(b + 1, h));
            gated_row(&mut z0, u, in_gate, r0);
            match r1 {
                Some(r1) => gated_row(&mut z1, u, in_gate, r1),
                None => z1.fill(0.0),
            }
            let (s0, s1) = (power_of_two_scale(&z0), power_of_two_scale(&z1));
            for ((o, &a), &c) in buf.iter_mut().zip(&z0).zip(&z1) {
                *o = C64::new(a / s0, c / s1);
            }
            buf[l..].fill(C64::new(0.0, 0.0));
            plans.forward(&mut buf);
            for (v, kv) in buf.iter_mut().zip(&kf) {
                *v *= kv;
            }
            plans.inverse(&mut buf);
            let (f0, f1) = (inv_n * s0, inv_n * s1);
            for (t, v) in buf[..l].iter().enumerate() {
                y[r0 + t] = v.re * f0 * out_gate.map_or(1.0, |g| g[r0 + t]);
                if let Some(r1) = r1 {
                    y[r1 + t] = v.im * f1 * out_gate.map_or(1.0, |g| g[r1 + t]);
                }
            }
        }
    }
    Ok(y)
}

/// Backward FFT convolution: the gradients of `⟨y, dy⟩` (see the module docs for the math).
///
/// `dy` is `(B, H, L)`. `d_in_gate` / `d_out_gate` are computed only for the gates given.
pub fn backward(
    shape: &FftConvShape,
    u: &[f64],
    k: &[f64],
    in_gate: Option<&[f64]>,
    out_gate: Option<&[f64]>,
    dy: &[f64],
) -> Result<FftConvGrads, ShapeError> {
    shape.check(u, k, in_gate, out_gate)?;
    check_len("dy", dy, shape.u_len())?;
    let (n, l, lk) = (shape.fft_size, shape.len, shape.kernel_len);
    let mut grads = FftConvGrads {
        du: vec![0.0; shape.u_len()],
        dk: vec![0.0; shape.k_len()],
        d_in_gate: in_gate.map(|_| vec![0.0; shape.u_len()]),
        d_out_gate: out_gate.map(|_| vec![0.0; shape.u_len()]),
    };
    if shape.u_len() == 0 {
        return Ok(grads);
    }
    let mut plans = Plans::new(n);
    let mut kf = vec![C64::new(0.0, 0.0); n];
    let mut p = vec![C64::new(0.0, 0.0); n];
    let mut dk_spec = vec![C64::new(0.0, 0.0); n];
    let (mut z, mut g) = (vec![0.0; l], vec![0.0; l]);
    let inv_n = 1.0 / n as f64;
    let half_i = C64::new(0.0, -0.5); // 1 / (2i)
    let i = C64::new(0.0, 1.0);
    for h in 0..shape.heads {
        plans.real_spectrum(&k[h * lk..(h + 1) * lk], &mut kf);
        dk_spec.fill(C64::new(0.0, 0.0));
        for b in 0..shape.batch {
            let r = shape.row(b, h);
            gated_row(&mut z, u, in_gate, r);
            gated_row(&mut g, dy, out_gate, r);
            let (sz, sg) = (power_of_two_scale(&z), power_of_two_scale(&g));
            for ((o, &a), &c) in p.iter_mut().zip(&z).zip(&g) {
                *o = C64::new(a / sz, c / sg);
            }
            p[l..].fill(C64::new(0.0, 0.0));
            plans.forward(&mut p);
            // Split P into Z/sz and G/sg, and replace it by Z·K + i·G·conj(K) (both scaled);
            // frequencies f and −f are read together before either is overwritten.
            let unscale = sz * sg;
            for f in 0..=n / 2 {
                let f2 = (n - f) % n;
                let (a, c) = (p[f], p[f2]);
                let zf = (a + c.conj()) * 0.5;
                let gf = (a - c.conj()) * half_i;
                p[f] = zf * kf[f] + i * gf * kf[f].conj();
                dk_spec[f] += gf * zf.conj() * unscale;
                if f2 != f {
                    let (zf2, gf2) = (zf.conj(), gf.conj());
                    p[f2] = zf2 * kf[f2] + i * gf2 * kf[f2].conj();
                    dk_spec[f2] += gf2 * zf2.conj() * unscale;
                }
            }
            plans.inverse(&mut p);
            let (fc, fz) = (inv_n * sz, inv_n * sg);
            for (t, v) in p[..l].iter().enumerate() {
                let (c, dz) = (v.re * fc, v.im * fz);
                if let Some(d) = grads.d_out_gate.as_mut() {
                    d[r + t] = dy[r + t] * c;
                }
                grads.du[r + t] = dz * in_gate.map_or(1.0, |ig| ig[r + t]);
                if let Some(d) = grads.d_in_gate.as_mut() {
                    d[r + t] = dz * u[r + t];
                }
            }
        }
        plans.inverse(&mut dk_spec);
        for (o, v) in grads.dk[h * lk..(h + 1) * lk].iter_mut().zip(&dk_spec) {
            *o = v.re * inv_n;
        }
    }
    Ok(grads)
}

/// The forward pass by its definition, `O(B·H·L·Lk)`: for testing the FFT path.
pub fn direct_circular(
    shape: &FftConvShape,
    u: &[f64],
    k: &[f64],
    in_gate: Option<&[f64]>,
    out_gate: Option<&[f64]>,
) -> Result<Vec<f64>, ShapeError> {
    shape.check(u, k, in_gate, out_gate)?;
    let (n, l, lk) = (shape.fft_size, shape.len, shape.kernel_len);
    let mut y = vec![0.0; shape.u_len()];
    let mut z = vec![0.0; l];
    for b in 0..shape.batch {
        for h in 0..shape.heads {
            let r = shape.row(b, h);
            gated_row(&mut z, u, in_gate, r);
            let kh = &k[h * lk..(h + 1) * lk];
            for t in 0..l {
                let mut acc = 0.0;
                for (m, &km) in kh.iter().enumerate() {
                    let s = if m <= t { t - m } else { t + (n - m) };
                    if s < l {
                        acc += km * z[s];
                    }
                }
                y[r + t] = acc * out_gate.map_or(1.0, |g| g[r + t]);
            }
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests;
