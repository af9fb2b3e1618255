//! Direct depthwise conv1d in f64: PyTorch `nn.Conv1d(D, D, K, groups=D)`, stride 1, zero
//! padding (the semantics of `flashfftconv_abi::conv1d`).
//!
//! ```text
//! y[b, d, j] = bias[d] + Σ_{k<K} w[d, k] · x[b, d, j − pad_left + k]      0 ≤ j < len_out
//! len_out    = L + pad_left + pad_right − K + 1,   x = 0 outside [0, L)
//! ```
//!
//! `x` and `y` share a [`Layout`]; `w` is `(D, K)` row-major and `bias` is `(D)`. Sums run in
//! f64, bias first, then taps in order.
//!
//! The gradients, from `∂y[b,d,j]/∂x[b,d,i] = w[d, i − j + pad_left]`:
//! `dx[b,d,i] = Σ_j w[d, i − j + pad_left] · dy[b,d,j]`,
//! `dw[d,k] = Σ_{b,j} dy[b,d,j] · x[b,d,j − pad_left + k]`, `dbias[d] = Σ_{b,j} dy[b,d,j]`.

use crate::{check_len, product3, ShapeError};

/// Memory order of `x` and `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `(B, D, L)` row-major: each channel's sequence is contiguous.
    Bhl,
    /// `(B, L, D)` row-major: each position's channels are contiguous.
    Blh,
}

/// Shape of a depthwise conv1d.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv1dShape {
    /// Batch size B.
    pub batch: usize,
    /// Channels D (one filter each).
    pub channels: usize,
    /// Input length L.
    pub len: usize,
    /// Taps K (at least 1).
    pub taps: usize,
    /// Zeros implied before the input.
    pub pad_left: usize,
    /// Zeros implied after the input.
    pub pad_right: usize,
    /// Memory order of `x` and `y`.
    pub layout: Layout,
}

/// Gradients of a conv1d with respect to its inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv1dGrads {
    /// `∂loss/∂x`, same shape and layout as `x`.
    pub dx: Vec<f64>,
    /// `∂loss/∂w`, `(D, K)` row-major, summed over the batch.
    pub dw: Vec<f64>,
    /// `∂loss/∂bias`, `(D)`, summed over the batch and positions.
    pub dbias: Vec<f64>,
}

impl Conv1dShape {
    /// Length of the zero-padded input, `L + pad_left + pad_right` (saturating).
    pub fn padded_len(&self) -> usize {
        self.len.saturating_add(self.pad_left).saturating_add(self.pad_right)
    }

    /// Output length per (batch, channel): `L + pad_left + pad_right − K + 1`, or 0 when the
    /// padded input is shorter than the taps (a shape [`Conv1dShape::validate`] rejects).
    pub fn len_out(&self) -> usize {
        let padded = self.padded_len();
        if self.taps == 0 || padded < self.taps {
            0
        } else {
            padded - self.taps + 1
        }
    }

    /// Elements of `x`: `B · D · L` (saturating).
    pub fn x_len(&self) -> usize {
        self.batch.saturating_mul(self.channels).saturating_mul(self.len)
    }

    /// Elements of `y` (and `dy`): `B · D · len_out` (saturating).
    pub fn y_len(&self) -> usize {
        self.batch.saturating_mul(self.channels).saturating_mul(self.len_out())
    }

    /// Elements of `w`: `D · K` (saturating).
    pub fn w_len(&self) -> usize {
        self.channels.saturating_mul(self.taps)
    }

    /// Checks `K ≥ 1`, `L + pad_left + pad_right ≥ K`, and that every element count fits in
    /// `usize`. Zero batch, channels or length are valid (empty or all-padding inputs).
    pub fn validate(&self) -> Result<(), ShapeError> {
        if self.taps == 0 {
            return Err(ShapeError::Invalid("taps must be at least 1"));
        }
        let padded = self
            .len
            .checked_add(self.pad_left)
            .and_then(|p| p.checked_add(self.pad_right))
            .ok_or(ShapeError::Overflow)?;
        if padded < self.taps {
            return Err(ShapeError::Invalid("the padded input (len + pad_left + pad_right) is shorter than the taps"));
        }
        product3(self.batch, self.channels, padded)?;
        self.channels.checked_mul(self.taps).ok_or(ShapeError::Overflow)?;
        Ok(())
    }

    /// Index of element `(b, d, i)` of a `(B, D, n)` tensor stored in this shape's layout.
    fn index(&self, b: usize, d: usize, i: usize, n: usize) -> usize {
        match self.layout {
            Layout::Bhl => (b * self.channels + d) * n + i,
            Layout::Blh => (b * n + i) * self.channels + d,
        }
    }

    /// Copies row `(b, d)` of a length-`n` tensor into `row`.
    fn gather(&self, src: &[f64], b: usize, d: usize, row: &mut [f64]) {
        let n = row.len();
        for (i, v) in row.iter_mut().enumerate() {
            *v = src[self.index(b, d, i, n)];
        }
    }

    /// Copies `row` into row `(b, d)` of a length-`row.len()` tensor.
    fn scatter(&self, row: &[f64], b: usize, d: usize, dst: &mut [f64]) {
        let n = row.len();
        for (i, &v) in row.iter().enumerate() {
            dst[self.index(b, d, i, n)] = v;
        }
    }
}

/// Forward conv1d: `y` (`B · D · len_out`, same layout as `x`).
///
/// `x` is `B · D · L` in `shape.layout`, `w` is `(D, K)`, `bias` (if any) is `(D)`.
pub fn forward(shape: &Conv1dShape, x: &[f64], w: &[f64], bias: Option<&[f64]>) -> Result<Vec<f64>, ShapeError> {
    shape.validate()?;
    check_len("x", x, shape.x_len())?;
    check_len("w", w, shape.w_len())?;
    if let Some(bias) = bias {
        check_len("bias", bias, shape.channels)?;
    }
    let (k_taps, len_out) = (shape.taps, shape.len_out());
    let mut y = vec![0.0; shape.y_len()];
    let mut xp = vec![0.0; shape.padded_len()];
    let mut row = vec![0.0; len_out];
    for b in 0..shape.batch {
        for d in 0..shape.channels {
            shape.gather(x, b, d, &mut xp[shape.pad_left..shape.pad_left + shape.len]);
            let wd = &w[d * k_taps..(d + 1) * k_taps];
            let b0 = bias.map_or(0.0, |bias| bias[d]);
            for (j, out) in row.iter_mut().enumerate() {
                *out = wd.iter().zip(&xp[j..j + k_taps]).fold(b0, |acc, (wk, xv)| acc + wk * xv);
            }
            shape.scatter(&row, b, d, &mut y);
        }
    }
    Ok(y)
}

/// Backward conv1d: the gradients of `⟨y, dy⟩` with respect to `x`, `w` and the bias.
///
/// `dy` is `B · D · len_out` in `shape.layout`. `dbias` is returned whether or not the forward
/// pass had a bias (it does not depend on the bias).
pub fn backward(shape: &Conv1dShape, x: &[f64], w: &[f64], dy: &[f64]) -> Result<Conv1dGrads, ShapeError> {
    shape.validate()?;
    check_len("x", x, shape.x_len())?;
    check_len("w", w, shape.w_len())?;
    check_len("dy", dy, shape.y_len())?;
    let (k_taps, len_out) = (shape.taps, shape.len_out());
    let mut dx = vec![0.0; shape.x_len()];
    let mut dw = vec![0.0; shape.w_len()];
    let mut dbias = vec![0.0; shape.channels];
    let mut xp = vec![0.0; shape.padded_len()];
    let mut dxp = vec![0.0; shape.padded_len()];
    let mut dy_row = vec![0.0; len_out];
    for b in 0..shape.batch {
        for d in 0..shape.channels {
            shape.gather(x, b, d, &mut xp[shape.pad_left..shape.pad_left + shape.len]);
            shape.gather(dy, b, d, &mut dy_row);
            dxp.fill(0.0);
            let wd = &w[d * k_taps..(d + 1) * k_taps];
            let dwd = &mut dw[d * k_taps..(d + 1) * k_taps];
            for (j, &g) in dy_row.iter().enumerate() {
                dbias[d] += g;
                for (k, (&wk, &xv)) in wd.iter().zip(&xp[j..j + k_taps]).enumerate() {
                    dxp[j + k] += wk * g;
                    dwd[k] += g * xv;
                }
            }
            shape.scatter(&dxp[shape.pad_left..shape.pad_left + shape.len], b, d, &mut dx);
        }
    }
    Ok(Conv1dGrads { dx, dw, dbias })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Rng;
    use crate::test_util::{assert_adjoint, max_diff};
    use crate::DType;
    use proptest::prelude::*;

    fn shape(b: usize, d: usize, l: usize, k: usize, pl: usize, pr: usize) -> Conv1dShape {
        Conv1dShape { batch: b, channels: d, len: l, taps: k, pad_left: pl, pad_right: pr, layout: Layout::Bhl }
    }

    #[test]
    fn hand_example() {
        // x = [1, 2, 3], w = [1, 10], one zero on the left: y = [10, 21, 32].
        let s = shape(1, 1, 3, 2, 1, 0);
        assert_eq!(s.len_out(), 3);
        let y = forward(&s, &[1.0, 2.0, 3.0], &[1.0, 10.0], None).unwrap();
        assert_eq!(y, vec![10.0, 21.0, 32.0]);
        let y = forward(&s, &[1.0, 2.0, 3.0], &[1.0, 10.0], Some(&[0.5])).unwrap();
        assert_eq!(y, vec![10.5, 21.5, 32.5]);
        // Padding on both sides; len_out = 3 + 2 + 1 − 3 + 1 = 4.
        let s = shape(1, 1, 3, 3, 2, 1);
        assert_eq!(s.len_out(), 4);
        let y = forward(&s, &[1.0, 2.0, 3.0], &[1.0, 10.0, 100.0], None).unwrap();
        // Padded x = [0, 0, 1, 2, 3, 0].
        assert_eq!(y, vec![100.0, 210.0, 321.0, 32.0]);
        // Backward of the same: dy = [1, 0, 0, 0] picks w against window 0 = padded[0..3].
        let g = backward(&s, &[1.0, 2.0, 3.0], &[1.0, 10.0, 100.0], &[1.0, 0.0, 0.0, 0.0]).unwrap();
        assert_eq!(g.dx, vec![100.0, 0.0, 0.0]);
        assert_eq!(g.dw, vec![0.0, 0.0, 1.0]);
        assert_eq!(g.dbias, vec![1.0]);
    }

    #[test]
    fn len_out_and_validation() {
        assert_eq!(shape(1, 1, 10, 4, 3, 0).len_out(), 10);
        assert_eq!(shape(1, 1, 10, 4, 0, 0).len_out(), 7);
        assert_eq!(shape(1, 1, 10, 11, 0, 0).len_out(), 0);
        assert_eq!(shape(1, 1, 0, 3, 1, 2).len_out(), 1);
        assert_eq!(shape(1, 1, 10, 0, 0, 0).len_out(), 0);
        assert_eq!(shape(1, 1, 10, 0, 0, 0).validate(), Err(ShapeError::Invalid("taps must be at least 1")));
        assert!(matches!(shape(1, 1, 3, 5, 1, 0).validate(), Err(ShapeError::Invalid(_))));
        assert_eq!(shape(usize::MAX, 2, 1, 1, 0, 0).validate(), Err(ShapeError::Overflow));
        assert_eq!(shape(1, 1, usize::MAX, 1, 1, 0).validate(), Err(ShapeError::Overflow));
        let s = shape(2, 3, 5, 2, 1, 0);
        let x = vec![0.0; 30];
        let w = vec![0.0; 6];
        assert_eq!(forward(&s, &x[1..], &w, None), Err(ShapeError::Length { name: "x", expected: 30, actual: 29 }));
        assert!(matches!(forward(&s, &x, &w[1..], None), Err(ShapeError::Length { name: "w", .. })));
        assert!(matches!(forward(&s, &x, &w, Some(&[0.0; 2])), Err(ShapeError::Length { name: "bias", .. })));
        assert!(matches!(backward(&s, &x, &w, &[0.0; 29]), Err(ShapeError::Length { name: "dy", .. })));
        // Empty shapes are fine.
        assert_eq!(forward(&shape(0, 3, 5, 2, 0, 0), &[], &w, None), Ok(vec![]));
        // All-padding input: only the bias survives.
        let y = forward(&shape(1, 1, 0, 2, 1, 1), &[], &[1.0, 1.0], Some(&[3.0])).unwrap();
        assert_eq!(y, vec![3.0]);
    }

    /// Converts a `(B, D, n)` tensor between BHL and BLH.
    fn transpose(t: &[f64], b: usize, d: usize, n: usize, to_blh: bool) -> Vec<f64> {
        let mut out = vec![0.0; t.len()];
        for bi in 0..b {
            for di in 0..d {
                for i in 0..n {
                    let bhl = (bi * d + di) * n + i;
                    let blh = (bi * n + i) * d + di;
                    if to_blh {
                        out[blh] = t[bhl];
                    } else {
                        out[bhl] = t[blh];
                    }
                }
            }
        }
        out
    }

    fn arb_shape() -> impl Strategy<Value = Conv1dShape> {
        (1usize..4, 1usize..5, 0usize..20, 1usize..8, 0usize..10, 0usize..10, any::<bool>())
            .prop_filter("padded input at least K", |&(_, _, l, k, pl, pr, _)| l + pl + pr >= k)
            .prop_map(|(b, d, l, k, pl, pr, blh)| Conv1dShape {
                batch: b,
                channels: d,
                len: l,
                taps: k,
                pad_left: pl,
                pad_right: pr,
                layout: if blh { Layout::Blh } else { Layout::Bhl },
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// `⟨J·δ, dy⟩ = ⟨δ, backward(dy)⟩` for δ on x, w and bias (y is linear in each).
        #[test]
        fn adjoint(s in arb_shape(), seed in any::<u64>()) {
            let mut rng = Rng::new(seed);
            let x = rng.unit(s.x_len(), DType::F32);
            let w = rng.unit(s.w_len(), DType::F32);
            let dy = rng.unit(s.y_len(), DType::F32);
            let g = backward(&s, &x, &w, &dy).unwrap();
            let dx_dir = rng.unit(s.x_len(), DType::F32);
            let dw_dir = rng.unit(s.w_len(), DType::F32);
            let db_dir = rng.unit(s.channels, DType::F32);
            let jx = forward(&s, &dx_dir, &w, None).unwrap();
            assert_adjoint("x", &jx, &dy, &dx_dir, &g.dx);
            let jw = forward(&s, &x, &dw_dir, None).unwrap();
            assert_adjoint("w", &jw, &dy, &dw_dir, &g.dw);
            let jb = forward(&s, &vec![0.0; s.x_len()], &w, Some(&db_dir)).unwrap();
            assert_adjoint("bias", &jb, &dy, &db_dir, &g.dbias);
        }

        /// BLH is BHL transposed, forward and backward.
        #[test]
        fn layouts_agree(s in arb_shape(), seed in any::<u64>()) {
            let s_bhl = Conv1dShape { layout: Layout::Bhl, ..s };
            let s_blh = Conv1dShape { layout: Layout::Blh, ..s };
            let (b, d, l, lo) = (s.batch, s.channels, s.len, s.len_out());
            let mut rng = Rng::new(seed);
            let x = rng.unit(s.x_len(), DType::F16);
            let w = rng.unit(s.w_len(), DType::F16);
            let bias = rng.unit(d, DType::F16);
            let dy = rng.unit(s.y_len(), DType::F16);
            let y1 = forward(&s_bhl, &x, &w, Some(&bias)).unwrap();
            let y2 = forward(&s_blh, &transpose(&x, b, d, l, true), &w, Some(&bias)).unwrap();
            prop_assert_eq!(transpose(&y1, b, d, lo, true), y2);
            let g1 = backward(&s_bhl, &x, &w, &dy).unwrap();
            let g2 = backward(&s_blh, &transpose(&x, b, d, l, true), &w, &transpose(&dy, b, d, lo, true)).unwrap();
            prop_assert_eq!(transpose(&g2.dx, b, d, l, false), g1.dx);
            prop_assert!(max_diff(&g1.dw, &g2.dw) <= 1e-12);
            prop_assert!(max_diff(&g1.dbias, &g2.dbias) <= 1e-12);
        }

        /// Each output is the explicit sum of the definition, with x = 0 outside [0, L).
        #[test]
        fn matches_definition(s in arb_shape(), seed in any::<u64>()) {
            let mut rng = Rng::new(seed);
            let x = rng.unit(s.x_len(), DType::BF16);
            let w = rng.unit(s.w_len(), DType::BF16);
            let bias = rng.unit(s.channels, DType::BF16);
            let y = forward(&s, &x, &w, Some(&bias)).unwrap();
            let lo = s.len_out();
            for b in 0..s.batch {
                for d in 0..s.channels {
                    for j in 0..lo {
                        let mut acc = bias[d];
                        for k in 0..s.taps {
                            let i = j as isize - s.pad_left as isize + k as isize;
                            if (0..s.len as isize).contains(&i) {
                                acc += w[d * s.taps + k] * x[s.index(b, d, i as usize, s.len)];
                            }
                        }
                        prop_assert!((y[s.index(b, d, j, lo)] - acc).abs() <= 1e-12);
                    }
                }
            }
        }
    }
}
