//! The f64 CPU reference that every flashfftconv GPU kernel is checked against, and the error
//! metric its tests use.
//!
//! | Concept | Where | What it is |
//! |---|---|---|
//! | Storage rounding | [`dtype`] | [`round_to`]: the value an f64 takes when stored as f16, bf16 or f32 (round to nearest, ties to even) |
//! | Test inputs | [`data`] | [`Rng`]: seeded, reproducible inputs already rounded to their dtype; [`seed_from_env`] |
//! | Depthwise conv1d | [`conv1d`] | PyTorch `nn.Conv1d(D, D, K, groups=D)` forward and backward, direct sums in f64 |
//! | FFT convolution | [`fftconv`] | `y = out_gate ⊙ iFFT(FFT(in_gate ⊙ u) ⊙ FFT(k))[..L]` forward and backward in f64 |
//! | Error metric | [`metric`] | [`compare`]: relative L2 error divided by the *floor*, the error of the exact answer stored in the output dtype |
//! | Error bounds | [`bounds`] | The one place the pass/fail bounds on that ratio live |
//!
//! Every function computes in f64 from inputs given as f64 (inputs meant to model a 16-bit
//! tensor should already be rounded with [`round_to`]; [`Rng`] does so). Functions that take
//! shapes check every buffer length and return [`ShapeError`] on a mismatch; none panics on
//! valid input.
#![deny(missing_docs)]

pub mod bounds;
pub mod conv1d;
pub mod data;
pub mod dtype;
pub mod fftconv;
pub mod metric;

pub use data::{seed_from_env, Rng};
pub use dtype::{round_slice, round_to};
pub use flashfftconv_abi::DType;
pub use metric::{compare, rel_l2, ErrorReport};

use std::fmt;

/// A shape that cannot be computed, or a buffer whose length does not match its shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// A buffer holds `actual` elements where the shape needs `expected`.
    Length {
        /// Which argument (`"x"`, `"w"`, `"u"`, `"in_gate"`, ...).
        name: &'static str,
        /// Elements the shape needs.
        expected: usize,
        /// Elements given.
        actual: usize,
    },
    /// A shape parameter is out of range; the text says which rule it breaks.
    Invalid(&'static str),
    /// An element count does not fit in `usize`.
    Overflow,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeError::Length { name, expected, actual } => {
                write!(f, "`{name}` has {actual} elements, the shape needs {expected}")
            }
            ShapeError::Invalid(why) => write!(f, "invalid shape: {why}"),
            ShapeError::Overflow => write!(f, "element count overflows usize"),
        }
    }
}

impl std::error::Error for ShapeError {}

/// Checks that `buf` holds exactly `expected` elements.
pub(crate) fn check_len(name: &'static str, buf: &[f64], expected: usize) -> Result<(), ShapeError> {
    if buf.len() == expected {
        Ok(())
    } else {
        Err(ShapeError::Length { name, expected, actual: buf.len() })
    }
}

/// `a · b · c` or [`ShapeError::Overflow`].
pub(crate) fn product3(a: usize, b: usize, c: usize) -> Result<usize, ShapeError> {
    a.checked_mul(b).and_then(|ab| ab.checked_mul(c)).ok_or(ShapeError::Overflow)
}

#[cfg(test)]
pub(crate) mod test_util {
    /// `⟨a, b⟩`.
    pub fn dot(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// `‖a‖₂`.
    pub fn norm(a: &[f64]) -> f64 {
        dot(a, a).sqrt()
    }

    /// Largest `|a[i] − b[i]|`.
    pub fn max_diff(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    /// Asserts the adjoint identity `⟨jv, dy⟩ = ⟨v, grad⟩` to `1e-9` of the Cauchy–Schwarz
    /// scale of either side.
    pub fn assert_adjoint(what: &str, jv: &[f64], dy: &[f64], v: &[f64], grad: &[f64]) {
        let lhs = dot(jv, dy);
        let rhs = dot(v, grad);
        let scale = (norm(jv) * norm(dy)).max(norm(v) * norm(grad));
        assert!(
            (lhs - rhs).abs() <= 1e-9 * scale + f64::MIN_POSITIVE,
            "{what}: <J v, dy> = {lhs:e} but <v, grad> = {rhs:e} (scale {scale:e})"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_error_display() {
        let e = ShapeError::Length { name: "x", expected: 4, actual: 3 };
        assert_eq!(e.to_string(), "`x` has 3 elements, the shape needs 4");
        assert_eq!(
            ShapeError::Invalid("taps must be at least 1").to_string(),
            "invalid shape: taps must be at least 1"
        );
        assert!(ShapeError::Overflow.to_string().contains("overflow"));
    }

    #[test]
    fn product3_overflow() {
        assert_eq!(product3(2, 3, 4), Ok(24));
        assert_eq!(product3(usize::MAX, 2, 1), Err(ShapeError::Overflow));
        assert_eq!(product3(0, usize::MAX, usize::MAX), Ok(0));
    }
}
