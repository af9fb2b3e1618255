//! `test-gpu --big`: FFT convolutions whose `(B, H, L)` tensors hold 2³¹ elements or more
//! (issue 4: 64-bit offsets, no rule on B or H), checked on sampled rows.
//!
//! Checking every element against the f64 reference would take the CPU far longer than a device
//! call allows (an 8-GiB tensor is 4·10⁹ outputs), so each case:
//! * fills its inputs on the device by repeating a seeded random chunk of [`CHUNK`] values (an
//!   odd length, so rows `2³¹` or `2³²` elements apart never hold the same data and a wrapped
//!   32-bit offset reads the wrong values), and `y` with NaN, plus [`GUARD`] NaN elements after
//!   it;
//! * runs the forward (long sizes have no backward yet);
//! * checks, against the f64 reference of that row alone, the rows in [`sample_rows`]: the
//!   first two, one a third of the way, those on either side of element 2³¹ (byte 2³² of a
//!   16-bit tensor) and of element 2³², the first row of the second launch group, and the last
//!   two;
//! * checks that the first and last element of every row were written (no NaN) and that the
//!   guard after `y` is still NaN.
//!
//! The cases need about 30 and 49 GiB of device memory (80-GB card) and a few seconds of the
//! host's cores; they are not part of the default sweep: run them with
//! `test-gpu --only fftconv --big` (`bash .device/run.sh test fftconv --big`).

use crate::fftconv_sweep::{GateSet, KernelPath};
use flashfftconv::cudarc::driver::{CudaSlice, CudaStream, ValidAsZeroBits};
use flashfftconv::{half, DType, Element, FftConv, FftElement, FftInput, Gates, Gpu, KernelInput};
use flashfftconv_abi::fftconv::long_pairs_per_launch;
use flashfftconv_reference::bounds::FFTCONV_MAX_RATIO;
use flashfftconv_reference::data::Rng;
use flashfftconv_reference::fftconv::{self as reference, FftConvShape};
use flashfftconv_reference::metric::compare;
use std::sync::Arc;
use std::time::Instant;

/// Values in the random chunk each input repeats: odd, so that rows a power of two apart hold
/// different data.
pub const CHUNK: usize = (1 << 22) + 7;

/// NaN elements after `y`, checked untouched.
pub const GUARD: usize = 1024;

/// One big case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BigCase {
    /// FFT size N.
    pub fft_size: usize,
    /// L.
    pub len: usize,
    /// Lk.
    pub kernel_len: usize,
    /// B.
    pub batch: usize,
    /// H.
    pub heads: usize,
    /// bf16 or f16.
    pub dtype: DType,
    /// Gates given.
    pub gates: GateSet,
    /// Raw or prepared k.
    pub path: KernelPath,
}

impl BigCase {
    /// Elements of `(B, H, L)`.
    pub fn elements(&self) -> u64 {
        (self.batch * self.heads * self.len) as u64
    }

    /// Rows `B · H`.
    pub fn rows(&self) -> usize {
        self.batch * self.heads
    }

    /// Device bytes the case allocates: the `(B, H, L)` tensors, k, the prepared (or
    /// temporary) spectrum and the plan's workspace.
    pub fn device_bytes(&self) -> u64 {
        let tensors = 2 + 2 * matches!(self.gates, GateSet::Both) as u64;
        tensors * self.elements() * 2
            + (self.heads * self.kernel_len) as u64 * 4
            + flashfftconv_abi::fftconv::prepared_len(self.heads as u64, self.fft_size as u64) * 4
            + flashfftconv_abi::fftconv::LONG_WORKSPACE_BYTES
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        format!(
            "N={} L={} Lk={} B={} H={} {} gates={} k={} ({} elements = 2^{:.3} per tensor, {:.1} GiB on the device)",
            self.fft_size,
            self.len,
            self.kernel_len,
            self.batch,
            self.heads,
            self.dtype.name(),
            self.gates.name(),
            match self.path {
                KernelPath::Raw => "raw",
                KernelPath::Prepared => "prepared",
            },
            self.elements(),
            (self.elements() as f64).log2(),
            self.device_bytes() as f64 / (1u64 << 30) as f64
        )
    }
}

/// The big cases: just over 2³¹ elements (causal, gated, odd B, raw k: 2 GiB over the 32-bit
/// byte range of a 16-bit tensor), and 2³² elements (circular with a short kernel, prepared k,
/// H = 1024 as the issue suggests: past the 32-bit element range).
pub fn big_cases() -> Vec<BigCase> {
    vec![
        BigCase {
            fft_size: 1 << 22,
            len: 1 << 21,
            kernel_len: 1 << 21,
            batch: 3,
            heads: 342,
            dtype: DType::BF16,
            gates: GateSet::Both,
            path: KernelPath::Raw,
        },
        BigCase {
            fft_size: 1 << 22,
            len: 1 << 22,
            kernel_len: 4096,
            batch: 1,
            heads: 1024,
            dtype: DType::F16,
            gates: GateSet::None,
            path: KernelPath::Prepared,
        },
    ]
}

/// The rows of `case` checked against the reference (sorted, distinct).
pub fn sample_rows(case: &BigCase) -> Vec<usize> {
    let (rows, len) = (case.rows(), case.len);
    let per_launch = long_pairs_per_launch(case.fft_size.trailing_zeros()) as usize;
    let mut out = vec![0, 1, rows / 3, rows - 2, rows - 1];
    for element in [1usize << 31, 1 << 32] {
        let row = element / len;
        out.extend([row.saturating_sub(1), row].into_iter().filter(|&r| r < rows));
    }
    // The second row of the first pair (b = 1 of head 0), and the first row of the second
    // launch group (pairs are head-major: pair p is rows b = 2j, 2j + 1 of head p / ⌈B/2⌉,
    // j = p mod ⌈B/2⌉).
    out.push(case.heads.min(rows - 1));
    let pair = per_launch;
    let (head, j) = (pair / case.batch.div_ceil(2), pair % case.batch.div_ceil(2));
    out.push((2 * j * case.heads + head).min(rows - 1));
    out.sort_unstable();
    out.dedup();
    out
}

/// What one big case found.
#[derive(Clone, Debug)]
pub struct BigOutcome {
    /// The case.
    pub case: BigCase,
    /// Per sampled row: (row, ratio to the rounding floor, report).
    pub rows: Vec<(usize, f64, String)>,
    /// Rows whose first or last element is NaN (not written).
    pub unwritten_rows: usize,
    /// Guard elements after `y` that are no longer NaN.
    pub guard_hits: usize,
    /// An error of the library, the driver or the reference.
    pub error: Option<String>,
    /// Wall seconds.
    pub seconds: f64,
}

impl BigOutcome {
    /// Every sampled row within the bound, every row written, no guard writes, no error.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.unwritten_rows == 0
            && self.guard_hits == 0
            && self.rows.iter().all(|(_, ratio, _)| *ratio <= FFTCONV_MAX_RATIO)
    }

    /// The report: the case, then one line per sampled row.
    pub fn report(&self) -> String {
        let mut s = format!(
            "{} big fftconv [{}] in {:.1} s: {} sampled rows, worst ratio {:.3} (bound {FFTCONV_MAX_RATIO}), {} \
             rows unwritten, {} guard elements written\n",
            if self.passed() { "ok  " } else { "FAIL" },
            self.case.describe(),
            self.seconds,
            self.rows.len(),
            self.rows.iter().map(|r| r.1).fold(0.0, f64::max),
            self.unwritten_rows,
            self.guard_hits
        );
        if let Some(e) = &self.error {
            s += &format!("    error: {e}\n");
        }
        for (row, _, report) in &self.rows {
            let (b, h) = (row / self.case.heads, row % self.case.heads);
            s += &format!("    row {row} (b={b}, h={h}, element {}): {report}\n", *row as u64 * self.case.len as u64);
        }
        s
    }
}

/// Runs every big case on `stream`, one after the other (each frees its memory before the
/// next), the sampled rows' references on up to `threads` host threads.
pub fn run_big(gpu: &Gpu, stream: &Arc<CudaStream>, seed: u64, threads: usize) -> Vec<BigOutcome> {
    big_cases()
        .into_iter()
        .enumerate()
        .map(|(i, case)| {
            let started = Instant::now();
            let case_seed = crate::fftconv_sweep::case_seed(seed, 1_000_000 + i);
            let result = match case.dtype {
                DType::BF16 => run_typed::<half::bf16>(gpu, stream, &case, case_seed, threads),
                DType::F16 => run_typed::<half::f16>(gpu, stream, &case, case_seed, threads),
                DType::F32 => Err("no f32 data path".to_string()),
            };
            let mut outcome =
                BigOutcome { case, rows: Vec::new(), unwritten_rows: 0, guard_hits: 0, error: None, seconds: 0.0 };
            match result {
                Ok((rows, unwritten_rows, guard_hits)) => {
                    outcome.rows = rows;
                    outcome.unwritten_rows = unwritten_rows;
                    outcome.guard_hits = guard_hits;
                }
                Err(e) => outcome.error = Some(e),
            }
            // Whatever failed, leave nothing queued behind for the next case.
            let _ = stream.synchronize();
            outcome.seconds = started.elapsed().as_secs_f64();
            outcome
        })
        .collect()
}

/// A seeded chunk of [`CHUNK`] values uniform in [−1, 1), rounded to `dtype`.
fn chunk(rng: &mut Rng, dtype: DType) -> Vec<f64> {
    rng.unit(CHUNK, dtype)
}

/// Elements `start .. start + len` of a buffer filled by repeating `chunk`.
fn repeated(chunk: &[f64], start: usize, len: usize) -> Vec<f64> {
    (start..start + len).map(|i| chunk[i % chunk.len()]).collect()
}

/// A device buffer of `len + extra` elements: `chunk` repeated over the first `len`, then
/// `extra` NaN (the chunk is uploaded once and copied along the buffer on the device).
fn fill_device<T: Element + ValidAsZeroBits>(
    stream: &Arc<CudaStream>,
    chunk: &[f64],
    len: usize,
    extra: usize,
) -> flashfftconv::Result<CudaSlice<T>> {
    let host: Vec<T> = chunk.iter().map(|&v| T::from_f64(v)).collect();
    let source = stream.clone_htod(&host)?;
    let mut buf = stream.alloc_zeros::<T>(len + extra)?;
    let mut at = 0;
    while at < len {
        let m = chunk.len().min(len - at);
        stream.memcpy_dtod(&source.slice(0..m), &mut buf.slice_mut(at..at + m))?;
        at += m;
    }
    if extra > 0 {
        let nan = stream.clone_htod(&vec![T::from_f64(f64::NAN); extra])?;
        stream.memcpy_dtod(&nan, &mut buf.slice_mut(len..len + extra))?;
    }
    Ok(buf)
}

/// (per sampled row: row, ratio, report; unwritten rows; guard hits).
type BigChecks = (Vec<(usize, f64, String)>, usize, usize);

fn run_typed<T: FftElement + ValidAsZeroBits>(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    case: &BigCase,
    seed: u64,
    threads: usize,
) -> Result<BigChecks, String> {
    let err = |e: flashfftconv::Error| e.to_string();
    let (b, h, l, lk, n) = (case.batch, case.heads, case.len, case.kernel_len, case.fft_size);
    let elements = b * h * l;
    let mut rng = Rng::new(seed);
    let u_chunk = chunk(&mut rng, case.dtype);
    let k_chunk = chunk(&mut rng, DType::F32);
    let gate_chunks = match case.gates {
        GateSet::Both => Some((chunk(&mut rng, case.dtype), chunk(&mut rng, case.dtype))),
        GateSet::None => None,
        other => return Err(format!("big cases take gates none or both, not {}", other.name())),
    };

    let u = fill_device::<T>(stream, &u_chunk, elements, 0).map_err(err)?;
    let k = fill_device::<f32>(stream, &k_chunk, h * lk, 0).map_err(err)?;
    let gates = match &gate_chunks {
        Some((ig, og)) => Some((
            fill_device::<T>(stream, ig, elements, 0).map_err(err)?,
            fill_device::<T>(stream, og, elements, 0).map_err(err)?,
        )),
        None => None,
    };
    // y: NaN everywhere (a chunk of NaN repeated), the guard included.
    let mut y = fill_device::<T>(stream, &vec![f64::NAN; 1 << 22], elements, GUARD).map_err(err)?;

    let conv = FftConv::new(gpu, n).map_err(err)?;
    let k_view = k.as_view();
    let prepared = match case.path {
        KernelPath::Prepared => Some(conv.prepare(gpu, stream, &k_view, h, lk).map_err(err)?),
        KernelPath::Raw => None,
    };
    let kernel = match &prepared {
        Some(p) => KernelInput::Prepared(p),
        None => KernelInput::Raw { k: &k_view, kernel_len: lk },
    };
    let gate_views = gates.as_ref().map(|(ig, og)| (ig.as_view(), og.as_view()));
    conv.forward(
        gpu,
        stream,
        FftInput { u: &u.as_view(), batch: b, heads: h, len: l },
        kernel,
        Gates { in_gate: gate_views.as_ref().map(|g| &g.0), out_gate: gate_views.as_ref().map(|g| &g.1) },
        &mut y.slice_mut(0..elements),
    )
    .map_err(err)?;
    drop(prepared);

    // The references of the sampled rows while the GPU works, on up to `threads` threads.
    let rows = sample_rows(case);
    let reference_row = |row: usize| -> Result<Vec<f64>, String> {
        let head = row % h;
        let shape = FftConvShape { batch: 1, heads: 1, len: l, kernel_len: lk, fft_size: n };
        let u_row = repeated(&u_chunk, row * l, l);
        let k_row = repeated(&k_chunk, head * lk, lk);
        let gate_rows = gate_chunks.as_ref().map(|(ig, og)| (repeated(ig, row * l, l), repeated(og, row * l, l)));
        reference::forward(
            &shape,
            &u_row,
            &k_row,
            gate_rows.as_ref().map(|g| g.0.as_slice()),
            gate_rows.as_ref().map(|g| g.1.as_slice()),
        )
        .map_err(|e| format!("reference: {e:?}"))
    };
    let mut references: Vec<Result<Vec<f64>, String>> = Vec::with_capacity(rows.len());
    for batch in rows.chunks(threads.max(1)) {
        let done: Vec<Result<Vec<f64>, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch.iter().map(|&row| scope.spawn(move || reference_row(row))).collect();
            handles.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("reference thread panicked".into()))).collect()
        });
        references.extend(done);
    }

    stream.synchronize().map_err(|e| e.to_string())?;
    let mut checked = Vec::with_capacity(rows.len());
    for (&row, reference) in rows.iter().zip(references) {
        let reference = reference?;
        let got: Vec<f64> = stream
            .clone_dtoh(&y.slice(row * l..(row + 1) * l))
            .map_err(|e| e.to_string())?
            .iter()
            .map(|v| v.to_f64())
            .collect();
        let report = compare(&got, &reference, case.dtype);
        checked.push((row, if report.non_finite > 0 { f64::INFINITY } else { report.ratio }, report.to_string()));
    }
    let mut unwritten = 0;
    for row in 0..b * h {
        for at in [row * l, row * l + l - 1] {
            let v = stream.clone_dtoh(&y.slice(at..at + 1)).map_err(|e| e.to_string())?;
            if v[0].to_f64().is_nan() {
                unwritten += 1;
                break;
            }
        }
    }
    let guard = stream.clone_dtoh(&y.slice(elements..elements + GUARD)).map_err(|e| e.to_string())?;
    let guard_hits = guard.iter().filter(|v| !v.to_f64().is_nan()).count();
    Ok((checked, unwritten, guard_hits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_cases_pass_two_to_the_31_and_fit_the_card() {
        let cases = big_cases();
        assert!(cases.iter().all(|c| c.elements() >= 1 << 31));
        assert!(cases.iter().any(|c| c.elements() >= 1 << 32));
        for c in &cases {
            // An 80-GB card (≈ 79 GiB usable) with room to spare.
            assert!(c.device_bytes() < 60 << 30, "{}", c.describe());
            assert!(c.len <= c.fft_size && c.kernel_len <= c.fft_size);
            assert!(flashfftconv_abi::fftconv::is_long(c.fft_size.trailing_zeros()));
        }
        assert!(cases.iter().any(|c| c.gates == GateSet::Both) && cases.iter().any(|c| c.path == KernelPath::Raw));
    }

    #[test]
    fn sampled_rows_straddle_the_32_bit_boundaries() {
        for case in big_cases() {
            let rows = sample_rows(&case);
            assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
            assert_eq!((rows[0], *rows.last().expect("rows")), (0, case.rows() - 1));
            for element in [1u64 << 31, 1 << 32] {
                if element < case.elements() {
                    let row = (element / case.len as u64) as usize;
                    assert!(rows.contains(&row), "{element}: {rows:?}");
                }
            }
            assert!(rows.len() <= 12, "{rows:?}");
        }
    }

    #[test]
    fn repeated_chunks_differ_between_rows_a_power_of_two_apart() {
        let chunk: Vec<f64> = (0..CHUNK).map(|i| i as f64).collect();
        let a = repeated(&chunk, 5, 8);
        let b = repeated(&chunk, 5 + (1 << 31), 8);
        let c = repeated(&chunk, 5 + (1 << 32), 8);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(repeated(&chunk, CHUNK - 1, 2), [(CHUNK - 1) as f64, 0.0]);
    }
}
