//! The error bounds of the project's tests: the one place they live.
//!
//! Each bound is a limit on [`ErrorReport::ratio`](crate::ErrorReport::ratio) (the relative L2
//! error divided by the floor, the error of the exact answer stored in the output dtype), except
//! [`FFTCONV_DK_MAX_REL_L2`], a plain relative L2 error ([`rel_l2`](crate::rel_l2)).
//!
//! These bounds are never loosened to make a test pass. A kernel that exceeds one is wrong or
//! less accurate than it must be, and is fixed; a bound changes only with a written reason about
//! the algorithm (what error it must incur and why), reviewed on its own.

/// Depthwise conv1d: `y`, `dx`, `dw`, `dbias`, as a ratio to the floor. Each output is a short
/// sum accumulated in f32 and rounded once, so it may be at most half again worse than that one
/// rounding.
pub const CONV1D_MAX_RATIO: f64 = 1.5;

/// FFT convolution: `y`, `du`, `d_in_gate`, `d_out_gate`, as a ratio to the floor. The FFTs'
/// f32 roundoff (growing with `log N`) adds to the final rounding.
pub const FFTCONV_MAX_RATIO: f64 = 2.5;

/// FFT convolution kernel gradient `dk`, as a plain relative L2 error: `dk` is a long reduction
/// over the batch and the sequence kept in f32, with no dtype floor to compare against.
pub const FFTCONV_DK_MAX_REL_L2: f64 = 5e-3;
