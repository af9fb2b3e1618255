//! The depthwise conv1d sweep: layouts × K × paddings (causal included) × dtype pairs × awkward
//! shapes (B = 1, odd D, L = 1, odd L, views at odd offsets), forward and backward.

use crate::harness::{Guarded, Summary};
use flashfftconv::cudarc::driver::CudaStream;
use flashfftconv::{half, DType, DepthwiseConv1d, Element, Gpu, Gradients, Input, Layout};
use flashfftconv_reference::bounds::CONV1D_MAX_RATIO;
use flashfftconv_reference::conv1d as reference;
use flashfftconv_reference::data::Rng;
use flashfftconv_reference::metric::{compare, ErrorReport};
use std::sync::Arc;

/// One configuration to check.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// Activation layout.
    pub layout: Layout,
    /// Taps.
    pub taps: usize,
    /// Left padding.
    pub pad_left: usize,
    /// Right padding.
    pub pad_right: usize,
    /// Batch.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Input length.
    pub len: usize,
    /// Input/output dtype.
    pub x_dtype: DType,
    /// Weight/bias dtype.
    pub w_dtype: DType,
    /// With a bias.
    pub bias: bool,
    /// Element offset of every tensor inside its allocation (0: aligned; odd: misaligned views).
    pub offset: usize,
}

impl Case {
    /// `layout x×w K=… pad=(l,r) B×D×L …` for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} {}×{} K={} pad=({},{}) B={} D={} L={} bias={} offset={}",
            layout_name(self.layout),
            self.x_dtype.name(),
            self.w_dtype.name(),
            self.taps,
            self.pad_left,
            self.pad_right,
            self.batch,
            self.channels,
            self.len,
            self.bias,
            self.offset
        )
    }

    /// Group key for the summary table.
    pub fn group(&self) -> String {
        format!("{} {}×{}", layout_name(self.layout), self.x_dtype.name(), self.w_dtype.name())
    }

    fn conv(&self) -> DepthwiseConv1d {
        DepthwiseConv1d::new(self.channels, self.taps)
            .with_padding(self.pad_left, self.pad_right)
            .with_layout(self.layout)
    }

    fn reference_shape(&self) -> reference::Conv1dShape {
        reference::Conv1dShape {
            batch: self.batch,
            channels: self.channels,
            len: self.len,
            taps: self.taps,
            pad_left: self.pad_left,
            pad_right: self.pad_right,
            layout: match self.layout {
                Layout::Bhl => reference::Layout::Bhl,
                Layout::Blh => reference::Layout::Blh,
            },
        }
    }
}

fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Bhl => "bhl",
        Layout::Blh => "blh",
    }
}

/// The sweep. `quick` keeps one dtype pair per input dtype and fewer shapes (for the sanitizer
/// and the integration test); the full sweep is what `cargo xtask test-gpu` runs.
pub fn cases(quick: bool) -> Vec<Case> {
    // 8 is the most taps of one tap chunk (the fused (B, D, L) backward); 9 takes two.
    let taps_list = [1usize, 2, 3, 4, 5, 7, 8, 9];
    // (B, D, L, offset): B = 1, odd D, L = 1, odd L, L multiple of 8, views at odd offsets,
    // L at and just past the (B, D, L) kernels' 1,024-output segments.
    let shapes: &[(usize, usize, usize, usize)] = if quick {
        &[(1, 7, 33, 0), (2, 24, 64, 3), (3, 16, 1, 0), (1, 3, 1030, 0)]
    } else {
        &[
            (1, 1, 1, 0),
            (1, 7, 33, 0),
            (2, 24, 64, 0),
            (3, 13, 257, 3),
            (2, 40, 1000, 8),
            (1, 8, 9, 5),
            (2, 264, 136, 0),
            (1, 3, 1024, 0),
            (2, 5, 2050, 2),
        ]
    };
    let dtype_pairs: Vec<(DType, DType)> = if quick {
        vec![(DType::BF16, DType::BF16), (DType::F16, DType::F32), (DType::F32, DType::BF16)]
    } else {
        DType::ALL.iter().flat_map(|&x| DType::ALL.iter().map(move |&w| (x, w))).collect()
    };
    let mut out = Vec::new();
    for layout in [Layout::Bhl, Layout::Blh] {
        for &taps in &taps_list {
            let k1 = taps - 1;
            let mut paddings = vec![(0, 0), (k1, 0), (k1 / 2, k1 - k1 / 2), (0, k1), (k1, k1)];
            paddings.dedup();
            for (pi, &(pad_left, pad_right)) in paddings.iter().enumerate() {
                for (si, &(batch, channels, len, offset)) in shapes.iter().enumerate() {
                    if len + pad_left + pad_right < taps {
                        continue; // no output: rejected by validation, tested elsewhere
                    }
                    for &(x_dtype, w_dtype) in &dtype_pairs {
                        let bias = (pi + si + taps) % 2 == 0;
                        out.push(Case {
                            layout,
                            taps,
                            pad_left,
                            pad_right,
                            batch,
                            channels,
                            len,
                            x_dtype,
                            w_dtype,
                            bias,
                            offset,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Error reports of one case: `y, dx, dweight, dbias` (dbias only with a bias).
pub struct CaseResult {
    /// `(output name, report, passed)`.
    pub outputs: Vec<(&'static str, ErrorReport, bool)>,
    /// Guard elements written outside the outputs (must be 0).
    pub guard_hits: usize,
}

impl CaseResult {
    /// Whether every output passed and nothing was written outside them.
    pub fn passed(&self) -> bool {
        self.guard_hits == 0 && self.outputs.iter().all(|(_, _, ok)| *ok)
    }
}

/// Runs one case on the GPU and against the reference.
pub fn run_case(gpu: &Gpu, stream: &Arc<CudaStream>, case: &Case, rng: &mut Rng) -> flashfftconv::Result<CaseResult> {
    macro_rules! dispatch {
        ($($x:ident, $w:ident => $tx:ty, $tw:ty;)*) => {
            match (case.x_dtype, case.w_dtype) {
                $((DType::$x, DType::$w) => run_typed::<$tx, $tw>(gpu, stream, case, rng),)*
            }
        };
    }
    dispatch! {
        F16, F16 => half::f16, half::f16;
        F16, BF16 => half::f16, half::bf16;
        F16, F32 => half::f16, f32;
        BF16, F16 => half::bf16, half::f16;
        BF16, BF16 => half::bf16, half::bf16;
        BF16, F32 => half::bf16, f32;
        F32, F16 => f32, half::f16;
        F32, BF16 => f32, half::bf16;
        F32, F32 => f32, f32;
    }
}

fn run_typed<T: Element, W: Element>(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    case: &Case,
    rng: &mut Rng,
) -> flashfftconv::Result<CaseResult> {
    let conv = case.conv();
    let shape = case.reference_shape();
    let (b, d, l, k) = (case.batch, case.channels, case.len, case.taps);
    let lo = conv.output_len(l)?;
    let x = rng.unit(b * d * l, T::DTYPE);
    let w = rng.unit(d * k, W::DTYPE);
    let bias = case.bias.then(|| rng.unit(d, W::DTYPE));
    let dy = rng.unit(b * d * lo, T::DTYPE);

    let y_ref = reference::forward(&shape, &x, &w, bias.as_deref()).expect("reference shapes match the case");
    let grads_ref = reference::backward(&shape, &x, &w, &dy).expect("reference shapes match the case");

    let off = case.offset;
    let x_dev = Guarded::<T>::upload(stream, &x, off)?;
    let w_dev = Guarded::<W>::upload(stream, &w, off)?;
    let bias_dev = bias.as_ref().map(|v| Guarded::<W>::upload(stream, v, off)).transpose()?;
    let dy_dev = Guarded::<T>::upload(stream, &dy, off)?;
    let mut y_dev = Guarded::<T>::poisoned(stream, b * d * lo, off)?;
    let mut dx_dev = Guarded::<T>::poisoned(stream, b * d * l, off)?;
    let mut dw_dev = Guarded::<W>::poisoned(stream, d * k, off)?;
    let mut db_dev = Guarded::<W>::poisoned(stream, d, off)?;

    {
        let x_view = x_dev.buf.slice(x_dev.range());
        let w_view = w_dev.buf.slice(w_dev.range());
        let bias_view = bias_dev.as_ref().map(|g| g.buf.slice(g.range()));
        let y_range = y_dev.range();
        let mut y_view = y_dev.buf.slice_mut(y_range);
        let input = Input { data: &x_view, batch: b, len: l };
        conv.forward(gpu, stream, input, &w_view, bias_view.as_ref(), &mut y_view)?;

        let dy_view = dy_dev.buf.slice(dy_dev.range());
        let (dx_range, dw_range, db_range) = (dx_dev.range(), dw_dev.range(), db_dev.range());
        let mut dx_view = dx_dev.buf.slice_mut(dx_range);
        let mut dw_view = dw_dev.buf.slice_mut(dw_range);
        let mut db_view = db_dev.buf.slice_mut(db_range);
        let grads = Gradients {
            dx: &mut dx_view,
            dweight: &mut dw_view,
            dbias: if case.bias { Some(&mut db_view) } else { None },
        };
        conv.backward(gpu, stream, input, &w_view, &dy_view, grads)?;
    }
    stream.synchronize()?;

    let mut outputs = Vec::new();
    let mut guard_hits = 0;
    let mut check = |name: &'static str, got: (Vec<f64>, usize), reference: &[f64], dtype: DType| {
        let report = compare(&got.0, reference, dtype);
        let ok = report.passes(CONV1D_MAX_RATIO);
        guard_hits += got.1;
        outputs.push((name, report, ok));
    };
    check("y", y_dev.download(stream)?, &y_ref, T::DTYPE);
    check("dx", dx_dev.download(stream)?, &grads_ref.dx, T::DTYPE);
    check("dweight", dw_dev.download(stream)?, &grads_ref.dw, W::DTYPE);
    if case.bias {
        check("dbias", db_dev.download(stream)?, &grads_ref.dbias, W::DTYPE);
    } else {
        // Without a bias, dbias must not be written at all.
        let (values, hits) = db_dev.download(stream)?;
        guard_hits += hits + values.iter().filter(|v| !v.is_nan()).count();
    }
    Ok(CaseResult { outputs, guard_hits })
}

/// Runs `cases`, reporting each failure on stderr; returns (failures, summary).
pub fn run_sweep(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    cases: &[Case],
    rng: &mut Rng,
    mut on_step: impl FnMut(usize),
) -> flashfftconv::Result<(usize, Summary)> {
    let mut summary = Summary::default();
    let mut failures = 0;
    for case in cases {
        let result = run_case(gpu, stream, case, rng)?;
        for (name, report, ok) in &result.outputs {
            summary.record(&case.group(), name, report, *ok);
        }
        if !result.passed() {
            failures += 1;
            eprintln!("\nFAIL {}: guard writes {}", case.describe(), result.guard_hits);
            for (name, report, ok) in &result.outputs {
                eprintln!("    {name:8} {} {report}", if *ok { "ok  " } else { "FAIL" });
            }
        }
        on_step(failures);
    }
    Ok((failures, summary))
}
