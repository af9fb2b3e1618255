//! The project's error metric: relative L2 error measured against the *floor*, the error that
//! storing the exact answer in the output dtype cannot avoid.
//!
//! ```text
//! rel_l2 = ‖got − ref‖₂ / ‖ref‖₂
//! floor  = ‖round_to(dtype, ref) − ref‖₂ / ‖ref‖₂
//! ratio  = rel_l2 / floor
//! ```
//!
//! A kernel that computed the exact answer and rounded it once to the output dtype scores
//! `ratio = 1`; the bounds in [`crate::bounds`] say how far above 1 each operation may go.
//!
//! Edge cases, decided so that a result never passes by accident:
//!
//! * **A non-finite value** (NaN or ±∞) in `got` or in the reference: `rel_l2`, `max_abs` and
//!   `ratio` are +∞, `non_finite` counts the positions, and [`ErrorReport::passes`] is false.
//! * **`‖ref‖ = 0`**: norms are absolute (`rel_l2 = ‖got‖₂`), the floor is 0, and `ratio` is 0 if
//!   `got` is exactly zero, else +∞. An exact zero answer is representable in every dtype, so
//!   any nonzero output is an error no output rounding explains.
//! * **A reference beyond the output dtype's range** (it rounds to ±∞): `floor` and `ratio` are
//!   +∞ and the report never passes; the test's data overflow the output dtype.
//! * **floor = 0 with `‖ref‖ > 0`** (every reference value representable, e.g. tiny integer
//!   cases): the floor becomes `u/√3`, with `u` the dtype's unit roundoff (2⁻¹¹ f16, 2⁻⁸ bf16,
//!   2⁻²⁴ f32): the RMS relative error of rounding a value that sits low in its binade, where
//!   the relative error is largest. A kernel that is exact except for roundoff of intermediate
//!   results is then held to one rounding of a generic value. Note the fallback is used only
//!   when the floor is exactly 0; a reference with just a few non-representable values has a
//!   small but nonzero floor, which [`ErrorReport::floor`] shows.
//! * **A floor far below its expected value** (few outputs that happen to sit close to
//!   representable values): the floor is at least half the *expected* floor
//!   `√(Σ ulp(refᵢ)²/12) / ‖ref‖` (rounding error uniform within an ulp). With many outputs
//!   the realized floor is within a few percent of the expected one (the relative spread of
//!   `Σ δᵢ²` is about `0.9/√n`: under 10⁻⁶ odds of falling below half from 64 values on), so
//!   this changes nothing there; with three outputs the realized floor can be 10× too small by
//!   chance, and a kernel computing them to within 0.3 generic roundings then "failed" (found
//!   on an f16 FFT conv with `L = 1`, `B = 3`, `H = 1`: rel. L2 8.0·10⁻⁵, realized floor
//!   3.1·10⁻⁵, expected 2.5·10⁻⁴).
//!
//! Norms are computed with scaling, so neither huge nor tiny values overflow or underflow.

use crate::dtype::{round_to, spacing, unit_roundoff};
use crate::DType;
use std::fmt;

/// How far a kernel's output is from the f64 reference. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorReport {
    /// `‖got − ref‖₂ / ‖ref‖₂` (absolute `‖got − ref‖₂` when `‖ref‖ = 0`; +∞ with non-finite
    /// values).
    pub rel_l2: f64,
    /// The relative error of the exact answer stored in the output dtype (see the module docs
    /// for the zero cases).
    pub floor: f64,
    /// `rel_l2 / floor`: 1 means "as good as rounding the exact answer once".
    pub ratio: f64,
    /// Largest `|got[i] − ref[i]|` (+∞ with non-finite values).
    pub max_abs: f64,
    /// Positions where `got` or the reference is NaN or ±∞.
    pub non_finite: usize,
    /// Elements compared.
    pub len: usize,
}

impl ErrorReport {
    /// Whether every value is finite and `ratio ≤ bound`.
    pub fn passes(&self, bound: f64) -> bool {
        self.non_finite == 0 && self.ratio <= bound
    }
}

impl fmt::Display for ErrorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ratio {:.3} (rel_l2 {:.3e} / floor {:.3e}), max_abs {:.3e}, n {}",
            self.ratio, self.rel_l2, self.floor, self.max_abs, self.len
        )?;
        if self.non_finite > 0 {
            write!(f, ", NON-FINITE {}", self.non_finite)?;
        }
        Ok(())
    }
}

/// `‖x‖₂` of the values an iterator yields, scaled so that no square overflows or underflows.
/// `max` must be the largest `|x|` (finite).
fn scaled_norm(xs: impl Iterator<Item = f64>, max: f64) -> f64 {
    if max == 0.0 {
        return 0.0;
    }
    // `1 / max` overflows for subnormal `max`: scale those up by an exact power of two first.
    let pre = if max < 2f64.powi(-1000) { 2f64.powi(600) } else { 1.0 };
    let inv = 1.0 / (max * pre);
    max * xs
        .map(|x| {
            let y = x * pre * inv;
            y * y
        })
        .sum::<f64>()
        .sqrt()
}

/// `‖x‖₂` of finite values.
fn norm_of(xs: &[f64]) -> f64 {
    scaled_norm(xs.iter().copied(), xs.iter().fold(0.0, |m, x| m.max(x.abs())))
}

/// `‖a − b‖₂` and `max |a − b|` of finite values.
fn diff_norm(a: &[f64], b: &[f64]) -> (f64, f64) {
    let max = a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    (scaled_norm(a.iter().zip(b).map(|(x, y)| x - y), max), max)
}

/// Positions where either slice holds a non-finite value.
fn count_non_finite(a: &[f64], b: &[f64]) -> usize {
    a.iter().zip(b).filter(|(x, y)| !x.is_finite() || !y.is_finite()).count()
}

/// `√(Σ ulp(refᵢ)²/12)`: the expected `‖round_to(dtype, ref) − ref‖₂` when each value's
/// rounding error is uniform within its ulp. Finite values only.
fn expected_floor(reference: &[f64], dtype: DType) -> f64 {
    let half_ulps: Vec<f64> = reference.iter().map(|&r| spacing(dtype, r) / 12f64.sqrt()).collect();
    norm_of(&half_ulps)
}

/// Compares a kernel's output (converted to f64) with the f64 reference, for an output stored
/// as `out_dtype`.
///
/// # Panics
///
/// When the lengths differ (a test bug, never a kernel error to be measured).
pub fn compare(got: &[f64], reference: &[f64], out_dtype: DType) -> ErrorReport {
    assert_eq!(
        got.len(),
        reference.len(),
        "compare: got has {} elements, the reference {}",
        got.len(),
        reference.len()
    );
    let len = got.len();
    let non_finite = count_non_finite(got, reference);
    if non_finite > 0 {
        return ErrorReport {
            rel_l2: f64::INFINITY,
            floor: f64::NAN,
            ratio: f64::INFINITY,
            max_abs: f64::INFINITY,
            non_finite,
            len,
        };
    }
    let (err, max_abs) = diff_norm(got, reference);
    let ref_norm = norm_of(reference);
    if ref_norm == 0.0 {
        return ErrorReport {
            rel_l2: err,
            floor: 0.0,
            ratio: if err == 0.0 { 0.0 } else { f64::INFINITY },
            max_abs,
            non_finite,
            len,
        };
    }
    let rounded: Vec<f64> = reference.iter().map(|&r| round_to(out_dtype, r)).collect();
    // A reference beyond the dtype's range rounds to ±∞: the exact answer is not storable.
    let floor = if rounded.iter().any(|r| !r.is_finite()) {
        f64::INFINITY
    } else {
        let raw = diff_norm(&rounded, reference).0 / ref_norm;
        if raw > 0.0 {
            raw.max(0.5 * expected_floor(reference, out_dtype) / ref_norm)
        } else {
            unit_roundoff(out_dtype) / 3f64.sqrt()
        }
    };
    let rel_l2 = err / ref_norm;
    ErrorReport {
        rel_l2,
        floor,
        ratio: if floor.is_finite() { rel_l2 / floor } else { f64::INFINITY },
        max_abs,
        non_finite,
        len,
    }
}

/// Plain relative L2 error `‖got − ref‖₂ / ‖ref‖₂`, for outputs judged without a dtype floor
/// (the FFT conv's `dk`). Absolute `‖got‖₂` when `‖ref‖ = 0`; +∞ when any value is non-finite.
///
/// # Panics
///
/// When the lengths differ.
pub fn rel_l2(got: &[f64], reference: &[f64]) -> f64 {
    assert_eq!(got.len(), reference.len(), "rel_l2: got has {} elements, the reference {}", got.len(), reference.len());
    if count_non_finite(got, reference) > 0 {
        return f64::INFINITY;
    }
    let err = diff_norm(got, reference).0;
    let ref_norm = norm_of(reference);
    if ref_norm == 0.0 {
        err
    } else {
        err / ref_norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::CONV1D_MAX_RATIO;
    use crate::data::Rng;
    use crate::dtype::round_slice;

    #[test]
    fn rounded_reference_scores_one() {
        let reference: Vec<f64> = Rng::new(9).unit(1000, DType::F32).iter().map(|x| x / 3.0).collect();
        for dtype in DType::ALL {
            let got = round_slice(dtype, &reference);
            let r = compare(&got, &reference, dtype);
            assert_eq!(r.ratio, 1.0, "{dtype:?}: {r}");
            assert!(r.passes(CONV1D_MAX_RATIO));
            // Typical floor: between u/4 and u/√3 for these values.
            let u = unit_roundoff(dtype);
            assert!(r.floor > u / 4.0 && r.floor < u / 3f64.sqrt(), "{dtype:?}: {r}");
            assert_eq!(r.len, 1000);
            assert_eq!(r.non_finite, 0);
            // A bf16 answer judged as f16 output is far worse than the f16 floor.
            if dtype == DType::BF16 {
                assert!(compare(&got, &reference, DType::F16).ratio > 4.0);
            }
        }
    }

    #[test]
    fn exact_is_zero() {
        let reference = [0.1, -0.7, 3.0];
        let r = compare(&reference, &reference, DType::F16);
        assert_eq!((r.rel_l2, r.ratio, r.max_abs), (0.0, 0.0, 0.0));
        assert!(r.passes(0.0));
    }

    #[test]
    fn non_finite_fails() {
        let reference = [1.0, 2.0, 3.0];
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let r = compare(&[1.0, bad, 3.0], &reference, DType::F32);
            assert_eq!(r.ratio, f64::INFINITY);
            assert_eq!(r.rel_l2, f64::INFINITY);
            assert_eq!(r.non_finite, 1);
            assert!(!r.passes(f64::INFINITY));
            assert!(r.to_string().contains("NON-FINITE 1"), "{r}");
            assert_eq!(rel_l2(&[1.0, bad, 3.0], &reference), f64::INFINITY);
        }
        // A non-finite reference is never a pass either.
        let r = compare(&reference, &[1.0, f64::NAN, 3.0], DType::F32);
        assert!(!r.passes(f64::INFINITY));
    }

    #[test]
    fn zero_reference() {
        let zero = [0.0; 4];
        let r = compare(&zero, &zero, DType::BF16);
        assert_eq!((r.rel_l2, r.ratio), (0.0, 0.0));
        assert!(r.passes(1.0));
        let r = compare(&[0.0, 1e-30, 0.0, 0.0], &zero, DType::BF16);
        assert_eq!(r.rel_l2, 1e-30);
        assert_eq!(r.ratio, f64::INFINITY);
        assert!(!r.passes(1e300));
        assert_eq!(rel_l2(&[0.0, 3.0, 4.0, 0.0], &zero), 5.0);
        assert_eq!(rel_l2(&zero, &zero), 0.0);
        // Empty inputs compare as exact.
        assert!(compare(&[], &[], DType::F16).passes(0.0));
    }

    #[test]
    fn zero_floor_fallback() {
        // Every value representable in f16: the floor falls back to u/√3.
        let reference = [1.0, -0.5, 0.25, 3.0];
        let u = 2f64.powi(-11);
        let got = [1.0 + 2.0 * u, -0.5, 0.25, 3.0];
        let r = compare(&got, &reference, DType::F16);
        assert_eq!(r.floor, u / 3f64.sqrt());
        let want = 2.0 * u / (1.0f64 + 0.25 + 0.0625 + 9.0).sqrt();
        assert!((r.rel_l2 - want).abs() < 1e-15);
        assert!((r.ratio - want / r.floor).abs() < 1e-12);
        assert_eq!(r.max_abs, 2.0 * u);
    }

    #[test]
    fn few_lucky_values_keep_half_the_expected_floor() {
        // Three f16 values 1/64 of an ulp from representable ones: the realized floor is tiny.
        let ulp = 2f64.powi(-10);
        let reference = [1.0 + ulp / 64.0, 1.5 - ulp / 64.0, -1.25 + ulp / 64.0];
        let expected = (3.0 * ulp * ulp / 12.0).sqrt() / norm_of(&reference);
        let r = compare(&reference.map(|x| round_to(DType::F16, x)), &reference, DType::F16);
        assert_eq!(r.floor, 0.5 * expected);
        assert!(r.ratio < 0.2, "{r}");
        // One whole ulp off in one value is still an error of about 1.7 expected floors.
        let got = [1.0 + ulp, 1.5, -1.25];
        let r = compare(&got, &reference, DType::F16);
        assert!(r.ratio > 2.5, "{r}");
    }

    #[test]
    fn out_of_range_reference() {
        // The exact answer overflows f16: the test's data are out of range, never a pass.
        let r = compare(&[65504.0], &[1e5], DType::F16);
        assert_eq!(r.floor, f64::INFINITY);
        assert_eq!(r.ratio, f64::INFINITY);
        assert!(!r.passes(1e300));
        // ... but the relative error still says how bad the output is.
        assert!(r.rel_l2 > 0.3);
    }

    #[test]
    fn scaling_does_not_overflow() {
        let reference = [1e200, -1e200];
        let got = [1.0000001e200, -1e200];
        let r = compare(&got, &reference, DType::F32);
        assert!(r.rel_l2.is_finite() && r.rel_l2 > 0.0);
        assert!((r.rel_l2 - 1e-7 / 2f64.sqrt()).abs() < 1e-12);
        let tiny = [1e-310, 2e-310];
        assert!((rel_l2(&[1e-310, 2.2e-310], &tiny) - 0.2 / 5f64.sqrt()).abs() < 1e-3);
    }

    #[test]
    fn display_is_compact() {
        let r = compare(&[1.0, 2.001], &[1.0, 2.0], DType::F32);
        let s = r.to_string();
        assert!(s.starts_with("ratio "), "{s}");
        assert!(s.contains("rel_l2") && s.contains("floor") && s.contains("max_abs"));
        assert!(s.contains("n 2"));
        assert!(!s.contains("NON-FINITE"));
    }

    #[test]
    #[should_panic(expected = "compare: got has 1 elements, the reference 2")]
    fn length_mismatch_panics() {
        compare(&[1.0], &[1.0, 2.0], DType::F32);
    }
}
