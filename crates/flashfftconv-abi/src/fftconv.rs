//! FFT convolution: launch parameters, buffer layouts and the kernel table.
//!
//! Semantics (see `flashfftconv-reference::fftconv`):
//! `y = out_gate ⊙ iFFT_N(FFT_N(in_gate ⊙ u) · FFT_N(k))[..L]`, u, gates, y `(B, H, L)` f16 or
//! bf16, k `(H, Lk)` f32, `1 ≤ L ≤ N`, `1 ≤ Lk ≤ N`, u and k zero-padded to `N`.
//!
//! # How the kernels compute it
//!
//! Rows `b = 2j` and `2j + 1` of one head form a *pair*: `z_{2j} + i·z_{2j+1}` is one complex
//! sequence, and since k is real, the real and imaginary parts of its convolution with k are the
//! two rows' convolutions. A pair's FFT of size `N = r₀·16^s` is one stage of radix `r₀ ∈ {1, 2,
//! 4, 8}` (skipped for 1) and `s` stages of radix 16, each a 16×16 complex DFT matrix applied on
//! tensor cores (`mma.sync` m16n8k16, f16 operands, f32 accumulation), with twiddles between
//! stages. The spectrum stays in the kernel's own (digit-reversed) order, so the prepared kernel
//! spectrum is stored in that order ([`spectrum_index`]).
//!
//! Sizes above [`MAX_LOG2_INNER`] add an *outer* radix-2 step (`N = 2·N'`) done where the data
//! enter and leave the block: the two halves `z[n] ± z[n + N']` (the second times `W_N^n`)
//! are transformed as on-chip FFTs of size `N'`, and the outputs are recombined as
//! `y[n] = a[n] + W_N^{−n}·b[n]`, `y[n + N'] = a[n] − W_N^{−n}·b[n]` from the first half's
//! result `a` and the second's `b`. The forward and backward run the halves on the two blocks
//! of a cluster and read `a` and `b` through distributed shared memory ([`cluster_blocks`]);
//! the `dk` kernel transforms them one after the other in one block, `a` kept in an f16 stash.
//! The even frequencies come first in the spectrum order.

use crate::dtype::DType;

/// Smallest supported FFT size, log2.
pub const MIN_LOG2_N: u32 = 8;
/// Largest FFT size of the single-kernel (on-chip) path, log2.
pub const MAX_LOG2_N: u32 = 15;

/// Largest FFT size transformed whole in one block, log2; larger sizes split into
/// [`halves`] of this size (see the module docs).
pub const MAX_LOG2_INNER: u32 = 14;

/// log2 of the on-chip transform size for `N = 2^log2_n`.
pub const fn inner_log2(log2_n: u32) -> u32 {
    if log2_n > MAX_LOG2_INNER {
        MAX_LOG2_INNER
    } else {
        log2_n
    }
}

/// Parts (1 or 2) an FFT of `N = 2^log2_n` is split into by the outer radix-2 step.
pub const fn halves(log2_n: u32) -> u32 {
    1 << (log2_n - inner_log2(log2_n))
}

/// Threads per block of every FFT-convolution kernel.
pub const THREADS: u32 = 256;

/// `flags` bit: an input gate is given.
pub const FLAG_IN_GATE: u32 = 1 << 0;
/// `flags` bit: an output gate is given.
pub const FLAG_OUT_GATE: u32 = 1 << 1;
/// `flags` bit: every `(B, H, L)` buffer of the launch starts 16-byte aligned and `L` is a
/// multiple of 8, so rows may be moved with 16-byte vector accesses.
pub const FLAG_VECTOR: u32 = 1 << 2;
/// Whether size `N = 2^log2_n` has [`FftConvKernel::ForwardZeroHalf`] kernels: sizes with
/// `log2 N ≡ 1 (mod 4)` and no outer step (N = 512 and 8K), whose first stage is radix 2 at stride
/// `N/2`, and N = 16K, whose first stage is radix 4 at stride `N/4`. With `L ≤ N/2` every input
/// row is zero in the upper half, so that stage's outputs are the input and the input times
/// `W_N^n` (radix 2) or `x[n] + W₄^f·x[n + N/4]` times `W_N^{fn}` (radix 4), written by the load,
/// and the last inverse stage's kept half is a sum of its inputs (read by the store): a whole
/// stage pass less each way.
pub const fn zero_half_skip(log2_n: u32) -> bool {
    (log2_n % 4 == 1 && log2_n <= MAX_LOG2_INNER) || log2_n == 14
}

/// Whether size `N = 2^log2_n` has [`FftConvKernel::BackwardZeroHalf`] kernels: N = 512. With
/// `L ≤ N/2`, `u` and `dy ⊙ out_gate` are zero in the upper half and only the lower half of both
/// outputs is kept, so, as in the forward, the loads do the radix-2 stage 0 and the stores the
/// inverse's. Not at the other [`zero_half_skip`] sizes: the 8K backward does its stage 0 in the
/// load for every `L` already, and at 16K (radix-4 stage 0, the rows read twice) the zero-half
/// backward was measured slower, bf16 +5 % at two blocks per SM with a 16-byte spill and f16
/// +35 % (H200, on-chip perf notes v17).
pub const fn backward_zero_half_skip(log2_n: u32) -> bool {
    log2_n == 9
}

/// Launch parameters of every FFT-convolution kernel, passed by value.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FftConvParams {
    /// Batch size B.
    pub batch: u32,
    /// Heads (channels) H.
    pub heads: u32,
    /// Sequence length L (`1 ≤ L ≤ N`).
    pub len: u32,
    /// Kernel length Lk (`1 ≤ Lk ≤ N`).
    pub kernel_len: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Backward only: the pairs of a head are split into this many chunks, one block each
    /// (grid `chunks · H`); see [`backward_chunks`]. Zero elsewhere.
    pub chunks: u32,
    /// Backward only: pairs per chunk (a multiple of [`pairs_per_block`]). Zero elsewhere.
    pub pairs_per_chunk: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<FftConvParams>() == 32);

impl FftConvParams {
    /// Pairs per head: `⌈B / 2⌉`.
    pub const fn pairs_per_head(&self) -> u32 {
        self.batch.div_ceil(2)
    }
}

/// Stage radix of the first stage (1: no such stage) for `N = 2^log2_n`.
pub const fn first_radix(log2_n: u32) -> u32 {
    1 << (log2_n % 4)
}

/// Pairs (or, in the prepare and `dk` kernels, heads) one block transforms side by side: small
/// FFTs share a block so that every warp has tiles to work on.
pub const fn pairs_per_block(log2_n: u32) -> u32 {
    if log2_n >= 11 {
        1
    } else {
        1 << (11 - log2_n)
    }
}

/// f16 planes in shared memory: real and imaginary parts (2), each split into a high and a low
/// f16 (4) when the kernel keeps extra precision (f16 data, and the prepare kernel).
pub const fn planes(split: bool) -> u32 {
    if split {
        4
    } else {
        2
    }
}

/// Whether a launch of `kernel` for sequence length `len` and kernel length `kernel_len`
/// keeps split (hi + lo f16) intermediates:
/// - the prepare and `dk` kernels always (the spectrum of k enters every output; `dk` keeps
///   only the real part of an inverse FFT whose imaginary part, the pairs' cross terms, may
///   hold more energy);
/// - f16 data always (f16 outputs have a rounding floor 8× below bf16's, which one f16
///   rounding per stage would exceed);
/// - bf16 data when `L < N/4`, and for the backward also when `Lk < N/4`: an FFT's rounding
///   error is relative to the energy of all `N` outputs, and when only a few are kept (`L`
///   outputs, or `Lk` lags of `dk`), the discarded ones can hold most of it.
pub const fn kernel_split(kernel: FftConvKernel, log2_n: u32, dtype: DType, len: u32, kernel_len: u32) -> bool {
    let short_len = (len as u64) * 4 < (1u64 << log2_n);
    let short_kernel = (kernel_len as u64) * 4 < (1u64 << log2_n);
    match kernel {
        FftConvKernel::Prepare | FftConvKernel::KernelGrad => true,
        FftConvKernel::Forward | FftConvKernel::ForwardZeroHalf => matches!(dtype, DType::F16) || short_len,
        FftConvKernel::Backward | FftConvKernel::BackwardZeroHalf => {
            matches!(dtype, DType::F16) || short_len || short_kernel
        }
    }
}

/// Bytes at the end of shared memory for block reductions and per-slot values (32 words).
pub const REDUCE_BYTES: u32 = 128;

/// Bytes of the f16 stash (real and imaginary planes of one half) of the outer radix-2 step.
pub const fn stash_bytes(log2_n: u32) -> u32 {
    if halves(log2_n) > 1 {
        2 * (1 << inner_log2(log2_n)) * 2
    } else {
        0
    }
}

/// Dynamic shared memory of a kernel for `N = 2^log2_n` with `split` planes: the planes of
/// `pairs_per_block` on-chip transforms, the stash, the reduction area.
pub const fn shared_bytes(log2_n: u32, split: bool) -> u32 {
    pairs_per_block(log2_n) * (1 << inner_log2(log2_n)) * 2 * planes(split) + stash_bytes(log2_n) + REDUCE_BYTES
}

/// Blocks per cluster of a forward or backward launch: with an outer step, a pair's two halves
/// run on the two blocks of a 2-block cluster (block `2q + h` takes half `h` of the pairs that
/// block `q` of the unclustered grid would take), each an on-chip transform of size `N'`, and the
/// recombination reads the other block's result through distributed shared memory; no stash, and
/// twice the blocks. Else 1 (no cluster). The kernels carry the cluster size in their PTX
/// (`.reqnctapercluster`). (The `dk` kernel is not clustered.)
pub const fn cluster_blocks(log2_n: u32) -> u32 {
    halves(log2_n)
}

/// Dynamic shared memory of a forward launch: [`shared_bytes`] less the stash, which the
/// forwards do not need (clustered with an outer step, see [`cluster_blocks`]).
pub const fn forward_shared_bytes(log2_n: u32, split: bool) -> u32 {
    shared_bytes(log2_n, split) - stash_bytes(log2_n)
}

/// Bytes of one complex entry of the backward's `z` spectrum, in shared memory or in the
/// global scratch row: complex f16 for unsplit kernels (the precision their planes hold
/// anyway), complex f32 for split kernels.
pub const fn backward_spectrum_entry_bytes(split: bool) -> u32 {
    if split {
        8
    } else {
        4
    }
}

/// Whether the backward accumulates each block's partial `dk` spectra (`N` complex f32 per
/// slot) in shared memory and writes them to the workspace once, at the end, instead of reading
/// and writing a global row per pair: up to N = 4K, and split kernels up to 8K. (The unsplit
/// 8K backward would need its `z` spectrum in a global row to keep two blocks per SM, trading
/// one row's traffic for the other; it spilled at its 128-register bound.)
pub const fn backward_dk_on_chip(log2_n: u32, split: bool) -> bool {
    if split {
        log2_n <= 13
    } else {
        log2_n <= 12
    }
}

/// Whether the backward keeps each pair's `z` spectrum in shared memory instead of a global
/// f32 scratch row (a write and a read of `8·N` bytes per pair): N ≤ 8K, except the split
/// kernels at 4K, which spilled 8 bytes at their 2-block bound with it (next to the `dk`
/// accumulator, which saves more). Not at 16K and 32K: the 64 KiB (a 16K spectrum, or a 32K
/// cluster block's half, as f16) next to 64 KiB of unsplit planes would leave one block per
/// SM, and the unsplit 32K backward with the row in global memory and two blocks per SM is
/// 18–23 % faster than with it on chip and one (on-chip v23, docs/perf-notes.md).
pub const fn backward_spectrum_on_chip(log2_n: u32, split: bool) -> bool {
    log2_n <= 13 && !(split && log2_n == 12)
}

/// Dynamic shared memory of a backward launch: [`shared_bytes`] (less the stash: with an outer
/// step the backward is clustered, see [`cluster_blocks`]), then the slots' `z` spectra when
/// [`backward_spectrum_on_chip`], then the slots' `dk` accumulators when [`backward_dk_on_chip`].
pub const fn backward_shared_bytes(log2_n: u32, split: bool) -> u32 {
    let entries = pairs_per_block(log2_n) * (1 << inner_log2(log2_n));
    let spectra =
        if backward_spectrum_on_chip(log2_n, split) { entries * backward_spectrum_entry_bytes(split) } else { 0 };
    let dk = if backward_dk_on_chip(log2_n, split) { entries * 8 } else { 0 };
    shared_bytes(log2_n, split) - stash_bytes(log2_n) + spectra + dk
}

/// Index (in complex elements) within a head's prepared spectrum of the spectrum value the
/// kernels hold at tile `tile`, lane `lane`, accumulator element `elem` of the last forward
/// stage of the on-chip transform: every thread reads its four values as 32 contiguous bytes.
/// With an outer step, half `h`'s values follow at `h · N'`.
pub const fn spectrum_index(tile: u32, lane: u32, elem: u32) -> u32 {
    tile * 128 + lane * 4 + elem
}

/// The prepared kernel spectrum: `(H, N)` complex f32 (interleaved re, im) in the kernel's
/// order, followed by `H` f32 scale factors (powers of two) that bring each head's largest
/// component into `[0.5, 1)`. Length in f32 elements.
pub const fn prepared_len(heads: u64, n: u64) -> u64 {
    heads * (2 * n + 1)
}

/// Blocks the backward launch aims for (a few per SM on current GPUs); fixed, so results do not
/// depend on the device.
pub const BACKWARD_TARGET_BLOCKS: u32 = 528;

/// Most chunks per head [`backward_chunks`] adds where the heads alone would fill the GPU.
pub const BACKWARD_HEAD_CHUNKS: u32 = 4;

/// Fewest pairs per chunk [`backward_chunks`] keeps when it adds chunks per head.
pub const BACKWARD_CHUNK_MIN_PAIRS: u32 = 8;

/// `(chunks, pairs_per_chunk)` of the backward launch with `split` planes: each head's pairs
/// are split into `chunks` runs of `pairs_per_chunk` (a multiple of [`pairs_per_block`]);
/// block `(c, h)` accumulates its runs' `dk` spectrum into its own partial row, and the `dk`
/// kernel sums the rows in order, so the result is deterministic.
///
/// Enough chunks for [`BACKWARD_TARGET_BLOCKS`] blocks; and where `dk` is summed in a global
/// partial row (not [`backward_dk_on_chip`]), up to [`BACKWARD_HEAD_CHUNKS`] chunks of at
/// least [`BACKWARD_CHUNK_MIN_PAIRS`] pairs however many heads there are: a head's chunks run
/// side by side and share its kernel spectrum in the L2 (on-chip v26: bf16 backwards at
/// N = 8K–32K 1–7 % faster at B = 64). Those extra chunks are at most `B/16`, which keeps
/// the workspace ([`backward_workspace_bytes`], at most `16·N` bytes per chunk and head)
/// within the bytes of `u` (`2·B·L` per head) whenever `L ≥ N/2`.
pub const fn backward_chunks(batch: u32, heads: u32, log2_n: u32, split: bool) -> (u32, u32) {
    let ppb = pairs_per_block(log2_n);
    let pairs = batch.div_ceil(2);
    let max_chunks = pairs.div_ceil(ppb);
    let want = BACKWARD_TARGET_BLOCKS.div_ceil(if heads == 0 { 1 } else { heads });
    let shared = if backward_dk_on_chip(log2_n, split) {
        1
    } else if batch / (2 * BACKWARD_CHUNK_MIN_PAIRS) < BACKWARD_HEAD_CHUNKS {
        // (Of the batch rather than the pairs: an odd batch's last pair is half a pair of `u`.)
        batch / (2 * BACKWARD_CHUNK_MIN_PAIRS)
    } else {
        BACKWARD_HEAD_CHUNKS
    };
    let want = if shared > want { shared } else { want };
    let chunks = if want < max_chunks { want } else { max_chunks };
    let chunks = if chunks == 0 { 1 } else { chunks };
    let per_chunk = pairs.div_ceil(chunks).div_ceil(ppb) * ppb;
    let chunks = if per_chunk == 0 { 1 } else { pairs.div_ceil(per_chunk) };
    (if chunks == 0 { 1 } else { chunks }, if per_chunk == 0 { ppb } else { per_chunk })
}

/// Backward workspace, in bytes: per block `(c, h)` and block slot, one partial `dk` spectrum
/// (`N` complex f32) and, unless [`backward_spectrum_on_chip`], one scratch `z` spectrum
/// (`N` entries of [`backward_spectrum_entry_bytes`]) after all the partials.
pub const fn backward_workspace_bytes(chunks: u64, heads: u64, log2_n: u32, split: bool) -> u64 {
    let rows = chunks * heads * pairs_per_block(log2_n) as u64;
    let scratch =
        if backward_spectrum_on_chip(log2_n, split) { 0 } else { backward_spectrum_entry_bytes(split) as u64 };
    rows * (1u64 << log2_n) * (8 + scratch)
}

/// Byte offset of the scratch spectra within the backward workspace (after the partials).
pub const fn backward_scratch_offset(chunks: u64, heads: u64, log2_n: u32) -> u64 {
    chunks * heads * pairs_per_block(log2_n) as u64 * (1u64 << log2_n) * 8
}

/// The FFT-convolution kernels, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FftConvKernel {
    /// `k (H, Lk)` → prepared spectrum. Grid `⌈H / pairs_per_block⌉`.
    Prepare,
    /// Forward, per data dtype. Grid `⌈H · ⌈B/2⌉ / pairs_per_block⌉ · cluster_blocks`.
    Forward,
    /// Forward for `L ≤ N/2` at the [`zero_half_skip`] sizes (same parameters and grid).
    ForwardZeroHalf,
    /// Backward (du, dgates, dk partials), per data dtype. Grid `chunks · H · cluster_blocks`.
    Backward,
    /// Backward for `L ≤ N/2` at the [`backward_zero_half_skip`] sizes (same parameters, grid and
    /// shared memory).
    BackwardZeroHalf,
    /// Sum of the dk partials and inverse FFT into `dk (H, Lk)` f32. Grid
    /// `⌈H / pairs_per_block⌉`.
    KernelGrad,
}

macro_rules! by_size {
    ($prefix:literal, $suffix:literal, $log2:expr) => {
        match $log2 {
            8 => Some(concat!($prefix, "_n256", $suffix)),
            9 => Some(concat!($prefix, "_n512", $suffix)),
            10 => Some(concat!($prefix, "_n1024", $suffix)),
            11 => Some(concat!($prefix, "_n2048", $suffix)),
            12 => Some(concat!($prefix, "_n4096", $suffix)),
            13 => Some(concat!($prefix, "_n8192", $suffix)),
            14 => Some(concat!($prefix, "_n16384", $suffix)),
            15 => Some(concat!($prefix, "_n32768", $suffix)),
            _ => None,
        }
    };
}

impl FftConvKernel {
    /// Every role.
    pub const ALL: [FftConvKernel; 6] = [
        FftConvKernel::Prepare,
        FftConvKernel::Forward,
        FftConvKernel::ForwardZeroHalf,
        FftConvKernel::Backward,
        FftConvKernel::BackwardZeroHalf,
        FftConvKernel::KernelGrad,
    ];

    /// The PTX entry name for FFT size `2^log2_n`, data dtype `dtype` and precision `split`
    /// (see [`kernel_split`]; both ignored by [`FftConvKernel::Prepare`] and
    /// [`FftConvKernel::KernelGrad`]); `None` when there is no such kernel (unsupported size,
    /// dtype, or unsplit f16).
    pub const fn entry_name(self, log2_n: u32, dtype: DType, split: bool) -> Option<&'static str> {
        match (self, dtype, split) {
            (FftConvKernel::Prepare, _, _) => by_size!("fftconv_prepare", "", log2_n),
            (FftConvKernel::KernelGrad, _, _) => by_size!("fftconv_dk", "", log2_n),
            (FftConvKernel::Forward, DType::BF16, false) => by_size!("fftconv_fwd", "_bf16", log2_n),
            (FftConvKernel::Forward, DType::BF16, true) => by_size!("fftconv_fwd", "_bf16_split", log2_n),
            (FftConvKernel::Forward, DType::F16, true) => by_size!("fftconv_fwd", "_f16", log2_n),
            (FftConvKernel::ForwardZeroHalf, _, _) if !zero_half_skip(log2_n) => None,
            (FftConvKernel::ForwardZeroHalf, DType::BF16, false) => by_size!("fftconv_fwd_zero_half", "_bf16", log2_n),
            (FftConvKernel::ForwardZeroHalf, DType::BF16, true) => {
                by_size!("fftconv_fwd_zero_half", "_bf16_split", log2_n)
            }
            (FftConvKernel::ForwardZeroHalf, DType::F16, true) => by_size!("fftconv_fwd_zero_half", "_f16", log2_n),
            (FftConvKernel::Backward, DType::BF16, false) => by_size!("fftconv_bwd", "_bf16", log2_n),
            (FftConvKernel::Backward, DType::BF16, true) => by_size!("fftconv_bwd", "_bf16_split", log2_n),
            (FftConvKernel::Backward, DType::F16, true) => by_size!("fftconv_bwd", "_f16", log2_n),
            (FftConvKernel::BackwardZeroHalf, _, _) if !backward_zero_half_skip(log2_n) => None,
            (FftConvKernel::BackwardZeroHalf, DType::BF16, false) => by_size!("fftconv_bwd_zero_half", "_bf16", log2_n),
            (FftConvKernel::BackwardZeroHalf, DType::BF16, true) => {
                by_size!("fftconv_bwd_zero_half", "_bf16_split", log2_n)
            }
            (FftConvKernel::BackwardZeroHalf, DType::F16, true) => by_size!("fftconv_bwd_zero_half", "_f16", log2_n),
            (_, DType::F16, false) | (_, DType::F32, _) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Long sizes (N = 64K … 8M): three passes through a global workspace.
//
// `N = N₁ · N₂` with `N₂ = 2^LONG_INNER_LOG2` (the row transform, on chip in one block) and
// `N₁ = N / N₂` (the outer transform, 8 … 1024). Position `n = n₁·N₂ + n₂`. The same decimation in
// frequency as on chip, split where it crosses HBM:
// * pass *in* (`fftconv_long_in_*`): a block takes `C` columns `n₂ ∈ [c₀, c₀ + C)` of one pair
//   (all `N₁` rows: `N₁ · C = 2^LONG_TILE_LOG2` values), applies the outer stages with their
//   twiddles (in the full-size geometry) and writes the pair's workspace row as complex f32;
// * pass *mid* (`fftconv_long_mid`): a block takes one row `j` (`N₂` contiguous values), runs
//   the on-chip forward transform, multiplies by the kernel spectrum's row `j`, inverts, and
//   writes the row back (in place); `fftconv_long_mid_prepare` instead stores the spectrum;
// * pass *out* (`fftconv_long_out_*`): as *in*, in reverse, and writes `y` (with the output
//   gate) at the positions below `L`.
// The data passes come with split (hi + lo) f16 planes, and for bf16 data unsplit (`*_unsplit`)
// where the on-chip rule of `kernel_split` allows (forward: `L ≥ N/4`; backward: also
// `Lk ≥ N/4`). The prepare passes are always split; the unsplit backward's spectra are half
// rows, and its `dk` (the correlation product, then *out* in f32: `fftconv_long_out_*_f32_unsplit`)
// runs unsplit too: with `Lk ≥ N/4` the kept quarter of the inverse amplifies its f16 rounding by
// at most 2 (perf-notes, issue 4 v9).
// The workspace holds `pairs` pairs of `N` complex f32 (`8N` bytes each) and then, for the
// unsplit passes, which write complex f16 with a power-of-two exponent per block, the pairs'
// exponent words (`long_pair_bytes`); the host runs the three passes over the pairs in launches
// of at most `long_pairs_per_launch` pairs.
// ---------------------------------------------------------------------------------------------

/// Smallest long FFT size, log2 (64K).
pub const LONG_MIN_LOG2_N: u32 = 16;
/// Largest long FFT size, log2 (8M).
pub const LONG_MAX_LOG2_N: u32 = 23;
/// log2 of `N₂`, the row transform of pass *mid*.
pub const LONG_INNER_LOG2: u32 = 13;
/// log2 of the values an *in*/*out* block holds (`N₁` rows × `C` columns).
pub const LONG_TILE_LOG2: u32 = 13;
/// Bytes of the plan's workspace for long sizes: launches take as many pairs as fit. 256 MiB of
/// rows plus 32 KiB, the exponent words of a launch's pairs (`2·N₁` words per pair, and
/// `256 MiB / 8N` pairs: 2¹³ words at every N), so that the row counts stay powers of two.
pub const LONG_WORKSPACE_BYTES: u64 = (256 << 20) + (32 << 10);

/// Whether `N = 2^log2_n` is a long size.
pub const fn is_long(log2_n: u32) -> bool {
    log2_n >= LONG_MIN_LOG2_N && log2_n <= LONG_MAX_LOG2_N
}

/// log2 `N₁`, the outer transform's size.
pub const fn long_outer_log2(log2_n: u32) -> u32 {
    log2_n - LONG_INNER_LOG2
}

/// log2 `C`, the columns of an *in*/*out* block (8 at 8M, 1024 at 64K).
pub const fn long_columns_log2(log2_n: u32) -> u32 {
    LONG_TILE_LOG2 - long_outer_log2(log2_n)
}

/// *in*/*out* blocks per pair (`N₂ / C`).
pub const fn long_column_groups(log2_n: u32) -> u32 {
    1 << (LONG_INNER_LOG2 - long_columns_log2(log2_n))
}

/// Exponent words (i32) per pair that the unsplit passes keep after a launch's rows: one per
/// *in* block (column group) and one per *mid* row.
pub const fn long_exponent_words(log2_n: u32) -> u32 {
    long_column_groups(log2_n) + (1 << long_outer_log2(log2_n))
}

/// Workspace bytes per pair: `N` complex f32 (the split passes' rows; the unsplit passes' half
/// rows of complex f16 sit at the start of each f32 row), plus the pair's exponent words.
pub const fn long_pair_bytes(log2_n: u32) -> u64 {
    (8u64 << log2_n) + 4 * long_exponent_words(log2_n) as u64
}

/// Pairs one launch of the three passes takes in the default workspace (its capacity; at
/// least 4).
pub const fn long_pairs_per_launch(log2_n: u32) -> u64 {
    long_pairs_in(log2_n, LONG_WORKSPACE_BYTES)
}

/// Pairs one launch of the three passes (and of `prepare`'s two) takes in a workspace of
/// `workspace_bytes` (0 when not even one pair fits).
pub const fn long_pairs_in(log2_n: u32, workspace_bytes: u64) -> u64 {
    workspace_bytes / long_pair_bytes(log2_n)
}

/// Dynamic shared memory of the *in*/*out* kernels: f16 planes of `2^LONG_TILE_LOG2` values
/// (split or not) and the reduction area.
pub const fn long_outer_shared_bytes(split: bool) -> u32 {
    (1 << LONG_TILE_LOG2) * 2 * planes(split) + REDUCE_BYTES
}

/// Dynamic shared memory of the *mid* kernels: f16 planes of `N₂` values (split or not) and
/// the reduction area.
pub const fn long_mid_shared_bytes(split: bool) -> u32 {
    (1 << LONG_INNER_LOG2) * 2 * planes(split) + REDUCE_BYTES
}

/// Parameters of the long-size passes. A launch covers pairs `pair0 .. pair0 + pairs` (the
/// pair index as in the on-chip forward: head-major, `⌈B/2⌉` pairs per head); workspace row
/// `q` holds pair `pair0 + q`. For the kernel spectrum (`prepare`), `batch = 1`, `len` is `Lk`
/// and pair `h` is head `h`'s row of `k` alone.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongFftParams {
    /// B (1 for the kernel spectrum).
    pub batch: u32,
    /// H.
    pub heads: u32,
    /// Length of the rows read by *in* and written by *out* (`L`, or `Lk` for the kernel).
    pub len: u32,
    /// `FLAG_IN_GATE`, `FLAG_OUT_GATE`, `FLAG_VECTOR` as on chip.
    pub flags: u32,
    /// log2 N.
    pub log2_n: u32,
    /// First pair of the launch.
    pub pair0: u32,
    /// Pairs in the launch.
    pub pairs: u32,
    /// Zero.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<LongFftParams>() == 32);

impl LongFftParams {
    /// Pairs per head.
    pub const fn pairs_per_head(&self) -> u32 {
        self.batch.div_ceil(2)
    }
}

/// The long-size passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LongPass {
    /// Outer forward stages, from `x` (`u` in `dtype`, or `k` in f32) into the workspace.
    In,
    /// Row transforms, kernel product, inverse rows (in place).
    Mid,
    /// Row transforms storing the kernel spectrum.
    MidPrepare,
    /// Outer inverse stages, from the workspace into `y`.
    Out,
    /// Row transforms storing each row's exact spectrum in place (backward).
    MidSpectrum,
    /// `MidSpectrum` and `Mid` from one transform: the spectrum in place, the convolution's rows
    /// into a second workspace (the backward's `z` with `d_out_gate`).
    MidSpectrumConv,
    /// The backward's `dv` rows (one transform): `P = DV · conj(Z)` over `Z`, the spectrum in a
    /// second workspace, and `iFFT_row(DV · conj(K))` (`dz`) in place.
    MidGrad,
    /// The backward's `dk` rows: per head of the launch, `iFFT_row(Σ P)` over its pairs, in
    /// pair order (grid per head spanned: not per pair).
    DkSum,
}

/// Workspace bytes per pair of the long-size backward: two workspace rows (`z` and `dv`; the
/// per-head `dk` rows reuse the second).
pub const fn long_backward_pair_bytes(log2_n: u32) -> u64 {
    2 * long_pair_bytes(log2_n)
}

/// Pairs one launch group of the long-size backward takes in the default workspace (at least
/// 1).
pub const fn long_backward_pairs_per_launch(log2_n: u32) -> u64 {
    long_backward_pairs_in(log2_n, LONG_WORKSPACE_BYTES)
}

/// Pairs one launch group of the long-size backward takes in a workspace of `workspace_bytes`
/// (0 when not even one pair fits).
pub const fn long_backward_pairs_in(log2_n: u32, workspace_bytes: u64) -> u64 {
    workspace_bytes / long_backward_pair_bytes(log2_n)
}

macro_rules! by_long_size {
    ($prefix:literal, $suffix:literal, $log2:expr) => {
        match $log2 {
            16 => Some(concat!($prefix, "_n65536", $suffix)),
            17 => Some(concat!($prefix, "_n131072", $suffix)),
            18 => Some(concat!($prefix, "_n262144", $suffix)),
            19 => Some(concat!($prefix, "_n524288", $suffix)),
            20 => Some(concat!($prefix, "_n1048576", $suffix)),
            21 => Some(concat!($prefix, "_n2097152", $suffix)),
            22 => Some(concat!($prefix, "_n4194304", $suffix)),
            23 => Some(concat!($prefix, "_n8388608", $suffix)),
            _ => None,
        }
    };
}

impl LongPass {
    /// The kernel entry of this pass for `N = 2^log2_n`, the rows' dtype (`In`: bf16, f16 or f32
    /// for the kernel; `Out`: bf16, f16 or f32 for `dk`; `Mid*`, `DkSum`: any) and planes
    /// (`split`; unsplit entries exist for `In` in bf16, `Out` in bf16 and f32, and for the `Mid*`
    /// passes except `MidPrepare` and `DkSum`).
    pub const fn entry_name(self, log2_n: u32, dtype: DType, split: bool) -> Option<&'static str> {
        if !is_long(log2_n) {
            return None;
        }
        if !split {
            return match (self, dtype) {
                (LongPass::Mid, _) => Some("fftconv_long_mid_unsplit"),
                (LongPass::MidSpectrum, _) => Some("fftconv_long_mid_spectrum_unsplit"),
                (LongPass::MidSpectrumConv, _) => Some("fftconv_long_mid_spectrum_conv_unsplit"),
                (LongPass::MidGrad, _) => Some("fftconv_long_mid_grad_unsplit"),
                (LongPass::DkSum, _) => Some("fftconv_long_dk_sum_unsplit"),
                (LongPass::In, DType::BF16) => by_long_size!("fftconv_long_in", "_bf16_unsplit", log2_n),
                (LongPass::Out, DType::BF16) => by_long_size!("fftconv_long_out", "_bf16_unsplit", log2_n),
                (LongPass::Out, DType::F32) => by_long_size!("fftconv_long_out", "_f32_unsplit", log2_n),
                _ => None,
            };
        }
        match (self, dtype) {
            (LongPass::Mid, _) => Some("fftconv_long_mid"),
            (LongPass::MidPrepare, _) => Some("fftconv_long_mid_prepare"),
            (LongPass::In, DType::BF16) => by_long_size!("fftconv_long_in", "_bf16", log2_n),
            (LongPass::In, DType::F16) => by_long_size!("fftconv_long_in", "_f16", log2_n),
            (LongPass::In, DType::F32) => by_long_size!("fftconv_long_in", "_f32", log2_n),
            (LongPass::Out, DType::BF16) => by_long_size!("fftconv_long_out", "_bf16", log2_n),
            (LongPass::Out, DType::F16) => by_long_size!("fftconv_long_out", "_f16", log2_n),
            (LongPass::Out, DType::F32) => by_long_size!("fftconv_long_out", "_f32", log2_n),
            (LongPass::MidSpectrum, _) => Some("fftconv_long_mid_spectrum"),
            (LongPass::MidSpectrumConv, _) => Some("fftconv_long_mid_spectrum_conv"),
            (LongPass::MidGrad, _) => Some("fftconv_long_mid_grad"),
            (LongPass::DkSum, _) => Some("fftconv_long_dk_sum"),
        }
    }
}

#[cfg(test)]
mod long_tests {
    use super::*;

    /// The backward's shared areas keep the blocks per SM the registers allow (two, except the
    /// split kernels at 512, 1K and 8K–32K, which hold one;
    /// `crates/flashfftconv/ptx/resources.md`) within the H100's
    /// 228 KiB per SM (1 KiB of it reserved per block) and its 227 KiB opt-in per block.
    #[test]
    fn backward_shared_memory_fits() {
        for log2_n in 8..=15 {
            for split in [false, true] {
                let bytes = backward_shared_bytes(log2_n, split);
                let one_block = split && matches!(log2_n, 9 | 10 | 13..=15);
                let blocks = if one_block { 1 } else { 2 };
                assert!(bytes <= 227 << 10, "N = 2^{log2_n}, split {split}: {bytes} B");
                assert!(blocks * (bytes + 1024) <= 228 << 10, "N = 2^{log2_n}, split {split}: {bytes} B");
                let rows = backward_workspace_bytes(1, 1, log2_n, split) / pairs_per_block(log2_n) as u64;
                // The global `z` row: complex f16 unsplit, complex f32 split.
                let z = if backward_spectrum_on_chip(log2_n, split) {
                    0
                } else if split {
                    8
                } else {
                    4
                };
                assert_eq!(rows, (8 + z) << log2_n, "N = 2^{log2_n}, split {split}");
            }
        }
        assert!(backward_dk_on_chip(13, true) && !backward_dk_on_chip(13, false) && !backward_dk_on_chip(14, true));
    }

    #[test]
    fn backward_chunks_cover_the_pairs() {
        for log2_n in 8..=15 {
            for split in [false, true] {
                for batch in [1, 2, 3, 16, 31, 32, 33, 64, 65, 1000] {
                    for heads in [1, 7, 768, 4096] {
                        let (chunks, per_chunk) = backward_chunks(batch, heads, log2_n, split);
                        let pairs = batch.div_ceil(2);
                        assert!(chunks >= 1 && per_chunk % pairs_per_block(log2_n) == 0);
                        // Every pair in a chunk, no chunk empty.
                        assert!(chunks * per_chunk >= pairs && (chunks - 1) * per_chunk < pairs);
                        if heads >= BACKWARD_TARGET_BLOCKS && chunks > 1 {
                            // Only the chunks for the shared spectrum: each of ≥ 8 pairs, and
                            // the workspace within u's bytes where the unsplit kernels run
                            // (L ≥ N/2).
                            assert!(!backward_dk_on_chip(log2_n, split) && chunks <= BACKWARD_HEAD_CHUNKS);
                            assert!(per_chunk >= BACKWARD_CHUNK_MIN_PAIRS);
                            let workspace = backward_workspace_bytes(chunks as u64, heads as u64, log2_n, split);
                            assert!(workspace <= batch as u64 * heads as u64 * (1 << (log2_n - 1)) * 2);
                        }
                    }
                }
            }
        }
        // The bench's B = 64 × H = 768: 4 chunks of 8 pairs where `dk` is in a global row.
        assert_eq!(backward_chunks(64, 768, 13, false), (4, 8));
        assert_eq!(backward_chunks(64, 768, 13, true), (1, 32));
        assert_eq!(backward_chunks(64, 768, 15, true), (4, 8));
        assert_eq!(backward_chunks(16, 768, 15, false), (1, 8));
    }

    #[test]
    fn long_geometry() {
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            let c = long_columns_log2(log2_n);
            assert!((3..=10).contains(&c), "{log2_n}: C = 2^{c}");
            assert_eq!(long_outer_log2(log2_n) + c, LONG_TILE_LOG2);
            assert_eq!((long_column_groups(log2_n) as u64) << c, 1 << LONG_INNER_LOG2);
            assert!(long_pairs_per_launch(log2_n) >= 4);
            assert_eq!(long_pairs_per_launch(log2_n), (256 << 20) >> (log2_n + 3), "{log2_n}");
            assert_eq!(long_backward_pairs_per_launch(log2_n), (256 << 20) >> (log2_n + 4), "{log2_n}");
            for pass in [
                LongPass::In,
                LongPass::Mid,
                LongPass::MidPrepare,
                LongPass::Out,
                LongPass::MidSpectrum,
                LongPass::MidSpectrumConv,
                LongPass::MidGrad,
                LongPass::DkSum,
            ] {
                assert!(pass.entry_name(log2_n, DType::BF16, true).is_some());
            }
            for pass in [
                LongPass::In,
                LongPass::Mid,
                LongPass::Out,
                LongPass::MidSpectrum,
                LongPass::MidSpectrumConv,
                LongPass::MidGrad,
                LongPass::DkSum,
            ] {
                assert!(pass.entry_name(log2_n, DType::BF16, false).is_some());
                let rows = !matches!(pass, LongPass::In | LongPass::Out);
                assert_eq!(pass.entry_name(log2_n, DType::F16, false).is_some(), rows);
            }
        }
        assert_eq!(LongPass::In.entry_name(23, DType::F32, true), Some("fftconv_long_in_n8388608_f32"));
        assert_eq!(LongPass::Out.entry_name(16, DType::F32, true), Some("fftconv_long_out_n65536_f32"));
        assert_eq!(LongPass::Out.entry_name(16, DType::BF16, false), Some("fftconv_long_out_n65536_bf16_unsplit"));
        assert_eq!(LongPass::MidPrepare.entry_name(16, DType::BF16, false), None);
        assert_eq!(LongPass::DkSum.entry_name(16, DType::BF16, true), Some("fftconv_long_dk_sum"));
        assert_eq!(LongPass::MidGrad.entry_name(16, DType::BF16, false), Some("fftconv_long_mid_grad_unsplit"));
        assert_eq!(LongPass::Out.entry_name(23, DType::F32, false), Some("fftconv_long_out_n8388608_f32_unsplit"));
        assert!(long_backward_pairs_per_launch(23) >= 1);
        assert!(long_backward_pairs_per_launch(16) * long_backward_pair_bytes(16) <= LONG_WORKSPACE_BYTES);
        // A workspace of any size: whole pairs, none below one pair's bytes.
        for log2_n in LONG_MIN_LOG2_N..=LONG_MAX_LOG2_N {
            let (one, one_bwd) = (long_pair_bytes(log2_n), long_backward_pair_bytes(log2_n));
            assert_eq!((long_pairs_in(log2_n, one - 1), long_pairs_in(log2_n, one)), (0, 1));
            assert_eq!(long_pairs_in(log2_n, 3 * one - 1), 2);
            assert_eq!((long_backward_pairs_in(log2_n, one_bwd - 1), long_backward_pairs_in(log2_n, one_bwd)), (0, 1));
            assert_eq!(long_pairs_in(log2_n, one_bwd), 2, "the backward's pair holds two forward pairs");
        }
        assert_eq!(LongPass::Mid.entry_name(15, DType::BF16, true), None);
        const { assert!(long_mid_shared_bytes(true) <= 227 * 1024) };
        const { assert!(long_outer_shared_bytes(false) < long_outer_shared_bytes(true)) };
    }
}
