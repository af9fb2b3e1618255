//! The long sizes (`N = 65536 … 8388608`): `prepare` and `forward` as three passes through the
//! plan's workspace (`flashfftconv_abi::fftconv`, "Long sizes", describes the passes).
//!
//! The `H · ⌈B/2⌉` row pairs (head-major, as on chip; for `prepare`, the `H` rows of `k`) are
//! taken in launch groups of at most [`long_pairs_per_launch`] pairs, the workspace's capacity.
//! Per group: *in* (rows → workspace), *mid* (row transforms and the kernel product, in place;
//! for `prepare`, *mid-prepare* writing the spectrum instead) and, for `forward`, *out*
//! (workspace → `y`). Every launch of a call is queued on the caller's stream while the call
//! holds the workspace's lock and its cudarc write guard.

use super::{kernel_device_ptr, raw_ptr, shared_memory_message, FftConv, FftElement, FftInput, Gates, KernelInput};
use crate::checks::grid_x;
use crate::context::Gpu;
use crate::error::{Error, Result};
use crate::launch::{self, DevicePtr, FftConvForwardPtrs};
use cudarc::driver::{
    CudaFunction, CudaSlice, CudaStream, CudaView, CudaViewMut, DevicePtr as _, DevicePtrMut as _, LaunchConfig,
};
use flashfftconv_abi::fftconv::{
    long_column_groups, long_outer_log2, long_pairs_per_launch, prepared_len, FftConvParams, LongFftParams, LongPass,
    LONG_MAX_LOG2_N, LONG_MID_SHARED_BYTES, LONG_MIN_LOG2_N, LONG_OUTER_SHARED_BYTES, THREADS,
};
use flashfftconv_abi::DType;
use std::sync::{Arc, Mutex, MutexGuard};

/// Every pass with the dtypes the host launches it for: *in* for the data dtypes and f32 (the
/// kernel `k`), *out* for the data dtypes, *mid* and *mid-prepare* once (their names do not depend
/// on the dtype).
const PASS_DTYPES: [(LongPass, DType); 7] = [
    (LongPass::In, DType::BF16),
    (LongPass::In, DType::F16),
    (LongPass::In, DType::F32),
    (LongPass::Mid, DType::F32),
    (LongPass::MidPrepare, DType::F32),
    (LongPass::Out, DType::BF16),
    (LongPass::Out, DType::F16),
];

/// Dynamic shared memory of a pass's launches.
pub(super) const fn pass_shared_bytes(pass: LongPass) -> u32 {
    match pass {
        LongPass::In | LongPass::Out => LONG_OUTER_SHARED_BYTES,
        LongPass::Mid | LongPass::MidPrepare => LONG_MID_SHARED_BYTES,
    }
}

/// Fails when a long pass needs more dynamic shared memory per block than `limit` bytes.
pub(super) fn check_shared_memory(log2_n: u32, limit: u64) -> Result<()> {
    for (pass, dtype) in PASS_DTYPES {
        let needed = pass_shared_bytes(pass) as u64;
        if needed > limit {
            return Err(Error::Unsupported {
                what: "fft_size",
                value: 1 << log2_n,
                expected: shared_memory_message(
                    pass.entry_name(log2_n, dtype).unwrap_or("fftconv_long"),
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
        for (pass, dtype) in PASS_DTYPES {
            if let Some(name) = pass.entry_name(log2_n, dtype) {
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

/// The launch configuration of a pass over `pairs` pairs for `N = 2^log2_n`: grid
/// `pairs · long_column_groups` for *in* and *out*, `pairs · N₁` for the *mid* passes (computed
/// in `u64`, checked against the grid limit).
pub(super) fn pass_config(pass: LongPass, log2_n: u32, pairs: u32) -> Result<LaunchConfig> {
    let per_pair = match pass {
        LongPass::In | LongPass::Out => long_column_groups(log2_n) as u64,
        LongPass::Mid | LongPass::MidPrepare => 1u64 << long_outer_log2(log2_n),
    };
    Ok(LaunchConfig {
        grid_dim: (grid_x(pairs as u64 * per_pair)?, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: pass_shared_bytes(pass),
    })
}

/// The parameters of one launch group of a call with parameters `p` (its flags included).
pub(super) fn group_params(p: &FftConvParams, log2_n: u32, (pair0, pairs): (u32, u32)) -> LongFftParams {
    LongFftParams { batch: p.batch, heads: p.heads, len: p.len, flags: p.flags, log2_n, pair0, pairs, reserved: 0 }
}

impl FftConv {
    /// The loaded kernel of `pass` for this size and `dtype`, its shared-memory limit raised to
    /// what the pass's launches use.
    fn long_function(&self, gpu: &Gpu, pass: LongPass, dtype: DType) -> Result<CudaFunction> {
        let name = pass.entry_name(self.log2_n, dtype).ok_or(Error::Unsupported {
            what: "fft_size",
            value: self.fft_size() as u64,
            expected: format!("a size and dtype with a kernel (dtype {})", dtype.name()),
        })?;
        gpu.function_with_shared(name, pass_shared_bytes(pass))
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
        let input = self.long_function(gpu, LongPass::In, T::DTYPE)?;
        let mid = self.long_function(gpu, LongPass::Mid, T::DTYPE)?;
        let output = self.long_function(gpu, LongPass::Out, T::DTYPE)?;
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

        for group in launch_groups(pairs, long_pairs_per_launch(self.log2_n)) {
            let lp = group_params(&p, self.log2_n, group);
            let outer = pass_config(LongPass::In, self.log2_n, lp.pairs)?;
            let rows = pass_config(LongPass::Mid, self.log2_n, lp.pairs)?;
            // SAFETY: the kernels match T and N and their shared-memory limits were raised to the
            // configs' sizes (≤ the device's opt-in limit, checked by `new`), with the grids the
            // passes take for `lp.pairs` pairs; u, the given gates and y hold B · H · L elements
            // (checked by `forward`), gate flags match the non-zero gates and FLAG_VECTOR was
            // derived from these very pointers; the group lies inside the H · ⌈B/2⌉ pairs and
            // holds at most `long_pairs_per_launch` of them, which the workspace (this plan's,
            // locked, LONG_WORKSPACE_BYTES) holds; the three launches of a group are queued in
            // order on one stream; `ptrs.prepared` is a spectrum of H heads for N (checked, or
            // queued just before on this stream); y overlaps no input; the guards keep every
            // buffer's stream tracking until after the launches.
            unsafe {
                launch::fftconv_long_in(stream, &input, outer, ptrs.u, ptrs.in_gate, workspace_ptr, lp)?;
                launch::fftconv_long_mid(stream, &mid, rows, workspace_ptr, ptrs.prepared, lp)?;
                launch::fftconv_long_out(stream, &output, outer, workspace_ptr, ptrs.out_gate, ptrs.y, lp)?;
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
        for group in launch_groups(heads, long_pairs_per_launch(self.log2_n)) {
            let lp = group_params(&p, self.log2_n, group);
            let outer = pass_config(LongPass::In, self.log2_n, lp.pairs)?;
            let rows = pass_config(LongPass::MidPrepare, self.log2_n, lp.pairs)?;
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
            input: conv.long_function(gpu, LongPass::In, DType::F32)?,
            mid: conv.long_function(gpu, LongPass::MidPrepare, DType::F32)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashfftconv_abi::fftconv::{long_pair_bytes, FLAG_IN_GATE, FLAG_OUT_GATE, FLAG_VECTOR, LONG_WORKSPACE_BYTES};

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
        // 64K: N₁ = 4 rows of the mid pass per pair, C = 2048 columns: 8 in/out blocks per pair.
        let cfg = pass_config(LongPass::In, 16, 10).expect("config");
        assert_eq!(
            (cfg.grid_dim, cfg.block_dim, cfg.shared_mem_bytes),
            ((80, 1, 1), (256, 1, 1), LONG_OUTER_SHARED_BYTES)
        );
        let cfg = pass_config(LongPass::Mid, 16, 10).expect("config");
        assert_eq!((cfg.grid_dim, cfg.shared_mem_bytes), ((40, 1, 1), LONG_MID_SHARED_BYTES));
        // 8M: N₁ = 512, C = 16: 1024 in/out blocks per pair.
        assert_eq!(pass_config(LongPass::Out, 23, 4).expect("config").grid_dim, (4096, 1, 1));
        assert_eq!(pass_config(LongPass::MidPrepare, 23, 4).expect("config").grid_dim, (2048, 1, 1));
        // The largest launch of any size stays far below the grid limit.
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            let pairs = long_pairs_per_launch(log2_n) as u32;
            for pass in [LongPass::In, LongPass::Mid, LongPass::MidPrepare, LongPass::Out] {
                assert!(pass_config(pass, log2_n, pairs).expect("config").grid_dim.0 <= 1 << 20);
            }
        }
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
        let limit = LONG_OUTER_SHARED_BYTES as u64;
        let e = check_shared_memory(20, limit).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("fftconv_long_mid") && text.contains(&LONG_MID_SHARED_BYTES.to_string()), "{text}");
        assert!(text.contains(&limit.to_string()), "{text}");
    }

    #[test]
    fn long_kernel_names() {
        let names = kernel_names();
        // Per size: in (bf16, f16, f32) and out (bf16, f16); mid and mid-prepare once.
        assert_eq!(names.len(), 8 * 5 + 2);
        for name in ["fftconv_long_in_n65536_f32", "fftconv_long_out_n8388608_bf16", "fftconv_long_mid_prepare"] {
            assert!(names.contains(&name), "{name}");
        }
    }
}
