//! Storage rounding: the value an f64 takes when stored in a kernel's element type.
//!
//! Rounding is IEEE 754 round-to-nearest, ties-to-even, straight from the f64 (one rounding),
//! with gradual underflow to subnormals and overflow to ±∞ for values at or beyond the largest
//! finite value plus half an ulp. NaN stays NaN, ±∞ and ±0 keep their sign.
//!
//! f32 uses Rust's `as f32`, which is exactly that rounding. f16 and bf16 are rounded here
//! rather than by `half::f16::from_f64` / `half::bf16::from_f64`: half 2.x discards the low 32
//! bits of the f64 mantissa before rounding (and with the `f16c` target feature converts through
//! f32), so a value just above a tie, such as `1 + 2⁻¹¹ + 2⁻⁴⁰`, comes back rounded down. The
//! tests check this module against half's f32 conversions, which are exact.

use crate::DType;

/// Significand precision `p` (bits, hidden bit included), smallest normal exponent and largest
/// finite exponent of a dtype.
const fn format(dtype: DType) -> (i32, i32, i32) {
    match dtype {
        DType::F16 => (11, -14, 15),
        DType::BF16 => (8, -126, 127),
        DType::F32 => (24, -126, 127),
    }
}

/// Unit roundoff `u = 2⁻ᵖ` of a dtype: the largest relative error of rounding a normal value
/// to nearest (2⁻¹¹ for f16, 2⁻⁸ for bf16, 2⁻²⁴ for f32).
pub fn unit_roundoff(dtype: DType) -> f64 {
    pow2(-format(dtype).0)
}

/// The largest finite value of a dtype (65504 for f16).
pub fn max_finite(dtype: DType) -> f64 {
    let (p, _, emax) = format(dtype);
    (2.0 - pow2(1 - p)) * pow2(emax)
}

/// `2^e` for `−1022 ≤ e ≤ 1023`, built from its bits (exact).
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// `⌊log₂|x|⌋` for a finite nonzero normal `x`; −1023 for f64 subnormals (below every dtype's
/// range, which is all the callers need).
fn exponent(x: f64) -> i32 {
    ((x.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

/// The value of `x` stored in `dtype`: round to nearest, ties to even, one rounding from f64.
///
/// ```
/// use flashfftconv_reference::{round_to, DType};
/// assert_eq!(round_to(DType::F16, 0.1), 0.0999755859375);
/// assert_eq!(round_to(DType::BF16, 0.1), 0.10009765625);
/// assert_eq!(round_to(DType::F16, 65520.0), f64::INFINITY);
/// ```
pub fn round_to(dtype: DType, x: f64) -> f64 {
    if dtype == DType::F32 {
        return x as f32 as f64;
    }
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let (p, emin, emax) = format(dtype);
    let e = exponent(x);
    if e > emax {
        return f64::INFINITY.copysign(x);
    }
    // Spacing of the dtype's values around x; subnormals share the spacing of the smallest
    // binade. Scaling by a power of two is exact here (no f64 overflow or underflow), and so is
    // the integer rounding, so the only rounding is the one asked for.
    let q = e.max(emin) - (p - 1);
    let r = (x * pow2(-q)).round_ties_even() * pow2(q);
    if r.abs() > max_finite(dtype) {
        f64::INFINITY.copysign(x)
    } else {
        r
    }
}

/// The spacing of `dtype`'s values around a finite `x` (its ulp there; the subnormal spacing
/// below the smallest binade, and 0 for `x = 0`).
///
/// ```
/// use flashfftconv_reference::{dtype::spacing, DType};
/// assert_eq!(spacing(DType::F16, 1.5), 2f64.powi(-10));
/// assert_eq!(spacing(DType::BF16, -3.0), 2f64.powi(-6));
/// ```
pub fn spacing(dtype: DType, x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return 0.0;
    }
    let (p, emin, _) = format(dtype);
    pow2(exponent(x).max(emin) - (p - 1))
}

/// [`round_to`] applied to every element.
pub fn round_slice(dtype: DType, xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|&x| round_to(dtype, x)).collect()
}

/// [`round_to`] applied to every element, in place.
pub fn round_in_place(dtype: DType, xs: &mut [f64]) {
    for x in xs {
        *x = round_to(dtype, *x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TWO: f64 = 2.0;

    #[test]
    fn f16_examples() {
        let r = |x| round_to(DType::F16, x);
        assert_eq!(r(1.0), 1.0);
        assert_eq!(r(0.1), 0.0999755859375);
        assert_eq!(r(-0.1), -0.0999755859375);
        // Ties go to the even neighbour.
        assert_eq!(r(1.0 + TWO.powi(-11)), 1.0);
        assert_eq!(r(1.0 + 3.0 * TWO.powi(-11)), 1.0 + TWO.powi(-9));
        // Just above a tie rounds up, however far below the tie the excess is.
        assert_eq!(r(1.0 + TWO.powi(-11) + TWO.powi(-40)), 1.0 + TWO.powi(-10));
        assert_eq!(r(1.0 + TWO.powi(-11) + TWO.powi(-52)), 1.0 + TWO.powi(-10));
        // Overflow: 65504 is the largest finite value, 65520 the first value that rounds away.
        assert_eq!(r(65504.0), 65504.0);
        assert_eq!(r(65519.99), 65504.0);
        assert_eq!(r(65520.0), f64::INFINITY);
        assert_eq!(r(-1e300), f64::NEG_INFINITY);
        // Subnormals: spacing 2^-24; 2^-25 is a tie between 0 and 2^-24.
        assert_eq!(r(TWO.powi(-24)), TWO.powi(-24));
        assert_eq!(r(TWO.powi(-25)), 0.0);
        assert_eq!(r(TWO.powi(-25) * 1.0000001), TWO.powi(-24));
        assert_eq!(r(3.0 * TWO.powi(-25)), TWO.powi(-23));
        assert_eq!(r(1e-300), 0.0);
        assert!(r(-1e-300).is_sign_negative());
        assert_eq!(r(f64::MIN_POSITIVE / 4.0), 0.0);
        // Specials.
        assert!(r(f64::NAN).is_nan());
        assert_eq!(r(f64::INFINITY), f64::INFINITY);
        assert!(r(-0.0).is_sign_negative());
    }

    #[test]
    fn bf16_examples() {
        let r = |x| round_to(DType::BF16, x);
        assert_eq!(r(0.1), 0.10009765625);
        assert_eq!(r(1.0 + TWO.powi(-8)), 1.0);
        assert_eq!(r(1.0 + 3.0 * TWO.powi(-8)), 1.0 + TWO.powi(-6));
        assert_eq!(r(1.0 + TWO.powi(-8) + TWO.powi(-45)), 1.0 + TWO.powi(-7));
        assert_eq!(r(max_finite(DType::BF16)), max_finite(DType::BF16));
        assert_eq!(r(3.0e38), half::bf16::from_f32(3.0e38).to_f64());
        assert_eq!(r(3.4e38), f64::INFINITY);
        assert_eq!(r(TWO.powi(-133)), TWO.powi(-133));
        assert_eq!(r(TWO.powi(-134)), 0.0);
    }

    #[test]
    fn f32_examples() {
        let r = |x| round_to(DType::F32, x);
        assert_eq!(r(0.1), 0.1_f32 as f64);
        assert_eq!(r(1.0 + TWO.powi(-24)), 1.0);
        assert_eq!(r(1.0 + TWO.powi(-24) + TWO.powi(-52)), 1.0 + TWO.powi(-23));
        assert_eq!(r(1e39), f64::INFINITY);
    }

    #[test]
    fn constants() {
        assert_eq!(unit_roundoff(DType::F16), TWO.powi(-11));
        assert_eq!(unit_roundoff(DType::BF16), TWO.powi(-8));
        assert_eq!(unit_roundoff(DType::F32), TWO.powi(-24));
        assert_eq!(max_finite(DType::F16), 65504.0);
        assert_eq!(max_finite(DType::F32), f32::MAX as f64);
        assert_eq!(max_finite(DType::BF16), half::bf16::MAX.to_f64());
    }

    #[test]
    fn slices() {
        let xs = [0.1, -0.2, 3.0];
        let ys = round_slice(DType::BF16, &xs);
        let mut zs = xs;
        round_in_place(DType::BF16, &mut zs);
        assert_eq!(ys, zs);
        assert_eq!(ys[2], 3.0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// On f32 inputs (where half rounds exactly) we agree with half bit for bit.
        #[test]
        fn agrees_with_half_on_f32(bits in any::<u32>()) {
            let x = f32::from_bits(bits);
            prop_assume!(x.is_finite());
            let ours16 = round_to(DType::F16, x as f64);
            let theirs16 = half::f16::from_f32(x).to_f64();
            prop_assert_eq!(ours16.to_bits(), theirs16.to_bits());
            let oursb = round_to(DType::BF16, x as f64);
            let theirsb = half::bf16::from_f32(x).to_f64();
            prop_assert_eq!(oursb.to_bits(), theirsb.to_bits());
        }

        /// Rounding is idempotent, monotone, and lands on a nearest representable value.
        #[test]
        fn nearest_and_idempotent(x in -70000.0f64..70000.0, y in -70000.0f64..70000.0) {
            for dtype in DType::ALL {
                let rx = round_to(dtype, x);
                prop_assert_eq!(round_to(dtype, rx), rx);
                let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
                prop_assert!(round_to(dtype, lo) <= round_to(dtype, hi));
                if rx.is_finite() {
                    // |x − rx| ≤ half the spacing, which is at most u·|x| (normal) or half the
                    // subnormal spacing.
                    let u = unit_roundoff(dtype);
                    let sub = pow2(format(dtype).1 - format(dtype).0);
                    prop_assert!((x - rx).abs() <= (u * x.abs()).max(sub));
                }
            }
        }
    }
}
