//! Long FFT convolution (FFT sizes `N = 256 … 8388608`), with optional input and output gates,
//! forward and backward (from `N = 65536` through a workspace the plan holds: see [Long
//! sizes](#long-sizes)).
//!
//! ```text
//! z = in_gate ⊙ u
//! y = out_gate ⊙ iFFT_N(FFT_N(z) · FFT_N(k))[..L]
//! ```
//!
//! | tensor | shape | dtype |
//! |---|---|---|
//! | u, in_gate, out_gate, y, dy, du, d_in_gate, d_out_gate | `(B, H, L)` | `T`: f16 or bf16 ([`FftElement`]) |
//! | k, dk | `(H, Lk)` | f32 |
//!
//! `u` and `k` are zero-padded to the FFT size `N` and the convolution is circular of period
//! `N`; only the first `L` outputs are kept. `1 ≤ L ≤ N` and `1 ≤ Lk ≤ N`; `B ≥ 1` and `H ≥ 1`
//! (empty tensors are rejected, not treated as a no-op); no divisibility rules.
//!
//! * **Causal** (Hyena, H3): `N ≥ L + Lk − 1`, usually `N = 2L` and `Lk ≤ L`. Nothing wraps
//!   around, so `y[t] = Σ_{s ≤ t} k[t − s] · z[s]`.
//! * **Bidirectional / circular**: `Lk = N` (often `L = N`): every output sees every input,
//!   `y[t] = Σ_s k[(t − s) mod N] · z[s]`.
//!
//! An absent gate means all ones. The semantics are exactly those of
//! `flashfftconv_reference::fftconv::{forward, backward}`.
//!
//! # Plans, prepared kernels and streams
//!
//! An [`FftConv`] is the plan for one FFT size; make it once ([`FftConv::new`] checks that the
//! device can run that size) and reuse it. The kernel `k` is passed either raw
//! ([`KernelInput::Raw`]: its spectrum is computed on the GPU in every call, into a
//! stream-ordered temporary), or as a [`PreparedKernel`] made once by [`FftConv::prepare`] —
//! the choice for inference or several calls with the same weights.
//!
//! Every call validates its inputs before launching and returns an [`Error`] naming the
//! offending value, with outputs untouched; none synchronises the stream. Outputs must not
//! overlap any input or each other ([`Error::Overlap`]).
//!
//! [`FftConv::backward`] writes `dk` summed over the batch in a fixed order (no atomics): the
//! same inputs give bit-identical results on every run.
//!
//! # Long sizes
//!
//! Up to `N = 32768` a sequence is transformed, multiplied and transformed back inside one
//! thread block, and the calls need no memory beyond their inputs and outputs. The long sizes
//! `N = 65536 … 8388608` (causal convolutions up to `L = 4M`) do not fit one block: each call runs
//! three passes (outer FFT stages, row transforms with the kernel product, outer inverse stages)
//! through a workspace in device memory that the plan allocates once, in [`FftConv::new`]:
//! [`FftConv::workspace_bytes`] = 256 MiB + 32 KiB whatever the size, filled with as many row pairs as fit
//! per launch. [`FftConv::with_workspace_bytes`] takes another size instead, down to one row pair
//! ([`FftConv::min_workspace_bytes`]; e.g. at most the bytes of `u` for small calls); fewer pairs
//! per launch cost time where a launch no longer fills the GPU (see there). Clones of a plan share that workspace, so calls of one plan (and its clones)
//! serialise their queuing on a lock and their execution on the workspace's stream tracking
//! (cudarc orders the workspace's use across streams; a context whose event tracking the caller
//! turned off must not use one plan on two streams at once). Make one plan per stream to let
//! calls on different streams overlap.
//!
//! At the long sizes `prepare`, `forward` and `backward` behave as up to `N = 32768` (same API,
//! validation and errors, no rule on B or H, 64-bit offsets); the prepared spectrum has the same
//! size, `(2N + 1) · H` f32 (`8N · H` bytes: 64 MiB per head at `N = 8M`). The long-size backward
//! allocates nothing beyond a raw kernel's temporary spectrum
//! ([`FftConv::backward_workspace_bytes`] is 0): it runs its passes through the plan's workspace,
//! in groups of half the forward's row pairs (two rows per pair: `256 MiB / 16N` pairs in the
//! default workspace, from 256 at 64K down to 2 at 8M; a workspace below
//! [`MinWorkspace::backward`] serves `prepare` and `forward` only), and sums `dk` over the batch
//! in a fixed order as on chip (bit-identical from run to run). Per group it runs the passes of
//! two transforms in (`in_gate ⊙ u` and `out_gate ⊙ dy`); from the second's spectrum, in one
//! pass, its products with the first's (for `dk`) and with the kernel's (for `du`); the outputs
//! `du` and `d_in_gate`; and, per head of the group, the inverse of its pairs' summed `dk`
//! products, added to `dk`; `d_out_gate` (`dy ⊙` the forward's convolution) adds the three
//! forward passes.

use crate::checks::{check_device, check_len, check_outputs_disjoint, grid_x, ordinal_of, Span};
use crate::context::Gpu;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::launch::{self, DevicePtr, FftConvBackwardPtrs, FftConvForwardPtrs};
use cudarc::driver::{
    sys, CudaFunction, CudaSlice, CudaStream, CudaView, CudaViewMut, DevicePtr as _, DevicePtrMut as _, LaunchConfig,
};
use flashfftconv_abi::fftconv::{
    backward_chunks, backward_shared_bytes, backward_workspace_bytes, backward_zero_half_skip, cluster_blocks,
    forward_shared_bytes, is_long, kernel_split, long_backward_pair_bytes, long_pair_bytes, pairs_per_block,
    prepared_len, shared_bytes, zero_half_skip, FftConvKernel, FftConvParams, FLAG_IN_GATE, FLAG_OUT_GATE, FLAG_VECTOR,
    LONG_MAX_LOG2_N, LONG_MIN_LOG2_N, LONG_WORKSPACE_BYTES, MAX_LOG2_N, MIN_LOG2_N, THREADS,
};
use flashfftconv_abi::DType;
use std::sync::{Arc, Mutex};

mod long;

mod sealed {
    pub trait Sealed {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// An element type of the FFT convolution's activations: `half::f16` or `half::bf16`
/// (sealed). The kernel and its gradient are always f32.
pub trait FftElement: Element + sealed::Sealed {}
impl FftElement for half::f16 {}
impl FftElement for half::bf16 {}

/// Elements a `(B, H, L)` row-major tensor's `L` must be a multiple of (with 16-byte aligned
/// buffers) for the kernels' vector path, [`FLAG_VECTOR`].
const VECTOR_ELEMS: u32 = 8;

/// The input sequences of an FFT convolution.
#[derive(Clone, Copy, Debug)]
pub struct FftInput<'a, 'b, T> {
    /// `u (B, H, L)`, row-major. May be longer than `B · H · L`.
    pub u: &'a CudaView<'b, T>,
    /// Batch size B (≥ 1).
    pub batch: usize,
    /// Heads (channels) H (≥ 1), one kernel each.
    pub heads: usize,
    /// Sequence length L (`1 ≤ L ≤ N`).
    pub len: usize,
}

/// The convolution kernel `k`: raw or prepared by [`FftConv::prepare`].
#[derive(Clone, Copy, Debug)]
pub enum KernelInput<'a, 'b> {
    /// `k (H, Lk)` f32, row-major (may be longer than `H · Lk`). Its spectrum is computed on the
    /// GPU in each call, into a stream-ordered temporary of `(2N + 1) · H` f32 freed after it.
    Raw {
        /// The kernel.
        k: &'a CudaView<'b, f32>,
        /// Kernel length Lk (`1 ≤ Lk ≤ N`).
        kernel_len: usize,
    },
    /// A spectrum made by [`FftConv::prepare`] of a plan with the same FFT size, for the same
    /// number of heads.
    Prepared(&'a PreparedKernel),
}

/// The optional gates: `y = out_gate ⊙ conv(in_gate ⊙ u, k)`. An absent gate means all ones.
#[derive(Clone, Copy, Debug)]
pub struct Gates<'a, 'b, T> {
    /// `in_gate (B, H, L)`, multiplied into `u` before the convolution.
    pub in_gate: Option<&'a CudaView<'b, T>>,
    /// `out_gate (B, H, L)`, multiplied into the convolution's output.
    pub out_gate: Option<&'a CudaView<'b, T>>,
}

impl<'a, 'b, T> Gates<'a, 'b, T> {
    /// No gates: `y = conv(u, k)`.
    pub fn none() -> Self {
        Gates { in_gate: None, out_gate: None }
    }

    /// Both gates: `y = out_gate ⊙ conv(in_gate ⊙ u, k)`.
    pub fn both(in_gate: &'a CudaView<'b, T>, out_gate: &'a CudaView<'b, T>) -> Self {
        Gates { in_gate: Some(in_gate), out_gate: Some(out_gate) }
    }
}

/// Where [`FftConv::backward`] writes the gradients.
#[derive(Debug)]
pub struct FftConvGrads<'a, 'b, T> {
    /// `∂loss/∂u (B, H, L)`.
    pub du: &'a mut CudaViewMut<'b, T>,
    /// `∂loss/∂k (H, Lk)` f32, summed over the batch (also with a [`KernelInput::Prepared`]
    /// kernel: it is the gradient of the raw kernel the spectrum was prepared from).
    pub dk: &'a mut CudaViewMut<'b, f32>,
    /// `∂loss/∂in_gate (B, H, L)`; may be requested only when `in_gate` is given.
    pub d_in_gate: Option<&'a mut CudaViewMut<'b, T>>,
    /// `∂loss/∂out_gate (B, H, L)`; may be requested only when `out_gate` is given.
    pub d_out_gate: Option<&'a mut CudaViewMut<'b, T>>,
}

/// The spectrum of a kernel `k (H, Lk)` for one FFT size, made by [`FftConv::prepare`] and
/// reusable across calls and streams of its device. It owns a device buffer of `(2N + 1) · H`
/// f32 (the spectrum in the kernels' own order and one f32 per head: a scale, or at the long
/// sizes the head's largest component); its layout is private to the kernels.
#[derive(Debug)]
pub struct PreparedKernel {
    spectrum: CudaSlice<f32>,
    heads: usize,
    kernel_len: usize,
    fft_size: usize,
}

impl PreparedKernel {
    /// Heads H the spectrum was prepared for.
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// Length Lk of the raw kernel it was prepared from (the length of `dk`).
    pub fn kernel_len(&self) -> usize {
        self.kernel_len
    }

    /// FFT size N it was prepared for.
    pub fn fft_size(&self) -> usize {
        self.fft_size
    }
}

/// The smallest workspaces of a long FFT size ([`FftConv::min_workspace_bytes`]), in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinWorkspace {
    /// One row pair of `prepare` and `forward`: `8N` bytes and its `2N₁` exponent words
    /// (`N₁ = N / 8192`).
    pub forward: usize,
    /// One row pair of `backward`: two forward pairs (`16N` bytes and their exponent words).
    pub backward: usize,
}

/// The plan of an FFT convolution of one size `N`: checked against the device once, reused for
/// every call. Cheap to clone (clones share the workspace of a long size: see
/// [`FftConv::new`]). Calls must pass the [`Gpu`] of the device the plan was made for.
#[derive(Clone, Debug)]
pub struct FftConv {
    log2_n: u32,
    device: usize,
    /// The long sizes' workspace (by default [`LONG_WORKSPACE_BYTES`]); `None` for on-chip sizes. The lock
    /// is held while a call queues its launches; cudarc's stream tracking of the slice orders
    /// the launches of calls on different streams.
    workspace: Option<Arc<Mutex<CudaSlice<u8>>>>,
    /// Bytes of `workspace` (0 without one).
    workspace_len: usize,
}

impl FftConv {
    /// The plan for FFT size `fft_size` on `gpu`'s device.
    ///
    /// For the long sizes (`fft_size ≥ 65536`) the plan allocates its workspace here, once:
    /// [`FftConv::workspace_bytes`] = 256 MiB + 32 KiB of device memory (zeroed, on the context's default
    /// stream), freed when the plan and all its clones are dropped. Calls never allocate another
    /// workspace; clones share this one, so the calls of a plan and its clones are serialised
    /// (their queuing on a lock, their execution by cudarc's stream tracking of the workspace).
    /// On-chip sizes allocate nothing.
    ///
    /// Errors: [`Error::Unsupported`] unless `fft_size` is a power of two in `256 ..= 8388608`,
    /// or when one of the size's kernels needs more dynamic shared memory per block than the
    /// device allows (`CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN`); the message
    /// names both numbers. [`Error::Driver`] when the workspace cannot be allocated.
    pub fn new(gpu: &Gpu, fft_size: usize) -> Result<FftConv> {
        FftConv::with_workspace_bytes(gpu, fft_size, FftConv::DEFAULT_WORKSPACE_BYTES)
    }

    /// The workspace [`FftConv::new`] allocates for the long sizes: 268468224 bytes (256 MiB +
    /// 32 KiB).
    pub const DEFAULT_WORKSPACE_BYTES: usize = LONG_WORKSPACE_BYTES as usize;

    /// As [`FftConv::new`], with a long size's workspace of `workspace_bytes` instead of
    /// [`FftConv::DEFAULT_WORKSPACE_BYTES`]: each launch then takes as many row pairs as fit
    /// (`⌊workspace_bytes / (8N + 8N₁)⌋`, `N₁ = N / 8192`, for `prepare` and `forward`, half as
    /// many for `backward`, see [`FftConv::min_workspace_bytes`]). A launch's grids have
    /// `N₁` blocks per row pair (8 at 64K, 1024 at 8M), so a workspace of few pairs leaves the
    /// GPU idle at the smaller long sizes: with the backward's former minimum (`20N` bytes), the H100 measured the
    /// forward 14.6× slower at N = 64K, 1.15–1.53× at 1M–4M and 1.07× at 8M than with the
    /// default (`benches/results/fftconv-long-min-workspace-h100.json`). Choose the minimum
    /// where memory is tighter than time; an H100 is full from about `400 / N₁` pairs a launch.
    /// The on-chip sizes allocate nothing and ignore `workspace_bytes`.
    ///
    /// Errors: as [`FftConv::new`], and [`Error::Unsupported`] when `workspace_bytes` is below
    /// [`MinWorkspace::forward`] of a long size (the message names both numbers).
    pub fn with_workspace_bytes(gpu: &Gpu, fft_size: usize, workspace_bytes: usize) -> Result<FftConv> {
        let log2_n = log2_fft_size(fft_size)?;
        let min = FftConv::min_workspace_bytes(fft_size)?;
        if workspace_bytes < min.forward {
            return Err(Error::Unsupported {
                what: "workspace bytes",
                value: workspace_bytes as u64,
                expected: format!(
                    "≥ {} (one row pair at N = {fft_size}; {} for the backward too)",
                    min.forward, min.backward
                ),
            });
        }
        let limit = gpu
            .context()
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)?
            .max(0) as u64;
        check_shared_memory(log2_n, limit)?;
        let workspace = if is_long(log2_n) {
            let slice = gpu.context().default_stream().alloc_zeros::<u8>(workspace_bytes)?;
            Some(Arc::new(Mutex::new(slice)))
        } else {
            None
        };
        let workspace_len = if workspace.is_some() { workspace_bytes } else { 0 };
        Ok(FftConv { log2_n, device: gpu.context().ordinal(), workspace, workspace_len })
    }

    /// The FFT size N.
    pub fn fft_size(&self) -> usize {
        1 << self.log2_n
    }

    /// Bytes of device memory the plan holds as workspace: for the long sizes `N ≥ 65536`
    /// 268468224 (256 MiB + 32 KiB) from [`FftConv::new`] or what [`FftConv::with_workspace_bytes`]
    /// was given; 0 for `N ≤ 32768`. Allocated once when the plan is made and shared by clones.
    pub fn workspace_bytes(&self) -> usize {
        self.workspace_len
    }

    /// The smallest workspace [`FftConv::with_workspace_bytes`] accepts for FFT size
    /// `fft_size`, and the smallest that also serves [`FftConv::backward`]: one row pair's
    /// bytes each (zero for the on-chip sizes, which need none).
    ///
    /// | N | `forward` (and `prepare`) | `backward` |
    /// |---:|---:|---:|
    /// | 65536 | 512 KiB + 64 B | 1 MiB + 128 B |
    /// | 1048576 | 8 MiB + 1 KiB | 16 MiB + 2 KiB |
    /// | 8388608 | 64 MiB + 8 KiB | 128 MiB + 16 KiB |
    ///
    /// Errors: [`Error::Unsupported`] unless `fft_size` is a power of two in `256 ..= 8388608`.
    pub fn min_workspace_bytes(fft_size: usize) -> Result<MinWorkspace> {
        let log2_n = log2_fft_size(fft_size)?;
        if !is_long(log2_n) {
            return Ok(MinWorkspace { forward: 0, backward: 0 });
        }
        let bytes = |b: u64| {
            usize::try_from(b).map_err(|_| Error::Unsupported {
                what: "workspace bytes",
                value: b,
                expected: format!("≤ {}", usize::MAX),
            })
        };
        Ok(MinWorkspace {
            forward: bytes(long_pair_bytes(log2_n))?,
            backward: bytes(long_backward_pair_bytes(log2_n))?,
        })
    }

    /// Computes the spectrum of `k (H, Lk)` f32 once, for use as [`KernelInput::Prepared`] in
    /// any number of calls of this FFT size. Asynchronous on `stream`: allocates the result
    /// (`(2N + 1) · H` f32) in stream order and queues one launch (long sizes: a memset and two
    /// launches per group of heads that fits the workspace); the result may be used on other
    /// streams of the device (cudarc orders them).
    ///
    /// Errors before any launch: `heads` or `kernel_len` out of range, `k` shorter than
    /// `heads · kernel_len`, `k` or `stream` of another device.
    pub fn prepare(
        &self,
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        k: &CudaView<'_, f32>,
        heads: usize,
        kernel_len: usize,
    ) -> Result<PreparedKernel> {
        self.check_gpu(gpu)?;
        let p = self.params(1, heads, 1, kernel_len)?;
        check_len("k", k.len(), p.heads as u64 * p.kernel_len as u64)?;
        check_device(gpu, stream, "k", ordinal_of(k))?;
        if is_long(self.log2_n) {
            let spectrum = self.long_prepare(gpu, stream, k, &p)?;
            return Ok(PreparedKernel { spectrum, heads, kernel_len, fft_size: self.fft_size() });
        }
        let prepare = self.function(gpu, FftConvKernel::Prepare, DType::F32, true)?;
        let (k_ptr, _k_sync) = k.device_ptr(stream);
        // SAFETY: `k` holds H · Lk f32 (checked above) and its guard lives until after the
        // launch is queued.
        let spectrum = unsafe { self.queue_prepare(stream, &prepare, k_ptr, &p) }?;
        Ok(PreparedKernel { spectrum, heads, kernel_len, fft_size: self.fft_size() })
    }

    /// `y = out_gate ⊙ iFFT_N(FFT_N(in_gate ⊙ u) · FFT_N(k))[..L]` on `stream`. Asynchronous:
    /// returns once queued, without synchronising. With a [`KernelInput::Raw`] kernel it
    /// allocates a stream-ordered temporary for the spectrum (`(2N + 1) · H` f32) and queues
    /// two launches; with a prepared one, no allocation and one launch. At the long sizes the
    /// launches are three per group of row pairs that fits the plan's workspace (plus, for a
    /// raw kernel, those of [`FftConv::prepare`]), and the call holds the workspace's lock while
    /// it queues them.
    ///
    /// Errors before any launch: shapes out of range, buffers too small, a prepared kernel of
    /// another size or head count, `y` overlapping an input, buffers of another device.
    pub fn forward<T: FftElement>(
        &self,
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        x: FftInput<'_, '_, T>,
        kernel: KernelInput<'_, '_>,
        gates: Gates<'_, '_, T>,
        y: &mut CudaViewMut<'_, T>,
    ) -> Result<()> {
        let (mut p, bhl) = self.check_inputs(gpu, &x, &kernel, &gates)?;
        check_len("y", y.len(), bhl)?;
        for (what, ordinal) in [("u", ordinal_of(x.u)), ("y", ordinal_of(y)), kernel_ordinal(&kernel)]
            .into_iter()
            .chain(gate_ordinals(&gates))
        {
            check_device(gpu, stream, what, ordinal)?;
        }
        if is_long(self.log2_n) {
            return self.long_forward(gpu, stream, x, kernel, gates, y, p);
        }
        let split = kernel_split(FftConvKernel::Forward, self.log2_n, T::DTYPE, p.len, p.kernel_len);
        let fwd = self.function(gpu, forward_role(self.log2_n, p.len), T::DTYPE, split)?;
        let prepare = self.prepare_function(gpu, &kernel)?;
        let cfg = LaunchConfig {
            // Clustered forwards (N = 32K) take one block per half of each pair.
            grid_dim: (
                grid_x(
                    (p.heads as u64 * p.pairs_per_head() as u64).div_ceil(self.pairs_per_block())
                        * cluster_blocks(self.log2_n) as u64,
                )?,
                1,
                1,
            ),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: forward_shared_bytes(self.log2_n, split),
        };

        let (u_ptr, _u_sync) = x.u.device_ptr(stream);
        let in_gate = gates.in_gate.map(|g| g.device_ptr(stream));
        let out_gate = gates.out_gate.map(|g| g.device_ptr(stream));
        let (kernel_ptr, _kernel_sync) = kernel_device_ptr(&kernel, stream);
        let (y_ptr, _y_sync) = y.device_ptr_mut(stream);
        let (in_gate_ptr, out_gate_ptr) = (raw_ptr(&in_gate), raw_ptr(&out_gate));
        let mut ptrs = FftConvForwardPtrs {
            u: u_ptr,
            in_gate: in_gate_ptr,
            out_gate: out_gate_ptr,
            prepared: kernel_ptr,
            y: y_ptr,
        };
        p.flags |= self.forward_flags::<T>(&kernel, &ptrs, &p)?;

        let temporary = match &prepare {
            // SAFETY: `kernel_ptr` is the raw `k`, checked to hold H · Lk f32; its guard lives
            // until the end of this function, after the launch is queued.
            Some(prepare) => Some(unsafe { self.queue_prepare(stream, prepare, kernel_ptr, &p) }?),
            None => None,
        };
        let temporary_ptr = temporary.as_ref().map(|t| t.device_ptr(stream));
        ptrs.prepared = temporary_ptr.as_ref().map_or(kernel_ptr, |(ptr, _)| *ptr);
        // SAFETY: the kernel matches T and N and its shared-memory limit was raised to
        // `cfg.shared_mem_bytes` (≤ the device's opt-in limit, checked by `new`); u, the given
        // gates and y hold B · H · L elements, gate flags match the non-zero gates and
        // FLAG_VECTOR was derived from these very pointers; `prepared` is a prepared spectrum
        // of H heads for N (checked, or queued just before on this stream); y overlaps no
        // input; the guards keep every view's stream tracking until after the launch.
        unsafe { launch::fftconv_forward(stream, &fwd, cfg, ptrs, p) }
    }

    /// Gradients of [`FftConv::forward`] given `dy (B, H, L)`: `du`, `dk` and the requested gate
    /// gradients. Asynchronous on `stream`, without synchronising.
    ///
    /// Up to `N = 32768` it allocates, in stream order, a zeroed workspace of
    /// [`FftConv::backward_workspace_bytes`] bytes (per-block partial `dk` spectra, summed in a
    /// fixed order by a second launch) and, for a [`KernelInput::Raw`] kernel, a temporary for
    /// its spectrum; both are freed after the launches. At the long sizes (`N ≥ 65536`) it uses
    /// the plan's workspace instead (holding its lock while it queues, as `forward`): it zeroes
    /// `dk` with a memset on `stream` and queues, per group of row pairs that fits the workspace,
    /// its passes (module docs, [Long sizes](crate::fftconv#long-sizes): ten launches, nine
    /// without `d_in_gate`, three more with `d_out_gate`); a raw kernel's spectrum is a temporary
    /// as in `forward`.
    ///
    /// Errors before any launch: as [`FftConv::forward`], and
    /// [`Error::GradientWithoutInput`] for a gate gradient whose gate was not given.
    // The arguments mirror `forward`'s plus `dy` and the outputs; bundling them would only
    // rename the same fields.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: FftElement>(
        &self,
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        x: FftInput<'_, '_, T>,
        kernel: KernelInput<'_, '_>,
        gates: Gates<'_, '_, T>,
        dy: &CudaView<'_, T>,
        grads: FftConvGrads<'_, '_, T>,
    ) -> Result<()> {
        let (mut p, bhl) = self.check_inputs(gpu, &x, &kernel, &gates)?;
        let hk = p.heads as u64 * p.kernel_len as u64;
        if grads.d_in_gate.is_some() && gates.in_gate.is_none() {
            return Err(Error::GradientWithoutInput { gradient: "d_in_gate", input: "in_gate" });
        }
        if grads.d_out_gate.is_some() && gates.out_gate.is_none() {
            return Err(Error::GradientWithoutInput { gradient: "d_out_gate", input: "out_gate" });
        }
        check_len("dy", dy.len(), bhl)?;
        check_len("du", grads.du.len(), bhl)?;
        check_len("dk", grads.dk.len(), hk)?;
        if let Some(d) = &grads.d_in_gate {
            check_len("d_in_gate", d.len(), bhl)?;
        }
        if let Some(d) = &grads.d_out_gate {
            check_len("d_out_gate", d.len(), bhl)?;
        }
        for (what, ordinal) in [
            ("u", ordinal_of(x.u)),
            ("dy", ordinal_of(dy)),
            ("du", ordinal_of(grads.du)),
            ("dk", ordinal_of(grads.dk)),
            kernel_ordinal(&kernel),
        ]
        .into_iter()
        .chain(gate_ordinals(&gates))
        .chain(grads.d_in_gate.as_ref().map(|d| ("d_in_gate", ordinal_of(&**d))))
        .chain(grads.d_out_gate.as_ref().map(|d| ("d_out_gate", ordinal_of(&**d))))
        {
            check_device(gpu, stream, what, ordinal)?;
        }
        if is_long(self.log2_n) {
            return self.long_backward(gpu, stream, x, kernel, gates, dy, grads, p);
        }
        let split = kernel_split(FftConvKernel::Backward, self.log2_n, T::DTYPE, p.len, p.kernel_len);
        let (chunks, pairs_per_chunk) = backward_chunks(p.batch, p.heads, self.log2_n, split);
        p.chunks = chunks;
        p.pairs_per_chunk = pairs_per_chunk;
        let bwd = self.function(gpu, backward_role(self.log2_n, p.len), T::DTYPE, split)?;
        let dk_split = kernel_split(FftConvKernel::KernelGrad, self.log2_n, DType::F32, p.len, p.kernel_len);
        let dk_f = self.function(gpu, FftConvKernel::KernelGrad, DType::F32, dk_split)?;
        let prepare = self.prepare_function(gpu, &kernel)?;
        let bwd_cfg = LaunchConfig {
            // Clustered backwards (N = 32K) take one block per half of each chunk's pairs.
            grid_dim: (grid_x(chunks as u64 * p.heads as u64 * cluster_blocks(self.log2_n) as u64)?, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: backward_shared_bytes(self.log2_n, split),
        };
        let dk_cfg = LaunchConfig {
            grid_dim: (grid_x((p.heads as u64).div_ceil(self.pairs_per_block()))?, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: shared_bytes(self.log2_n, dk_split),
        };
        let workspace_bytes = self.backward_workspace_len(&p, split)?;

        let FftConvGrads { du, dk, d_in_gate, d_out_gate } = grads;
        let (u_ptr, _u_sync) = x.u.device_ptr(stream);
        let in_gate = gates.in_gate.map(|g| g.device_ptr(stream));
        let out_gate = gates.out_gate.map(|g| g.device_ptr(stream));
        let (dy_ptr, _dy_sync) = dy.device_ptr(stream);
        let (kernel_ptr, _kernel_sync) = kernel_device_ptr(&kernel, stream);
        let (du_ptr, _du_sync) = du.device_ptr_mut(stream);
        let (dk_ptr, _dk_sync) = dk.device_ptr_mut(stream);
        let d_in_gate = d_in_gate.map(|d| d.device_ptr_mut(stream));
        let d_out_gate = d_out_gate.map(|d| d.device_ptr_mut(stream));
        let (in_gate_ptr, out_gate_ptr) = (raw_ptr(&in_gate), raw_ptr(&out_gate));
        let (d_in_gate_ptr, d_out_gate_ptr) = (raw_ptr(&d_in_gate), raw_ptr(&d_out_gate));
        let unchecked = FftConvBackwardPtrs {
            u: u_ptr,
            in_gate: in_gate_ptr,
            out_gate: out_gate_ptr,
            dy: dy_ptr,
            prepared: kernel_ptr,
            du: du_ptr,
            d_in_gate: d_in_gate_ptr,
            d_out_gate: d_out_gate_ptr,
            workspace: 0,
        };
        self.check_backward_overlaps::<T>(&kernel, &unchecked, dk_ptr, &p)?;
        p.flags |= gate_flags(in_gate_ptr, out_gate_ptr)
            | vector_flag(p.len, &[u_ptr, in_gate_ptr, out_gate_ptr, dy_ptr, du_ptr, d_in_gate_ptr, d_out_gate_ptr]);

        // The backward kernel accumulates the partial dk spectra into the workspace: it must
        // start zeroed (alloc_zeros queues the memset on this stream).
        let mut workspace = stream.alloc_zeros::<u8>(workspace_bytes)?;
        let temporary = match &prepare {
            // SAFETY: `kernel_ptr` is the raw `k`, checked to hold H · Lk f32; its guard lives
            // until the end of this function, after the launch is queued.
            Some(prepare) => Some(unsafe { self.queue_prepare(stream, prepare, kernel_ptr, &p) }?),
            None => None,
        };
        let temporary_ptr = temporary.as_ref().map(|t| t.device_ptr(stream));
        let prepared = temporary_ptr.as_ref().map_or(kernel_ptr, |(ptr, _)| *ptr);
        let (workspace_ptr, _workspace_sync) = workspace.device_ptr_mut(stream);
        let ptrs = FftConvBackwardPtrs {
            u: u_ptr,
            in_gate: in_gate_ptr,
            out_gate: out_gate_ptr,
            dy: dy_ptr,
            prepared,
            du: du_ptr,
            d_in_gate: d_in_gate_ptr,
            d_out_gate: d_out_gate_ptr,
            workspace: workspace_ptr,
        };
        // SAFETY: the kernels match T and N and their shared-memory limits were raised to the
        // configs' sizes (≤ the device's opt-in limit, checked by `new`); every (B, H, L)
        // buffer holds B · H · L elements and dk H · Lk (checked above), gate gradients are
        // non-zero only with their gates, FLAG_VECTOR was derived from these very pointers;
        // `prepared` is a spectrum of H heads for N; p.chunks / p.pairs_per_chunk come from
        // `backward_chunks(.., split)` and the grid is chunks · H; the workspace has
        // `backward_workspace_bytes(chunks, H, log2 N, split)` bytes, zeroed before on this stream
        // and read by the dk launch queued after the backward launch with the same `p`;
        // outputs overlap nothing; the guards keep every view's stream tracking until after
        // the launches.
        unsafe {
            launch::fftconv_backward(stream, &bwd, bwd_cfg, ptrs, p)?;
            launch::fftconv_dk(stream, &dk_f, dk_cfg, workspace_ptr, dk_ptr, p)?;
        }
        Ok(())
    }

    /// The most bytes of zeroed stream-ordered workspace [`FftConv::backward`] allocates for
    /// `(batch, heads)` (`flashfftconv_abi::fftconv::backward_workspace_bytes` of the larger
    /// kernel variant: with split precision, chosen by dtype and lengths, some sizes keep a
    /// scratch row the unsplit kernel does not, and the reverse, and the variants may take
    /// different numbers of chunks, `flashfftconv_abi::fftconv::backward_chunks`). Values beyond
    /// `u32::MAX` are clamped to it (backward rejects such shapes). 0 for the long sizes
    /// (`N ≥ 65536`), whose backward allocates nothing: it runs through the plan's workspace,
    /// [`FftConv::workspace_bytes`].
    pub fn backward_workspace_bytes(&self, batch: usize, heads: usize) -> usize {
        if is_long(self.log2_n) {
            return 0;
        }
        let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        let (batch, heads) = (clamp(batch), clamp(heads));
        let bytes = |split| {
            let (chunks, _) = backward_chunks(batch, heads, self.log2_n, split);
            backward_workspace_bytes(chunks as u64, heads as u64, self.log2_n, split)
        };
        usize::try_from(bytes(false).max(bytes(true))).unwrap_or(usize::MAX)
    }

    /// The overlap checks of a backward call: `du`, `dk` and the requested gate gradients (non-zero
    /// in `ptrs`) against `u`, `dy`, the kernel operand (`ptrs.prepared`, raw or prepared) and the
    /// given gates, and against each other. `ptrs.workspace` is not checked.
    fn check_backward_overlaps<T: FftElement>(
        &self,
        kernel: &KernelInput<'_, '_>,
        ptrs: &FftConvBackwardPtrs,
        dk: DevicePtr,
        p: &FftConvParams,
    ) -> Result<()> {
        let bhl = p.batch as u64 * p.heads as u64 * p.len as u64;
        let hk = p.heads as u64 * p.kernel_len as u64;
        let FftConvBackwardPtrs { u, in_gate, out_gate, dy, prepared, du, d_in_gate, d_out_gate, .. } = *ptrs;
        let mut inputs =
            vec![("u", u, bhl, T::DTYPE), ("dy", dy, bhl, T::DTYPE), self.kernel_span(kernel, prepared, p)];
        inputs.extend(gate_spans(in_gate, out_gate, bhl, T::DTYPE));
        let mut outputs = vec![("du", du, bhl, T::DTYPE), ("dk", dk, hk, DType::F32)];
        if d_in_gate != 0 {
            outputs.push(("d_in_gate", d_in_gate, bhl, T::DTYPE));
        }
        if d_out_gate != 0 {
            outputs.push(("d_out_gate", d_out_gate, bhl, T::DTYPE));
        }
        check_outputs_disjoint(&outputs, &inputs)
    }

    /// Validated kernel parameters for a call; flags, chunks and pairs per chunk zero.
    fn params(&self, batch: usize, heads: usize, len: usize, kernel_len: usize) -> Result<FftConvParams> {
        shape_params(self.log2_n, batch, heads, len, kernel_len)
    }

    fn pairs_per_block(&self) -> u64 {
        pairs_per_block(self.log2_n) as u64
    }

    fn backward_workspace_len(&self, p: &FftConvParams, split: bool) -> Result<usize> {
        let bytes = backward_workspace_bytes(p.chunks as u64, p.heads as u64, self.log2_n, split);
        usize::try_from(bytes).map_err(|_| Error::Unsupported {
            what: "backward workspace bytes",
            value: bytes,
            expected: format!("≤ {}", usize::MAX),
        })
    }

    /// The overlap checks of a forward call (`y` against `u`, the kernel operand and the gates,
    /// from their addresses in `ptrs`; `ptrs.prepared` is the kernel operand, raw or prepared)
    /// and the call's gate and vector flags.
    fn forward_flags<T: FftElement>(
        &self,
        kernel: &KernelInput<'_, '_>,
        ptrs: &FftConvForwardPtrs,
        p: &FftConvParams,
    ) -> Result<u32> {
        let bhl = p.batch as u64 * p.heads as u64 * p.len as u64;
        let FftConvForwardPtrs { u, in_gate, out_gate, prepared, y } = *ptrs;
        let mut inputs = vec![("u", u, bhl, T::DTYPE), self.kernel_span(kernel, prepared, p)];
        inputs.extend(gate_spans(in_gate, out_gate, bhl, T::DTYPE));
        check_outputs_disjoint(&[("y", y, bhl, T::DTYPE)], &inputs)?;
        Ok(gate_flags(in_gate, out_gate) | vector_flag(p.len, &[u, in_gate, out_gate, y]))
    }

    /// Calls must use the device the plan was checked against.
    fn check_gpu(&self, gpu: &Gpu) -> Result<()> {
        let context_device = gpu.context().ordinal();
        if context_device != self.device {
            return Err(Error::PlanDeviceMismatch { plan_device: self.device, context_device });
        }
        Ok(())
    }

    /// A raw kernel's length or a prepared kernel's plan and heads.
    fn check_kernel(&self, kernel: &KernelInput<'_, '_>, p: &FftConvParams) -> Result<()> {
        match kernel {
            KernelInput::Raw { k, .. } => check_len("k", k.len(), p.heads as u64 * p.kernel_len as u64),
            KernelInput::Prepared(prepared) => check_prepared(prepared, self.fft_size(), p.heads as usize),
        }
    }

    /// The kernel operand as an input span for the overlap checks.
    fn kernel_span(&self, kernel: &KernelInput<'_, '_>, ptr: DevicePtr, p: &FftConvParams) -> Span {
        match kernel {
            KernelInput::Raw { .. } => ("k", ptr, p.heads as u64 * p.kernel_len as u64, DType::F32),
            KernelInput::Prepared(_) => {
                ("prepared kernel", ptr, prepared_len(p.heads as u64, self.fft_size() as u64), DType::F32)
            }
        }
    }

    /// The checks `forward` and `backward` share: the plan's device, the shape, the lengths
    /// of `u` and the gates, and the kernel input. Returns the parameters (flags and chunks
    /// zero) and `B·H·L`.
    fn check_inputs<T: FftElement>(
        &self,
        gpu: &Gpu,
        x: &FftInput<'_, '_, T>,
        kernel: &KernelInput<'_, '_>,
        gates: &Gates<'_, '_, T>,
    ) -> Result<(FftConvParams, u64)> {
        self.check_gpu(gpu)?;
        let p = self.params(x.batch, x.heads, x.len, kernel_len_of(kernel))?;
        let bhl = p.batch as u64 * p.heads as u64 * p.len as u64;
        check_len("u", x.u.len(), bhl)?;
        check_gate_lens(gates, bhl)?;
        self.check_kernel(kernel, &p)?;
        Ok((p, bhl))
    }

    /// The loaded kernel `kernel` for this size and `dtype`, its shared-memory limit raised to
    /// what its launches use.
    fn function(&self, gpu: &Gpu, kernel: FftConvKernel, dtype: DType, split: bool) -> Result<CudaFunction> {
        let name = kernel.entry_name(self.log2_n, dtype, split).ok_or(Error::Unsupported {
            what: "fft_size",
            value: self.fft_size() as u64,
            expected: format!("a size and dtype with a kernel (dtype {})", dtype.name()),
        })?;
        let shared = match kernel {
            FftConvKernel::Backward | FftConvKernel::BackwardZeroHalf => backward_shared_bytes(self.log2_n, split),
            _ => shared_bytes(self.log2_n, split),
        };
        gpu.function_with_shared(name, shared)
    }

    /// The prepare kernel when `kernel` is raw.
    fn prepare_function(&self, gpu: &Gpu, kernel: &KernelInput<'_, '_>) -> Result<Option<CudaFunction>> {
        match kernel {
            KernelInput::Raw { .. } => self.function(gpu, FftConvKernel::Prepare, DType::F32, true).map(Some),
            KernelInput::Prepared(_) => Ok(None),
        }
    }

    /// Allocates a prepared spectrum for `p.heads` heads in stream order and queues the prepare
    /// kernel writing it from `k_ptr`. Only `p.heads` and `p.kernel_len` are used.
    ///
    /// # Safety
    /// `prepare` is this size's prepare kernel; `k_ptr` addresses `p.heads · p.kernel_len` f32
    /// of this stream's device that stay alive (and unwritten) until the launch has run.
    unsafe fn queue_prepare(
        &self,
        stream: &Arc<CudaStream>,
        prepare: &CudaFunction,
        k_ptr: DevicePtr,
        p: &FftConvParams,
    ) -> Result<CudaSlice<f32>> {
        let params = prepare_params(p.heads, p.kernel_len);
        let cfg = LaunchConfig {
            grid_dim: (grid_x((params.heads as u64).div_ceil(self.pairs_per_block()))?, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: shared_bytes(self.log2_n, true),
        };
        let len = prepared_len(params.heads as u64, self.fft_size() as u64);
        let len = usize::try_from(len).map_err(|_| Error::Unsupported {
            what: "heads",
            value: params.heads as u64,
            expected: "a prepared spectrum that fits in memory".into(),
        })?;
        // SAFETY: the prepare kernel writes every element of the spectrum (the H · N complex
        // values and the H scales) before any later launch on this stream reads it.
        let mut spectrum = unsafe { stream.alloc::<f32>(len) }?;
        let (spectrum_ptr, write_guard) = spectrum.device_ptr_mut(stream);
        // SAFETY: `prepare` takes (k, prepared, params); k holds H · Lk f32 (the caller's
        // contract) and the fresh spectrum `prepared_len(H, N)` f32, disjoint from k; the
        // kernel's shared-memory limit was raised when it was loaded by `function`.
        unsafe { launch::fftconv_prepare(stream, prepare, cfg, k_ptr, spectrum_ptr, params) }?;
        // Records the write on the spectrum's stream tracking; ends the borrow before the move.
        drop(write_guard);
        Ok(spectrum)
    }
}

/// `log2 N` for a supported FFT size (on chip or long).
fn log2_fft_size(fft_size: usize) -> Result<u32> {
    const _: () = assert!(LONG_MIN_LOG2_N == MAX_LOG2_N + 1, "the supported sizes are contiguous");
    let (min, max) = (1usize << MIN_LOG2_N, 1usize << LONG_MAX_LOG2_N);
    if !fft_size.is_power_of_two() || fft_size < min || fft_size > max {
        return Err(Error::Unsupported {
            what: "fft_size",
            value: fft_size as u64,
            expected: format!("a power of two in {min} ..= {max}"),
        });
    }
    Ok(fft_size.trailing_zeros())
}

/// Fails when a kernel of size `2^log2_n` (any role, f16 or bf16; at the long sizes any pass)
/// needs more dynamic shared memory per block than `limit` bytes.
fn check_shared_memory(log2_n: u32, limit: u64) -> Result<()> {
    if is_long(log2_n) {
        return long::check_shared_memory(log2_n, limit);
    }
    for kernel in FftConvKernel::ALL {
        for (dtype, split) in [(DType::BF16, false), (DType::BF16, true), (DType::F16, true)] {
            let needed = shared_bytes(log2_n, split) as u64;
            if needed > limit {
                let role = kernel.entry_name(log2_n, dtype, split).unwrap_or("fftconv");
                return Err(Error::Unsupported {
                    what: "fft_size",
                    value: 1 << log2_n,
                    expected: shared_memory_message(role, needed, limit),
                });
            }
        }
    }
    Ok(())
}

/// The [`Error::Unsupported`] text of a kernel that needs more shared memory than the device
/// allows.
fn shared_memory_message(kernel: &str, needed: u64, limit: u64) -> String {
    format!(
        "a size whose kernels fit the device's shared memory: `{kernel}` needs {needed} bytes of dynamic shared \
         memory per block, the device allows {limit}"
    )
}

/// Validated parameters for `(B, H, L, Lk)` with `N = 2^log2_n`; flags, chunks zero.
fn shape_params(log2_n: u32, batch: usize, heads: usize, len: usize, kernel_len: usize) -> Result<FftConvParams> {
    let n = 1usize << log2_n;
    let dim = |what: &'static str, value: usize, max: usize, expected: String| -> Result<u32> {
        if value == 0 || value > max {
            return Err(Error::Unsupported { what, value: value as u64, expected });
        }
        Ok(value as u32)
    };
    let u32_max = u32::MAX as usize;
    Ok(FftConvParams {
        batch: dim("batch", batch, u32_max, format!("1 ..= {u32_max}"))?,
        heads: dim("heads", heads, u32_max, format!("1 ..= {u32_max}"))?,
        len: dim("len", len, n, format!("1 ..= fft_size = {n}"))?,
        kernel_len: dim("kernel_len", kernel_len, n, format!("1 ..= fft_size = {n}"))?,
        flags: 0,
        chunks: 0,
        pairs_per_chunk: 0,
        reserved: 0,
    })
}

/// The parameters of every prepare launch: only `heads` and `kernel_len` are set (the
/// spectrum does not depend on the batch or the sequence length).
fn prepare_params(heads: u32, kernel_len: u32) -> FftConvParams {
    FftConvParams { batch: 0, heads, len: 0, kernel_len, flags: 0, chunks: 0, pairs_per_chunk: 0, reserved: 0 }
}

/// Fails unless `prepared` is for FFT size `fft_size` and `heads` heads.
fn check_prepared(prepared: &PreparedKernel, fft_size: usize, heads: usize) -> Result<()> {
    if prepared.fft_size != fft_size {
        return Err(Error::ShapeMismatch {
            what: "prepared kernel fft_size",
            expected: fft_size as u64,
            got: prepared.fft_size as u64,
        });
    }
    if prepared.heads != heads {
        return Err(Error::ShapeMismatch {
            what: "prepared kernel heads",
            expected: heads as u64,
            got: prepared.heads as u64,
        });
    }
    Ok(())
}

fn kernel_len_of(kernel: &KernelInput<'_, '_>) -> usize {
    match kernel {
        KernelInput::Raw { kernel_len, .. } => *kernel_len,
        KernelInput::Prepared(prepared) => prepared.kernel_len,
    }
}

fn kernel_ordinal(kernel: &KernelInput<'_, '_>) -> (&'static str, usize) {
    match kernel {
        KernelInput::Raw { k, .. } => ("k", ordinal_of(*k)),
        KernelInput::Prepared(prepared) => ("prepared kernel", ordinal_of(&prepared.spectrum)),
    }
}

fn kernel_device_ptr<'a>(
    kernel: &KernelInput<'a, '_>,
    stream: &'a CudaStream,
) -> (DevicePtr, cudarc::driver::SyncOnDrop<'a>) {
    match *kernel {
        KernelInput::Raw { k, .. } => k.device_ptr(stream),
        KernelInput::Prepared(prepared) => prepared.spectrum.device_ptr(stream),
    }
}

fn check_gate_lens<T>(gates: &Gates<'_, '_, T>, bhl: u64) -> Result<()> {
    if let Some(g) = gates.in_gate {
        check_len("in_gate", g.len(), bhl)?;
    }
    if let Some(g) = gates.out_gate {
        check_len("out_gate", g.len(), bhl)?;
    }
    Ok(())
}

fn gate_ordinals<T>(gates: &Gates<'_, '_, T>) -> impl Iterator<Item = (&'static str, usize)> {
    let in_gate = gates.in_gate.map(|g| ("in_gate", ordinal_of(g)));
    let out_gate = gates.out_gate.map(|g| ("out_gate", ordinal_of(g)));
    in_gate.into_iter().chain(out_gate)
}

fn gate_spans(in_gate: DevicePtr, out_gate: DevicePtr, bhl: u64, dtype: DType) -> impl Iterator<Item = Span> {
    [("in_gate", in_gate), ("out_gate", out_gate)]
        .into_iter()
        .filter(|&(_, ptr)| ptr != 0)
        .map(move |(what, ptr)| (what, ptr, bhl, dtype))
}

/// The forward kernel for rows of `len` at `N = 2^log2_n`: the zero-half variant where it
/// exists and `len ≤ N/2` (it skips a stage each way), else the general one.
fn forward_role(log2_n: u32, len: u32) -> FftConvKernel {
    zero_half_role(zero_half_skip(log2_n), log2_n, len, FftConvKernel::Forward, FftConvKernel::ForwardZeroHalf)
}

/// The backward kernel for rows of `len` at `N = 2^log2_n`: as [`forward_role`], at the
/// [`backward_zero_half_skip`] sizes.
fn backward_role(log2_n: u32, len: u32) -> FftConvKernel {
    zero_half_role(
        backward_zero_half_skip(log2_n),
        log2_n,
        len,
        FftConvKernel::Backward,
        FftConvKernel::BackwardZeroHalf,
    )
}

/// `zero_half` where the size has it (`exists`) and `len ≤ N/2`, else `general`.
fn zero_half_role(
    exists: bool,
    log2_n: u32,
    len: u32,
    general: FftConvKernel,
    zero_half: FftConvKernel,
) -> FftConvKernel {
    if exists && 2 * len as u64 <= 1u64 << log2_n {
        zero_half
    } else {
        general
    }
}

fn gate_flags(in_gate: DevicePtr, out_gate: DevicePtr) -> u32 {
    (if in_gate != 0 { FLAG_IN_GATE } else { 0 }) | (if out_gate != 0 { FLAG_OUT_GATE } else { 0 })
}

/// The address of an optional buffer, 0 when absent.
fn raw_ptr<G>(buffer: &Option<(DevicePtr, G)>) -> DevicePtr {
    buffer.as_ref().map_or(0, |(ptr, _)| *ptr)
}

/// [`FLAG_VECTOR`] when `len` is a multiple of 8 and every given pointer (0 = absent) is
/// 16-byte aligned.
fn vector_flag(len: u32, ptrs: &[DevicePtr]) -> u32 {
    if len.is_multiple_of(VECTOR_ELEMS) && ptrs.iter().all(|ptr| ptr.is_multiple_of(16)) {
        FLAG_VECTOR
    } else {
        0
    }
}

/// Every kernel name the FFT-convolution host code can launch (on chip, then long).
pub(crate) fn kernel_names() -> Vec<&'static str> {
    let mut names = on_chip_kernel_names();
    names.extend(long::kernel_names());
    names
}

/// The on-chip sizes' kernel names.
fn on_chip_kernel_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    for log2_n in MIN_LOG2_N..=MAX_LOG2_N {
        for kernel in FftConvKernel::ALL {
            for (dtype, split) in [(DType::BF16, false), (DType::BF16, true), (DType::F16, true)] {
                if let Some(name) = kernel.entry_name(log2_n, dtype, split) {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_sizes_are_powers_of_two_in_range() {
        for log2_n in MIN_LOG2_N..=LONG_MAX_LOG2_N {
            assert_eq!(log2_fft_size(1 << log2_n).unwrap(), log2_n);
        }
        for bad in [0, 1, 128, 255, 257, 3 << 10, 3 << 16, 1 << 24, usize::MAX] {
            let e = log2_fft_size(bad).unwrap_err();
            assert!(matches!(e, Error::Unsupported { what: "fft_size", value, .. } if value == bad as u64), "{e}");
            assert!(e.to_string().contains("256 ..= 8388608"), "{e}");
        }
    }

    /// A plan without a device: enough for the checks that do not launch.
    fn plan(log2_n: u32) -> FftConv {
        FftConv { log2_n, device: 0, workspace: None, workspace_len: 0 }
    }

    #[test]
    fn long_backward_allocates_no_workspace() {
        for log2_n in MIN_LOG2_N..=MAX_LOG2_N {
            assert!(plan(log2_n).backward_workspace_bytes(2, 3) > 0);
        }
        // The long sizes' backward runs through the plan's workspace.
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            assert_eq!(plan(log2_n).backward_workspace_bytes(2, 3), 0);
            assert_eq!(plan(log2_n).backward_workspace_bytes(usize::MAX, usize::MAX), 0);
        }
    }

    #[test]
    fn only_long_plans_hold_a_workspace() {
        assert_eq!(plan(15).workspace_bytes(), 0);
        assert_eq!(FftConv::DEFAULT_WORKSPACE_BYTES, (256 << 20) + (32 << 10));
        // A plan of a long size without its workspace cannot happen through `new`; the calls
        // would say so instead of launching.
        assert!(matches!(plan(16).lock_workspace(), Err(Error::Unsupported { .. })));
    }

    #[test]
    fn minimum_workspaces_hold_one_pair() {
        for fft_size in [256, 32768] {
            assert_eq!(FftConv::min_workspace_bytes(fft_size).unwrap(), MinWorkspace { forward: 0, backward: 0 });
        }
        // The table of `min_workspace_bytes`' docs.
        let min = |n: usize| FftConv::min_workspace_bytes(n).unwrap();
        assert_eq!(min(1 << 16), MinWorkspace { forward: (512 << 10) + 64, backward: (1024 << 10) + 128 });
        assert_eq!(min(1 << 20), MinWorkspace { forward: (8 << 20) + 1024, backward: (16 << 20) + 2048 });
        assert_eq!(min(1 << 23), MinWorkspace { forward: (64 << 20) + 8192, backward: (128 << 20) + 16384 });
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            let m = min(1 << log2_n);
            assert!(m.backward <= FftConv::DEFAULT_WORKSPACE_BYTES);
            // A plan with exactly the minimum takes one pair per launch (two in the forward at the
            // backward's minimum); one byte less would take none (`with_workspace_bytes` refuses it).
            let with = |bytes: usize| FftConv { workspace_len: bytes, ..plan(log2_n) };
            assert_eq!(with(m.forward).pairs_per_launch(), 1);
            assert!(matches!(with(m.forward).backward_pairs_per_launch(), Err(Error::Unsupported { .. })));
            assert_eq!(with(m.backward).backward_pairs_per_launch().unwrap(), 1);
            assert_eq!(with(m.backward).pairs_per_launch(), 2);
            assert_eq!(with(m.forward - 1).pairs_per_launch(), 0);
        }
        assert!(matches!(FftConv::min_workspace_bytes(3 << 16), Err(Error::Unsupported { .. })));
        let e = plan(23).backward_pairs_per_launch().unwrap_err().to_string();
        assert!(e.contains(&(((128 << 20) + 16384) as u64).to_string()), "{e}");
    }

    #[test]
    fn plans_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn clone<T: Clone>() {}
        send_sync::<FftConv>();
        clone::<FftConv>();
        send_sync::<PreparedKernel>();
    }

    #[test]
    fn shapes_are_validated_with_numbers() {
        let p = shape_params(12, 3, 5, 4096, 1).unwrap();
        assert_eq!((p.batch, p.heads, p.len, p.kernel_len, p.flags, p.chunks), (3, 5, 4096, 1, 0, 0));
        let cases: [(usize, usize, usize, usize, &str); 7] = [
            (0, 1, 1, 1, "batch"),
            (1, 0, 1, 1, "heads"),
            (1, 1, 0, 1, "len"),
            (1, 1, 4097, 1, "len"),
            (1, 1, 1, 0, "kernel_len"),
            (1, 1, 1, 4097, "kernel_len"),
            (u32::MAX as usize + 1, 1, 1, 1, "batch"),
        ];
        for (b, h, l, lk, expected) in cases {
            let e = shape_params(12, b, h, l, lk).unwrap_err();
            assert!(matches!(e, Error::Unsupported { what, .. } if what == expected), "{expected}: {e}");
        }
        let e = shape_params(12, 1, 1, 4097, 1).unwrap_err();
        assert!(e.to_string().contains("4097") && e.to_string().contains("fft_size = 4096"), "{e}");
    }

    #[test]
    fn shared_memory_limit_names_both_numbers() {
        // 227 KiB, the opt-in limit of an H100.
        let h100 = 232_448;
        for log2_n in MIN_LOG2_N..=LONG_MAX_LOG2_N {
            check_shared_memory(log2_n, h100).unwrap();
        }
        let e = check_shared_memory(10, 16_000).unwrap_err();
        let needed = flashfftconv_abi::fftconv::shared_bytes(10, true);
        assert!(e.to_string().contains(&needed.to_string()) && e.to_string().contains("16000"), "{e}");
    }

    #[test]
    fn vector_path_needs_alignment_and_multiple_of_eight() {
        assert_eq!(vector_flag(64, &[256, 0, 4096]), FLAG_VECTOR);
        assert_eq!(vector_flag(60, &[256, 0, 4096]), 0);
        assert_eq!(vector_flag(64, &[256, 8]), 0);
        assert_eq!(gate_flags(0, 0), 0);
        assert_eq!(forward_role(13, 4096), FftConvKernel::ForwardZeroHalf);
        assert_eq!(forward_role(13, 4097), FftConvKernel::Forward);
        assert_eq!(forward_role(12, 1), FftConvKernel::Forward);
        assert_eq!(forward_role(9, 1), FftConvKernel::ForwardZeroHalf);
        assert_eq!(backward_role(9, 256), FftConvKernel::BackwardZeroHalf);
        assert_eq!(backward_role(9, 257), FftConvKernel::Backward);
        assert_eq!(backward_role(14, 8192), FftConvKernel::Backward);
        assert_eq!(backward_role(13, 1), FftConvKernel::Backward);
        assert_eq!(gate_flags(16, 0), FLAG_IN_GATE);
        assert_eq!(gate_flags(16, 32), FLAG_IN_GATE | FLAG_OUT_GATE);
    }

    #[test]
    fn prepare_launch_sets_heads_and_kernel_len_only() {
        let p = prepare_params(7, 100);
        assert_eq!((p.batch, p.heads, p.len, p.kernel_len, p.flags), (0, 7, 0, 100, 0));
    }

    #[test]
    fn overlapping_outputs_are_rejected() {
        let u = ("u", 1024, 100, DType::BF16);
        let e = check_outputs_disjoint(&[("y", 1024 + 198, 100, DType::BF16)], &[u]).unwrap_err();
        assert!(matches!(e, Error::Overlap { output: "y", other: "u" }), "{e}");
        check_outputs_disjoint(&[("y", 1024 + 200, 100, DType::BF16)], &[u]).unwrap();
        let e =
            check_outputs_disjoint(&[("du", 0x10000, 8, DType::F16), ("dk", 0x10008, 4, DType::F32)], &[]).unwrap_err();
        assert!(matches!(e, Error::Overlap { output: "du", other: "dk" }), "{e}");
    }

    #[test]
    fn workspace_follows_the_abi() {
        for (b, h, log2_n) in [(1, 1, 8), (16, 768, 12), (3, 1, 15), (1000, 2, 10), (64, 768, 13), (64, 768, 15)] {
            let variant = |split| {
                let (chunks, per_chunk) = backward_chunks(b, h, log2_n, split);
                assert!(chunks >= 1 && chunks as u64 * per_chunk as u64 >= b.div_ceil(2) as u64);
                backward_workspace_bytes(chunks as u64, h as u64, log2_n, split)
            };
            let plan = plan(log2_n);
            assert_eq!(plan.backward_workspace_bytes(b as usize, h as usize) as u64, variant(false).max(variant(true)));
        }
    }

    #[test]
    fn kernel_table_names_every_size_and_dtype() {
        let names = on_chip_kernel_names();
        // Prepare and dk per size; forward and backward per size for bf16, split bf16 and f16;
        // the zero-half forwards (the same three) at N = 512, 8K and 16K, the zero-half
        // backwards at 512.
        assert_eq!(names.len(), 8 * (2 + 2 * 3) + 3 * 3 + 3);
        assert!(names.contains(&"fftconv_fwd_n4096_bf16") && names.contains(&"fftconv_dk_n32768"));
        assert!(names.contains(&"fftconv_fwd_zero_half_n8192_f16"));
        assert!(names.contains(&"fftconv_fwd_zero_half_n16384_bf16"));
        assert!(names.contains(&"fftconv_bwd_zero_half_n512_f16"));
        // Then the long sizes' passes: in (bf16, f16, f32, unsplit bf16) and out (the same and
        // unsplit f32) per size; mid, mid-spectrum, mid-spectrum-conv, mid-grad and dk-sum (split
        // and not), mid-prepare once.
        assert_eq!(kernel_names().len(), names.len() + 8 * 9 + 11);
    }

    #[test]
    fn every_long_kernel_in_the_table_is_in_the_ptx() {
        let missing: Vec<&str> = long::kernel_names()
            .into_iter()
            .filter(|name| !crate::PTX_SM90.contains(&format!(".entry {name}(")))
            .collect();
        assert!(missing.is_empty(), "long-size kernels missing from the committed PTX: {missing:?}");
    }

    #[test]
    fn long_kernel_parameter_layout_is_pinned() {
        // As `kernel_parameter_layout_is_pinned`: the pointers the host pushes (launch.rs), then
        // the 32-byte LongFftParams (*out*: workspace, gate, y, gate2, y2).
        use flashfftconv_abi::fftconv::LongPass;
        for (pass, dtype, split, pointers) in [
            (LongPass::In, DType::BF16, true, 3),
            (LongPass::In, DType::BF16, false, 3),
            (LongPass::In, DType::F32, true, 3),
            (LongPass::Mid, DType::BF16, true, 2),
            (LongPass::Mid, DType::BF16, false, 2),
            (LongPass::MidPrepare, DType::F32, true, 2),
            (LongPass::Out, DType::F16, true, 5),
            (LongPass::Out, DType::BF16, false, 5),
            (LongPass::Out, DType::F32, true, 5),
            (LongPass::Out, DType::F32, false, 5),
            (LongPass::MidSpectrum, DType::F32, true, 1),
            (LongPass::MidGrad, DType::F32, true, 3),
            (LongPass::MidGrad, DType::BF16, false, 3),
            (LongPass::DkSum, DType::BF16, false, 2),
            (LongPass::MidSpectrum, DType::BF16, false, 1),
            (LongPass::MidSpectrumConv, DType::F32, true, 3),
            (LongPass::MidSpectrumConv, DType::BF16, false, 3),
            (LongPass::DkSum, DType::F32, true, 2),
        ] {
            let name = pass.entry_name(20, dtype, split).expect("entry");
            let entry = crate::PTX_SM90.split(&format!(".entry {name}(")).nth(1).expect("entry present");
            let params = &entry[..entry.find(')').expect("parameter list")];
            assert_eq!(params.matches(".param .u64").count(), pointers, "{name}: {params}");
            assert!(params.contains(".param .align 4 .b8") && params.contains("[32]"), "{name}: {params}");
        }
    }

    #[test]
    fn every_kernel_in_the_table_is_in_the_ptx() {
        for log2_n in MIN_LOG2_N..=MAX_LOG2_N {
            for kernel in FftConvKernel::ALL {
                for (dtype, split) in [(DType::BF16, false), (DType::BF16, true), (DType::F16, true)] {
                    let name = kernel.entry_name(log2_n, dtype, split);
                    if (kernel == FftConvKernel::ForwardZeroHalf && !zero_half_skip(log2_n))
                        || (kernel == FftConvKernel::BackwardZeroHalf && !backward_zero_half_skip(log2_n))
                    {
                        assert_eq!(name, None);
                        continue;
                    }
                    let name = name.expect("every size 2^8 ..= 2^15 has kernels");
                    assert!(
                        crate::PTX_SM90.contains(&format!(".entry {name}(")),
                        "kernel {name} missing from the committed PTX"
                    );
                }
            }
        }
    }

    #[test]
    fn kernel_parameter_layout_is_pinned() {
        // Struct-by-value parameters are fragile on rustc's ptx-kernel ABI (rust-lang/rust#117271):
        // pin how the PTX declares them: the pointers the host pushes, then the 32-byte params.
        for (kernel, pointers) in [
            (FftConvKernel::Prepare, 2),
            (FftConvKernel::Forward, 5),
            (FftConvKernel::ForwardZeroHalf, 5),
            (FftConvKernel::Backward, 9),
            (FftConvKernel::BackwardZeroHalf, 9),
            (FftConvKernel::KernelGrad, 2),
        ] {
            // N = 512: every role has a kernel there.
            let name = kernel.entry_name(9, DType::BF16, false).expect("entry");
            let entry = crate::PTX_SM90.split(&format!(".entry {name}(")).nth(1).expect("entry present");
            let params = &entry[..entry.find(')').expect("parameter list")];
            assert_eq!(params.matches(".param .u64").count(), pointers, "{name}: {params}");
            assert!(params.contains(".param .align 4 .b8") && params.contains("[32]"), "{name}: {params}");
        }
    }
}
