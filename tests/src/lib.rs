//! The GPU correctness sweep behind `cargo xtask test-gpu` and the integration tests: every
//! kernel against the f64 reference (`flashfftconv-reference`), on fresh seeded random inputs,
//! outputs poisoned with NaN before each launch, every element checked in the rounding-floor
//! metric with the bounds of `flashfftconv_reference::bounds`.

pub mod conv1d_sweep;
pub mod fftconv_big;
pub mod fftconv_sweep;
pub mod harness;
pub mod validation;
