//! The only module that launches kernels: the crate's `unsafe` lives here. Callers validate
//! shapes and buffer sizes first; each function's `# Safety` says what it relies on.

use crate::error::Result;
use cudarc::driver::{CudaFunction, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg};
use flashfftconv_abi::fftconv::LongFftParams;
use flashfftconv_abi::{Conv1dParams, Conv1dWeightGradParams, FftConvParams};

/// A parameter struct passed to a kernel by value.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct ByValue<T>(pub T);

// SAFETY: both structs are `#[repr(C)]`, `Copy`, hold only integers (no pointers), and their
// layout is pinned by const assertions in flashfftconv-abi and the PTX parameter snapshot test.
unsafe impl DeviceRepr for ByValue<Conv1dParams> {}
// SAFETY: as above.
unsafe impl DeviceRepr for ByValue<Conv1dWeightGradParams> {}
// SAFETY: as above (`FftConvParams` is 8 `u32`s, size pinned to 32 bytes in flashfftconv-abi).
unsafe impl DeviceRepr for ByValue<FftConvParams> {}
// SAFETY: as above (`LongFftParams` is 8 `u32`s, size pinned to 32 bytes in flashfftconv-abi).
unsafe impl DeviceRepr for ByValue<LongFftParams> {}

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

/// Launches the fused `(B, D, L)` backward `(dy, w, x, dx, partials, params)`.
///
/// # Safety
/// As [`conv1d_forward`]: the buffers hold what `params` implies for
/// `conv1d::backward_bhl` (dy, x and dx of the input gradient's shapes, `partial_rows · D ·
/// tap_slots` partials), and `dx` and `partials` overlap nothing.
pub(crate) unsafe fn conv1d_backward_fused(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    ptrs: [DevicePtr; 5],
    params: Conv1dWeightGradParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&ptrs[0]).arg(&ptrs[1]).arg(&ptrs[2]).arg(&ptrs[3]).arg(&ptrs[4]).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// The buffers of an FFT-convolution forward launch, named so that the order the kernel takes
/// them in is written once, in [`fftconv_forward`]. Zero for an absent gate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FftConvForwardPtrs {
    /// `u (B, H, L)`.
    pub u: DevicePtr,
    /// `in_gate (B, H, L)` or 0.
    pub in_gate: DevicePtr,
    /// `out_gate (B, H, L)` or 0.
    pub out_gate: DevicePtr,
    /// The prepared kernel spectrum, `prepared_len(H, N)` f32.
    pub prepared: DevicePtr,
    /// `y (B, H, L)`, written.
    pub y: DevicePtr,
}

/// The buffers of an FFT-convolution backward launch. Zero for an absent gate or gradient.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FftConvBackwardPtrs {
    /// `u (B, H, L)`.
    pub u: DevicePtr,
    /// `in_gate (B, H, L)` or 0.
    pub in_gate: DevicePtr,
    /// `out_gate (B, H, L)` or 0.
    pub out_gate: DevicePtr,
    /// `dy (B, H, L)`.
    pub dy: DevicePtr,
    /// The prepared kernel spectrum, `prepared_len(H, N)` f32.
    pub prepared: DevicePtr,
    /// `du (B, H, L)`, written.
    pub du: DevicePtr,
    /// `d_in_gate (B, H, L)` or 0, written.
    pub d_in_gate: DevicePtr,
    /// `d_out_gate (B, H, L)` or 0, written.
    pub d_out_gate: DevicePtr,
    /// The zeroed backward workspace, `backward_workspace_bytes(chunks, H, log2 N, split)` bytes.
    pub workspace: DevicePtr,
}

/// Launches `fftconv_prepare_n{N}(k, prepared, params)`: the spectrum of `k (H, Lk)` f32 into
/// `prepared`.
///
/// # Safety
/// - `f` is a prepare kernel (it takes exactly these parameters) and its maximum dynamic shared
///   memory attribute admits `cfg.shared_mem_bytes`;
/// - `k` holds `params.heads · params.kernel_len` f32 and `prepared` holds
///   `prepared_len(params.heads, N)` f32 for the kernel's `N`, and they do not overlap;
/// - both buffers stay alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_prepare(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    k: DevicePtr,
    prepared: DevicePtr,
    params: FftConvParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&k).arg(&prepared).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches `fftconv_fwd_n{N}_{dtype}(u, in_gate, out_gate, prepared, y, params)`.
///
/// # Safety
/// - `f` is a forward kernel for the buffers' element type and the `N` the spectrum was
///   prepared for, and its maximum dynamic shared memory attribute admits
///   `cfg.shared_mem_bytes`;
/// - `u`, `y` and each gate that is not 0 hold `B · H · L` elements; a gate is non-zero exactly
///   when its `FLAG_*_GATE` bit is set; `prepared` holds `prepared_len(H, N)` f32 written by a
///   prepare kernel for `N`; `FLAG_VECTOR` is set only when every `(B, H, L)` pointer is
///   16-byte aligned and `L % 8 == 0`;
/// - `y` overlaps no other buffer; all buffers stay alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_forward(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    ptrs: FftConvForwardPtrs,
    params: FftConvParams,
) -> Result<()> {
    let params = ByValue(params);
    let FftConvForwardPtrs { u, in_gate, out_gate, prepared, y } = ptrs;
    let mut builder = stream.launch_builder(f);
    builder.arg(&u).arg(&in_gate).arg(&out_gate).arg(&prepared).arg(&y).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches `fftconv_bwd_n{N}_{dtype}(u, in_gate, out_gate, dy, prepared, du, d_in_gate,
/// d_out_gate, workspace, params)`.
///
/// # Safety
/// As [`fftconv_forward`] for `u`, the gates, `prepared` and the launch shape, and:
/// - `dy`, `du` and each gate gradient that is not 0 hold `B · H · L` elements; a gate gradient
///   is non-zero only when its gate is given; `FLAG_VECTOR` also covers `dy` and the outputs;
/// - `params.chunks` and `params.pairs_per_chunk` are `backward_chunks(B, H, log2 N, split)` and the
///   grid is `chunks · H` blocks;
/// - `workspace` holds `backward_workspace_bytes(chunks, H, log2 N, split)` bytes, zeroed before this
///   launch in stream order;
/// - the outputs (`du`, the gate gradients, the workspace) overlap no other buffer; all buffers
///   stay alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_backward(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    ptrs: FftConvBackwardPtrs,
    params: FftConvParams,
) -> Result<()> {
    let params = ByValue(params);
    let FftConvBackwardPtrs { u, in_gate, out_gate, dy, prepared, du, d_in_gate, d_out_gate, workspace } = ptrs;
    let mut builder = stream.launch_builder(f);
    builder
        .arg(&u)
        .arg(&in_gate)
        .arg(&out_gate)
        .arg(&dy)
        .arg(&prepared)
        .arg(&du)
        .arg(&d_in_gate)
        .arg(&d_out_gate)
        .arg(&workspace)
        .arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches `fftconv_dk_n{N}(workspace, dk, params)`: sums the backward kernel's partial `dk`
/// spectra and writes `dk (H, Lk)` f32.
///
/// # Safety
/// - `f` is a `dk` kernel for the `N` of the backward launch, its maximum dynamic shared
///   memory attribute admits `cfg.shared_mem_bytes`;
/// - `params` is the backward launch's (same `chunks`), `workspace` is that launch's workspace
///   and the backward launch was queued before this one on the same stream;
/// - `dk` holds `params.heads · params.kernel_len` f32 and overlaps no other buffer; both
///   buffers stay alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_dk(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    workspace: DevicePtr,
    dk: DevicePtr,
    params: FftConvParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&workspace).arg(&dk).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches a long-size *in* pass, `fftconv_long_in_n{N}_{dtype}(x, gate, workspace, params)`:
/// the rows of pairs `params.pair0 .. params.pair0 + params.pairs` of `x` (times `gate`) through
/// the outer forward stages, into workspace rows `0 .. params.pairs`.
///
/// # Safety
/// - `f` is the *in* kernel for `N = 2^params.log2_n` and `x`'s element type (f32 when `x` is
///   the kernel `k`), its maximum dynamic shared memory attribute admits
///   `cfg.shared_mem_bytes` (`long_outer_shared_bytes` of the kernel's planes), and the grid is
///   `params.pairs · long_column_groups(log2 N)` blocks;
/// - `x` holds `params.batch · params.heads · params.len` elements; `gate` is 0 or holds as
///   many, non-zero exactly when `FLAG_IN_GATE` is set; `FLAG_VECTOR` is set only when `x`
///   and `gate` are 16-byte aligned and `params.len % 8 == 0`;
/// - `params.pair0 + params.pairs ≤ params.heads · ⌈params.batch / 2⌉` and `params.pairs ≤
///   long_pairs_per_launch(log2 N)`; `workspace` holds `params.pairs · long_pair_bytes(log2 N)`
///   bytes and overlaps no other buffer;
/// - all buffers stay alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_long_in(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    x: DevicePtr,
    gate: DevicePtr,
    workspace: DevicePtr,
    params: LongFftParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&x).arg(&gate).arg(&workspace).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches a long-size *mid* pass, `fftconv_long_mid(workspace, prepared, params)` (row
/// transforms times the prepared spectrum, in place) or `fftconv_long_mid_prepare(workspace,
/// prepared, params)` (row transforms of the kernel rows, stored into `prepared` with an atomic
/// max of each head's largest component into `prepared[2N·H + h]`).
///
/// # Safety
/// - `f` is one of those two kernels, its maximum dynamic shared memory attribute admits
///   `cfg.shared_mem_bytes` (`long_mid_shared_bytes` of the kernel's planes), and the grid is
///   `params.pairs · 2^long_outer_log2(log2 N)` blocks;
/// - `workspace` holds the rows written by an *in* launch with the same `params`, queued before
///   this one on the same stream;
/// - `prepared` holds `prepared_len(params.heads, N)` f32 and overlaps no other buffer: for
///   `fftconv_long_mid`, a spectrum for this `N` written completely by `fftconv_long_mid_prepare`
///   launches (read only); for `fftconv_long_mid_prepare`, the spectrum being written, whose
///   `params.heads` max slots were zeroed in stream order before its first launch;
/// - all buffers stay alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_long_mid(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    workspace: DevicePtr,
    prepared: DevicePtr,
    params: LongFftParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&workspace).arg(&prepared).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches a long-size *out* pass, `fftconv_long_out_n{N}_{dtype}(workspace, gate, y, gate2,
/// y2, params)`: the outer inverse stages of workspace rows `0 .. params.pairs`, written (times
/// `gate`) into the positions below `params.len` of the rows of pairs `params.pair0 ..`, and, when
/// `y2` is not 0, also (times `gate2`) into `y2`; f32 rows (the backward's `dk`) are added to
/// `y` instead.
///
/// # Safety
/// - `f` is the *out* kernel for `N = 2^params.log2_n` and `y`'s element type (bf16, f16, or f32
///   for the backward's `dk`, whose rows hold values written before on the same stream), its maximum dynamic shared memory attribute admits
///   `cfg.shared_mem_bytes` (`long_outer_shared_bytes` of the kernel's planes), and the grid is
///   `params.pairs · long_column_groups(log2 N)` blocks;
/// - `workspace` holds `params.pairs` rows written by a *mid* launch (`fftconv_long_mid`, the backward's
///   `fftconv_long_mid_grad` or `fftconv_long_dk_sum`) queued before this one on the same stream;
/// - `y` holds `params.batch · params.heads · params.len` elements and overlaps no other buffer;
///   `gate` is 0 or holds as many, non-zero exactly when `FLAG_OUT_GATE` is set; `y2` is 0 or,
///   like `gate2`, holds as many and overlaps no other buffer written; `FLAG_VECTOR` is set only
///   when `y`, `gate`, `y2` and `gate2` are 16-byte aligned and `params.len % 8 == 0`;
/// - all buffers stay alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_long_out(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    workspace: DevicePtr,
    (gate, y): (DevicePtr, DevicePtr),
    (gate2, y2): (DevicePtr, DevicePtr),
    params: LongFftParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&workspace).arg(&gate).arg(&y).arg(&gate2).arg(&y2).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches `fftconv_long_mid_spectrum(z, params)`: replaces each of workspace rows
/// `0 .. params.pairs` (written by an *in* launch with the same pairs) by its exact spectrum, in
/// place.
///
/// # Safety
/// - `f` is that kernel, its maximum dynamic shared memory attribute admits
///   `cfg.shared_mem_bytes` (`long_mid_shared_bytes` of the kernel's planes), and the grid is
///   `params.pairs · 2^long_outer_log2(log2 N)` blocks;
/// - `z` holds `params.pairs · long_pair_bytes(log2 N)` bytes written by an *in* launch queued
///   before this one on the same stream, and overlaps no buffer another launch of the call
///   accesses concurrently;
/// - the buffer stays alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_long_mid_spectrum(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    z: DevicePtr,
    params: LongFftParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&z).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches a backward *mid* pass over two workspace regions,
/// `fftconv_long_mid_spectrum_conv(z, dst, prepared, params)` or `fftconv_long_mid_grad(z, dst,
/// prepared, params)` (or their `_unsplit` twins): for each pair of the launch, the first
/// replaces its rows in `z` by their spectra (as `fftconv_long_mid_spectrum` writes them) and
/// writes the rows of their convolution with the kernel to `dst` (as `fftconv_long_mid` writes
/// them); the second transforms its rows in `z` (`DV`), replaces the spectra in `dst` (`Z`, as
/// `fftconv_long_mid_spectrum` wrote them) by `DV · conj(Z)` and writes the rows of
/// `iFFT(DV · conj(K))` back to `z`.
///
/// # Safety
/// As [`fftconv_long_mid_spectrum`] for `f`, `cfg` and `z`; `dst` holds as many bytes as `z`
/// (for the second, the spectra of the same pairs and planes, written before this launch on the
/// same stream) and overlaps it nowhere; `prepared` as for `fftconv_long_mid` (read only).
pub(crate) unsafe fn fftconv_long_mid_pair(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    z: DevicePtr,
    dst: DevicePtr,
    prepared: DevicePtr,
    params: LongFftParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&z).arg(&dst).arg(&prepared).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Launches `fftconv_long_dk_sum(dst, a, params)` (or `_unsplit`): for each head `h` of the
/// launch's pairs (from `h₀`, `heads` of them), workspace row `h − h₀` of `dst` (laid out for
/// `heads` pairs) = the inverse row transforms of the sum of the `dk` products in `a` of the
/// head's pairs, in pair order.
///
/// # Safety
/// - `f` is that kernel, its maximum dynamic shared memory attribute admits
///   `cfg.shared_mem_bytes` (`long_mid_shared_bytes` of the kernel's planes), and the grid is
///   `heads · 2^long_outer_log2(log2 N)` blocks;
/// - `a` holds `params.pairs · long_pair_bytes(log2 N)` bytes of products written by an
///   `fftconv_long_mid_grad` launch of the same pairs and planes queued before this one on the
///   same stream;
/// - `dst` holds at least `heads · long_pair_bytes(log2 N)` bytes and overlaps `a` nowhere;
/// - both buffers stay alive until the stream has run the launch.
pub(crate) unsafe fn fftconv_long_dk_sum(
    stream: &CudaStream,
    f: &CudaFunction,
    cfg: LaunchConfig,
    dst: DevicePtr,
    a: DevicePtr,
    params: LongFftParams,
) -> Result<()> {
    let params = ByValue(params);
    let mut builder = stream.launch_builder(f);
    builder.arg(&dst).arg(&a).arg(&params);
    // SAFETY: the caller's contract above matches the kernel's.
    unsafe { builder.launch(cfg) }?;
    Ok(())
}

/// Queues a memset of `bytes` bytes at `ptr` to zero on `stream`.
///
/// # Safety
/// `ptr .. ptr + bytes` lies inside one live allocation of the stream's device that stays alive
/// until the stream has run the memset, and no other work accesses it concurrently.
pub(crate) unsafe fn zero_bytes(stream: &CudaStream, ptr: DevicePtr, bytes: usize) -> Result<()> {
    stream.context().bind_to_thread()?;
    // SAFETY: the caller's contract above.
    unsafe { cudarc::driver::result::memset_d8_async(ptr, 0, bytes, stream.cu_stream()) }?;
    Ok(())
}
