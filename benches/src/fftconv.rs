//! The FFT-convolution benchmark of issue 3: gated conv (`y = out_gate ⊙ conv(in_gate ⊙ u, k)`),
//! bf16 and f16, B = 64, H = 768, causal (N = 2L, Lk = L) for L ∈ {256, 1K, 4K, 8K, 16K} and
//! circular (N = L = Lk) for L ∈ {256, 1K, 4K, 8K, 16K, 32K}; plus ungated circular
//! N ∈ {1K, 4K} with B = 16, H = 1024.
//!
//! Per row: forward with a prepared kernel (the timed path of the goals), forward with a raw
//! kernel (spectrum computed in the call), backward (prepared kernel; du, dk and both gate
//! gradients); the memory floor (bytes read and written once over the measured copy
//! bandwidth); the issue's goals; and two baselines measured in the same process run: a cuFFT
//! gated conv through cudarc ([`crate::cufft_baseline`]) and PyTorch's `torch.fft`
//! (`benches/python/fftconv_torch.py`, run by the `bench` binary after the Rust rows).
//!
//! # Long sizes (issue 4: `bench --op fftconv --long`)
//!
//! [`long_table_shapes`]: gated bf16, causal (N = 2L, Lk = L) for L = 32K, 1M, 2M, 4M and
//! circular (N = L = Lk) for L = 1M, 2M, 4M, each measured at the target's B = 64 and
//! H = 2²⁸ / (64·L) heads (2²⁸ elements, 512 MiB, per `(B, H, L)` tensor: H = 128, 4, 2, 1 at
//! L = 32K, 1M, 2M, 4M), which leaves room on an 80-GB card for the cuFFT and PyTorch baselines
//! (the cuFFT conv's f32 rows and spectra take 16 bytes per point of `B·H·N`). B = 64 keeps what
//! the target shares between rows: 32 row pairs per head read one kernel spectrum, as at
//! H = 768. (Until 2026-11-28 the rows were measured at B = 2, where each pair reads its own
//! head's spectrum, and at B = 32, H = 768 for L = 32K.) All times are scaled linearly to B = 64,
//! H = 768 ([`FftConvBenchShape::time_scale`]), as the original FlashFFTConv reported them. The
//! row keeps the measured times; the table shows them scaled. The floor ratio is the measured
//! time over the measured shape's floor. The backward is timed as on chip (prepared kernel, du,
//! dk and both gate gradients) and held to the same bound on its ratio to the forward (2.5) as
//! issue 3's rows.

use crate::cufft_baseline::{CufftConv, CufftKernels};
use crate::{median_time, rotation_sets, Timing};
use flashfftconv::cudarc::driver::{CudaSlice, CudaStream, CudaView, DriverError, ValidAsZeroBits};
use flashfftconv::{half, FftConv, FftConvGrads, FftElement, FftInput, Gates, Gpu, KernelInput};
use flashfftconv_abi::fftconv::prepared_len;
use serde::Serialize;
use std::sync::Arc;

/// One benchmark row's shape.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct FftConvBenchShape {
    /// "causal" (N = 2L, Lk = L) or "circular" (N = L = Lk).
    pub setting: &'static str,
    /// Both gates given (else neither).
    pub gated: bool,
    /// "bf16" or "f16".
    pub dtype: &'static str,
    /// B.
    pub batch: usize,
    /// H.
    pub heads: usize,
    /// L.
    pub len: usize,
    /// N.
    pub fft_size: usize,
    /// Lk.
    pub kernel_len: usize,
    /// `(B, H)` the row's times are scaled to (linearly in `B · H`), when measured at a smaller
    /// shape; `None`: reported as measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaled_to: Option<(usize, usize)>,
}

impl FftConvBenchShape {
    /// Causal gated conv: N = 2L, Lk = L.
    pub fn causal(dtype: &'static str, batch: usize, heads: usize, len: usize) -> Self {
        FftConvBenchShape {
            setting: "causal",
            gated: true,
            dtype,
            batch,
            heads,
            len,
            fft_size: 2 * len,
            kernel_len: len,
            scaled_to: None,
        }
    }

    /// Circular conv: N = L = Lk.
    pub fn circular(dtype: &'static str, gated: bool, batch: usize, heads: usize, len: usize) -> Self {
        FftConvBenchShape {
            setting: "circular",
            gated,
            dtype,
            batch,
            heads,
            len,
            fft_size: len,
            kernel_len: len,
            scaled_to: None,
        }
    }

    /// The same shape measured at `(batch, heads)` and reported scaled to its current `(B, H)`.
    pub fn measured_at(self, batch: usize, heads: usize) -> Self {
        FftConvBenchShape { scaled_to: Some((self.batch, self.heads)), batch, heads, ..self }
    }

    /// Factor from measured times to the reported `(B, H)`: `B'·H' / (B·H)` (1 when not scaled).
    pub fn time_scale(&self) -> f64 {
        match self.scaled_to {
            Some((b, h)) => (b * h) as f64 / (self.batch * self.heads) as f64,
            None => 1.0,
        }
    }

    /// `(B, H)` the row reports: the scaled-to shape, else the measured one.
    pub fn reported_batch_heads(&self) -> (usize, usize) {
        self.scaled_to.unwrap_or((self.batch, self.heads))
    }

    /// Whether N is a long size (issue 4).
    pub fn is_long(&self) -> bool {
        self.fft_size > 32768
    }

    /// Elements of a `(B, H, L)` tensor.
    pub fn elements(&self) -> usize {
        self.batch * self.heads * self.len
    }

    /// Bytes the forward must move at least: u, y (and both gates) once, and the prepared
    /// kernel spectrum once.
    pub fn fwd_bytes(&self) -> u64 {
        let tensors = if self.gated { 4 } else { 2 };
        tensors * self.elements() as u64 * 2 + self.prepared_bytes()
    }

    /// Bytes the backward must move at least: u, dy, du (and both gates and their gradients),
    /// the prepared spectrum and dk once.
    pub fn bwd_bytes(&self) -> u64 {
        let tensors = if self.gated { 7 } else { 3 };
        tensors * self.elements() as u64 * 2 + self.prepared_bytes() + (self.heads * self.kernel_len) as u64 * 4
    }

    fn prepared_bytes(&self) -> u64 {
        prepared_len(self.heads as u64, self.fft_size as u64) * 4
    }

    /// The issue's forward goal in ms at the reported `(B, H)` (gated rows; the same for both
    /// dtypes and settings up to L = 32K; issue 4's causal rows beyond).
    pub fn goal_fwd_ms(&self) -> Option<f64> {
        if !self.gated {
            return None;
        }
        if self.len > 32768 {
            // Issue 4: causal bf16 at B = 64, H = 768, 0.4× the original's published times.
            let causal = self.setting == "causal" && self.dtype == "bf16" && self.reported_batch_heads() == (64, 768);
            return match self.len {
                1048576 if causal => Some(708.0),
                2097152 if causal => Some(1850.0),
                4194304 if causal => Some(4020.0),
                _ => None,
            };
        }
        match self.len {
            256 => Some(0.051),
            1024 => Some(0.145),
            4096 => Some(0.715),
            8192 => Some(1.62),
            16384 => Some(3.24),
            32768 => Some(6.5),
            _ => None,
        }
    }

    /// Issue 3's bound on forward / memory floor: 1.5 gated, 1.3 ungated; none for the long
    /// sizes (issue 4 asks for the ratio, without a bound).
    pub fn goal_floor_ratio(&self) -> Option<f64> {
        if self.is_long() {
            None
        } else if self.gated {
            Some(1.5)
        } else {
            Some(1.3)
        }
    }

    /// The original FlashFFTConv's forward on the H100 (bf16, gated, B = 64, H = 768), ms: as
    /// quoted in issue 3 (causal, L ≤ 16K) and as measured in issue 4 (circular N = L = 1M, 2M,
    /// 4M, scaled to B = 64, H = 768).
    pub fn original_fwd_ms(&self) -> Option<f64> {
        if !(self.gated && self.dtype == "bf16" && self.reported_batch_heads() == (64, 768)) {
            return None;
        }
        if self.setting == "circular" {
            return match self.len {
                1048576 => Some(2226.0),
                2097152 => Some(5834.0),
                4194304 => Some(15489.0),
                _ => None,
            };
        }
        match self.len {
            256 => Some(0.213),
            1024 => Some(0.831),
            4096 => Some(3.80),
            8192 => Some(16.5),
            16384 => Some(36.6),
            _ => None,
        }
    }
}

/// Backward / forward bound of issue 3.
pub const GOAL_BWD_OVER_FWD: f64 = 2.5;

/// The issue-3 table: per dtype, causal then circular gated rows (B = 64, H = 768), then the
/// ungated circular rows (B = 16, H = 1024).
pub fn table_shapes() -> Vec<FftConvBenchShape> {
    let mut shapes = Vec::new();
    for dtype in ["bf16", "f16"] {
        for len in [256, 1024, 4096, 8192, 16384] {
            shapes.push(FftConvBenchShape::causal(dtype, 64, 768, len));
        }
        for len in [256, 1024, 4096, 8192, 16384, 32768] {
            shapes.push(FftConvBenchShape::circular(dtype, true, 64, 768, len));
        }
        for len in [1024, 4096] {
            shapes.push(FftConvBenchShape::circular(dtype, false, 16, 1024, len));
        }
    }
    shapes
}

/// Elements per `(B, H, L)` tensor at which the long rows are measured.
pub const LONG_MEASURED_ELEMENTS: usize = 1 << 28;

/// `(B, H)` a long row of length `len` is measured at: B = 64 and
/// H = [`LONG_MEASURED_ELEMENTS`] / (64·L), at least 1.
pub fn long_measured_batch_heads(len: usize) -> (usize, usize) {
    (64, (LONG_MEASURED_ELEMENTS / (64 * len)).max(1))
}

/// Issue 4's table (`--long`): gated bf16, causal L = 32K, 1M, 2M, 4M (N = 2L) and circular
/// N = L = 1M, 2M, 4M, and gated f16 causal and circular L = 1M, reported at B = 64, H = 768
/// (see the module docs for the measured shapes).
pub fn long_table_shapes() -> Vec<FftConvBenchShape> {
    let at = |shape: FftConvBenchShape| {
        let (b, h) = long_measured_batch_heads(shape.len);
        if (b, h) == (shape.batch, shape.heads) {
            shape
        } else {
            shape.measured_at(b, h)
        }
    };
    let mut shapes = Vec::new();
    for len in [32768, 1 << 20, 1 << 21, 1 << 22] {
        shapes.push(at(FftConvBenchShape::causal("bf16", 64, 768, len)));
    }
    for len in [1 << 20, 1 << 21, 1 << 22] {
        shapes.push(at(FftConvBenchShape::circular("bf16", true, 64, 768, len)));
    }
    // f16 (split planes in every pass), not in the issue's table: L = 1M, both settings.
    shapes.push(at(FftConvBenchShape::causal("f16", 64, 768, 1 << 20)));
    shapes.push(at(FftConvBenchShape::circular("f16", true, 64, 768, 1 << 20)));
    shapes
}

/// Two long rows for a smoke run: causal L = 32K and L = 4M.
pub fn long_quick_shapes() -> Vec<FftConvBenchShape> {
    long_table_shapes().into_iter().filter(|s| s.setting == "causal" && (s.len == 32768 || s.len == 1 << 22)).collect()
}

/// Three rows for a smoke run: bf16 causal L = 1K, f16 circular L = 8K, bf16 ungated N = 4K.
pub fn quick_shapes() -> Vec<FftConvBenchShape> {
    vec![
        FftConvBenchShape::causal("bf16", 64, 768, 1024),
        FftConvBenchShape::circular("f16", true, 64, 768, 8192),
        FftConvBenchShape::circular("bf16", false, 16, 1024, 4096),
    ]
}

/// One measured row. Times are medians in ms; `None` where the step failed (see the notes).
#[derive(Clone, Debug, Serialize)]
pub struct FftConvBenchRow {
    /// The shape.
    #[serde(flatten)]
    pub shape: FftConvBenchShape,
    /// Forward with a prepared kernel.
    pub fwd_ms: Option<f64>,
    /// Forward with a raw kernel (its spectrum computed in the call).
    pub fwd_raw_ms: Option<f64>,
    /// Backward with a prepared kernel: du, dk (and both gate gradients when gated).
    pub bwd_ms: Option<f64>,
    /// Forward floor: [`FftConvBenchShape::fwd_bytes`] / copy bandwidth.
    pub fwd_floor_ms: f64,
    /// Backward floor: [`FftConvBenchShape::bwd_bytes`] / copy bandwidth.
    pub bwd_floor_ms: f64,
    /// Issue 3's forward goal.
    pub goal_fwd_ms: Option<f64>,
    /// Issue 3's bound on forward / floor (none for the long sizes).
    pub goal_fwd_floor_ratio: Option<f64>,
    /// The original's published H100 forward (bf16 causal rows only).
    pub original_fwd_ms: Option<f64>,
    /// Bytes of the stream-ordered workspace the backward allocates.
    pub bwd_workspace_bytes: usize,
    /// Bytes of the workspace the plan holds (long sizes; absent for on-chip sizes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_workspace_bytes: Option<usize>,
    /// Factor from the measured times to the reported `(B, H)` (`scaled_to`); absent when the
    /// times are reported as measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// Why flashfftconv's numbers are missing, if they are.
    pub error: Option<String>,
    /// cuFFT gated conv forward (kernel spectrum precomputed).
    pub cufft_fwd_ms: Option<f64>,
    /// Relative L2 difference between the cuFFT baseline's y and ours on the first up to
    /// 2²⁰ elements (sanity check: both are within a few roundings of the exact answer).
    pub cufft_vs_ours_rel_l2: Option<f64>,
    /// Why the cuFFT baseline is missing, if it is.
    pub cufft_note: Option<String>,
    /// PyTorch `torch.fft` forward (kernel spectrum precomputed).
    pub torch_fwd_ms: Option<f64>,
    /// PyTorch backward (autograd through rfft/irfft, gradients of u, k and the gates).
    pub torch_bwd_ms: Option<f64>,
    /// Why PyTorch is missing, if it is (e.g. out of memory).
    pub torch_note: Option<String>,
}

impl FftConvBenchRow {
    fn new(shape: &FftConvBenchShape, copy_bw: f64) -> Self {
        FftConvBenchRow {
            shape: *shape,
            fwd_ms: None,
            fwd_raw_ms: None,
            bwd_ms: None,
            fwd_floor_ms: shape.fwd_bytes() as f64 / copy_bw * 1e3,
            bwd_floor_ms: shape.bwd_bytes() as f64 / copy_bw * 1e3,
            goal_fwd_ms: shape.goal_fwd_ms(),
            goal_fwd_floor_ratio: shape.goal_floor_ratio(),
            original_fwd_ms: shape.original_fwd_ms(),
            bwd_workspace_bytes: 0,
            plan_workspace_bytes: None,
            time_scale: shape.scaled_to.map(|_| shape.time_scale()),
            error: None,
            cufft_fwd_ms: None,
            cufft_vs_ours_rel_l2: None,
            cufft_note: None,
            torch_fwd_ms: None,
            torch_bwd_ms: None,
            torch_note: None,
        }
    }

    /// A measured time scaled to the reported `(B, H)`.
    pub fn scaled(&self, ms: Option<f64>) -> Option<f64> {
        ms.map(|ms| ms * self.time_scale.unwrap_or(1.0))
    }

    /// The goals this row misses ("met" when none, "–" when not measured). The time goal is
    /// compared with the forward scaled to the reported `(B, H)`.
    pub fn verdict(&self) -> String {
        let Some(fwd) = self.fwd_ms else { return "–".into() };
        let mut misses = Vec::new();
        if let (Some(goal), Some(scaled)) = (self.goal_fwd_ms, self.scaled(self.fwd_ms)) {
            if scaled > goal {
                misses.push(format!("fwd {scaled:.3} > {goal}"));
            }
        }
        let ratio = fwd / self.fwd_floor_ms;
        if let Some(bound) = self.goal_fwd_floor_ratio {
            if ratio > bound {
                misses.push(format!("floor× {ratio:.2} > {bound}"));
            }
        }
        if let Some(bwd) = self.bwd_ms {
            if bwd / fwd > GOAL_BWD_OVER_FWD {
                misses.push(format!("bwd/fwd {:.2} > {GOAL_BWD_OVER_FWD}", bwd / fwd));
            }
        }
        if misses.is_empty() {
            "met".into()
        } else {
            misses.join("; ")
        }
    }
}

/// Device memory one rotation set of a row uses, forward buffers only (u, y, gates).
fn set_bytes(shape: &FftConvBenchShape) -> u64 {
    shape.fwd_bytes()
}

/// A uniform value in [−1, 1) from an index and a salt (SplitMix64).
fn hash_uniform(i: u64, salt: u64) -> f64 {
    let mut z = i.wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// A device buffer of `len` pseudo-random values in [−1, 1): one host chunk of up to 2²² values
/// uploaded once and copied device-to-device along the buffer (fast even for GB tensors; the
/// data repeat with that period, which timing does not notice).
fn random_device<T: FftElement + ValidAsZeroBits>(
    stream: &Arc<CudaStream>,
    len: usize,
    salt: u64,
) -> Result<CudaSlice<T>, DriverError> {
    let chunk_len = len.clamp(1, 1 << 22);
    let host: Vec<T> = (0..chunk_len as u64).map(|i| T::from_f64(hash_uniform(i, salt))).collect();
    let chunk = stream.clone_htod(&host)?;
    let mut buf = stream.alloc_zeros::<T>(len)?;
    let mut at = 0;
    while at < len {
        let m = chunk_len.min(len - at);
        stream.memcpy_dtod(&chunk.slice(0..m), &mut buf.slice_mut(at..at + m))?;
        at += m;
    }
    Ok(buf)
}

/// Forward buffers of one rotation set.
struct FwdSet<T> {
    u: CudaSlice<T>,
    in_gate: Option<CudaSlice<T>>,
    out_gate: Option<CudaSlice<T>>,
    y: CudaSlice<T>,
}

/// Views of a set's inputs: u and the gates that are given.
type InputViews<'a, T> = (CudaView<'a, T>, Option<CudaView<'a, T>>, Option<CudaView<'a, T>>);

fn views<'a, T>(
    u: &'a CudaSlice<T>,
    in_gate: &'a Option<CudaSlice<T>>,
    out_gate: &'a Option<CudaSlice<T>>,
) -> InputViews<'a, T> {
    (u.as_view(), in_gate.as_ref().map(|g| g.as_view()), out_gate.as_ref().map(|g| g.as_view()))
}

/// Backward buffers of one rotation set (its inputs u and the gates are the forward set's).
struct BwdSet<T> {
    dy: CudaSlice<T>,
    du: CudaSlice<T>,
    d_in_gate: Option<CudaSlice<T>>,
    d_out_gate: Option<CudaSlice<T>>,
}

/// Measures one row: ours (prepared forward, raw forward, backward; with `min_workspace` a long
/// size's plan holds the smallest workspace its backward takes, one row pair per backward
/// group), then the cuFFT baseline when `cufft` is available. Failures are recorded in the row,
/// not returned.
pub fn measure(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    shape: &FftConvBenchShape,
    copy_bw: f64,
    timing: Timing,
    min_workspace: bool,
    cufft: Option<&CufftKernels>,
) -> FftConvBenchRow {
    let mut row = FftConvBenchRow::new(shape, copy_bw);
    let result = match shape.dtype {
        "bf16" => measure_typed::<half::bf16>(gpu, stream, shape, timing, min_workspace, cufft, &mut row),
        "f16" => measure_typed::<half::f16>(gpu, stream, shape, timing, min_workspace, cufft, &mut row),
        other => Err(format!("unknown dtype {other}")),
    };
    if let Err(e) = result {
        row.error = Some(e);
    }
    // Whatever failed, leave nothing queued behind for the next row.
    let _ = stream.synchronize();
    row
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn measure_typed<T: FftElement + ValidAsZeroBits>(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    shape: &FftConvBenchShape,
    timing: Timing,
    min_workspace: bool,
    cufft: Option<&CufftKernels>,
    row: &mut FftConvBenchRow,
) -> Result<(), String> {
    let s = |e: flashfftconv::Error| e.to_string();
    let d = |e: DriverError| e.to_string();
    let (b, h, l, n, lk) = (shape.batch, shape.heads, shape.len, shape.fft_size, shape.kernel_len);
    let bhl = shape.elements();
    let sets = rotation_sets(gpu, set_bytes(shape)).map_err(s)?;
    // k uniform in [−1, 1) / √Lk keeps y near unit scale in both dtypes.
    let k_host: Vec<f32> = (0..(h * lk) as u64).map(|i| (hash_uniform(i, 99) / (lk as f64).sqrt()) as f32).collect();
    let k = stream.clone_htod(&k_host).map_err(d)?;
    let mut fwd_sets: Vec<FwdSet<T>> = Vec::with_capacity(sets);
    for set in 0..sets as u64 {
        fwd_sets.push(FwdSet {
            u: random_device(stream, bhl, 10 * set + 1).map_err(d)?,
            in_gate: shape.gated.then(|| random_device(stream, bhl, 10 * set + 2)).transpose().map_err(d)?,
            out_gate: shape.gated.then(|| random_device(stream, bhl, 10 * set + 3)).transpose().map_err(d)?,
            y: stream.alloc_zeros::<T>(bhl).map_err(d)?,
        });
    }

    let ours = (|| -> Result<(), String> {
        let conv = if min_workspace {
            let bytes = FftConv::min_workspace_bytes(n).map_err(s)?.backward;
            FftConv::with_workspace_bytes(gpu, n, bytes).map_err(s)?
        } else {
            FftConv::new(gpu, n).map_err(s)?
        };
        row.bwd_workspace_bytes = conv.backward_workspace_bytes(b, h);
        row.plan_workspace_bytes = Some(conv.workspace_bytes()).filter(|&bytes| bytes > 0);
        let prepared = conv.prepare(gpu, stream, &k.as_view(), h, lk).map_err(s)?;
        // One forward on a buffer set, with the kernel given either way.
        let forward = |set: &mut FwdSet<T>, kernel: KernelInput<'_, '_>| {
            let FwdSet { u, in_gate, out_gate, y } = set;
            let (u, ig, og) = views(u, in_gate, out_gate);
            conv.forward(
                gpu,
                stream,
                FftInput { u: &u, batch: b, heads: h, len: l },
                kernel,
                Gates { in_gate: ig.as_ref(), out_gate: og.as_ref() },
                &mut y.as_view_mut(),
            )
        };
        let fwd = median_time(gpu.context(), stream, timing, |i| {
            forward(&mut fwd_sets[i % sets], KernelInput::Prepared(&prepared))
        })
        .map_err(s)?;
        row.fwd_ms = Some(ms(fwd));
        let k_view = k.as_view();
        let fwd_raw = median_time(gpu.context(), stream, timing, |i| {
            forward(&mut fwd_sets[i % sets], KernelInput::Raw { k: &k_view, kernel_len: lk })
        })
        .map_err(s)?;
        row.fwd_raw_ms = Some(ms(fwd_raw));

        // Backward buffers exist only while the backward is timed.
        let mut bwd_sets: Vec<BwdSet<T>> = Vec::with_capacity(sets);
        for set in 0..sets as u64 {
            bwd_sets.push(BwdSet {
                dy: random_device(stream, bhl, 10 * set + 4).map_err(d)?,
                du: stream.alloc_zeros::<T>(bhl).map_err(d)?,
                d_in_gate: shape.gated.then(|| stream.alloc_zeros::<T>(bhl)).transpose().map_err(d)?,
                d_out_gate: shape.gated.then(|| stream.alloc_zeros::<T>(bhl)).transpose().map_err(d)?,
            });
        }
        let mut dk = stream.alloc_zeros::<f32>(h * lk).map_err(d)?;
        let bwd = median_time(gpu.context(), stream, timing, |i| {
            let FwdSet { u, in_gate, out_gate, .. } = &fwd_sets[i % sets];
            let (u, ig, og) = views(u, in_gate, out_gate);
            let set = &mut bwd_sets[i % sets];
            let mut d_in_gate = set.d_in_gate.as_mut().map(|g| g.as_view_mut());
            let mut d_out_gate = set.d_out_gate.as_mut().map(|g| g.as_view_mut());
            conv.backward(
                gpu,
                stream,
                FftInput { u: &u, batch: b, heads: h, len: l },
                KernelInput::Prepared(&prepared),
                Gates { in_gate: ig.as_ref(), out_gate: og.as_ref() },
                &set.dy.as_view(),
                FftConvGrads {
                    du: &mut set.du.as_view_mut(),
                    dk: &mut dk.as_view_mut(),
                    d_in_gate: d_in_gate.as_mut(),
                    d_out_gate: d_out_gate.as_mut(),
                },
            )
        })
        .map_err(s)?;
        row.bwd_ms = Some(ms(bwd));
        // Leave y of set 0 holding our forward for the cuFFT sanity check.
        forward(&mut fwd_sets[0], KernelInput::Prepared(&prepared)).map_err(s)?;
        stream.synchronize().map_err(d)?;
        Ok(())
    })();
    if let Err(e) = ours {
        row.error = Some(e);
        let _ = stream.synchronize();
    }

    let Some(kernels) = cufft else {
        row.cufft_note = Some("not run (see the bench's first lines)".into());
        return Ok(());
    };
    let baseline = (|| -> Result<(), crate::cufft_baseline::BoxError> {
        let mut plan = CufftConv::new(stream, b, h, l, n, &k_host, lk)?;
        let prefix = bhl.min(1 << 20);
        if row.error.is_none() {
            let ours_y: Vec<f64> =
                stream.clone_dtoh(&fwd_sets[0].y.slice(0..prefix))?.iter().map(|v| v.to_f64()).collect();
            let FwdSet { u, in_gate, out_gate, y } = &mut fwd_sets[0];
            let (u, ig, og) = views(u, in_gate, out_gate);
            plan.forward(kernels, stream, &u, ig.as_ref(), og.as_ref(), &mut y.as_view_mut())?;
            let theirs: Vec<f64> = stream.clone_dtoh(&y.slice(0..prefix))?.iter().map(|v| v.to_f64()).collect();
            row.cufft_vs_ours_rel_l2 = Some(flashfftconv_reference::rel_l2(&theirs, &ours_y));
        }
        let t = median_time(gpu.context(), stream, timing, |i| -> Result<(), crate::cufft_baseline::BoxError> {
            let FwdSet { u, in_gate, out_gate, y } = &mut fwd_sets[i % sets];
            let (u, ig, og) = views(u, in_gate, out_gate);
            plan.forward(kernels, stream, &u, ig.as_ref(), og.as_ref(), &mut y.as_view_mut())
        })?;
        row.cufft_fwd_ms = Some(ms(t));
        stream.synchronize()?;
        Ok(())
    })();
    if let Err(e) = baseline {
        row.cufft_note = Some(format!("cuFFT baseline failed: {e}"));
    }
    Ok(())
}

/// `a / b` as `"1.23×"`, `–` when either is missing.
fn times(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.4}"))
}

/// The markdown table of `rows` (header included).
pub fn markdown_table(rows: &[FftConvBenchRow]) -> String {
    let mut out = String::from(
        "| setting | dtype | gates | B | H | L | N | fwd ms | fwd / floor | goal ms | raw-k fwd ms | bwd ms | bwd / fwd \
         | cuFFT fwd ms | cuFFT / ours | torch fwd ms | torch / ours | torch bwd ms | torch bwd / ours \
         | original ms | goals |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let s = &r.shape;
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.setting,
            s.dtype,
            if s.gated { "in+out" } else { "none" },
            s.batch,
            s.heads,
            s.len,
            s.fft_size,
            opt_ms(r.fwd_ms),
            r.fwd_ms.map_or("–".into(), |f| format!("{:.2}", f / r.fwd_floor_ms)),
            r.goal_fwd_ms.map_or("–".into(), |g| format!("{g}")),
            opt_ms(r.fwd_raw_ms),
            opt_ms(r.bwd_ms),
            match (r.bwd_ms, r.fwd_ms) {
                (Some(b), Some(f)) => format!("{:.2}", b / f),
                _ => "–".into(),
            },
            opt_ms(r.cufft_fwd_ms),
            times(r.cufft_fwd_ms, r.fwd_ms),
            opt_ms(r.torch_fwd_ms),
            times(r.torch_fwd_ms, r.fwd_ms),
            opt_ms(r.torch_bwd_ms),
            times(r.torch_bwd_ms, r.bwd_ms),
            r.original_fwd_ms.map_or("–".into(), |o| format!("{o}")),
            r.verdict()
        );
    }
    out
}

/// The markdown table of long-size `rows` (`--long`): times scaled to the reported `(B, H)`
/// (the measured forward too, for reference); the backward and its ratio to the forward as in
/// [`markdown_table`].
pub fn long_markdown_table(rows: &[FftConvBenchRow]) -> String {
    let mut out = String::from(
        "| setting | dtype | gates | measured B×H | reported B×H | L | N | fwd ms (measured) | fwd ms | fwd / floor \
         | goal ms | raw-k fwd ms | bwd ms | bwd / fwd | cuFFT fwd ms | cuFFT / ours | torch fwd ms | torch / ours \
         | torch bwd ms | torch bwd / ours | original ms | original / ours | goals |\n\
         |---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let s = &r.shape;
        let (rb, rh) = s.reported_batch_heads();
        let fwd = r.scaled(r.fwd_ms);
        out += &format!(
            "| {} | {} | {} | {}×{} | {}×{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} \
             | {} | {} | {} |\n",
            s.setting,
            s.dtype,
            if s.gated { "in+out" } else { "none" },
            s.batch,
            s.heads,
            rb,
            rh,
            s.len,
            s.fft_size,
            opt_ms(r.fwd_ms),
            opt_ms(fwd),
            r.fwd_ms.map_or("–".into(), |f| format!("{:.2}", f / r.fwd_floor_ms)),
            r.goal_fwd_ms.map_or("–".into(), |g| format!("{g}")),
            opt_ms(r.scaled(r.fwd_raw_ms)),
            opt_ms(r.scaled(r.bwd_ms)),
            match (r.bwd_ms, r.fwd_ms) {
                (Some(b), Some(f)) => format!("{:.2}", b / f),
                _ => "–".into(),
            },
            opt_ms(r.scaled(r.cufft_fwd_ms)),
            times(r.cufft_fwd_ms, r.fwd_ms),
            opt_ms(r.scaled(r.torch_fwd_ms)),
            times(r.torch_fwd_ms, r.fwd_ms),
            opt_ms(r.scaled(r.torch_bwd_ms)),
            times(r.torch_bwd_ms, r.bwd_ms),
            r.original_fwd_ms.map_or("–".into(), |o| format!("{o}")),
            times(r.original_fwd_ms, fwd),
            r.verdict()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_issue_3() {
        let shapes = table_shapes();
        assert_eq!(shapes.len(), 26);
        for dtype in ["bf16", "f16"] {
            let causal: Vec<usize> =
                shapes.iter().filter(|s| s.dtype == dtype && s.setting == "causal").map(|s| s.len).collect();
            assert_eq!(causal, [256, 1024, 4096, 8192, 16384]);
            let circular: Vec<usize> = shapes
                .iter()
                .filter(|s| s.dtype == dtype && s.setting == "circular" && s.gated)
                .map(|s| s.len)
                .collect();
            assert_eq!(circular, [256, 1024, 4096, 8192, 16384, 32768]);
        }
        for s in &shapes {
            if s.gated {
                assert_eq!((s.batch, s.heads), (64, 768));
                assert!(s.goal_fwd_ms().is_some());
            } else {
                assert_eq!((s.batch, s.heads, s.setting), (16, 1024, "circular"));
            }
            if s.setting == "causal" {
                assert_eq!((s.fft_size, s.kernel_len), (2 * s.len, s.len));
            } else {
                assert_eq!((s.fft_size, s.kernel_len), (s.len, s.len));
            }
        }
        assert_eq!(quick_shapes().len(), 3);
    }

    #[test]
    fn floors_and_goals_agree_with_the_issue() {
        // The issue's goals are 1.5× a floor of 4 tensors at ~3.0 TB/s: L = 32K circular,
        // 4 · 64 · 768 · 32768 · 2 bytes = 12.9 GB → 4.3 ms; goal 6.5 ms.
        let s = FftConvBenchShape::circular("bf16", true, 64, 768, 32768);
        let floor_ms = s.fwd_bytes() as f64 / 3.0e12 * 1e3;
        assert!((floor_ms * 1.5 - 6.5).abs() < 0.2, "{floor_ms}");
        let mut row = FftConvBenchRow::new(&s, 3.0e12);
        assert_eq!(row.verdict(), "–");
        row.fwd_ms = Some(6.0);
        row.bwd_ms = Some(14.0);
        assert_eq!(row.verdict(), "met");
        row.bwd_ms = Some(16.0);
        assert!(row.verdict().contains("bwd/fwd"));
        row.fwd_ms = Some(7.0);
        assert!(row.verdict().contains("fwd 7.000 > 6.5"));
        assert_eq!(FftConvBenchShape::causal("bf16", 64, 768, 256).original_fwd_ms(), Some(0.213));
        assert_eq!(FftConvBenchShape::causal("f16", 64, 768, 256).original_fwd_ms(), None);
    }

    #[test]
    fn long_table_matches_issue_4() {
        let all = long_table_shapes();
        // The issue's bf16 rows, then two f16 rows (causal and circular 1M).
        let f16: Vec<(&str, usize)> = all.iter().filter(|s| s.dtype == "f16").map(|s| (s.setting, s.len)).collect();
        assert_eq!(f16, [("causal", 1 << 20), ("circular", 1 << 20)]);
        let shapes: Vec<FftConvBenchShape> = all.iter().filter(|s| s.dtype == "bf16").copied().collect();
        assert_eq!(shapes.len() + 2, all.len());
        let causal: Vec<usize> = shapes.iter().filter(|s| s.setting == "causal").map(|s| s.len).collect();
        assert_eq!(causal, [32768, 1 << 20, 1 << 21, 1 << 22]);
        let circular: Vec<usize> = shapes.iter().filter(|s| s.setting == "circular").map(|s| s.len).collect();
        assert_eq!(circular, [1 << 20, 1 << 21, 1 << 22]);
        for s in &all {
            assert!(s.gated && s.is_long());
            assert_eq!(s.reported_batch_heads(), (64, 768));
            if s.setting == "causal" {
                assert_eq!((s.fft_size, s.kernel_len), (2 * s.len, s.len));
                assert_eq!(s.goal_fwd_ms().is_some(), s.dtype == "bf16" && s.len > 32768 || s.len == 32768, "{s:?}");
            } else {
                assert_eq!((s.fft_size, s.kernel_len), (s.len, s.len));
                assert_eq!(s.original_fwd_ms().is_some(), s.dtype == "bf16", "{s:?}");
            }
            assert!(s.goal_floor_ratio().is_none());
            // What the measured shape needs on the device: its tensors, the prepared spectrum,
            // the raw path's temporary and the cuFFT baseline's f32 rows and spectra (~16N bytes
            // per row), well inside an 80-GB card.
            let rows = (s.batch * s.heads) as u64;
            let ours = s.fwd_bytes() + 2 * s.prepared_bytes() + (s.heads * s.kernel_len) as u64 * 4;
            let cufft = rows * s.fft_size as u64 * 16 + s.prepared_bytes();
            assert!(ours + cufft < 40 << 30, "{s:?}: {} GiB", (ours + cufft) >> 30);
        }
        // Every row at B = 64 and 2^28 elements per tensor; all scaled.
        assert_eq!((shapes[0].batch, shapes[0].heads, shapes[0].time_scale()), (64, 128, 6.0));
        let s = shapes[3];
        assert_eq!((s.batch, s.heads, s.scaled_to), (64, 1, Some((64, 768))));
        assert_eq!(s.time_scale(), 768.0);
        assert_eq!(s.goal_fwd_ms(), Some(4020.0));
        assert_eq!(long_quick_shapes().len(), 2);
    }

    #[test]
    fn long_rows_scale_before_the_goal() {
        let s = long_table_shapes()[1]; // causal L = 1M, measured at B = 64, H = 4.
        assert_eq!((s.batch, s.heads), (64, 4));
        let mut row = FftConvBenchRow::new(&s, 3.0e12);
        assert_eq!(row.time_scale, Some(192.0));
        row.fwd_ms = Some(3.0); // 576 ms at B = 64, H = 768: within 708.
        assert_eq!(row.verdict(), "met");
        row.fwd_ms = Some(4.0); // 768 ms.
        assert!(row.verdict().contains("fwd 768.000 > 708"), "{}", row.verdict());
        let json = serde_json::to_value(&row).expect("json");
        assert_eq!(json["scaled_to"], serde_json::json!([64, 768]));
        assert_eq!(json["batch"], 64);
        // The backward is shown scaled with its ratio, held to the bwd/fwd bound.
        row.fwd_ms = Some(3.0);
        row.bwd_ms = Some(7.5);
        assert_eq!(row.verdict(), "met");
        row.bwd_ms = Some(12.0);
        assert!(row.verdict().contains("bwd/fwd 4.00 > 2.5"), "{}", row.verdict());
        let table = long_markdown_table(&[row]);
        assert!(table.lines().nth(2).is_some_and(|l| l.contains("| 64×4 | 64×768 |")), "{table}");
        assert!(table.lines().nth(2).is_some_and(|l| l.contains("| 2304.0000 | 4.00 |")), "{table}");
        let columns = table.lines().next().map(|l| l.matches('|').count());
        assert!(table.lines().all(|l| Some(l.matches('|').count()) == columns), "{table}");
        // On-chip rows keep their JSON: no scaling keys.
        let on_chip = serde_json::to_value(FftConvBenchRow::new(&quick_shapes()[0], 3.0e12)).expect("json");
        assert!(on_chip.get("scaled_to").is_none() && on_chip.get("time_scale").is_none());
        assert_eq!(on_chip["goal_fwd_floor_ratio"], 1.5);
    }

    #[test]
    fn random_values_are_uniform() {
        let xs: Vec<f64> = (0..10_000).map(|i| hash_uniform(i, 3)).collect();
        assert!(xs.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.05, "{mean}");
        assert_ne!(hash_uniform(5, 1), hash_uniform(5, 2));
    }

    #[test]
    fn markdown_has_one_line_per_row() {
        let rows: Vec<FftConvBenchRow> = quick_shapes().iter().map(|s| FftConvBenchRow::new(s, 3e12)).collect();
        let table = markdown_table(&rows);
        assert_eq!(table.lines().count(), 2 + rows.len());
        let columns = table.lines().next().map(|l| l.matches('|').count());
        assert!(table.lines().all(|l| Some(l.matches('|').count()) == columns), "{table}");
    }
}
