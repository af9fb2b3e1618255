//! Short depthwise conv1d: one generic body per operation and layout.
//!
//! `y[b, d, j] = bias[d] + Σ_k w[d, k] · x[b, d, j − pad_left + k]` (see `flashfftconv-abi`).
//! Every body works in chunks of 8 consecutive elements and in tap chunks of 8 taps (taps past
//! `K` read as zero weights), so any `K` and any padding use the same constant-indexed register
//! arrays; only the number of tap chunks is a run-time loop.
//!
//! * `(B, D, L)`: a thread owns a run of 32 consecutive outputs of one row. Its input window
//!   for a tap chunk (39 elements at an arbitrary offset) comes from six aligned 16-byte loads —
//!   the outer two hit L1, as the neighbouring threads load them too — shifted into place at
//!   compile time: the shift `(−pad_left) mod 8` is the same for the whole launch, and the
//!   bodies are stamped once per shift value behind one uniform `match`.
//! * `(B, L, D)`: a lane owns 4 consecutive channels (one 8-byte load per position for 16-bit
//!   types) and walks positions in groups of `G` outputs, loading each input position once per
//!   group and tap chunk.
//!
//! The input gradient is this forward with taps reversed and `pad_left' = K − 1 − pad_left`
//! (`FLAG_FLIP_TAPS`). Weight and bias gradients reduce over (batch, position) into per-warp
//! partials in a fixed order, summed by `weight_grad_reduce`: deterministic, no atomics.

use crate::device::{block_x, block_y, thread_x, thread_y};
use crate::element::{Accum, Element};
use flashfftconv_abi::conv1d::{
    geometry::*, Conv1dParams, Conv1dWeightGradParams, CHUNK, FLAG_FLIP_TAPS, FLAG_HAS_BIAS, FLAG_INPUT_VECTOR,
    FLAG_OUTPUT_VECTOR,
};

const C: usize = CHUNK;
/// Output positions per inner group of the `(B, L, D)` bodies (`G` below): each group loads
/// `G + 7` input positions per tap chunk and keeps `G × 4` accumulators. 8 for 16-bit outputs;
/// f32 outputs, whose accumulators are f64, use 4 to keep registers for occupancy.
pub const GROUP_16BIT: usize = 8;
/// See [`GROUP_16BIT`].
pub const GROUP_F32: usize = 4;

/// Elements `start .. start + 8` of a row of `len` elements, zero outside `[0, len)`.
///
/// # Safety
/// The row's elements `[0, len)` are readable; with `vector`, the row starts 16-byte aligned
/// and `start` is a multiple of 8.
#[inline(always)]
unsafe fn load_chunk<T: Element>(row: *const T, start: i64, len: i64, vector: bool) -> [f32; C] {
    if vector && start >= 0 && start + C as i64 <= len {
        // SAFETY: in bounds and aligned (caller).
        unsafe { T::load8(row.offset(start as isize)) }
    } else {
        let mut v = [0.0f32; C];
        for (i, slot) in v.iter_mut().enumerate() {
            let e = start + i as i64;
            if e >= 0 && e < len {
                // SAFETY: in bounds (caller).
                *slot = unsafe { T::load(row.offset(e as isize)) };
            }
        }
        v
    }
}

/// Channels a lane of the `(B, L, D)` kernels owns: 4 (8-byte loads of 16-bit types), so that
/// its accumulators, taps and inputs fit in few enough registers for a full SM.
const LANE: usize = 4;

/// Elements `start .. start + 4` of a row of `len` elements, zero outside `[0, len)`.
///
/// # Safety
/// As [`load_chunk`], with `start` a multiple of 4.
#[inline(always)]
unsafe fn load_lane<T: Element>(row: *const T, start: i64, len: i64, vector: bool) -> [f32; LANE] {
    if vector && start >= 0 && start + LANE as i64 <= len {
        // SAFETY: in bounds and aligned (caller).
        unsafe { T::load4(row.offset(start as isize)) }
    } else {
        let mut v = [0.0f32; LANE];
        for (i, slot) in v.iter_mut().enumerate() {
            let e = start + i as i64;
            if e >= 0 && e < len {
                // SAFETY: in bounds (caller).
                *slot = unsafe { T::load(row.offset(e as isize)) };
            }
        }
        v
    }
}

/// Write elements `start .. start + 4` of a row of `len`, dropping those at `len` or beyond.
///
/// # Safety
/// As [`store_chunk`], with `start` a multiple of 4.
#[inline(always)]
unsafe fn store_lane<T: Element>(row: *mut T, start: i64, len: i64, vector: bool, v: [T::Acc; LANE]) {
    if vector && start + LANE as i64 <= len {
        // SAFETY: in bounds and aligned (caller).
        unsafe { T::store4(row.offset(start as isize), v) };
    } else {
        for (i, &value) in v.iter().enumerate() {
            let e = start + i as i64;
            if e < len {
                // SAFETY: in bounds (caller).
                unsafe { T::store(row.offset(e as isize), value) };
            }
        }
    }
}

/// Write elements `start .. start + 8` of a row of `len`, dropping those at `len` or beyond.
///
/// # Safety
/// `[0, len)` of the row is writable; `start ≥ 0`; with `vector` as for [`load_chunk`].
#[inline(always)]
unsafe fn store_chunk<T: Element>(row: *mut T, start: i64, len: i64, vector: bool, v: [T::Acc; C]) {
    if vector && start + C as i64 <= len {
        // SAFETY: in bounds and aligned (caller).
        unsafe { T::store8(row.offset(start as isize), v) };
    } else {
        for (i, &value) in v.iter().enumerate() {
            let e = start + i as i64;
            if e < len {
                // SAFETY: in bounds (caller).
                unsafe { T::store(row.offset(e as isize), value) };
            }
        }
    }
}

/// Chunks a `(B, D, L)` thread owns.
const RUN_CHUNKS: usize = BHL_RUN_CHUNKS as usize;
/// Elements of a run.
const RUN: usize = RUN_CHUNKS * C;
/// Elements a run's window is assembled from: the run's chunks plus two neighbours.
const RUN_WINDOW: usize = RUN + 2 * C;

/// Elements `start .. start + RUN + 7` of a row (zero outside it) at the front of the returned
/// array, so that output `o` of a run with tap-chunk base `start` reads `win[o + kk]`. Built
/// from aligned chunk loads; `S = start mod 8` is a compile-time constant (the kernels
/// dispatch on it once: it is the same for every thread and tap chunk of a launch), so the
/// shift is free register renaming.
///
/// # Safety
/// As [`load_chunk`]; `start ≡ S (mod 8)`.
#[inline(always)]
unsafe fn load_run_window<T: Element, const S: usize>(
    row: *const T,
    start: i64,
    len: i64,
    vector: bool,
) -> [f32; RUN + C] {
    let base = start - S as i64;
    // The last chunk holds needed elements only when the shift is 2 or more.
    let chunks = if S >= 2 { RUN_CHUNKS + 2 } else { RUN_CHUNKS + 1 };
    let mut raw = [0.0f32; RUN_WINDOW];
    for v in 0..RUN_CHUNKS + 2 {
        if v < chunks {
            // SAFETY: forwarded from the caller; the chunk start is a multiple of 8.
            let chunk = unsafe { load_chunk(row, base + (v * C) as i64, len, vector) };
            for e in 0..C {
                raw[v * C + e] = chunk[e];
            }
        }
    }
    let mut win = [0.0f32; RUN + C];
    for m in 0..RUN + C {
        win[m] = raw[m + S];
    }
    win
}

/// `(B, D, L)` bodies are stamped once per input shift `(−pad_left) mod 8`: calls
/// `$body::<T, W, S>(args…)` for the launch's shift.
macro_rules! dispatch_shift {
    ($shift:expr, $body:ident::<$($t:ty),*>($($arg:expr),*)) => {
        match $shift {
            0 => $body::<$($t,)* 0>($($arg),*),
            1 => $body::<$($t,)* 1>($($arg),*),
            2 => $body::<$($t,)* 2>($($arg),*),
            3 => $body::<$($t,)* 3>($($arg),*),
            4 => $body::<$($t,)* 4>($($arg),*),
            5 => $body::<$($t,)* 5>($($arg),*),
            6 => $body::<$($t,)* 6>($($arg),*),
            _ => $body::<$($t,)* 7>($($arg),*),
        }
    };
}

/// `(−pad_left) mod 8`: where a run's input window starts inside its first aligned chunk.
#[inline(always)]
fn input_shift(p: &Conv1dParams) -> u32 {
    (C as u32 - p.pad_left % C as u32) % C as u32
}

/// `(a / b, a % b)`, in 32-bit arithmetic when both fit (a 64-bit division is a long
/// software routine on the GPU).
#[inline(always)]
fn div_rem(a: u64, b: u64) -> (u64, u64) {
    if (a | b) >> 32 == 0 {
        let (a, b) = (a as u32, b as u32);
        ((a / b) as u64, (a % b) as u64)
    } else {
        (a / b, a % b)
    }
}

/// Taps `8·chunk .. 8·chunk + 8` of channel `d` (zero past the last tap), reversed when `flip`.
///
/// # Safety
/// `w` holds `(D, taps)` weights and `d < D`.
#[inline(always)]
unsafe fn load_taps<W: Element>(w: *const W, d: u64, taps: u32, chunk: u32, flip: bool) -> [f32; C] {
    // Every load is issued (from a clamped, valid tap) before any value is used; taps past
    // K are zeroed afterwards.
    let mut out = [0.0f32; C];
    for (kk, slot) in out.iter_mut().enumerate() {
        let k = (chunk * C as u32 + kk as u32).min(taps - 1);
        let tap = if flip { taps - 1 - k } else { k };
        // SAFETY: d < D and tap < taps (caller).
        *slot = unsafe { W::load(w.add((d * taps as u64 + tap as u64) as usize)) };
    }
    for (kk, slot) in out.iter_mut().enumerate() {
        if chunk * C as u32 + kk as u32 >= taps {
            *slot = 0.0;
        }
    }
    out
}

/// `bias[d]`, or zero without a bias.
///
/// # Safety
/// With `FLAG_HAS_BIAS`, `bias` holds `D` elements and `d < D`.
#[inline(always)]
unsafe fn load_bias<W: Element>(bias: *const W, d: u64, p: &Conv1dParams) -> f32 {
    if p.flags & FLAG_HAS_BIAS != 0 {
        // SAFETY: caller.
        unsafe { W::load(bias.add(d as usize)) }
    } else {
        0.0
    }
}

/// Forward / input gradient, `(B, D, L)`. Grid: `⌈B·D·⌈len_out / 32⌉ / 128⌉` blocks of 128
/// threads; thread `g` owns run `g mod runs_per_row` (32 outputs) of row `g / runs_per_row`.
///
/// # Safety
/// `x` holds `B·D·len_in` elements, `y` `B·D·len_out`, `w` `D·taps`, `bias` `D` (if flagged);
/// `y` overlaps none of them; the vector flags are set only when their alignment holds.
#[inline(always)]
pub unsafe fn forward_bhl<T: Element, W: Element>(
    x: *const T,
    w: *const W,
    bias: *const W,
    y: *mut T,
    p: Conv1dParams,
) {
    // SAFETY: forwarded.
    unsafe { dispatch_shift!(input_shift(&p), forward_bhl_shifted::<T, W>(x, w, bias, y, p)) }
}

/// [`forward_bhl`] for input shift `S`.
///
/// # Safety
/// As [`forward_bhl`].
#[inline(always)]
unsafe fn forward_bhl_shifted<T: Element, W: Element, const S: usize>(
    x: *const T,
    w: *const W,
    bias: *const W,
    y: *mut T,
    p: Conv1dParams,
) {
    let runs_per_row = p.len_out.div_ceil(RUN as u32) as u64;
    let run = block_x() * BHL_THREADS as u64 + thread_x() as u64;
    if run < p.batch as u64 * p.channels as u64 * runs_per_row {
        // SAFETY: run < total (caller's buffers as for `forward_bhl`).
        unsafe { forward_bhl_run::<T, W, S>(x, w, bias, y, run, runs_per_row, &p) };
    }
}

/// One run of [`forward_bhl`]: 32 outputs of one row.
///
/// # Safety
/// As [`forward_bhl`], with `run < B·D·runs_per_row`.
#[inline(always)]
unsafe fn forward_bhl_run<T: Element, W: Element, const S: usize>(
    x: *const T,
    w: *const W,
    bias: *const W,
    y: *mut T,
    run: u64,
    runs_per_row: u64,
    p: &Conv1dParams,
) {
    let (row, run) = div_rem(run, runs_per_row);
    let first = (run * RUN as u64) as i64;
    let d = div_rem(row, p.channels as u64).1;
    let flip = p.flags & FLAG_FLIP_TAPS != 0;
    // SAFETY: d < D; the pointers cover the shapes (caller).
    let mut acc = [T::Acc::from_f32(unsafe { load_bias(bias, d, p) }); RUN];
    // SAFETY: row < B·D.
    let x_row = unsafe { x.add((row * p.len_in as u64) as usize) };
    for tap_chunk in 0..p.tap_chunks() {
        let start = first - p.pad_left as i64 + (tap_chunk as i64) * C as i64;
        // SAFETY: as above.
        let (taps, win) = unsafe {
            (
                load_taps(w, d, p.taps, tap_chunk, flip),
                load_run_window::<T, S>(x_row, start, p.len_in as i64, p.flags & FLAG_INPUT_VECTOR != 0),
            )
        };
        let live_taps = (p.taps - tap_chunk * C as u32).min(C as u32) as usize;
        for (kk, &tap) in taps.iter().enumerate() {
            // Uniform branch: taps past K are skipped, not multiplied by zero.
            if kk < live_taps {
                for (o, a) in acc.iter_mut().enumerate() {
                    *a = a.fma(tap, win[o + kk]);
                }
            }
        }
    }
    // SAFETY: row < B·D; chunk starts ≥ 0.
    let y_row = unsafe { y.add((row * p.len_out as u64) as usize) };
    for r in 0..RUN_CHUNKS {
        let mut chunk = [T::Acc::ZERO; C];
        chunk.copy_from_slice(&acc[r * C..(r + 1) * C]);
        // SAFETY: as above.
        unsafe {
            store_chunk(y_row, first + (r * C) as i64, p.len_out as i64, p.flags & FLAG_OUTPUT_VECTOR != 0, chunk)
        };
    }
}

/// Input rows a group can read: the largest group plus 7.
const MAX_GROUP_ROWS: usize = GROUP_16BIT + C - 1;

/// A lane's 4 channels at input positions `start .. start + G + 7` of one batch (`x_b` is its
/// `(L, D)` slab); zero outside `[0, len_in)` and for rows no live tap reaches. For vector
/// rows every load is issued (from a clamped, valid position) before any is widened.
///
/// # Safety
/// `x_b` holds `len_in · D` elements; `d0 < D` is a multiple of 4.
#[inline(always)]
unsafe fn load_lane_rows<T: Element, const G: usize>(
    x_b: *const T,
    start: i64,
    live_taps: usize,
    d0: u64,
    p: &Conv1dParams,
    vector: bool,
) -> [[f32; LANE]; MAX_GROUP_ROWS] {
    let channels = p.channels as u64;
    let len = p.len_in as i64;
    let mut rows = [[0.0f32; LANE]; MAX_GROUP_ROWS];
    if vector {
        let mut packed = [T::ZERO4; MAX_GROUP_ROWS];
        for m in 0..G + C - 1 {
            let pos = (start + m as i64).clamp(0, len - 1) as u64;
            // SAFETY: 0 ≤ pos < len_in; d0 + 4 ≤ D (vector rows: D is a multiple of 8).
            packed[m] = unsafe { T::load4_packed(x_b.add((pos * channels + d0) as usize)) };
        }
        for m in 0..G + C - 1 {
            let pos = start + m as i64;
            if m < live_taps + G - 1 && pos >= 0 && pos < len {
                rows[m] = T::widen4(&packed[m]);
            }
        }
    } else {
        for m in 0..G + C - 1 {
            let pos = start + m as i64;
            if m < live_taps + G - 1 && pos >= 0 && pos < len {
                // SAFETY: 0 ≤ pos < len_in.
                rows[m] =
                    unsafe { load_lane(x_b.add((pos as u64 * channels) as usize), d0 as i64, channels as i64, vector) };
            }
        }
    }
    rows
}

/// Taps of one chunk for a lane's 4 consecutive channels: `[tap][channel]`.
///
/// # Safety
/// As [`load_taps`] for each channel `< D`; channels at or past `D` read as zero.
#[inline(always)]
unsafe fn load_taps_lane<W: Element>(
    w: *const W,
    d0: u64,
    channels: u64,
    taps: u32,
    chunk: u32,
    flip: bool,
) -> [[f32; LANE]; C] {
    let mut out = [[0.0f32; LANE]; C];
    for ch in 0..LANE {
        let d = d0 + ch as u64;
        if d < channels {
            // SAFETY: d < D (checked), rest from the caller.
            let t = unsafe { load_taps(w, d, taps, chunk, flip) };
            for kk in 0..C {
                out[kk][ch] = t[kk];
            }
        }
    }
    out
}

/// Forward / input gradient, `(B, L, D)`. Grid: `B · ⌈len_out / 64⌉ · ⌈D / 128⌉` blocks of
/// `(32, 4)` threads; a thread owns 4 channels × 16 positions.
///
/// # Safety
/// As [`forward_bhl`].
#[inline(always)]
pub unsafe fn forward_blh<T: Element, W: Element, const G: usize>(
    x: *const T,
    w: *const W,
    bias: *const W,
    y: *mut T,
    p: Conv1dParams,
) {
    let channel_blocks = p.channels.div_ceil(BLH_CHANNELS_PER_BLOCK) as u64;
    let row_blocks = p.len_out.div_ceil(FWD_BLH_ROWS_PER_BLOCK) as u64;
    let (rest, channel_block) = div_rem(block_x(), channel_blocks);
    let (b, row_block) = div_rem(rest, row_blocks);
    let channels = p.channels as u64;
    let block_d0 = channel_block * BLH_CHANNELS_PER_BLOCK as u64;
    let d0 = block_d0 + thread_x() as u64 * LANE as u64;
    let flip = p.flags & FLAG_FLIP_TAPS != 0;
    let tap_chunks = p.tap_chunks();
    let mut taps = [[0.0f32; LANE]; C];
    if b >= p.batch as u64 || d0 >= channels {
        return;
    }
    let (vin, vout) = (p.flags & FLAG_INPUT_VECTOR != 0, p.flags & FLAG_OUTPUT_VECTOR != 0);
    let mut bias_lane = [0.0f32; LANE];
    // SAFETY: b < B.
    let (x_b, y_b) = unsafe {
        (x.add((b * p.len_in as u64 * channels) as usize), y.add((b * p.len_out as u64 * channels) as usize))
    };
    let first_row =
        (row_block * FWD_BLH_ROWS_PER_BLOCK as u64 + thread_y() as u64 * FWD_BLH_ROWS_PER_THREAD as u64) as i64;
    for group in 0..(FWD_BLH_ROWS_PER_THREAD as usize / G) {
        let j0 = first_row + (group * G) as i64;
        if j0 >= p.len_out as i64 {
            break;
        }
        let mut acc = [[T::Acc::ZERO; LANE]; G];
        for tap_chunk in 0..tap_chunks {
            let live_taps = (p.taps - tap_chunk * C as u32).min(C as u32) as usize;
            let start = j0 - p.pad_left as i64 + (tap_chunk as i64) * C as i64;
            // The rows' loads are issued before the taps' and the bias', whose widening would
            // otherwise stall the warp before the rows are even requested.
            // SAFETY: batch b of x.
            let rows = unsafe { load_lane_rows::<T, G>(x_b, start, live_taps, d0, &p, vin) };
            if tap_chunks > 1 || group == 0 {
                // SAFETY: channels < D are read, the rest are zero.
                taps = unsafe { load_taps_lane(w, d0, channels, p.taps, tap_chunk, flip) };
            }
            if group == 0 && tap_chunk == 0 {
                for (ch, slot) in bias_lane.iter_mut().enumerate() {
                    if d0 + (ch as u64) < channels {
                        // SAFETY: channel < D.
                        *slot = unsafe { load_bias(bias, d0 + ch as u64, &p) };
                    }
                }
            }
            for m in 0..G + C - 1 {
                let xr = rows[m];
                for (i, acc_row) in acc.iter_mut().enumerate() {
                    if m >= i && m - i < live_taps {
                        for ch in 0..LANE {
                            acc_row[ch] = acc_row[ch].fma(taps[m - i][ch], xr[ch]);
                        }
                    }
                }
            }
        }
        for (i, acc_row) in acc.iter_mut().enumerate() {
            for ch in 0..LANE {
                acc_row[ch] = acc_row[ch].add(T::Acc::from_f32(bias_lane[ch]));
            }
            let j = j0 + i as i64;
            if j < p.len_out as i64 {
                // SAFETY: j < len_out.
                unsafe {
                    store_lane(y_b.add((j as u64 * channels) as usize), d0 as i64, channels as i64, vout, *acc_row)
                };
            }
        }
    }
}

/// The slice of `total` work items that part `part` of `parts` owns.
#[inline(always)]
fn part_range(total: u64, part: u64, parts: u64) -> (u64, u64) {
    (total * part / parts, total * (part + 1) / parts)
}

/// Index of the partial sum for (partial row, channel, slot).
#[inline(always)]
fn partial_index(row: u64, d: u64, slot: u64, q: &Conv1dWeightGradParams) -> usize {
    ((row * q.conv.channels as u64 + d) * q.tap_slots as u64 + slot) as usize
}

/// Weight and bias gradient partials, `(B, D, L)`. Grid: `(D · parts, tap_chunks)` blocks of
/// 128 threads; block (d, part) reduces its slice of the `(batch, run of 32 outputs)` items.
///
/// # Safety
/// `x` holds `B·D·len_in`, `dy` `B·D·len_out` elements; `partials` holds
/// `parts · DW_WARPS · D · tap_slots` accumulators.
#[inline(always)]
pub unsafe fn weight_grad_bhl<T: Element, W: Element>(
    x: *const T,
    dy: *const T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    // SAFETY: forwarded.
    unsafe { dispatch_shift!(input_shift(&q.conv), weight_grad_bhl_shifted::<T, W>(x, dy, partials, q)) }
}

/// [`weight_grad_bhl`] for input shift `S`.
///
/// # Safety
/// As [`weight_grad_bhl`].
#[inline(always)]
unsafe fn weight_grad_bhl_shifted<T: Element, W: Element, const S: usize>(
    x: *const T,
    dy: *const T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    let p = q.conv;
    let parts = q.parts as u64;
    let (d, part) = div_rem(block_x(), parts);
    let tap_chunk = block_y();
    if d >= p.channels as u64 {
        return; // whole block: no shuffle is left waiting
    }
    let runs_per_row = p.len_out.div_ceil(RUN as u32) as u64;
    let live_taps = (p.taps - tap_chunk * C as u32).min(C as u32) as usize;
    let (begin, end) = part_range(p.batch as u64 * runs_per_row, part, parts);
    let mut acc = [W::Acc::ZERO; C];
    let mut acc_bias = W::Acc::ZERO;
    let mut item = begin + thread_x() as u64;
    while item < end {
        let (b, run) = div_rem(item, runs_per_row);
        let row = b * p.channels as u64 + d;
        let first = (run * RUN as u64) as i64;
        // SAFETY: row < B·D; loads stay in their rows.
        let (dy_row, x_row) =
            unsafe { (dy.add((row * p.len_out as u64) as usize), x.add((row * p.len_in as u64) as usize)) };
        let mut g = [0.0f32; RUN];
        for r in 0..RUN_CHUNKS {
            // SAFETY: as above.
            let chunk = unsafe {
                load_chunk(dy_row, first + (r * C) as i64, p.len_out as i64, p.flags & FLAG_OUTPUT_VECTOR != 0)
            };
            for e in 0..C {
                g[r * C + e] = chunk[e];
            }
        }
        let start = first - p.pad_left as i64 + (tap_chunk as i64) * C as i64;
        // SAFETY: as above.
        let win = unsafe { load_run_window::<T, S>(x_row, start, p.len_in as i64, p.flags & FLAG_INPUT_VECTOR != 0) };
        for (kk, a) in acc.iter_mut().enumerate() {
            // Uniform branch: taps past K are not computed (their partials stay zero).
            if kk < live_taps {
                for (o, &go) in g.iter().enumerate() {
                    *a = a.fma(go, win[o + kk]);
                }
            }
        }
        if tap_chunk == 0 {
            for &go in g.iter() {
                acc_bias = acc_bias.add(W::Acc::from_f32(go));
            }
        }
        item += BHL_THREADS as u64;
    }
    let mut mask = 16;
    while mask > 0 {
        for a in acc.iter_mut() {
            *a = a.add(a.shfl_xor(mask));
        }
        acc_bias = acc_bias.add(acc_bias.shfl_xor(mask));
        mask /= 2;
    }
    if thread_x() % 32 == 0 {
        let warp_part = part * DW_WARPS as u64 + (thread_x() / 32) as u64;
        for (kk, &a) in acc.iter().enumerate() {
            let slot = (tap_chunk as usize * C + kk) as u64;
            // SAFETY: slot < tap_slots − 1; indices within the partials buffer (caller).
            unsafe { *partials.add(partial_index(warp_part, d, slot, &q)) = a };
        }
        if tap_chunk == 0 {
            // SAFETY: as above; the last slot is the bias.
            unsafe { *partials.add(partial_index(warp_part, d, q.tap_slots as u64 - 1, &q)) = acc_bias };
        }
    }
}

/// Weight and bias gradient partials, `(B, L, D)`. Grid: `(⌈D / 128⌉ · parts, tap_chunks)`
/// blocks of `(32, DW_BLH_WARPS)` threads with `32 · 9 · 4` accumulators of shared memory; lanes
/// own 4 channels, warps take groups of `G` output positions in turn, and the warps' sums are
/// added in warp order in shared memory into one partial row per block.
///
/// # Safety
/// As [`weight_grad_bhl`], with `partials` holding `parts · D · tap_slots` accumulators.
#[inline(always)]
pub unsafe fn weight_grad_blh<T: Element, W: Element, const G: usize>(
    x: *const T,
    dy: *const T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    let p = q.conv;
    let parts = q.parts as u64;
    let (channel_block, part) = div_rem(block_x(), parts);
    let tap_chunk = block_y();
    let channels = p.channels as u64;
    let d0 = (channel_block * 32 + thread_x() as u64) * LANE as u64;
    // No early return: every thread reaches the barriers of the combine below.
    let active = d0 < channels;
    let (vx, vdy) = (p.flags & FLAG_INPUT_VECTOR != 0, p.flags & FLAG_OUTPUT_VECTOR != 0);
    let live_taps = (p.taps - tap_chunk * C as u32).min(C as u32) as usize;
    let groups = p.len_out.div_ceil(G as u32) as u64;
    let (begin, end) = part_range(p.batch as u64 * groups, part, parts);
    let mut acc = [[W::Acc::ZERO; LANE]; C + 1]; // [tap][channel]; the last row is the bias
    let mut item = begin + thread_y() as u64;
    while active && item < end {
        let (b, group) = div_rem(item, groups);
        let j0 = (group * G as u64) as i64;
        // SAFETY: b < B.
        let (x_b, dy_b) = unsafe {
            (x.add((b * p.len_in as u64 * channels) as usize), dy.add((b * p.len_out as u64 * channels) as usize))
        };
        let mut g = [[0.0f32; LANE]; G];
        if vdy && j0 + G as i64 <= p.len_out as i64 {
            let mut packed = [T::ZERO4; G];
            for i in 0..G {
                // SAFETY: j0 + i < len_out; d0 + 4 ≤ D (vector rows: D is a multiple of 8).
                packed[i] = unsafe { T::load4_packed(dy_b.add(((j0 as u64 + i as u64) * channels + d0) as usize)) };
            }
            for i in 0..G {
                g[i] = T::widen4(&packed[i]);
            }
        } else {
            for (i, gi) in g.iter_mut().enumerate() {
                let j = j0 + i as i64;
                if j < p.len_out as i64 {
                    // SAFETY: j < len_out.
                    *gi =
                        unsafe { load_lane(dy_b.add((j as u64 * channels) as usize), d0 as i64, channels as i64, vdy) };
                }
            }
        }
        let start = j0 - p.pad_left as i64 + (tap_chunk as i64) * C as i64;
        // SAFETY: batch b of x.
        let rows = unsafe { load_lane_rows::<T, G>(x_b, start, live_taps, d0, &p, vx) };
        for m in 0..G + C - 1 {
            let xr = rows[m];
            for (i, gi) in g.iter().enumerate() {
                if m >= i && m - i < live_taps {
                    for ch in 0..LANE {
                        acc[m - i][ch] = acc[m - i][ch].fma(gi[ch], xr[ch]);
                    }
                }
            }
        }
        if tap_chunk == 0 {
            for gi in g.iter() {
                for ch in 0..LANE {
                    acc[C][ch] = acc[C][ch].add(W::Acc::from_f32(gi[ch]));
                }
            }
        }
        item += DW_BLH_WARPS as u64;
    }
    // Combine the warps in order: warp 0 writes, each next warp adds, one barrier per warp.
    // SAFETY: the launch provides 32 lanes × (C + 1) · 4 sums of shared memory; each lane
    // touches only its own slots, and the barriers order the warps.
    unsafe {
        let staged =
            core::intrinsics::gpu::gpu_launch_sized_workgroup_mem::<W::Acc>().add(thread_x() as usize * (C + 1) * LANE);
        for warp in 0..DW_BLH_WARPS {
            if thread_y() == warp {
                for (slot, row) in acc.iter().enumerate() {
                    for (ch, &value) in row.iter().enumerate() {
                        let cell = staged.add(slot * LANE + ch);
                        *cell = if warp == 0 { value } else { (*cell).add(value) };
                    }
                }
            }
            core::arch::nvptx::_syncthreads();
        }
        if thread_y() == 0 && active {
            for ch in 0..LANE {
                let d = d0 + ch as u64;
                if d >= channels {
                    break;
                }
                for kk in 0..C {
                    let sum = *staged.add(kk * LANE + ch);
                    *partials.add(partial_index(part, d, (tap_chunk as usize * C + kk) as u64, &q)) = sum;
                }
                if tap_chunk == 0 {
                    let sum = *staged.add(C * LANE + ch);
                    *partials.add(partial_index(part, d, q.tap_slots as u64 - 1, &q)) = sum;
                }
            }
        }
    }
}

/// Sums the partials of every (channel, tap) and (channel, bias) in order and stores them,
/// rounded once, as `dw (D, K)` and `dbias (D)`. Grid: `⌈D · tap_slots / 256⌉` blocks of 256.
///
/// # Safety
/// `partials` as written by a weight-gradient kernel with the same `q`; `dw` holds `D·K`
/// elements and, with `FLAG_HAS_BIAS`, `dbias` holds `D`.
#[inline(always)]
pub unsafe fn weight_grad_reduce<W: Element>(
    partials: *const W::Acc,
    dw: *mut W,
    dbias: *mut W,
    q: Conv1dWeightGradParams,
) {
    let p = q.conv;
    let index = block_x() * DW_REDUCE_THREADS as u64 + thread_x() as u64;
    let slots = q.tap_slots as u64;
    if index >= p.channels as u64 * slots {
        return;
    }
    let (d, slot) = div_rem(index, slots);
    let is_bias = slot == slots - 1;
    if (is_bias && p.flags & FLAG_HAS_BIAS == 0) || (!is_bias && slot >= p.taps as u64) {
        return;
    }
    let mut sum = W::Acc::ZERO;
    for row in 0..q.partial_rows as u64 {
        // SAFETY: inside the partials buffer (caller).
        sum = sum.add(unsafe { *partials.add(partial_index(row, d, slot, &q)) });
    }
    // SAFETY: d < D, slot < K (caller's buffer sizes).
    unsafe {
        if is_bias {
            W::store(dbias.add(d as usize), sum);
        } else {
            W::store(dw.add((d * p.taps as u64 + slot) as usize), sum);
        }
    }
}
