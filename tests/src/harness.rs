//! Shared pieces: opening the GPU (or saying clearly why not), typed upload/download with
//! poisoning and guard zones, progress display, the worst-case summary.

use flashfftconv::cudarc::driver::{CudaSlice, CudaStream};
use flashfftconv::{Element, Gpu};
use flashfftconv_reference::metric::ErrorReport;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

/// Opens device 0, or returns the reason there is none (no driver, no device, too old).
pub fn open_gpu() -> Result<Gpu, String> {
    Gpu::new(0).map_err(|e| e.to_string())
}

/// A device buffer holding `len` elements at `offset` inside a larger allocation whose other
/// elements are guard zones filled with NaN; used to catch writes outside an output and to
/// test inputs that are views at odd offsets.
pub struct Guarded<T> {
    /// The whole allocation.
    pub buf: CudaSlice<T>,
    /// Where the tensor starts.
    pub offset: usize,
    /// Tensor elements.
    pub len: usize,
}

/// Guard elements after every tensor.
pub const GUARD: usize = 16;

impl<T: Element> Guarded<T> {
    /// Uploads `data` (rounded to T) at `offset`, NaN around it.
    pub fn upload(stream: &Arc<CudaStream>, data: &[f64], offset: usize) -> flashfftconv::Result<Self> {
        let mut host = vec![T::from_f64(f64::NAN); offset + data.len() + GUARD];
        for (h, &v) in host[offset..].iter_mut().zip(data) {
            *h = T::from_f64(v);
        }
        Ok(Self { buf: stream.clone_htod(&host)?, offset, len: data.len() })
    }

    /// An output of `len` elements, all NaN (poisoned), at `offset`.
    pub fn poisoned(stream: &Arc<CudaStream>, len: usize, offset: usize) -> flashfftconv::Result<Self> {
        let host = vec![T::from_f64(f64::NAN); offset + len + GUARD];
        Ok(Self { buf: stream.clone_htod(&host)?, offset, len })
    }

    /// The tensor's element range inside the allocation.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }

    /// Downloads the tensor (synchronises) and counts guard elements that are no longer NaN.
    pub fn download(&self, stream: &Arc<CudaStream>) -> flashfftconv::Result<(Vec<f64>, usize)> {
        let host = stream.clone_dtoh(&self.buf)?;
        let values = host[self.offset..self.offset + self.len].iter().map(|v| v.to_f64()).collect();
        let guard_hits =
            host[..self.offset].iter().chain(&host[self.offset + self.len..]).filter(|v| !v.to_f64().is_nan()).count();
        Ok((values, guard_hits))
    }
}

/// A one-line progress bar on stderr, redrawn in place.
pub struct Progress {
    total: usize,
    done: usize,
    label: String,
    last_drawn: usize,
}

impl Progress {
    /// A bar for `total` steps.
    pub fn new(label: &str, total: usize) -> Self {
        Self { total, done: 0, label: label.into(), last_drawn: usize::MAX }
    }

    /// One step done; `failures` so far shown beside the bar.
    pub fn step(&mut self, failures: usize) {
        self.done += 1;
        let width = 40;
        let filled = self.done * width / self.total.max(1);
        if filled != self.last_drawn || self.done == self.total {
            self.last_drawn = filled;
            eprint!(
                "\r{} [{}{}] {}/{} failures: {}",
                self.label,
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.done,
                self.total,
                failures
            );
            if self.done == self.total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
    }
}

/// Worst result per (group, output) across a sweep, for the closing table.
#[derive(Default)]
pub struct Summary {
    worst: BTreeMap<(String, String), (f64, usize, usize)>,
}

impl Summary {
    /// Records one output's error report under `group` (e.g. "bhl bf16×f32").
    pub fn record(&mut self, group: &str, output: &str, report: &ErrorReport, passed: bool) {
        let entry = self.worst.entry((group.to_string(), output.to_string())).or_insert((0.0, 0, 0));
        if report.ratio > entry.0 || report.ratio.is_nan() {
            entry.0 = report.ratio;
        }
        entry.1 += 1;
        if !passed {
            entry.2 += 1;
        }
    }

    /// Markdown table: group, output, checks, failures, worst ratio to the rounding floor.
    pub fn table(&self, bound: f64) -> String {
        let mut out = format!(
            "| group | output | checks | failed | worst error / floor (bound {bound}) |\n|---|---|---:|---:|---:|\n"
        );
        for ((group, output), (worst, n, failed)) in &self.worst {
            out += &format!("| {group} | {output} | {n} | {failed} | {worst:.3} |\n");
        }
        out
    }
}
