//! Validation helpers shared by the operations: buffer lengths, devices, overlaps, grid sizes.
//! Every helper returns the [`Error`] variant that names the offending buffer and numbers.

use crate::context::Gpu;
use crate::error::{Error, Result};
use crate::launch::DevicePtr;
use cudarc::driver::{CudaStream, DeviceSlice};
use flashfftconv_abi::DType;

/// A buffer as a call uses it: its name, device address, the elements the shape needs, dtype.
pub(crate) type Span = (&'static str, DevicePtr, u64, DType);

/// The largest x dimension of a grid the host launches (`2^31 − 1`).
pub(crate) fn grid_x(blocks: u64) -> Result<u32> {
    const MAX: u64 = i32::MAX as u64;
    if blocks > MAX {
        return Err(Error::Unsupported {
            what: "grid blocks",
            value: blocks,
            expected: format!("≤ {MAX}: the tensor is too large for one launch"),
        });
    }
    Ok(blocks as u32)
}

/// Fails when a buffer of `len` elements is shorter than the `needed` elements.
pub(crate) fn check_len(what: &'static str, len: usize, needed: u64) -> Result<()> {
    if (len as u64) < needed {
        return Err(Error::BufferTooSmall { what, needed, len: len as u64 });
    }
    Ok(())
}

/// The device ordinal of the context a buffer was allocated in.
pub(crate) fn ordinal_of<T>(buffer: &impl DeviceSlice<T>) -> usize {
    buffer.stream().context().ordinal()
}

/// Fails when the stream or the buffer (`ordinal`) belongs to another device than `gpu`.
pub(crate) fn check_device(gpu: &Gpu, stream: &CudaStream, what: &'static str, ordinal: usize) -> Result<()> {
    let context_device = gpu.context().ordinal();
    for (what, buffer_device) in [("stream", stream.context().ordinal()), (what, ordinal)] {
        if buffer_device != context_device {
            return Err(Error::WrongDevice { what, buffer_device, context_device });
        }
    }
    Ok(())
}

/// Fails when the byte ranges of two buffers (as used by the shape) overlap.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_disjoint(
    a: &'static str,
    a_ptr: DevicePtr,
    a_len: u64,
    a_dtype: DType,
    b: &'static str,
    b_ptr: DevicePtr,
    b_len: u64,
    b_dtype: DType,
) -> Result<()> {
    let a_end = a_ptr + a_len * a_dtype.size_bytes() as u64;
    let b_end = b_ptr + b_len * b_dtype.size_bytes() as u64;
    if a_ptr < b_end && b_ptr < a_end {
        return Err(Error::Overlap { output: a, other: b });
    }
    Ok(())
}

/// Fails when an output overlaps an input or another output.
pub(crate) fn check_outputs_disjoint(outputs: &[Span], inputs: &[Span]) -> Result<()> {
    for (i, out) in outputs.iter().enumerate() {
        for other in inputs.iter().chain(&outputs[i + 1..]) {
            check_disjoint(out.0, out.1, out.2, out.3, other.0, other.1, other.2, other.3)?;
        }
    }
    Ok(())
}
