use super::*;
use crate::conv1d::{self, Conv1dShape, Layout};
use crate::data::Rng;
use crate::test_util::{assert_adjoint, max_diff, norm};
use crate::DType;
use proptest::prelude::*;

fn shape(b: usize, h: usize, l: usize, lk: usize, n: usize) -> FftConvShape {
    FftConvShape { batch: b, heads: h, len: l, kernel_len: lk, fft_size: n }
}

/// Inputs of one test case; gates present or not.
struct Case {
    s: FftConvShape,
    u: Vec<f64>,
    k: Vec<f64>,
    ig: Option<Vec<f64>>,
    og: Option<Vec<f64>>,
}

impl Case {
    fn new(s: FftConvShape, seed: u64, in_gate: bool, out_gate: bool) -> Self {
        let mut rng = Rng::new(seed);
        Case {
            u: rng.unit(s.u_len(), DType::F16),
            k: rng.unit(s.k_len(), DType::F16),
            ig: in_gate.then(|| rng.unit(s.u_len(), DType::F16)),
            og: out_gate.then(|| rng.unit(s.u_len(), DType::F16)),
            s,
        }
    }

    fn forward(&self) -> Vec<f64> {
        forward(&self.s, &self.u, &self.k, self.ig.as_deref(), self.og.as_deref()).unwrap()
    }
}

/// `dz` and `dk` by their definitions (circular correlations as explicit sums).
fn direct_backward(c: &Case, dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let s = &c.s;
    let (n, l, lk) = (s.fft_size, s.len, s.kernel_len);
    let mut dz = vec![0.0; s.u_len()];
    let mut dk = vec![0.0; s.k_len()];
    for b in 0..s.batch {
        for h in 0..s.heads {
            let r = s.row(b, h);
            let z = |i: usize| c.u[r + i] * c.ig.as_ref().map_or(1.0, |g| g[r + i]);
            let g = |t: usize| dy[r + t] * c.og.as_ref().map_or(1.0, |g| g[r + t]);
            for t in 0..l {
                for m in 0..lk {
                    // y[t] gets k[m]·z[(t − m) mod N].
                    let si = (t + n - m) % n;
                    if si < l {
                        dz[r + si] += g(t) * c.k[h * lk + m];
                        dk[h * lk + m] += g(t) * z(si);
                    }
                }
            }
        }
    }
    (dz, dk)
}

#[test]
fn hand_examples() {
    let s = shape(1, 1, 4, 4, 4);
    let u = [1.0, 2.0, 3.0, 4.0];
    let y = forward(&s, &u, &[1.0, 0.0, 0.0, 0.0], None, None).unwrap();
    assert!(max_diff(&y, &u) < 1e-15);
    // k = δ₁ shifts circularly.
    let y = forward(&s, &u, &[0.0, 1.0, 0.0, 0.0], None, None).unwrap();
    assert!(max_diff(&y, &[4.0, 1.0, 2.0, 3.0]) < 1e-15);
    // Causal: N = 8, the shift does not wrap.
    let s = FftConvShape::causal(1, 1, 4);
    assert_eq!(s.fft_size, 8);
    assert!(s.is_linear());
    let y = forward(&s, &u, &[0.0, 1.0, 0.0, 0.0], None, None).unwrap();
    assert!(max_diff(&y, &[0.0, 1.0, 2.0, 3.0]) < 1e-15);
    // Gates.
    let ig = [2.0, 0.0, 1.0, 1.0];
    let og = [1.0, 1.0, -1.0, 0.5];
    let y = forward(&s, &u, &[1.0, 1.0, 0.0, 0.0], Some(&ig), Some(&og)).unwrap();
    // z = [2, 0, 3, 4]; c = [2, 2, 3, 7]; y = [2, 2, −3, 3.5].
    assert!(max_diff(&y, &[2.0, 2.0, -3.0, 3.5]) < 1e-14);
    // N = 1.
    let y = forward(&shape(2, 1, 1, 1, 1), &[3.0, -1.0], &[2.0], None, None).unwrap();
    assert!(max_diff(&y, &[6.0, -2.0]) < 1e-15);
}

#[test]
fn validation() {
    let bad = |s: FftConvShape| forward(&s, &[], &[], None, None).unwrap_err();
    assert!(matches!(bad(shape(1, 1, 1, 1, 0)), ShapeError::Invalid(_)));
    assert!(matches!(bad(shape(1, 1, 0, 1, 4)), ShapeError::Invalid(_)));
    assert!(matches!(bad(shape(1, 1, 5, 1, 4)), ShapeError::Invalid(_)));
    assert!(matches!(bad(shape(1, 1, 4, 0, 4)), ShapeError::Invalid(_)));
    assert!(matches!(bad(shape(1, 1, 4, 5, 4)), ShapeError::Invalid(_)));
    assert_eq!(bad(shape(usize::MAX, 2, 1, 1, 1)), ShapeError::Overflow);
    let s = shape(2, 1, 3, 2, 4);
    let (u, k) = (vec![0.0; 6], vec![0.0; 2]);
    assert!(matches!(forward(&s, &u[1..], &k, None, None), Err(ShapeError::Length { name: "u", .. })));
    assert!(matches!(forward(&s, &u, &u, None, None), Err(ShapeError::Length { name: "k", .. })));
    assert!(matches!(forward(&s, &u, &k, Some(&k), None), Err(ShapeError::Length { name: "in_gate", .. })));
    assert!(matches!(direct_circular(&s, &u, &k, None, Some(&k)), Err(ShapeError::Length { name: "out_gate", .. })));
    assert!(matches!(backward(&s, &u, &k, None, None, &k), Err(ShapeError::Length { name: "dy", .. })));
    // Empty batch or heads.
    let e = shape(0, 3, 4, 2, 8);
    assert_eq!(forward(&e, &[], &[0.0; 6], None, None), Ok(vec![]));
    let g = backward(&e, &[], &[0.0; 6], Some(&[]), None, &[]).unwrap();
    assert_eq!(g.dk, vec![0.0; 6]);
    assert_eq!(g.d_in_gate, Some(vec![]));
    assert_eq!(g.d_out_gate, None);
}

#[test]
fn shape_helpers() {
    let s = shape(2, 3, 5, 4, 8);
    assert_eq!(s.u_len(), 30);
    assert_eq!(s.k_len(), 12);
    assert!(s.is_linear());
    assert!(!shape(1, 1, 5, 5, 8).is_linear());
    assert!(shape(1, 1, 5, 4, 8).is_linear());
}

/// A tiny row sharing an FFT with a large one keeps its own relative accuracy.
#[test]
fn rows_of_very_different_scale() {
    let s = shape(3, 1, 200, 200, 512);
    let mut c = Case::new(s, 11, true, false);
    for v in &mut c.u[..200] {
        *v *= 1e-12;
    }
    for v in &mut c.u[400..] {
        *v *= 1e12;
    }
    let y = c.forward();
    let yd = direct_circular(&s, &c.u, &c.k, c.ig.as_deref(), None).unwrap();
    for r in 0..3 {
        let row = r * 200..(r + 1) * 200;
        let err = max_diff(&y[row.clone()], &yd[row.clone()]) / norm(&yd[row]);
        assert!(err < 1e-14, "row {r}: {err:e}");
    }
    // Backward: dy tiny against u, and the other way round.
    for dy_scale in [1e-12, 1e12] {
        let dy: Vec<f64> = Rng::new(12).unit(s.u_len(), DType::F16).iter().map(|v| v * dy_scale).collect();
        let g = backward(&s, &c.u, &c.k, c.ig.as_deref(), None, &dy).unwrap();
        let (dz, dk) = direct_backward(&c, &dy);
        let du: Vec<f64> = dz.iter().zip(c.ig.as_ref().unwrap()).map(|(a, b)| a * b).collect();
        for r in 0..3 {
            let row = r * 200..(r + 1) * 200;
            let err = max_diff(&g.du[row.clone()], &du[row.clone()]) / norm(&du[row]);
            assert!(err < 1e-14, "du row {r}, dy scale {dy_scale:e}: {err:e}");
        }
        let err = max_diff(&g.dk, &dk) / norm(&dk);
        assert!(err < 1e-14, "dk, dy scale {dy_scale:e}: {err:e}");
    }
}

fn arb_shape() -> impl Strategy<Value = FftConvShape> {
    (1usize..4, 1usize..3, 1usize..34)
        .prop_flat_map(|(b, h, n)| (Just(b), Just(h), 1..=n, 1..=n, Just(n)))
        .prop_map(|(b, h, l, lk, n)| shape(b, h, l, lk, n))
}

fn arb_causal_shape() -> impl Strategy<Value = FftConvShape> {
    (1usize..4, 1usize..3, 1usize..20)
        .prop_flat_map(|(b, h, l)| (Just(b), Just(h), Just(l), 1..=l, (2 * l - 1)..=(2 * l + 3)))
        .prop_map(|(b, h, l, lk, n)| shape(b, h, l, lk, n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The FFT path equals the definition, for any N (power of two or not).
    #[test]
    fn matches_direct(s in arb_shape(), seed in any::<u64>(), ig in any::<bool>(), og in any::<bool>()) {
        let c = Case::new(s, seed, ig, og);
        let y = c.forward();
        let yd = direct_circular(&s, &c.u, &c.k, c.ig.as_deref(), c.og.as_deref()).unwrap();
        prop_assert!(max_diff(&y, &yd) <= 1e-13 * (1.0 + s.kernel_len as f64));
    }

    /// With N ≥ L + Lk − 1 the FFT conv is the causal depthwise conv1d with flipped taps and
    /// K − 1 zeros on the left: y[t] = Σ_{s≤t} k[t−s]·z[s].
    #[test]
    fn causal_equals_conv1d(s in arb_causal_shape(), seed in any::<u64>(), ig in any::<bool>(), og in any::<bool>()) {
        prop_assume!(s.is_linear());
        let c = Case::new(s, seed, ig, og);
        let y = c.forward();
        let lk = s.kernel_len;
        let cs = Conv1dShape {
            batch: s.batch,
            channels: s.heads,
            len: s.len,
            taps: lk,
            pad_left: lk - 1,
            pad_right: 0,
            layout: Layout::Bhl,
        };
        prop_assert_eq!(cs.len_out(), s.len);
        let w: Vec<f64> = (0..s.heads)
            .flat_map(|h| c.k[h * lk..(h + 1) * lk].iter().rev().copied())
            .collect();
        let z: Vec<f64> = match &c.ig {
            Some(g) => c.u.iter().zip(g).map(|(a, b)| a * b).collect(),
            None => c.u.clone(),
        };
        let mut yc = conv1d::forward(&cs, &z, &w, None).unwrap();
        if let Some(g) = &c.og {
            yc.iter_mut().zip(g).for_each(|(a, b)| *a *= b);
        }
        prop_assert!(max_diff(&y, &yc) <= 1e-13 * (1.0 + lk as f64));
    }

    /// y is linear in u and in k.
    #[test]
    fn linear(s in arb_shape(), seed in any::<u64>(), a in -2.0f64..2.0, b in -2.0f64..2.0) {
        let c1 = Case::new(s, seed, true, true);
        let mut rng = Rng::new(seed ^ 1);
        let u2 = rng.unit(s.u_len(), DType::F32);
        let k2 = rng.unit(s.k_len(), DType::F32);
        let f = |u: &[f64], k: &[f64]| {
            forward(&s, u, k, c1.ig.as_deref(), c1.og.as_deref()).unwrap()
        };
        let mix = |x: &[f64], y: &[f64]| -> Vec<f64> {
            x.iter().zip(y).map(|(p, q)| a * p + b * q).collect()
        };
        let tol = 1e-13 * (1.0 + s.kernel_len as f64);
        let lhs = f(&mix(&c1.u, &u2), &c1.k);
        let rhs = mix(&f(&c1.u, &c1.k), &f(&u2, &c1.k));
        prop_assert!(max_diff(&lhs, &rhs) <= tol);
        let lhs = f(&c1.u, &mix(&c1.k, &k2));
        let rhs = mix(&f(&c1.u, &c1.k), &f(&c1.u, &k2));
        prop_assert!(max_diff(&lhs, &rhs) <= tol);
    }

    /// With N ≥ 2L, changing u after position t leaves y[..=t] unchanged (up to FFT roundoff).
    #[test]
    fn causal_ignores_future(l in 2usize..40, lk_frac in 0.0f64..1.0, seed in any::<u64>()) {
        let lk = 1 + ((l - 1) as f64 * lk_frac) as usize;
        let s = shape(1, 1, l, lk, 2 * l);
        let mut c = Case::new(s, seed, true, true);
        let mut rng = Rng::new(seed ^ 2);
        let t = rng.below(l - 1);
        let y0 = c.forward();
        for v in &mut c.u[t + 1..] {
            *v = 10.0 * rng.uniform();
        }
        let y1 = c.forward();
        prop_assert!(max_diff(&y0[..=t], &y1[..=t]) <= 1e-12 * (1.0 + lk as f64));
        // Direct conv says exactly unchanged.
        let d0 = direct_circular(&s, &Case::new(s, seed, true, true).u, &c.k, c.ig.as_deref(), c.og.as_deref()).unwrap();
        let d1 = direct_circular(&s, &c.u, &c.k, c.ig.as_deref(), c.og.as_deref()).unwrap();
        prop_assert_eq!(&d0[..=t], &d1[..=t]);
    }

    /// `⟨J·δ, dy⟩ = ⟨δ, backward(dy)⟩` for δ on u, k, in_gate and out_gate (y is linear in
    /// each, so J·δ is the forward pass with that input replaced by δ).
    #[test]
    fn adjoint(s in arb_shape(), seed in any::<u64>(), ig in any::<bool>(), og in any::<bool>()) {
        let c = Case::new(s, seed, ig, og);
        let mut rng = Rng::new(seed ^ 3);
        let dy = rng.unit(s.u_len(), DType::F32);
        let g = backward(&s, &c.u, &c.k, c.ig.as_deref(), c.og.as_deref(), &dy).unwrap();
        prop_assert_eq!(g.d_in_gate.is_some(), ig);
        prop_assert_eq!(g.d_out_gate.is_some(), og);
        let (igd, ogd) = (c.ig.as_deref(), c.og.as_deref());
        let v = rng.unit(s.u_len(), DType::F32);
        let ju = forward(&s, &v, &c.k, igd, ogd).unwrap();
        assert_adjoint("u", &ju, &dy, &v, &g.du);
        let vk = rng.unit(s.k_len(), DType::F32);
        let jk = forward(&s, &c.u, &vk, igd, ogd).unwrap();
        assert_adjoint("k", &jk, &dy, &vk, &g.dk);
        if let Some(dig) = &g.d_in_gate {
            let ji = forward(&s, &c.u, &c.k, Some(&v), ogd).unwrap();
            assert_adjoint("in_gate", &ji, &dy, &v, dig);
        }
        if let Some(dog) = &g.d_out_gate {
            let jo = forward(&s, &c.u, &c.k, igd, Some(&v)).unwrap();
            assert_adjoint("out_gate", &jo, &dy, &v, dog);
        }
    }

    /// Backward equals the correlations written as explicit sums.
    #[test]
    fn backward_matches_direct(s in arb_shape(), seed in any::<u64>(), ig in any::<bool>(), og in any::<bool>()) {
        let c = Case::new(s, seed, ig, og);
        let dy = Rng::new(seed ^ 4).unit(s.u_len(), DType::F32);
        let g = backward(&s, &c.u, &c.k, c.ig.as_deref(), c.og.as_deref(), &dy).unwrap();
        let (dz, dk) = direct_backward(&c, &dy);
        let tol = 1e-13 * (1.0 + (s.len.max(s.kernel_len) * s.batch) as f64);
        let du: Vec<f64> = match &c.ig {
            Some(gate) => dz.iter().zip(gate).map(|(a, b)| a * b).collect(),
            None => dz.clone(),
        };
        prop_assert!(max_diff(&g.du, &du) <= tol);
        prop_assert!(max_diff(&g.dk, &dk) <= tol);
        if let Some(d) = &g.d_in_gate {
            let want: Vec<f64> = dz.iter().zip(&c.u).map(|(a, b)| a * b).collect();
            prop_assert!(max_diff(d, &want) <= tol);
        }
        if let Some(d) = &g.d_out_gate {
            let cc = forward(&s, &c.u, &c.k, c.ig.as_deref(), None).unwrap();
            let want: Vec<f64> = dy.iter().zip(&cc).map(|(a, b)| a * b).collect();
            prop_assert!(max_diff(d, &want) <= tol);
        }
    }
}

/// Time at the long-FFT tests' size. Run with
/// `cargo test -p flashfftconv-reference --release -- --ignored --nocapture long_fft`.
#[test]
#[ignore]
fn long_fft_timing() {
    let n = 1 << 23;
    for heads in [1, 3] {
        let s = shape(1, heads, n / 2, n / 2, n);
        let mut rng = Rng::new(5);
        let u = rng.unit(s.u_len(), DType::BF16);
        let k = rng.decaying(s.k_len(), DType::F32, 1e-5);
        let gate = rng.unit(s.u_len(), DType::BF16);
        let start = std::time::Instant::now();
        let y = forward(&s, &u, &k, Some(&gate), Some(&gate)).unwrap();
        let fwd = start.elapsed();
        let start = std::time::Instant::now();
        let g = backward(&s, &u, &k, Some(&gate), Some(&gate), &y).unwrap();
        let bwd = start.elapsed();
        assert!(g.dk.iter().all(|v| v.is_finite()));
        println!("N = 2^23, H = {heads}: forward {fwd:?}, backward {bwd:?}");
    }
}
