//! Short depthwise conv1d: launch parameters and the kernel table.
//!
//! Semantics (PyTorch `nn.Conv1d(D, D, K, groups=D)`, stride 1, zero padding):
//! `y[b, d, j] = bias[d] + Σ_k w[d, k] · x[b, d, j − pad_left + k]` for `0 ≤ j < len_out`, with
//! `len_out = len_in + pad_left + pad_right − K + 1` and `x` zero outside `[0, len_in)`.
//! Weights are `(D, K)` row-major, bias `(D)`.

use crate::dtype::DType;

/// Elements per chunk: every kernel thread works on runs of 8 consecutive elements (16 bytes of
/// a 16-bit type), which is also the tap-chunk width (taps are processed 8 at a time).
pub const CHUNK: usize = 8;

/// `flags` bit: read taps reversed (`w[K − 1 − k]`). Turns the forward kernel into the input
/// gradient: `du = conv(dy, flip(w))` with `pad_left' = K − 1 − pad_left`.
pub const FLAG_FLIP_TAPS: u32 = 1 << 0;
/// `flags` bit: a bias pointer is given.
pub const FLAG_HAS_BIAS: u32 = 1 << 1;
/// `flags` bit: the input's rows (BHL) or positions (BLH) start 16-byte aligned and hold a
/// multiple of 8 elements, so chunks may be loaded with vector loads.
pub const FLAG_INPUT_VECTOR: u32 = 1 << 2;
/// `flags` bit: as [`FLAG_INPUT_VECTOR`], for the output (or, for the weight gradient, `dy`).
pub const FLAG_OUTPUT_VECTOR: u32 = 1 << 3;
/// `flags` bit of the fused `(B, D, L)` backward: `x` (read for the weight gradient) is
/// vector-loadable, as [`FLAG_INPUT_VECTOR`].
pub const FLAG_X_VECTOR: u32 = 1 << 4;

/// Forward (and input-gradient) launch parameters, passed by value.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dParams {
    /// Batch size B.
    pub batch: u32,
    /// Channels D.
    pub channels: u32,
    /// Input length L per (batch, channel).
    pub len_in: u32,
    /// Output length per (batch, channel).
    pub len_out: u32,
    /// Taps K (≥ 1).
    pub taps: u32,
    /// Zeros implied before the input (the right padding is implied by `len_out`).
    pub pad_left: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Reserved, zero; keeps the struct a multiple of 8 bytes.
    pub reserved: u32,
}

/// Weight/bias-gradient launch parameters, passed by value.
///
/// The reduction over (batch, position) is split into `parts` fixed slices; each block writes
/// one partial per (part, channel, tap) and a second kernel sums the parts in order, so the
/// result is deterministic.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dWeightGradParams {
    /// Shapes of the forward pass this is the gradient of.
    pub conv: Conv1dParams,
    /// Slices of the (batch, position) range, one per block along the grid's x.
    pub parts: u32,
    /// Taps rounded up to a multiple of [`CHUNK`], plus one slot for the bias: the row length
    /// of the partials buffer `(partial_rows, channels, tap_slots)`.
    pub tap_slots: u32,
    /// Rows of partial sums the reduction adds in order: `parts · DW_WARPS` for `(B, D, L)`
    /// (one per warp), `parts` for `(B, L, D)` (the block's warps combine in shared memory),
    /// `B · segments per row` for the fused `(B, D, L)` backward (one per warp and segment),
    /// `parts` for the fused `(B, L, D)` backward (one per warp).
    pub partial_rows: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<Conv1dParams>() == 32);
const _: () = assert!(core::mem::size_of::<Conv1dWeightGradParams>() == 48);
const _: () = assert!(core::mem::offset_of!(Conv1dWeightGradParams, parts) == 32);

impl Conv1dParams {
    /// Tap chunks of [`CHUNK`] taps.
    pub const fn tap_chunks(&self) -> u32 {
        self.taps.div_ceil(CHUNK as u32)
    }
}

/// Row length of the partials buffer for `taps` taps: taps rounded up to chunks, plus the bias.
pub const fn tap_slots(taps: u32) -> u32 {
    taps.div_ceil(CHUNK as u32) * CHUNK as u32 + 1
}

/// The conv1d kernels, by role and layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Conv1dKernel {
    /// Forward / input gradient, `(B, D, L)` layout; instantiated per (input, weight) dtype.
    ForwardBhl,
    /// Forward / input gradient, `(B, L, D)` layout; per (input, weight) dtype.
    ForwardBlh,
    /// Weight and bias gradient partials, `(B, D, L)`; per (input, weight) dtype.
    WeightGradBhl,
    /// Weight and bias gradient partials, `(B, L, D)`; per (input, weight) dtype.
    WeightGradBlh,
    /// Sum of the partials into the weight and bias gradients; per weight dtype.
    WeightGradReduce,
    /// `(B, D, L)` input gradient fused with the weight and bias gradient partials (K ≤ 8);
    /// per (input, weight) dtype.
    BackwardBhl,
    /// `(B, L, D)` input gradient fused with the weight and bias gradient partials (K ≤ 8);
    /// per (input, weight) dtype.
    BackwardBlh,
}

macro_rules! by_dtype_pair {
    ($prefix:literal, $x:expr, $w:expr) => {
        match ($x, $w) {
            (DType::F16, DType::F16) => concat!($prefix, "_f16_f16"),
            (DType::F16, DType::BF16) => concat!($prefix, "_f16_bf16"),
            (DType::F16, DType::F32) => concat!($prefix, "_f16_f32"),
            (DType::BF16, DType::F16) => concat!($prefix, "_bf16_f16"),
            (DType::BF16, DType::BF16) => concat!($prefix, "_bf16_bf16"),
            (DType::BF16, DType::F32) => concat!($prefix, "_bf16_f32"),
            (DType::F32, DType::F16) => concat!($prefix, "_f32_f16"),
            (DType::F32, DType::BF16) => concat!($prefix, "_f32_bf16"),
            (DType::F32, DType::F32) => concat!($prefix, "_f32_f32"),
        }
    };
}

impl Conv1dKernel {
    /// Every conv1d kernel role.
    pub const ALL: [Conv1dKernel; 7] = [
        Conv1dKernel::ForwardBhl,
        Conv1dKernel::ForwardBlh,
        Conv1dKernel::WeightGradBhl,
        Conv1dKernel::WeightGradBlh,
        Conv1dKernel::WeightGradReduce,
        Conv1dKernel::BackwardBhl,
        Conv1dKernel::BackwardBlh,
    ];

    /// The PTX entry name of this kernel for input dtype `x` and weight dtype `w`
    /// (`x` is ignored by [`Conv1dKernel::WeightGradReduce`]). The kernel crate stamps exactly
    /// these names; a host test checks every one is in the PTX.
    pub const fn entry_name(self, x: DType, w: DType) -> &'static str {
        match self {
            Conv1dKernel::ForwardBhl => by_dtype_pair!("conv1d_fwd_bhl", x, w),
            Conv1dKernel::ForwardBlh => by_dtype_pair!("conv1d_fwd_blh", x, w),
            Conv1dKernel::WeightGradBhl => by_dtype_pair!("conv1d_dw_bhl", x, w),
            Conv1dKernel::WeightGradBlh => by_dtype_pair!("conv1d_dw_blh", x, w),
            Conv1dKernel::BackwardBhl => by_dtype_pair!("conv1d_bwd_bhl", x, w),
            Conv1dKernel::BackwardBlh => by_dtype_pair!("conv1d_bwd_blh", x, w),
            Conv1dKernel::WeightGradReduce => match w {
                DType::F16 => "conv1d_dw_reduce_f16",
                DType::BF16 => "conv1d_dw_reduce_bf16",
                DType::F32 => "conv1d_dw_reduce_f32",
            },
        }
    }
}

/// Output length of a stride-1 conv, or `None` when the padded input is shorter than the taps.
pub const fn output_len(len_in: u32, taps: u32, pad_left: u32, pad_right: u32) -> Option<u32> {
    let padded = len_in as u64 + pad_left as u64 + pad_right as u64;
    if taps == 0 || padded < taps as u64 {
        return None;
    }
    let out = padded - taps as u64 + 1;
    if out > u32::MAX as u64 {
        None
    } else {
        Some(out as u32)
    }
}

/// Launch geometry shared by the host (which sizes the grid) and the kernels (which decode it).
/// Every grid is one-dimensional in x (flattened, so that no dimension meets the 65,535 limit of
/// y and z) except the weight-gradient kernels, whose `y` is the tap chunk.
pub mod geometry {
    /// Threads per block of the `(B, D, L)` weight-gradient kernel.
    pub const BHL_THREADS: u32 = 128;
    /// Consecutive 8-element chunks of one row a thread of the `(B, D, L)` weight-gradient
    /// kernel owns (a "run"): its input window is loaded once for all of them.
    pub const BHL_RUN_CHUNKS: u32 = 4;
    /// Elements of a run.
    pub const BHL_RUN: u32 = BHL_RUN_CHUNKS * super::CHUNK as u32;

    /// Warps per block of the `(B, D, L)` forward kernel. The warps are independent (no block
    /// barrier): each owns one segment of one row.
    pub const FWD_BHL_WARPS: u32 = 4;
    /// Output chunks each lane of the `(B, D, L)` forward computes per segment; lane `l` owns
    /// chunks `l, l + 32, …` so that every warp-wide load and store covers 512 contiguous bytes.
    pub const FWD_BHL_LANE_CHUNKS: u32 = 4;
    /// Output chunks of a `(B, D, L)` forward segment (one warp).
    pub const FWD_BHL_SEGMENT_CHUNKS: u32 = 32 * FWD_BHL_LANE_CHUNKS;
    /// Outputs of a `(B, D, L)` forward segment.
    pub const FWD_BHL_SEGMENT: u32 = FWD_BHL_SEGMENT_CHUNKS * super::CHUNK as u32;
    /// Input chunks a warp stages in shared memory per pass: its segment plus one chunk of halo
    /// on each side (the taps of one tap chunk reach at most 7 elements past a chunk).
    pub const FWD_BHL_STAGE_CHUNKS: u32 = FWD_BHL_SEGMENT_CHUNKS + 2;

    /// Dynamic shared memory of the `(B, D, L)` forward kernel for elements of `elem_bytes`.
    pub const fn fwd_bhl_shared_bytes(elem_bytes: u32) -> u32 {
        FWD_BHL_WARPS * FWD_BHL_STAGE_CHUNKS * super::CHUNK as u32 * elem_bytes
    }

    /// Channels a lane of the `(B, L, D)` kernels owns.
    pub const BLH_LANE_CHANNELS: u32 = 4;
    /// Channels of a `(B, L, D)` tile (a warp's in the forward, a block's in the weight
    /// gradient).
    pub const BLH_CHANNELS_PER_BLOCK: u32 = 32 * BLH_LANE_CHANNELS;
    /// Output positions of one warp's tile in the `(B, L, D)` kernels, for elements of
    /// `elem_bytes`: the forward stages `positions + 7` input rows of its 128 channels in shared
    /// memory (32 for 16-bit types, 16 for f32: a tile stays under 12 KiB).
    pub const fn blh_tile_positions(elem_bytes: u32) -> u32 {
        if elem_bytes >= 4 {
            16
        } else {
            32
        }
    }

    /// Input rows one `(B, L, D)` forward warp stages: its tile's positions plus the reach of
    /// one tap chunk (7).
    pub const fn fwd_blh_stage_rows(elem_bytes: u32) -> u32 {
        blh_tile_positions(elem_bytes) + super::CHUNK as u32 - 1
    }

    /// Rows one `(B, L, D)` weight-gradient warp stages per item: `P` rows of `dy` and up to
    /// `P + 7` of `x`.
    pub const fn dw_blh_stage_rows(elem_bytes: u32) -> u32 {
        2 * blh_tile_positions(elem_bytes) + super::CHUNK as u32 - 1
    }

    /// Dynamic shared memory of the `(B, L, D)` weight-gradient kernel: per warp, its staged
    /// rows of [`BLH_CHANNELS_PER_BLOCK`] channels (the warps' sums are combined in the first
    /// warp's area afterwards, which is far larger than the 32 · 9 · 4 sums).
    pub const fn dw_blh_shared_bytes(elem_bytes: u32) -> u32 {
        DW_BLH_WARPS * dw_blh_stage_rows(elem_bytes) * BLH_CHANNELS_PER_BLOCK * elem_bytes
    }

    /// Warps per block of the `(B, L, D)` forward kernel (block `(32, FWD_BLH_WARPS)`; the
    /// kernel reads the block's y extent). The warps are independent, and one-warp blocks let
    /// the register limit (204 per thread) admit 9 warps per SM instead of 8 (measured 1.5 – 3 %
    /// faster than four-warp blocks on the H100).
    pub const FWD_BLH_WARPS: u32 = 1;

    /// Dynamic shared memory of the `(B, L, D)` forward kernel: per warp, its staged rows of
    /// [`BLH_CHANNELS_PER_BLOCK`] channels.
    pub const fn fwd_blh_shared_bytes(elem_bytes: u32) -> u32 {
        FWD_BLH_WARPS * fwd_blh_stage_rows(elem_bytes) * BLH_CHANNELS_PER_BLOCK * elem_bytes
    }

    /// Dynamic shared memory of the fused `(B, L, D)` backward (one-warp blocks): the input
    /// gradient's staged `dy` rows and the tile's `x` rows.
    pub const fn bwd_blh_shared_bytes(elem_bytes: u32) -> u32 {
        (fwd_blh_stage_rows(elem_bytes) + blh_tile_positions(elem_bytes)) * BLH_CHANNELS_PER_BLOCK * elem_bytes
    }
    /// Warps the fused `(B, L, D)` backward aims for (one per block), about two waves of an
    /// H100 at its 12 blocks per SM.
    pub const BWD_BLH_TARGET_WARPS: u64 = 3072;
    /// Items a part of the fused `(B, L, D)` backward gets at least (one warp per channel tile
    /// and part; each part is a row of partial sums for the reduction to read).
    pub const BWD_BLH_MIN_ITEMS_PER_PART: u64 = 2;

    /// Warps per block of the `(B, D, L)` weight-gradient kernel; each warp writes its own
    /// partial sums.
    pub const DW_WARPS: u32 = 4;
    /// Warps per block of the `(B, L, D)` weight-gradient kernel (block `(32, DW_BLH_WARPS)`);
    /// they combine their sums in shared memory, in warp order, into one partial per block.
    pub const DW_BLH_WARPS: u32 = 4;
    /// Blocks the `(B, L, D)` weight-gradient launch aims for. Fewer than for `(B, D, L)`: its
    /// blocks are larger, and each part costs a row of `D · tap_slots` partials.
    pub const DW_BLH_TARGET_BLOCKS: u64 = 1024;
    /// (channel, slot) columns per block of the partials reduction (block `(32, 8)`).
    pub const DW_REDUCE_COLUMNS: u32 = 32;
    /// Row groups per block of the partials reduction: thread `(c, g)` adds rows `g, g + 8, …`
    /// of column `c`, then the 8 group sums are added in order (more loads in flight than one
    /// thread walking every row, and still one fixed order).
    pub const DW_REDUCE_ROW_GROUPS: u32 = 8;
    /// Dynamic shared memory of the partials reduction: one f64-sized slot per thread.
    pub const DW_REDUCE_SHARED_BYTES: u32 = DW_REDUCE_COLUMNS * DW_REDUCE_ROW_GROUPS * 8;

    /// Blocks the weight-gradient launch aims for (a few waves on any current GPU). The number
    /// of parts depends only on the shape, never on the device, so results are reproducible
    /// across devices too.
    pub const DW_TARGET_BLOCKS: u64 = 2048;
}
