//! # flashfftconv
//!
//! Long FFT convolutions and short depthwise convolutions for long-convolution sequence models
//! (Hyena, H3, Monarch Mixer, HyenaDNA, long-conv CNNs) on NVIDIA GPUs (compute capability 9.0),
//! with kernels written in Rust and checked element by element against an f64 reference.
//!
//! | symbol | meaning |
//! |---|---|
//! | B | batch size |
//! | D (or H) | channels |
//! | L | sequence length |
//! | K | taps of a short conv |
//! | N, Lk | FFT size and kernel length of an FFT convolution ([`FftConv`]) |
//! | `Layout::Bhl` / `Layout::Blh` | `(B, D, L)` / `(B, L, D)` activations |
//! | causal | output `j` depends on inputs `≤ j` only (FFT convolution: `N ≥ L + Lk − 1`) |
//! | bidirectional | FFT convolution with `Lk = N`: circular, every output sees every input |
//!
//! Start with [`Gpu::new`], make a stream from [`Gpu::context`], and call an operation such as
//! [`DepthwiseConv1d::forward`] or [`FftConv::forward`] (see the [`fftconv`] module). Every
//! operation validates its inputs before launching and returns an [`Error`] naming the
//! offending value; none synchronises the stream.
//!
//! ```no_run
//! use flashfftconv::{DepthwiseConv1d, Gpu, Input, Layout};
//! # fn main() -> flashfftconv::Result<()> {
//! let gpu = Gpu::new(0)?;
//! let stream = gpu.context().default_stream();
//! let (batch, channels, len, taps) = (2, 64, 1000, 4);
//! let conv = DepthwiseConv1d::causal(channels, taps).with_layout(Layout::Blh);
//! let x = stream.clone_htod(&vec![half::bf16::ONE; batch * len * channels])?;
//! let w = stream.clone_htod(&vec![0.25f32; channels * taps])?;
//! let mut y = stream.alloc_zeros::<half::bf16>(batch * conv.output_len(len)? * channels)?;
//! conv.forward(&gpu, &stream, Input { data: &x.as_view(), batch, len }, &w.as_view(), None, &mut y.as_view_mut())?;
//! let y_host = stream.clone_dtoh(&y)?; // synchronises
//! # let _ = y_host; Ok(()) }
//! ```
#![deny(missing_docs)]

mod checks;
mod context;
pub mod conv1d;
mod dtype;
mod error;
pub mod fftconv;
mod launch;

pub use context::{device_count, driver_available, Gpu, CUBIN_SM90, PTX_SM90, REQUIRED_COMPUTE_CAPABILITY};
pub use conv1d::{DepthwiseConv1d, Gradients, Input, Layout};
pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use fftconv::{FftConv, FftConvGrads, FftElement, FftInput, Gates, KernelInput, MinWorkspace, PreparedKernel};

/// Re-exported so that users name the same cudarc and half versions as this crate.
pub use cudarc;
pub use half;

/// The README's Rust examples, compiled (not run) by `cargo test --doc` so that they stay true
/// to the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;
