//! The long sizes (`N = 65536 … 8388608`): `prepare`, `forward` and `backward` as passes through
//! the plan's workspace (`flashfftconv_abi::fftconv`, "Long sizes", describes the passes).
//!
//! The `H · ⌈B/2⌉` row pairs (head-major, as on chip; for `prepare`, the `H` rows of `k`) are
//! taken in launch groups of at most [`long_pairs_in`] the plan's workspace pairs, its capacity.
//! Per group: *in* (rows → workspace), *mid* (row transforms and the kernel product, in place;
//! for `prepare`, *mid-prepare* writing the spectrum instead) and, for `forward`, *out*
//! (workspace → `y`). Every launch of a call is queued on the caller's stream while the call
//! holds the workspace's lock and its cudarc write guard.
//!
//! `backward` takes groups of at most [`long_backward_pairs_in`] the workspace pairs `P`, the workspace
//! split as `W1` (`P` rows) and `W2` (`P` rows) ([`backward_layout`]). With `z = in_gate ⊙ u`
//! and `dv = out_gate ⊙ dy`, per group:
//! 1. *in* (`u`, `in_gate`) → `W1`, *mid-spectrum*: `W1 = FFT(z)`; with `d_out_gate`
//!    *mid-spectrum-conv* instead, which also writes `W2` = rows of `iFFT(FFT(z) · K)` from the
//!    same transform;
//! 2. with `d_out_gate`, *out* (`W2`, gate `dy`) → `d_out_gate = dy ⊙ conv(z, k)` (W2 is free
//!    until step 3);
//! 3. *in* (`dy`, `out_gate`) → `W2`; *mid-grad* transforms `W2`'s rows (`DV = FFT(dv)`) and
//!    writes, from that one transform, `W1 = DV · conj(W1)` (the `dk` products, spectra) and
//!    `W2` = rows of `iFFT(DV · conj K)` (`dz`);
//! 4. *out* (`W2`, gate `in_gate`) → `du`, and with `d_in_gate` in the same pass (gate `u`) →
//!    `d_in_gate`;
//! 5. *dk-sum*: per head `h` the group spans (from `h₀`), row `h − h₀` of `W2` = rows of
//!    `iFFT(Σ W1)` over the head's pairs in the group, in pair order;
//! 6. *out* in f32 (those rows, the real part: both rows of each pair summed) → `dk[h] +=`
//!    (`dk` is zeroed before the first group, each of its values gets one sum per group, in
//!    group order: the sum over the batch is in a fixed order, deterministic).

use super::{
    kernel_device_ptr, raw_ptr, shared_memory_message, vector_flag, FftConv, FftConvGrads, FftElement, FftInput, Gates,
    KernelInput,
};
use crate::checks::grid_x;
use crate::context::Gpu;
use crate::error::{Error, Result};
use crate::launch::{self, DevicePtr, FftConvBackwardPtrs, FftConvForwardPtrs};
use cudarc::driver::{
    CudaFunction, CudaSlice, CudaStream, CudaView, CudaViewMut, DevicePtr as _, DevicePtrMut as _, LaunchConfig,
};
use flashfftconv_abi::fftconv::{
    kernel_split, long_backward_pair_bytes, long_backward_pairs_in, long_column_groups, long_mid_shared_bytes,
    long_outer_log2, long_outer_shared_bytes, long_pair_bytes, long_pairs_in, prepared_len, FftConvKernel,
    FftConvParams, LongFftParams, LongPass, FLAG_IN_GATE, FLAG_OUT_GATE, LONG_MAX_LOG2_N, LONG_MIN_LOG2_N, THREADS,
};
use flashfftconv_abi::DType;
use std::sync::{Arc, Mutex, MutexGuard};

/// Every pass with the dtypes and planes (split or not) the host launches it for: *in* for the
/// data dtypes and f32 (the kernel `k`), *out* for the data dtypes and f32 (the backward's
/// `dk`), the *mid* passes and *dk-sum* once (their names do not depend on the dtype), and the
/// unsplit bf16 *in*, *mid*, *out*, *mid-spectrum*, *mid-spectrum-conv*, *mid-grad* and
/// *dk-sum*, and the unsplit f32 *out*.
const PASS_VARIANTS: [(LongPass, DType, bool); 20] = [
    (LongPass::In, DType::BF16, true),
    (LongPass::In, DType::F16, true),
    (LongPass::In, DType::F32, true),
    (LongPass::Mid, DType::F32, true),
    (LongPass::MidPrepare, DType::F32, true),
    (LongPass::Out, DType::BF16, true),
    (LongPass::Out, DType::F16, true),
    (LongPass::Out, DType::F32, true),
    (LongPass::MidSpectrum, DType::F32, true),
    (LongPass::MidSpectrumConv, DType::F32, true),
    (LongPass::MidGrad, DType::F32, true),
    (LongPass::DkSum, DType::F32, true),
    (LongPass::In, DType::BF16, false),
    (LongPass::Mid, DType::BF16, false),
    (LongPass::Out, DType::BF16, false),
    (LongPass::Out, DType::F32, false),
    (LongPass::MidSpectrum, DType::BF16, false),
    (LongPass::MidSpectrumConv, DType::BF16, false),
    (LongPass::MidGrad, DType::BF16, false),
    (LongPass::DkSum, DType::BF16, false),
];

/// Dynamic shared memory of a pass's launches with split planes or not.
pub(super) const fn pass_shared_bytes(pass: LongPass, split: bool) -> u32 {
    match pass {
        LongPass::In | LongPass::Out => long_outer_shared_bytes(split),
        LongPass::Mid
        | LongPass::MidPrepare
        | LongPass::MidSpectrum
        | LongPass::MidSpectrumConv
        | LongPass::MidGrad
        | LongPass::DkSum => long_mid_shared_bytes(split),
    }
}

/// Fails when a long pass needs more dynamic shared memory per block than `limit` bytes.
pub(super) fn check_shared_memory(log2_n: u32, limit: u64) -> Result<()> {
    for (pass, dtype, split) in PASS_VARIANTS {
        let needed = pass_shared_bytes(pass, split) as u64;
        if needed > limit {
            return Err(Error::Unsupported {
                what: "fft_size",
                value: 1 << log2_n,
                expected: shared_memory_message(
                    pass.entry_name(log2_n, dtype, split).unwrap_or("fftconv_long"),
                    needed,
                    limit,
                ),
            });
        }
    }
    Ok(())
}

/// Every long-size kernel name the host can launch.
pub(super) fn kernel_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
        for (pass, dtype, split) in PASS_VARIANTS {
            if let Some(name) = pass.entry_name(log2_n, dtype, split) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names
}

/// Row pairs of a call: `H · ⌈B/2⌉` (for `prepare`, `batch = 1`: `H`). Pair indices are `u32` in
/// the kernels' parameters, so larger counts are rejected.
pub(super) fn total_pairs(batch: u32, heads: u32) -> Result<u32> {
    let pairs = heads as u64 * batch.div_ceil(2) as u64;
    u32::try_from(pairs).map_err(|_| Error::Unsupported {
        what: "heads · ⌈batch / 2⌉",
        value: pairs,
        expected: format!("≤ {} row pairs for the long FFT sizes", u32::MAX),
    })
}

/// The launch groups over `total` pairs: `(pair0, pairs)` with at most `per_launch` pairs each,
/// in order, covering `0 .. total` once.
pub(super) fn launch_groups(total: u32, per_launch: u64) -> impl Iterator<Item = (u32, u32)> {
    let per_launch = per_launch.clamp(1, u32::MAX as u64) as u32;
    (0..total.div_ceil(per_launch)).map(move |g| {
        let pair0 = g * per_launch;
        (pair0, per_launch.min(total - pair0))
    })
}

/// The launch configuration of a pass (split planes or not) over `pairs` pairs for `N = 2^log2_n`: grid
/// `pairs · long_column_groups` for *in* and *out*, `pairs · N₁` for the *mid* passes (computed
/// in `u64`, checked against the grid limit). *dk-sum*'s grid is per head, not per pair:
/// [`dk_sum_config`].
pub(super) fn pass_config(pass: LongPass, split: bool, log2_n: u32, pairs: u32) -> Result<LaunchConfig> {
    let per_pair = match pass {
        LongPass::In | LongPass::Out => long_column_groups(log2_n) as u64,
        LongPass::Mid
        | LongPass::MidPrepare
        | LongPass::MidSpectrum
        | LongPass::MidSpectrumConv
        | LongPass::MidGrad => 1u64 << long_outer_log2(log2_n),
        LongPass::DkSum => {
            return Err(Error::Unsupported {
                what: "long pass",
                value: pairs as u64,
                expected: "a pass with a grid per pair (dk-sum: dk_sum_config)".into(),
            });
        }
    };
    Ok(LaunchConfig {
        grid_dim: (grid_x(pairs as u64 * per_pair)?, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: pass_shared_bytes(pass, split),
    })
}

/// The parameters of one launch group of a call with parameters `p` (its flags included).
pub(super) fn group_params(p: &FftConvParams, log2_n: u32, (pair0, pairs): (u32, u32)) -> LongFftParams {
    LongFftParams { batch: p.batch, heads: p.heads, len: p.len, flags: p.flags, log2_n, pair0, pairs, reserved: 0 }
}

/// `(h₀, heads)`: the first head and the number of heads of pairs `lp.pair0 .. lp.pair0 +
/// lp.pairs` (`lp.pairs ≥ 1`; `⌈B/2⌉` pairs per head).
pub(super) fn heads_spanned(lp: &LongFftParams) -> (u32, u32) {
    let per_head = lp.pairs_per_head().max(1);
    let first = lp.pair0 / per_head;
    let last = ((lp.pair0 as u64 + lp.pairs.max(1) as u64 - 1) / per_head as u64) as u32;
    (first, last - first + 1)
}

/// The launch configuration of *dk-sum* (split planes or not) for a backward group with
/// parameters `lp`: `heads · N₁` blocks ([`heads_spanned`]), as a *mid* pass.
pub(super) fn dk_sum_config(split: bool, lp: &LongFftParams) -> Result<LaunchConfig> {
    let (_, heads) = heads_spanned(lp);
    Ok(LaunchConfig {
        grid_dim: (grid_x((heads as u64) << long_outer_log2(lp.log2_n))?, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: pass_shared_bytes(LongPass::DkSum, split),
    })
}

/// Where one backward launch group of `pairs` pairs keeps its rows in the workspace (byte
/// offsets): `W1` at 0 (`pairs` rows of `long_pair_bytes`), `W2` after it; `end` is the bytes
/// used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BackwardLayout {
    /// Offset of `W2`.
    pub w2: u64,
    /// Bytes used.
    pub end: u64,
}

/// The [`BackwardLayout`] of a group of `pairs` pairs for `N = 2^log2_n`.
pub(super) fn backward_layout(log2_n: u32, pairs: u32) -> BackwardLayout {
    let rows = pairs as u64 * long_pair_bytes(log2_n);
    BackwardLayout { w2: rows, end: 2 * rows }
}

/// The parameters of every launch of one backward group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BackwardGroupParams {
    /// *in* of `u` with `in_gate`.
    pub in_u: LongFftParams,
    /// *in* of `dy` with `out_gate` (as the pass's input gate).
    pub in_dy: LongFftParams,
    /// *mid-spectrum*, *mid-spectrum-conv*, *mid-grad* and *dk-sum* (no flags).
    pub rows: LongFftParams,
    /// *out* into `du` with `in_gate` (as the pass's output gate) and, in the same pass, into
    /// `d_in_gate` with `u` as its gate (`FLAG_VECTOR` only when all four pointers allow it).
    pub out_du: LongFftParams,
    /// *out* in f32 adding *dk-sum*'s rows to `dk` from head `h₀` on: `batch = 1`, `heads =
    /// pairs =` the heads spanned, `len = Lk`, pairs `0 ..`.
    pub out_dk: LongFftParams,
    /// The group's first head (`h₀`: where `out_dk` adds).
    pub first_head: u32,
    /// *out* into `d_out_gate` with `dy` as the gate.
    pub out_d_out_gate: LongFftParams,
}

/// The parameters of the launches of backward group `group` of a call with shape `p` (its flags
/// are ignored), buffers `ptrs` (0 for absent gates and gradients) and `dk` at `dk_ptr`: gate
/// flags from the gates each pass reads, `FLAG_VECTOR` from the `(B, H, L)` pointers each pass
/// reads or writes (and for `dk`'s *out* from `dk_ptr` and `Lk`).
pub(super) fn backward_group_params(
    p: &FftConvParams,
    log2_n: u32,
    group: (u32, u32),
    ptrs: &FftConvBackwardPtrs,
    dk_ptr: DevicePtr,
) -> BackwardGroupParams {
    let base = group_params(&FftConvParams { flags: 0, ..*p }, log2_n, group);
    let (first_head, heads) = heads_spanned(&base);
    let with = |flags: u32| LongFftParams { flags, ..base };
    let gate = |ptr: DevicePtr, flag: u32| if ptr != 0 { flag } else { 0 };
    let vector = |ptrs: &[DevicePtr]| vector_flag(p.len, ptrs);
    let FftConvBackwardPtrs { u, in_gate, out_gate, dy, du, d_in_gate, d_out_gate, .. } = *ptrs;
    BackwardGroupParams {
        in_u: with(gate(in_gate, FLAG_IN_GATE) | vector(&[u, in_gate])),
        in_dy: with(gate(out_gate, FLAG_IN_GATE) | vector(&[dy, out_gate])),
        rows: with(0),
        out_du: with(gate(in_gate, FLAG_OUT_GATE) | vector(&[du, in_gate, d_in_gate, u])),
        out_dk: LongFftParams {
            batch: 1,
            heads,
            len: p.kernel_len,
            // Rows of `Lk` f32 from `first_head`'s: 16-byte aligned when `dk` is and `Lk % 8 == 0`.
            flags: vector_flag(p.kernel_len, &[dk_ptr]),
            log2_n,
            pair0: 0,
            pairs: heads,
            reserved: 0,
        },
        first_head,
        out_d_out_gate: with(FLAG_OUT_GATE | vector(&[d_out_gate, dy])),
    }
}

impl FftConv {
    /// The loaded kernel of `pass` for this size, `dtype` and planes (`split`), its shared-memory
    /// limit raised to what the pass's launches use.
    fn long_function(&self, gpu: &Gpu, pass: LongPass, dtype: DType, split: bool) -> Result<CudaFunction> {
        let name = pass.entry_name(self.log2_n, dtype, split).ok_or(Error::Unsupported {
            what: "fft_size",
            value: self.fft_size() as u64,
            expected: format!("a size and dtype with a kernel (dtype {})", dtype.name()),
        })?;
        gpu.function_with_shared(name, pass_shared_bytes(pass, split))
    }

    /// Row pairs per launch of `prepare` and `forward`: as many as the workspace holds (at
    /// least one: `with_workspace_bytes` checks it).
    pub(super) fn pairs_per_launch(&self) -> u64 {
        long_pairs_in(self.log2_n, self.workspace_len as u64)
    }

    /// Row pairs per launch group of `backward`, or an error (before any launch) when the
    /// workspace holds none.
    pub(super) fn backward_pairs_per_launch(&self) -> Result<u64> {
        match long_backward_pairs_in(self.log2_n, self.workspace_len as u64) {
            0 => Err(Error::Unsupported {
                what: "workspace bytes",
                value: self.workspace_len as u64,
                expected: format!(
                    "≥ {} for the backward at N = {} (this plan's workspace serves prepare and forward only)",
                    long_backward_pair_bytes(self.log2_n),
                    self.fft_size()
                ),
            }),
            pairs => Ok(pairs),
        }
    }

    /// The workspace, locked. A poisoned lock only means a thread panicked while queuing; the
    /// workspace is scratch and the next call overwrites what it reads.
    pub(super) fn lock_workspace(&self) -> Result<MutexGuard<'_, CudaSlice<u8>>> {
        let workspace: &Arc<Mutex<CudaSlice<u8>>> = self.workspace.as_ref().ok_or(Error::Unsupported {
            what: "fft_size",
            value: self.fft_size() as u64,
            expected: "a long size, whose plan holds a workspace".into(),
        })?;
        Ok(workspace.lock().unwrap_or_else(|poison| poison.into_inner()))
    }

    /// [`FftConv::prepare`] at a long size, after its checks: `p` holds `heads` and
    /// `kernel_len` (validated) and `k` holds `H · Lk` f32 of this plan's device.
    pub(super) fn long_prepare(
        &self,
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        k: &CudaView<'_, f32>,
        p: &FftConvParams,
    ) -> Result<CudaSlice<f32>> {
        let kernels = LongPrepareKernels::load(self, gpu)?;
        let (k_ptr, _k_sync) = k.device_ptr(stream);
        let mut workspace = self.lock_workspace()?;
        let (workspace_ptr, _workspace_sync) = workspace.device_ptr_mut(stream);
        // SAFETY: `k` holds H · Lk f32 (checked by `prepare`) and its guard lives until after the
        // launches are queued; the workspace is this plan's, locked, its guard alive as long.
        unsafe { self.queue_long_prepare(stream, &kernels, k_ptr, p.heads, p.kernel_len, workspace_ptr) }
    }

    /// [`FftConv::forward`] at a long size, after its shape, length and device checks.
    // The arguments are `forward`'s plus its validated parameters.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn long_forward<T: FftElement>(
        &self,
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        x: FftInput<'_, '_, T>,
        kernel: KernelInput<'_, '_>,
        gates: Gates<'_, '_, T>,
        y: &mut CudaViewMut<'_, T>,
        mut p: FftConvParams,
    ) -> Result<()> {
        let pairs = total_pairs(p.batch, p.heads)?;
        // Split planes as on chip: always for f16, for bf16 when L < N/4.
        let split = kernel_split(FftConvKernel::Forward, self.log2_n, T::DTYPE, p.len, p.kernel_len);
        let input = self.long_function(gpu, LongPass::In, T::DTYPE, split)?;
        let mid = self.long_function(gpu, LongPass::Mid, T::DTYPE, split)?;
        let output = self.long_function(gpu, LongPass::Out, T::DTYPE, split)?;
        let prepare = match kernel {
            KernelInput::Raw { .. } => Some(LongPrepareKernels::load(self, gpu)?),
            KernelInput::Prepared(_) => None,
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

        let mut workspace = self.lock_workspace()?;
        let (workspace_ptr, _workspace_sync) = workspace.device_ptr_mut(stream);
        let temporary = match &prepare {
            // SAFETY: `kernel_ptr` is the raw `k`, checked to hold H · Lk f32; its guard and the
            // workspace's live until the end of this function, after the launches are queued.
            Some(kernels) => Some(unsafe {
                self.queue_long_prepare(stream, kernels, kernel_ptr, p.heads, p.kernel_len, workspace_ptr)
            }?),
            None => None,
        };
        let temporary_ptr = temporary.as_ref().map(|t| t.device_ptr(stream));
        ptrs.prepared = temporary_ptr.as_ref().map_or(kernel_ptr, |(ptr, _)| *ptr);

        for group in launch_groups(pairs, self.pairs_per_launch()) {
            let lp = group_params(&p, self.log2_n, group);
            let outer = pass_config(LongPass::In, split, self.log2_n, lp.pairs)?;
            let rows = pass_config(LongPass::Mid, split, self.log2_n, lp.pairs)?;
            // SAFETY: the kernels match T, N and `split` and their shared-memory limits were raised to the
            // configs' sizes (≤ the device's opt-in limit, checked by `new`), with the grids the
            // passes take for `lp.pairs` pairs; u, the given gates and y hold B · H · L elements
            // (checked by `forward`), gate flags match the non-zero gates and FLAG_VECTOR was
            // derived from these very pointers; the group lies inside the H · ⌈B/2⌉ pairs and
            // holds at most `pairs_per_launch` of them, which the workspace (this plan's,
            // locked, `workspace_len` bytes) holds; the three launches of a group are queued in
            // order on one stream; `ptrs.prepared` is a spectrum of H heads for N (checked, or
            // queued just before on this stream); y overlaps no input; the guards keep every
            // buffer's stream tracking until after the launches.
            unsafe {
                launch::fftconv_long_in(stream, &input, outer, ptrs.u, ptrs.in_gate, workspace_ptr, lp)?;
                launch::fftconv_long_mid(stream, &mid, rows, workspace_ptr, ptrs.prepared, lp)?;
                launch::fftconv_long_out(stream, &output, outer, workspace_ptr, (ptrs.out_gate, ptrs.y), (0, 0), lp)?;
            }
        }
        Ok(())
    }

    /// [`FftConv::backward`] at a long size, after its shape, length, gradient and device checks
    /// (`p` holds the validated shape, flags zero). The passes per launch group are listed in the
    /// module docs.
    // The arguments are `backward`'s plus its validated parameters.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn long_backward<T: FftElement>(
        &self,
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        x: FftInput<'_, '_, T>,
        kernel: KernelInput<'_, '_>,
        gates: Gates<'_, '_, T>,
        dy: &CudaView<'_, T>,
        grads: FftConvGrads<'_, '_, T>,
        p: FftConvParams,
    ) -> Result<()> {
        let pairs = total_pairs(p.batch, p.heads)?;
        let per_launch = self.backward_pairs_per_launch()?;
        // Split planes as on chip: always for f16, for bf16 when L < N/4 or Lk < N/4 (`dk` too).
        let split = kernel_split(FftConvKernel::Backward, self.log2_n, T::DTYPE, p.len, p.kernel_len);
        let kernels = LongBackwardKernels::load(self, gpu, T::DTYPE, split)?;
        let prepare = match kernel {
            KernelInput::Raw { .. } => Some(LongPrepareKernels::load(self, gpu)?),
            KernelInput::Prepared(_) => None,
        };
        let dk_bytes = p.heads as u64 * p.kernel_len as u64 * 4;
        let dk_bytes = usize::try_from(dk_bytes).map_err(|_| Error::Unsupported {
            what: "dk bytes",
            value: dk_bytes,
            expected: format!("≤ {}", usize::MAX),
        })?;

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
        let mut ptrs = FftConvBackwardPtrs {
            u: u_ptr,
            in_gate: raw_ptr(&in_gate),
            out_gate: raw_ptr(&out_gate),
            dy: dy_ptr,
            prepared: kernel_ptr,
            du: du_ptr,
            d_in_gate: raw_ptr(&d_in_gate),
            d_out_gate: raw_ptr(&d_out_gate),
            workspace: 0,
        };
        self.check_backward_overlaps::<T>(&kernel, &ptrs, dk_ptr, &p)?;

        let mut workspace = self.lock_workspace()?;
        let (workspace_ptr, _workspace_sync) = workspace.device_ptr_mut(stream);
        ptrs.workspace = workspace_ptr;
        // SAFETY: dk holds H · Lk f32 (checked by `backward`), its write guard lives until the end
        // of this function; it overlaps no other buffer of the call (checked above).
        unsafe { launch::zero_bytes(stream, dk_ptr, dk_bytes) }?;
        let temporary = match &prepare {
            // SAFETY: `kernel_ptr` is the raw `k`, checked to hold H · Lk f32; its guard and the
            // workspace's live until the end of this function, after the launches are queued.
            Some(kernels) => Some(unsafe {
                self.queue_long_prepare(stream, kernels, kernel_ptr, p.heads, p.kernel_len, workspace_ptr)
            }?),
            None => None,
        };
        let temporary_ptr = temporary.as_ref().map(|t| t.device_ptr(stream));
        ptrs.prepared = temporary_ptr.as_ref().map_or(kernel_ptr, |(ptr, _)| *ptr);

        let k = &kernels;
        for group in launch_groups(pairs, per_launch) {
            let gp = backward_group_params(&p, self.log2_n, group, &ptrs, dk_ptr);
            let layout = backward_layout(self.log2_n, group.1);
            let (w1, w2) = (workspace_ptr, workspace_ptr + layout.w2);
            let outer = pass_config(LongPass::In, split, self.log2_n, group.1)?;
            let rows = pass_config(LongPass::MidSpectrum, split, self.log2_n, group.1)?;
            let (outer_dk, rows_dk) =
                (pass_config(LongPass::Out, split, self.log2_n, gp.out_dk.pairs)?, dk_sum_config(split, &gp.rows)?);
            // The group's heads' rows of `dk` (f32, `Lk` each), where *out* adds its sums.
            let dk_rows = dk_ptr + gp.first_head as u64 * p.kernel_len as u64 * 4;
            // SAFETY: the kernels match T and N, and their planes (`split`; `dk`'s *out* f32)
            // the configs' shared-memory sizes, to which their limits were raised (≤ the
            // device's opt-in limit, checked by `new`), with the grids the passes take for the
            // group's pairs (`dk_sum_config` and `out_dk` for the heads it spans); u, dy, the
            // given gates, du and the requested gate gradients hold B · H · L elements and dk
            // H · Lk f32 (checked by `backward`), so `dk_rows` holds the spanned heads' rows;
            // each pass's gate flag matches the gate it is given and its FLAG_VECTOR was
            // derived from the very pointers it reads and writes (`backward_group_params`); the
            // group lies inside the H · ⌈B/2⌉ pairs and holds at most
            // `backward_pairs_per_launch` of them, so W1 and W2 (`backward_layout`, end ≤
            // `workspace_len`) fit this plan's workspace, locked, and are disjoint (dk-sum's
            // per-head rows take the first `heads ≤ pairs` of W2's); every launch of the call is
            // queued in order on one stream, each reading what the earlier ones wrote (in →
            // spectrum → grad → out → dk-sum → out; the d_out_gate passes use W2 before the in
            // pass of dy writes it, du's *out* reads W2 before dk-sum writes it); dk was zeroed
            // above on this stream; `ptrs.prepared` is a spectrum of H heads for N (checked, or
            // queued just before on this stream); the outputs overlap no input nor each other
            // (checked); the guards keep every buffer's stream tracking until after the launches.
            unsafe {
                launch::fftconv_long_in(stream, &k.input, outer, ptrs.u, ptrs.in_gate, w1, gp.in_u)?;
                if ptrs.d_out_gate != 0 {
                    // `z`'s spectrum into W1 and `conv(z, k)` into W2 from one transform.
                    let (f, p) = (&k.spectrum_conv, gp.rows);
                    launch::fftconv_long_mid_pair(stream, f, rows, w1, w2, ptrs.prepared, p)?;
                    let d_out = gp.out_d_out_gate;
                    launch::fftconv_long_out(stream, &k.output, outer, w2, (ptrs.dy, ptrs.d_out_gate), (0, 0), d_out)?;
                } else {
                    launch::fftconv_long_mid_spectrum(stream, &k.spectrum, rows, w1, gp.rows)?;
                }
                launch::fftconv_long_in(stream, &k.input, outer, ptrs.dy, ptrs.out_gate, w2, gp.in_dy)?;
                // `dv`'s spectrum: the `dk` products over W1, `dz` in place, from one transform.
                launch::fftconv_long_mid_pair(stream, &k.grad, rows, w2, w1, ptrs.prepared, gp.rows)?;
                // `du` and, with it, `d_in_gate` (`u` as its gate) from one *out* pass.
                let d_in = if ptrs.d_in_gate != 0 { (ptrs.u, ptrs.d_in_gate) } else { (0, 0) };
                launch::fftconv_long_out(stream, &k.output, outer, w2, (ptrs.in_gate, ptrs.du), d_in, gp.out_du)?;
                launch::fftconv_long_dk_sum(stream, &k.dk_sum, rows_dk, w2, w1, gp.rows)?;
                launch::fftconv_long_out(stream, &k.dk, outer_dk, w2, (0, dk_rows), (0, 0), gp.out_dk)?;
            }
        }
        Ok(())
    }

    /// Allocates a prepared spectrum for `heads` heads in stream order, zeroes its per-head max
    /// slots, and queues, per launch group of heads, the *in* pass (f32, from `k_ptr`) and the
    /// *mid-prepare* pass writing the group's spectra.
    ///
    /// # Safety
    /// `kernels` were loaded for this plan; `k_ptr` addresses `heads · kernel_len` f32 of this
    /// stream's device that stay alive (and unwritten) until the launches have run;
    /// `workspace_ptr` is this plan's workspace, locked by the caller, whose write guard on
    /// `stream` lives until after this function returns.
    unsafe fn queue_long_prepare(
        &self,
        stream: &Arc<CudaStream>,
        kernels: &LongPrepareKernels,
        k_ptr: DevicePtr,
        heads: u32,
        kernel_len: u32,
        workspace_ptr: DevicePtr,
    ) -> Result<CudaSlice<f32>> {
        let n = self.fft_size() as u64;
        let too_large = |value: u64| Error::Unsupported {
            what: "heads",
            value,
            expected: "a prepared spectrum that fits in memory".into(),
        };
        let len = usize::try_from(prepared_len(heads as u64, n)).map_err(|_| too_large(heads as u64))?;
        let spectra = usize::try_from(2 * n * heads as u64).map_err(|_| too_large(heads as u64))?;
        // SAFETY: the mid-prepare launches write every spectrum value (H · N complex) and the
        // memset below the H max slots, before any later launch on this stream reads them.
        let mut spectrum = unsafe { stream.alloc::<f32>(len) }?;
        // The mid-prepare kernel takes an atomic max into each head's slot: it must start at 0.
        stream.memset_zeros(&mut spectrum.slice_mut(spectra..))?;
        let (spectrum_ptr, write_guard) = spectrum.device_ptr_mut(stream);
        let p = FftConvParams {
            batch: 1,
            heads,
            len: kernel_len,
            kernel_len,
            flags: 0,
            chunks: 0,
            pairs_per_chunk: 0,
            reserved: 0,
        };
        for group in launch_groups(heads, self.pairs_per_launch()) {
            let lp = group_params(&p, self.log2_n, group);
            let outer = pass_config(LongPass::In, true, self.log2_n, lp.pairs)?;
            let rows = pass_config(LongPass::MidPrepare, true, self.log2_n, lp.pairs)?;
            // SAFETY: the kernels are this size's f32 *in* and *mid-prepare* passes, their
            // shared-memory limits raised to the configs' sizes, with the grids the passes take
            // for `lp.pairs` pairs; with B = 1 the pairs are the heads and `k` holds H · Lk f32
            // (the caller's contract), no gate, no FLAG_VECTOR; the group lies inside the H heads
            // and fits the workspace (the caller's, locked); the fresh spectrum holds
            // `prepared_len(H, N)` f32 with its max slots zeroed above on this stream, and
            // overlaps neither k nor the workspace.
            unsafe {
                launch::fftconv_long_in(stream, &kernels.input, outer, k_ptr, 0, workspace_ptr, lp)?;
                launch::fftconv_long_mid(stream, &kernels.mid, rows, workspace_ptr, spectrum_ptr, lp)?;
            }
        }
        // Records the writes on the spectrum's stream tracking; ends the borrow before the move.
        drop(write_guard);
        Ok(spectrum)
    }
}

/// The two passes of a long-size `prepare`.
struct LongPrepareKernels {
    input: CudaFunction,
    mid: CudaFunction,
}

impl LongPrepareKernels {
    fn load(conv: &FftConv, gpu: &Gpu) -> Result<Self> {
        Ok(LongPrepareKernels {
            input: conv.long_function(gpu, LongPass::In, DType::F32, true)?,
            mid: conv.long_function(gpu, LongPass::MidPrepare, DType::F32, true)?,
        })
    }
}

/// The passes of a long-size backward for one data dtype and planes (`split`).
struct LongBackwardKernels {
    /// *in* for the data dtype (`u`, `dy`).
    input: CudaFunction,
    spectrum: CudaFunction,
    /// The spectrum with, from the same transform, the convolution with the kernel (`z`'s, for
    /// `d_out_gate`).
    spectrum_conv: CudaFunction,
    /// `dv`'s transform and its two products (`dk`'s, `dz`).
    grad: CudaFunction,
    /// *out* for the data dtype (`du`, the gate gradients).
    output: CudaFunction,
    /// Per head, the inverse of its pairs' summed `dk` products.
    dk_sum: CudaFunction,
    /// *out* in f32, adding to `dk`.
    dk: CudaFunction,
}

impl LongBackwardKernels {
    fn load(conv: &FftConv, gpu: &Gpu, dtype: DType, split: bool) -> Result<Self> {
        Ok(LongBackwardKernels {
            input: conv.long_function(gpu, LongPass::In, dtype, split)?,
            spectrum: conv.long_function(gpu, LongPass::MidSpectrum, dtype, split)?,
            spectrum_conv: conv.long_function(gpu, LongPass::MidSpectrumConv, dtype, split)?,
            grad: conv.long_function(gpu, LongPass::MidGrad, dtype, split)?,
            output: conv.long_function(gpu, LongPass::Out, dtype, split)?,
            dk_sum: conv.long_function(gpu, LongPass::DkSum, dtype, split)?,
            dk: conv.long_function(gpu, LongPass::Out, DType::F32, split)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashfftconv_abi::fftconv::{
        long_backward_pairs_per_launch, long_pairs_per_launch, FLAG_VECTOR, LONG_WORKSPACE_BYTES,
    };

    #[test]
    fn launch_groups_cover_every_pair_once() {
        for (total, per_launch) in [(1u32, 4u64), (4, 4), (5, 4), (6, 4), (512, 512), (513, 512), (1000, 7), (3, 1)] {
            let groups: Vec<(u32, u32)> = launch_groups(total, per_launch).collect();
            assert_eq!(groups.len() as u64, (total as u64).div_ceil(per_launch), "{total} / {per_launch}");
            let mut next = 0;
            for &(pair0, pairs) in &groups {
                assert_eq!(pair0, next);
                assert!(pairs >= 1 && pairs as u64 <= per_launch);
                next += pairs;
            }
            assert_eq!(next, total);
        }
        // The largest pair count: no overflow in the last group.
        let last = launch_groups(u32::MAX, 4).last().expect("groups");
        assert_eq!(last, (u32::MAX - 3, 3));
        assert_eq!(launch_groups(u32::MAX, 4).count() as u64, (u32::MAX as u64).div_ceil(4));
    }

    use flashfftconv_abi::fftconv::{FLAG_IN_GATE, FLAG_OUT_GATE};

    #[test]
    fn every_group_fits_the_workspace() {
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            let per_launch = long_pairs_per_launch(log2_n);
            for (pair0, pairs) in launch_groups(3 * per_launch as u32 + 1, per_launch) {
                assert!(pairs as u64 * long_pair_bytes(log2_n) <= LONG_WORKSPACE_BYTES, "{log2_n} {pair0}");
            }
        }
        // 8M: 64 MiB per pair, 4 per launch; B = 3, H = 3 is 6 pairs in two launches.
        assert_eq!(long_pairs_per_launch(23), 4);
        let pairs = total_pairs(3, 3).expect("pairs");
        assert_eq!(launch_groups(pairs, 4).collect::<Vec<_>>(), [(0, 4), (4, 2)]);
    }

    #[test]
    fn pair_counts_are_checked() {
        assert_eq!(total_pairs(1, 1).expect("pairs"), 1);
        assert_eq!(total_pairs(3, 5).expect("pairs"), 10);
        assert_eq!(total_pairs(1, u32::MAX).expect("pairs"), u32::MAX);
        let e = total_pairs(3, u32::MAX).unwrap_err();
        assert!(matches!(e, Error::Unsupported { value, .. } if value == 2 * u32::MAX as u64), "{e}");
    }

    #[test]
    fn grids_follow_the_abi() {
        // 64K: N₁ = 8 rows of the mid pass per pair, C = 1024 columns: 8 in/out blocks per pair.
        let cfg = pass_config(LongPass::In, true, 16, 10).expect("config");
        assert_eq!(
            (cfg.grid_dim, cfg.block_dim, cfg.shared_mem_bytes),
            ((80, 1, 1), (256, 1, 1), long_outer_shared_bytes(true))
        );
        let cfg = pass_config(LongPass::In, false, 16, 10).expect("config");
        assert_eq!(cfg.shared_mem_bytes, long_outer_shared_bytes(false));
        let cfg = pass_config(LongPass::Mid, true, 16, 10).expect("config");
        assert_eq!((cfg.grid_dim, cfg.shared_mem_bytes), ((80, 1, 1), long_mid_shared_bytes(true)));
        // 8M: N₁ = 1024, C = 8: 1024 in/out blocks per pair.
        assert_eq!(pass_config(LongPass::Out, true, 23, 4).expect("config").grid_dim, (4096, 1, 1));
        assert_eq!(pass_config(LongPass::MidPrepare, true, 23, 4).expect("config").grid_dim, (4096, 1, 1));
        // The backward's mid passes take the mid grid; dk-sum has its own.
        for pass in [LongPass::MidSpectrum, LongPass::MidGrad] {
            let cfg = pass_config(pass, true, 16, 10).expect("config");
            assert_eq!((cfg.grid_dim, cfg.shared_mem_bytes), ((80, 1, 1), long_mid_shared_bytes(true)));
        }
        assert!(matches!(pass_config(LongPass::DkSum, true, 16, 10), Err(Error::Unsupported { .. })));
        // The largest launch of any size stays far below the grid limit.
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            let pairs = long_pairs_per_launch(log2_n) as u32;
            for pass in [
                LongPass::In,
                LongPass::Mid,
                LongPass::MidPrepare,
                LongPass::Out,
                LongPass::MidSpectrum,
                LongPass::MidGrad,
            ] {
                assert!(pass_config(pass, true, log2_n, pairs).expect("config").grid_dim.0 <= 1 << 20);
            }
        }
    }

    fn backward_params(batch: u32, heads: u32, kernel_len: u32, (pair0, pairs): (u32, u32)) -> LongFftParams {
        LongFftParams { batch, heads, len: kernel_len, flags: 0, log2_n: 20, pair0, pairs, reserved: 0 }
    }

    #[test]
    fn dk_sum_grid_spans_the_groups_heads() {
        // Heads spanned, from the grid (N₁ blocks per head at N = 1M).
        let grid = |lp: LongFftParams| {
            for split in [false, true] {
                let cfg = dk_sum_config(split, &lp).expect("config");
                assert_eq!((cfg.block_dim, cfg.shared_mem_bytes), ((256, 1, 1), long_mid_shared_bytes(split)));
            }
            let cfg = dk_sum_config(true, &lp).expect("config");
            assert_eq!(cfg.grid_dim.0 % (1 << long_outer_log2(20)), 0);
            cfg.grid_dim.0 >> long_outer_log2(20)
        };
        // B = 3: 2 pairs per head. Pairs 0..6 are heads 0..3.
        assert_eq!(grid(backward_params(3, 3, 1000, (0, 6))), 3);
        // A group starting and ending inside heads: pairs 3..6 are heads 1 (pair 3) and 2.
        assert_eq!(grid(backward_params(3, 3, 1000, (3, 3))), 2);
        assert_eq!(heads_spanned(&backward_params(3, 3, 1000, (3, 3))), (1, 2));
        // One pair (8M: two pairs per group).
        assert_eq!(heads_spanned(&backward_params(3, 1, 256, (1, 1))), (0, 1));
        // B = 1 and 2: one pair per head; B = 9: 5 per head, a group of 204 pairs from pair 0
        // spans heads 0 ..= 40, the next from 204 heads 40 ..= 81.
        assert_eq!(grid(backward_params(1, 300, 1, (0, 204))), 204);
        assert_eq!(heads_spanned(&backward_params(2, 300, 1, (204, 96))), (204, 96));
        assert_eq!(grid(backward_params(9, 100, 1, (0, 204))), 41);
        assert_eq!(heads_spanned(&backward_params(9, 100, 1, (204, 204))), (40, 42));
        // B = 64 (32 pairs per head): 8 pairs of one head.
        assert_eq!(heads_spanned(&backward_params(64, 4, 1, (40, 8))), (1, 1));
        // The largest: u32::MAX heads of one pair each; its last pair.
        let lp = backward_params(1, u32::MAX, 1 << 23, (u32::MAX - 1, 1));
        assert_eq!(heads_spanned(&lp), (u32::MAX - 1, 1));
    }

    #[test]
    fn backward_groups_fit_the_workspace() {
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            let per_launch = long_backward_pairs_per_launch(log2_n);
            assert!(per_launch >= 1 && per_launch < long_pairs_per_launch(log2_n));
            for (pair0, pairs) in launch_groups(3 * per_launch as u32 + 1, per_launch) {
                let layout = backward_layout(log2_n, pairs);
                assert!(layout.end <= LONG_WORKSPACE_BYTES, "{log2_n} {pair0}");
                assert_eq!(layout.w2, pairs as u64 * long_pair_bytes(log2_n));
                assert_eq!(layout.end, 2 * layout.w2);
                // W2 starts 16-byte aligned, as the passes' vector accesses need (the workspace
                // itself is 256-byte aligned).
                assert!(layout.w2.is_multiple_of(16));
            }
        }
        // 64K: two rows of 8 · 64K bytes (and their exponent words) per pair, 256 pairs; 8M: 2.
        assert_eq!(long_backward_pairs_per_launch(16), 256);
        assert_eq!(long_backward_pairs_per_launch(23), 2);
        assert_eq!(backward_layout(16, 2), BackwardLayout { w2: 2 * ((1 << 19) + 64), end: 4 * ((1 << 19) + 64) });
    }

    fn backward_ptrs(aligned: bool, gates: bool, gate_grads: bool) -> FftConvBackwardPtrs {
        let at = |i: u64, given: bool| if given { (i << 20) + if aligned { 0 } else { 2 } } else { 0 };
        FftConvBackwardPtrs {
            u: at(1, true),
            in_gate: at(2, gates),
            out_gate: at(3, gates),
            dy: at(4, true),
            prepared: 5 << 20,
            du: at(6, true),
            d_in_gate: at(7, gate_grads),
            d_out_gate: at(8, gate_grads),
            workspace: 9 << 20,
        }
    }

    #[test]
    fn backward_passes_get_their_own_flags() {
        let p = FftConvParams {
            batch: 3,
            heads: 7,
            len: 70000,
            kernel_len: 5000,
            flags: FLAG_VECTOR | FLAG_IN_GATE,
            chunks: 0,
            pairs_per_chunk: 0,
            reserved: 0,
        };
        let gp = backward_group_params(&p, 17, (8, 4), &backward_ptrs(true, true, true), 1 << 30);
        let call = group_params(&FftConvParams { flags: 0, ..p }, 17, (8, 4));
        let with = |flags| LongFftParams { flags, ..call };
        let (v, ig, og) = (FLAG_VECTOR, FLAG_IN_GATE, FLAG_OUT_GATE);
        assert_eq!(gp.in_u, with(ig | v));
        assert_eq!(gp.in_dy, with(ig | v)); // out_gate is the in pass's input gate
        assert_eq!(gp.rows, with(0));
        assert_eq!(gp.out_du, with(og | v));
        assert_eq!(gp.out_d_out_gate, with(og | v));
        // `dk`: one "pair" per head the group spans (pairs 8..12 of 2 per head: heads 4, 5),
        // rows of Lk f32 from `first_head`'s.
        assert_eq!(
            gp.out_dk,
            LongFftParams { batch: 1, heads: 2, len: 5000, flags: v, log2_n: 17, pair0: 0, pairs: 2, reserved: 0 }
        );
        // `dk`'s vector path: from its own pointer and Lk.
        let p_odd_lk = FftConvParams { kernel_len: 5001, ..p };
        let ptrs = backward_ptrs(true, true, true);
        assert_eq!(backward_group_params(&p_odd_lk, 17, (8, 4), &ptrs, 1 << 30).out_dk.flags, 0);
        assert_eq!(backward_group_params(&p, 17, (8, 4), &ptrs, (1 << 30) + 4).out_dk.flags, 0);
        assert_eq!((gp.out_dk.pairs_per_head(), gp.first_head), (1, 4));

        // No gates: no gate flags (d_in_gate / d_out_gate are not launched then).
        let gp = backward_group_params(&p, 17, (8, 4), &backward_ptrs(true, false, false), 1 << 30);
        assert_eq!((gp.in_u, gp.in_dy, gp.out_du), (with(v), with(v), with(v)));
        // Misaligned pointers or L % 8 ≠ 0: no vector path, per pass.
        let gp = backward_group_params(&p, 17, (8, 4), &backward_ptrs(false, true, true), 1 << 30);
        assert_eq!((gp.in_u, gp.in_dy, gp.out_du), (with(ig), with(ig), with(og)));
        let odd = FftConvParams { len: 70001, ..p };
        let gp = backward_group_params(&odd, 17, (8, 4), &backward_ptrs(true, true, true), 1 << 30);
        assert_eq!(gp.in_u.flags, ig);
        // Only the pass whose pointer is misaligned loses the vector path (`d_in_gate` is
        // written by the `du` pass).
        let mut ptrs = backward_ptrs(true, true, true);
        ptrs.d_in_gate += 2;
        let gp = backward_group_params(&p, 17, (8, 4), &ptrs, 1 << 30);
        assert_eq!((gp.out_du.flags, gp.out_d_out_gate.flags, gp.in_u.flags), (og, og | v, ig | v));
    }

    #[test]
    fn group_params_carry_the_call() {
        let p = FftConvParams {
            batch: 3,
            heads: 7,
            len: 70000,
            kernel_len: 5,
            flags: FLAG_IN_GATE | FLAG_OUT_GATE | FLAG_VECTOR,
            chunks: 0,
            pairs_per_chunk: 0,
            reserved: 0,
        };
        let lp = group_params(&p, 17, (8, 6));
        assert_eq!(
            lp,
            LongFftParams {
                batch: 3,
                heads: 7,
                len: 70000,
                flags: p.flags,
                log2_n: 17,
                pair0: 8,
                pairs: 6,
                reserved: 0
            }
        );
        assert_eq!(lp.pairs_per_head(), 2);
    }

    #[test]
    fn shared_memory_limits_name_the_pass() {
        // 227 KiB, the opt-in limit of an H100.
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            check_shared_memory(log2_n, 232_448).expect("fits an H100");
        }
        let limit = long_outer_shared_bytes(true).min(long_mid_shared_bytes(true)) as u64 - 1;
        let e = check_shared_memory(20, limit).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("fftconv_long_"), "{text}");
        assert!(text.contains(&limit.to_string()), "{text}");
    }

    #[test]
    fn long_kernel_names() {
        let names = kernel_names();
        // Per size: in (bf16, f16, f32, unsplit bf16) and out (the same and unsplit f32); mid,
        // mid-spectrum, mid-spectrum-conv, mid-grad and dk-sum (split and not), mid-prepare once.
        assert_eq!(names.len(), 8 * 9 + 11);
        for name in [
            "fftconv_long_in_n65536_f32",
            "fftconv_long_out_n8388608_bf16",
            "fftconv_long_out_n65536_f32",
            "fftconv_long_mid_prepare",
            "fftconv_long_mid_unsplit",
            "fftconv_long_mid_grad_unsplit",
            "fftconv_long_in_n1048576_bf16_unsplit",
            "fftconv_long_out_n2097152_f32_unsplit",
            "fftconv_long_mid_spectrum",
            "fftconv_long_dk_sum",
            "fftconv_long_dk_sum_unsplit",
        ] {
            assert!(names.contains(&name), "{name}");
        }
    }
}
