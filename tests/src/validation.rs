//! Invalid calls on a real GPU: each must return its typed error before any launch and leave
//! the outputs untouched (still poisoned).

use crate::harness::Guarded;
use flashfftconv::cudarc::driver::CudaStream;
use flashfftconv::{half::bf16, DepthwiseConv1d, Error, Gpu, Gradients, Input, Layout};
use std::sync::Arc;

/// One invalid call and what happened.
pub struct Rejection {
    /// What is wrong with the call.
    pub case: &'static str,
    /// The error returned, or `None` if the call was accepted.
    pub error: Option<String>,
    /// Whether the error had the expected variant.
    pub expected_variant: bool,
    /// Output elements no longer poisoned after the call (must be 0).
    pub touched: usize,
}

impl Rejection {
    /// Rejected with the right error and the outputs untouched.
    pub fn passed(&self) -> bool {
        self.error.is_some() && self.expected_variant && self.touched == 0
    }
}

const B: usize = 2;
const D: usize = 16;
const L: usize = 64;
const K: usize = 3;

/// Runs the invalid calls (forward and backward).
pub fn run(gpu: &Gpu, stream: &Arc<CudaStream>) -> flashfftconv::Result<Vec<Rejection>> {
    let data: Vec<f64> = (0..B * D * L).map(|i| ((i % 7) as f64 - 3.0) / 4.0).collect();
    let x = Guarded::<bf16>::upload(stream, &data, 0)?;
    let w = Guarded::<bf16>::upload(stream, &[0.5; D * K], 0)?;
    let mut out = Vec::new();

    type Expect = fn(&Error) -> bool;
    let forward_cases: [(&'static str, DepthwiseConv1d, usize, usize, Expect); 5] = [
        ("forward: y one element too short", DepthwiseConv1d::same(D, K), L, B * D * L - 1, |e| {
            matches!(e, Error::BufferTooSmall { what: "y", .. })
        }),
        ("forward: pad_left = K", DepthwiseConv1d::same(D, K).with_padding(K, 0), L, B * D * (L + 1), |e| {
            matches!(e, Error::Unsupported { what: "pad_left", .. })
        }),
        ("forward: channels = 0", DepthwiseConv1d::new(0, K), L, B * D * L, |e| {
            matches!(e, Error::Unsupported { what: "channels", .. })
        }),
        ("forward: x shorter than the shape", DepthwiseConv1d::same(D + 1, K), L, B * (D + 1) * L, |e| {
            matches!(e, Error::BufferTooSmall { what: "x", .. })
        }),
        ("forward: len + padding < K", DepthwiseConv1d::new(D, K), 1, B * D * L, |e| {
            matches!(e, Error::Unsupported { what: "len", .. })
        }),
    ];
    for (case, conv, len, y_len, expect) in forward_cases {
        let mut y = Guarded::<bf16>::poisoned(stream, y_len, 0)?;
        let y_range = y.range();
        let result = conv.forward(
            gpu,
            stream,
            Input { data: &x.buf.slice(x.range()), batch: B, len },
            &w.buf.slice(w.range()),
            None,
            &mut y.buf.slice_mut(y_range),
        );
        stream.synchronize()?;
        out.push(rejection(case, result, expect, &[untouched(stream, &y)?]));
    }

    // Backward: dweight one element short; dx must stay untouched as well.
    let conv = DepthwiseConv1d::causal(D, K).with_layout(Layout::Blh);
    let dy = Guarded::<bf16>::upload(stream, &data, 0)?;
    let mut dx = Guarded::<bf16>::poisoned(stream, B * D * L, 0)?;
    let mut dw = Guarded::<bf16>::poisoned(stream, D * K - 1, 0)?;
    let (dx_range, dw_range) = (dx.range(), dw.range());
    let result = conv.backward(
        gpu,
        stream,
        Input { data: &x.buf.slice(x.range()), batch: B, len: L },
        &w.buf.slice(w.range()),
        &dy.buf.slice(dy.range()),
        Gradients { dx: &mut dx.buf.slice_mut(dx_range), dweight: &mut dw.buf.slice_mut(dw_range), dbias: None },
    );
    stream.synchronize()?;
    let touched = [untouched(stream, &dx)?, untouched(stream, &dw)?];
    out.push(rejection(
        "backward: dweight one element too short",
        result,
        |e| matches!(e, Error::BufferTooSmall { what: "dweight", .. }),
        &touched,
    ));
    Ok(out)
}

fn rejection(
    case: &'static str,
    result: flashfftconv::Result<()>,
    expect: fn(&Error) -> bool,
    touched: &[usize],
) -> Rejection {
    Rejection {
        case,
        expected_variant: result.as_ref().err().is_some_and(expect),
        error: result.err().map(|e| e.to_string()),
        touched: touched.iter().sum(),
    }
}

/// Elements of the whole allocation (tensor and guards) that are no longer NaN.
fn untouched(stream: &Arc<CudaStream>, g: &Guarded<bf16>) -> flashfftconv::Result<usize> {
    let (values, guard_hits) = g.download(stream)?;
    Ok(guard_hits + values.iter().filter(|v| !v.is_nan()).count())
}
