//! The one error type of the crate. Every variant is returned before any launch, with the
//! numbers that explain it; outputs are untouched when an error is returned.

use cudarc::driver::DriverError;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The CUDA driver library (`libcuda.so`) could not be found or loaded.
    #[error("the CUDA driver library (libcuda) is not installed or not loadable; flashfftconv needs an NVIDIA driver")]
    NoDriver,
    /// No CUDA device with the requested ordinal.
    #[error("no CUDA device with ordinal {ordinal}: {count} device(s) present")]
    NoDevice {
        /// The ordinal asked for.
        ordinal: usize,
        /// Devices present.
        count: usize,
    },
    /// The device is older than the PTX targets.
    #[error("device {name} has compute capability {major}.{minor}; flashfftconv's kernels need {required_major}.{required_minor} or newer")]
    UnsupportedDevice {
        /// Device name.
        name: String,
        /// Its compute capability.
        major: i32,
        /// Its compute capability.
        minor: i32,
        /// Required compute capability.
        required_major: i32,
        /// Required compute capability.
        required_minor: i32,
    },
    /// The embedded kernels failed to load (the cubin, or the PTX compiled by the driver).
    #[error("loading the embedded kernel module failed (the sm_90 cubin on a 9.0 device, else the PTX): {0}")]
    PtxLoad(DriverError),
    /// A kernel the host expected is not in the PTX (stale PTX or a renamed kernel).
    #[error("kernel `{name}` is missing from the PTX module: {source}")]
    MissingKernel {
        /// Entry name.
        name: &'static str,
        /// Driver's answer.
        source: DriverError,
    },
    /// A size or shape parameter is out of the supported range.
    #[error("unsupported {what} = {value}: {expected}")]
    Unsupported {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: u64,
        /// What is supported.
        expected: String,
    },
    /// Two shapes that must agree do not.
    #[error("shape mismatch for {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// Which tensor or dimension.
        what: &'static str,
        /// Expected value.
        expected: u64,
        /// Given value.
        got: u64,
    },
    /// Two element types that must agree do not.
    #[error("dtype mismatch for {what}: expected {expected}, got {got}")]
    DTypeMismatch {
        /// Which tensor.
        what: &'static str,
        /// Expected dtype name.
        expected: &'static str,
        /// Given dtype name.
        got: &'static str,
    },
    /// A device buffer holds fewer elements than the shape needs.
    #[error("buffer `{what}` too small: the shape needs {needed} elements, the buffer holds {len}")]
    BufferTooSmall {
        /// Which buffer.
        what: &'static str,
        /// Elements needed.
        needed: u64,
        /// Elements present.
        len: u64,
    },
    /// Device buffers belong to another device than the context's.
    #[error("buffer `{what}` lives on device {buffer_device}, the context on device {context_device}")]
    WrongDevice {
        /// Which buffer.
        what: &'static str,
        /// The buffer's device ordinal.
        buffer_device: usize,
        /// The context's device ordinal.
        context_device: usize,
    },
    /// An output buffer overlaps another buffer of the same call.
    #[error("output `{output}` overlaps `{other}` in device memory")]
    Overlap {
        /// The output.
        output: &'static str,
        /// The buffer it overlaps.
        other: &'static str,
    },
    /// A gradient was requested for an input that was not given (e.g. `d_in_gate` without
    /// `in_gate`).
    #[error("gradient `{gradient}` was requested but `{input}` was not given")]
    GradientWithoutInput {
        /// The gradient asked for.
        gradient: &'static str,
        /// The missing input.
        input: &'static str,
    },
    /// A plan (e.g. [`FftConv`](crate::FftConv)) is used with another device than the one it was
    /// made for.
    #[error("the plan was made for device {plan_device}, the call's context is on device {context_device}")]
    PlanDeviceMismatch {
        /// The device ordinal the plan was checked against.
        plan_device: usize,
        /// The device ordinal of the call's [`Gpu`](crate::Gpu).
        context_device: usize,
    },
    /// A CUDA driver call failed.
    #[error("CUDA driver error: {0}")]
    Driver(#[from] DriverError),
}
