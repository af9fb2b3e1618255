//! What the host crate and the GPU kernels must agree on, in one `no_std` crate compiled by both:
//! the `#[repr(C)]` parameter structs passed by value to kernels, the element-type enum, the
//! kernel entry-point names (one table), and the small index math both sides use.
//!
//! Struct-by-value kernel parameters are marked fragile on rustc's `ptx-kernel` ABI
//! (rust-lang/rust#117271); their layout is pinned by `const` size/offset assertions here and by
//! a PTX snapshot test in the host crate.
#![no_std]
#![deny(missing_docs)]

pub mod conv1d;
pub mod dtype;
pub mod fftconv;

pub use conv1d::{Conv1dKernel, Conv1dParams, Conv1dWeightGradParams};
pub use dtype::DType;
pub use fftconv::{FftConvKernel, FftConvParams};
