//! The only module that launches kernels: the crate's `unsafe` lives here. Callers validate
//! shapes and buffer sizes first; each function's `# Safety` says what it relies on.

use crate::error::Result;
use cudarc::driver::{CudaFunction, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg};
use flashfftconv_abi::{Conv1dParams, Conv1dWeightGradParams};

/// A parameter struct passed to a kernel by value.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct ByValue<T>(pub T);

// SAFETY: both structs are `#[repr(C)]`, `Copy`, hold only integers (no pointers), and their
// layout is pinned by const assertions in flashfftconv-abi and the PTX parameter snapshot test.
unsafe impl DeviceRepr for ByValue<Conv1dParams> {}
// SAFETY: as above.
unsafe impl DeviceRepr for ByValue<Conv1dWeightGradParams> {}

/// A raw device address (`CUdeviceptr`); zero stands for "no buffer".
pub(crate) type DevicePtr = u64;

/// Launches a conv1d forward-type kernel `(x, w, bias, y, params)`.
///
/// # Safety
/// `f` takes exactly these parameters; the pointers address buffers of the sizes `params`
/// implies for the kernel's layout (bias may be 0 only without `FLAG_HAS_BIAS`); `y` does not
/// overlap the inputs; the buffers stay alive until the stream has run the launch.
pub(crate) unsafe fn conv1d_forward(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    ptrs: [DevicePtr; 4],
    params: Conv1dParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&ptrs[0]).arg(&ptrs[1]).arg(&ptrs[2]).arg(&ptrs[3]).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches a conv1d weight-gradient kernel: `(x, dy, partials, params)` or, for the
/// reduction, `(partials, dw, dbias, params)`.
///
/// # Safety
/// As [`conv1d_forward`], for the weight-gradient kernels' buffers.
pub(crate) unsafe fn conv1d_weight_grad(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    ptrs: [DevicePtr; 3],
    params: Conv1dWeightGradParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&ptrs[0]).arg(&ptrs[1]).arg(&ptrs[2]).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}
