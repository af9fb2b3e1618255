//! Invalid calls on a real GPU: each must return its typed error before any launch and leave
//! the outputs untouched (still poisoned). [`run`]: depthwise conv1d; [`run_fftconv`]: the FFT
//! convolution.

use crate::harness::Guarded;
use flashfftconv::cudarc::driver::{CudaStream, CudaView};
use flashfftconv::{
    half::bf16, DepthwiseConv1d, Error, FftConv, FftConvGrads, FftInput, Gates, Gpu, Gradients, Input, KernelInput,
    Layout,
};
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

/// Runs the invalid depthwise conv1d calls (forward and backward).
pub fn run(gpu: &Gpu, stream: &Arc<CudaStream>) -> flashfftconv::Result<Vec<Rejection>> {
    let data: Vec<f64> = (0..B * D * L).map(|i| ((i % 7) as f64 - 3.0) / 4.0).collect();
    let x = Guarded::<bf16>::upload(stream, &data, 0)?;
    let w = Guarded::<bf16>::upload(stream, &[0.5; D * K], 0)?;
    let mut out = Vec::new();

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

/// What a rejected FFT-convolution call must return: sizes out of range (N, L, Lk) are
/// `Unsupported`, a short buffer `BufferTooSmall`, a prepared kernel that does not fit the plan
/// or the call `ShapeMismatch`, a gate gradient asked for without its gate
/// `GradientWithoutInput`.
type Expect = fn(&Error) -> bool;

fn unsupported(e: &Error) -> bool {
    matches!(e, Error::Unsupported { .. })
}

fn too_small(e: &Error) -> bool {
    matches!(e, Error::BufferTooSmall { .. })
}

fn mismatch(e: &Error) -> bool {
    matches!(e, Error::ShapeMismatch { .. })
}

fn gradient_without_gate(e: &Error) -> bool {
    matches!(e, Error::GradientWithoutInput { .. })
}

/// FFT size of the valid plan the fftconv rejections start from.
const FFT_N: usize = 256;
/// Heads.
const FFT_H: usize = 3;
/// A valid L.
const FFT_L: usize = 200;

/// One invalid forward call: sizes, buffer lengths and the kernel path. Every buffer is
/// allocated at the given length (so that only the named fault is present).
#[derive(Clone, Copy)]
struct FwdCall {
    case: &'static str,
    len: usize,
    kernel_len: usize,
    u_len: usize,
    gate_len: usize,
    k_len: usize,
    y_len: usize,
    prepared: Option<(usize, usize, usize)>, // (plan N, heads, Lk) of the prepared kernel
    expect: Expect,
}

/// Runs the invalid FFT-convolution calls: plans of unsupported sizes, forward with L or Lk
/// above N, short buffers, prepared kernels of the wrong size or head count, backward with a
/// short `dk`/`dy`, with gate gradients requested without their gates and with a prepared kernel
/// of another size; on a long plan (N = 65536), L above N and the same backward rejections. Each
/// must return its error before any launch and leave every output (tensor and guards) NaN.
pub fn run_fftconv(gpu: &Gpu, stream: &Arc<CudaStream>) -> flashfftconv::Result<Vec<Rejection>> {
    let mut out = Vec::new();
    for (case, n) in [
        ("fftconv plan: N = 384 (not a power of two)", 384),
        ("fftconv plan: N = 128 (below 256)", 128),
        ("fftconv plan: N = 2^24 (above every supported size)", 1 << 24),
        ("fftconv plan: N = 0", 0),
    ] {
        let result = FftConv::new(gpu, n).map(|_| ());
        out.push(rejection(case, result, unsupported, &[]));
    }

    let conv = FftConv::new(gpu, FFT_N)?;
    // prepare validates like forward: Lk above N, k too short.
    for (case, kernel_len, k_len, expect) in [
        ("fftconv prepare: Lk = N + 1", FFT_N + 1, FFT_H * (FFT_N + 1), unsupported as Expect),
        ("fftconv prepare: k one element too short", FFT_N, FFT_H * FFT_N - 1, too_small as Expect),
    ] {
        let k = Guarded::<f32>::upload(stream, &vec![0.5; k_len], 0)?;
        let result = conv.prepare(gpu, stream, &k.buf.slice(k.range()), FFT_H, kernel_len).map(|_| ());
        out.push(rejection(case, result, expect, &[]));
    }
    let data = |len: usize| -> Vec<f64> { (0..len).map(|i| ((i % 7) as f64 - 3.0) / 4.0).collect() };
    let valid = FwdCall {
        case: "",
        len: FFT_L,
        kernel_len: FFT_N,
        u_len: B * FFT_H * FFT_L,
        gate_len: B * FFT_H * FFT_L,
        k_len: FFT_H * FFT_N,
        y_len: B * FFT_H * FFT_L,
        prepared: None,
        expect: unsupported,
    };
    let over = B * FFT_H * (FFT_N + 1);
    let forward_calls = [
        FwdCall {
            case: "fftconv forward: L = N + 1",
            len: FFT_N + 1,
            u_len: over,
            gate_len: over,
            y_len: over,
            ..valid
        },
        FwdCall { case: "fftconv forward: L = 0", len: 0, ..valid },
        FwdCall { case: "fftconv forward: raw Lk = N + 1", kernel_len: FFT_N + 1, k_len: FFT_H * (FFT_N + 1), ..valid },
        FwdCall {
            case: "fftconv forward: y one element too short",
            y_len: valid.y_len - 1,
            expect: too_small,
            ..valid
        },
        FwdCall {
            case: "fftconv forward: u one element too short",
            u_len: valid.u_len - 1,
            expect: too_small,
            ..valid
        },
        FwdCall {
            case: "fftconv forward: gates one element too short",
            gate_len: valid.gate_len - 1,
            expect: too_small,
            ..valid
        },
        FwdCall {
            case: "fftconv forward: raw k one element too short",
            k_len: valid.k_len - 1,
            expect: too_small,
            ..valid
        },
        FwdCall {
            case: "fftconv forward: prepared kernel of N = 512 on an N = 256 plan",
            prepared: Some((512, FFT_H, FFT_N)),
            expect: mismatch,
            ..valid
        },
        FwdCall {
            case: "fftconv forward: prepared kernel of 2 heads for 3",
            prepared: Some((FFT_N, FFT_H - 1, FFT_N)),
            expect: mismatch,
            ..valid
        },
    ];
    for call in forward_calls {
        let u = Guarded::<bf16>::upload(stream, &data(call.u_len), 0)?;
        let ig = Guarded::<bf16>::upload(stream, &data(call.gate_len), 0)?;
        let og = Guarded::<bf16>::upload(stream, &data(call.gate_len), 0)?;
        let k = Guarded::<f32>::upload(stream, &data(call.k_len), 0)?;
        let mut y = Guarded::<bf16>::poisoned(stream, call.y_len, 0)?;
        let k_view = k.buf.slice(k.range());
        let prepared = match call.prepared {
            Some((n, heads, kernel_len)) => {
                let k_full = Guarded::<f32>::upload(stream, &data(heads * kernel_len), 0)?;
                Some(FftConv::new(gpu, n)?.prepare(
                    gpu,
                    stream,
                    &k_full.buf.slice(k_full.range()),
                    heads,
                    kernel_len,
                )?)
            }
            None => None,
        };
        let kernel = match &prepared {
            Some(p) => KernelInput::Prepared(p),
            None => KernelInput::Raw { k: &k_view, kernel_len: call.kernel_len },
        };
        let y_range = y.range();
        let result = conv.forward(
            gpu,
            stream,
            FftInput { u: &u.buf.slice(u.range()), batch: B, heads: FFT_H, len: call.len },
            kernel,
            Gates::both(&ig.buf.slice(ig.range()), &og.buf.slice(og.range())),
            &mut y.buf.slice_mut(y_range),
        );
        stream.synchronize()?;
        out.push(rejection(call.case, result, call.expect, &[untouched(stream, &y)?]));
    }

    // Backward: short dk / dy, gate gradients requested without their gates, a prepared kernel of
    // another size.
    let names = [
        "fftconv backward: dk one element too short",
        "fftconv backward: dy one element too short",
        "fftconv backward: d_in_gate requested without in_gate",
        "fftconv backward: d_out_gate requested without out_gate",
        "fftconv backward: gate gradients requested without gates",
        "fftconv backward: prepared kernel of N = 512 on an N = 256 plan",
    ];
    out.extend(run_backward_rejections(gpu, stream, &conv, FFT_L, 512, names)?);
    out.extend(run_fftconv_long(gpu, stream)?);
    Ok(out)
}

/// One invalid backward call: which gates are given, which gate gradients are requested, the
/// lengths of `dk` and `dy`, and the plan size of a prepared kernel (else raw).
#[derive(Clone, Copy)]
struct BwdCall {
    case: &'static str,
    in_gate: bool,
    out_gate: bool,
    d_in_gate: bool,
    d_out_gate: bool,
    dk_len: usize,
    dy_len: usize,
    prepared_n: Option<usize>,
    expect: Expect,
}

/// The invalid backward calls on `conv` (B = 2, H = 3, L = `len`, Lk = N) named by `names`, in
/// order: `dk` and `dy` one element short, `d_in_gate` / `d_out_gate` / both requested without
/// their gates, a kernel prepared by a plan of size `other_n`. Each must be rejected before any
/// launch with every output (tensor and guards) still NaN.
fn run_backward_rejections(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    conv: &FftConv,
    len: usize,
    other_n: usize,
    names: [&'static str; 6],
) -> flashfftconv::Result<Vec<Rejection>> {
    let n = conv.fft_size();
    let data = |len: usize| -> Vec<f64> { (0..len).map(|i| ((i % 7) as f64 - 3.0) / 4.0).collect() };
    let (dk_ok, dy_ok) = (FFT_H * n, B * FFT_H * len);
    let ok = BwdCall {
        case: "",
        in_gate: true,
        out_gate: true,
        d_in_gate: true,
        d_out_gate: true,
        dk_len: dk_ok,
        dy_len: dy_ok,
        prepared_n: None,
        expect: too_small,
    };
    let backward_calls = [
        BwdCall { case: names[0], dk_len: dk_ok - 1, ..ok },
        BwdCall { case: names[1], dy_len: dy_ok - 1, ..ok },
        BwdCall { case: names[2], in_gate: false, expect: gradient_without_gate, ..ok },
        BwdCall { case: names[3], out_gate: false, d_in_gate: false, expect: gradient_without_gate, ..ok },
        BwdCall { case: names[4], in_gate: false, out_gate: false, expect: gradient_without_gate, ..ok },
        BwdCall { case: names[5], prepared_n: Some(other_n), expect: mismatch, ..ok },
    ];
    let n_u = B * FFT_H * len;
    let u = Guarded::<bf16>::upload(stream, &data(n_u), 0)?;
    let ig = Guarded::<bf16>::upload(stream, &data(n_u), 0)?;
    let og = Guarded::<bf16>::upload(stream, &data(n_u), 0)?;
    let k = Guarded::<f32>::upload(stream, &data(dk_ok), 0)?;
    let k_view = k.buf.slice(k.range());
    let mut out = Vec::new();
    for call in backward_calls {
        let prepared = match call.prepared_n {
            Some(other) => Some(FftConv::new(gpu, other)?.prepare(gpu, stream, &k_view, FFT_H, other.min(n))?),
            None => None,
        };
        let kernel = match &prepared {
            Some(p) => KernelInput::Prepared(p),
            None => KernelInput::Raw { k: &k_view, kernel_len: n },
        };
        let dy = Guarded::<bf16>::upload(stream, &data(call.dy_len), 0)?;
        let mut du = Guarded::<bf16>::poisoned(stream, n_u, 0)?;
        let mut dk = Guarded::<f32>::poisoned(stream, call.dk_len, 0)?;
        let mut din = Guarded::<bf16>::poisoned(stream, n_u, 0)?;
        let mut dout = Guarded::<bf16>::poisoned(stream, n_u, 0)?;
        let (du_r, dk_r, din_r, dout_r) = (du.range(), dk.range(), din.range(), dout.range());
        let (ig_view, og_view) = (ig.buf.slice(ig.range()), og.buf.slice(og.range()));
        let mut din_view = din.buf.slice_mut(din_r);
        let mut dout_view = dout.buf.slice_mut(dout_r);
        let result = conv.backward(
            gpu,
            stream,
            FftInput { u: &u.buf.slice(u.range()), batch: B, heads: FFT_H, len },
            kernel,
            Gates { in_gate: call.in_gate.then_some(&ig_view), out_gate: call.out_gate.then_some(&og_view) },
            &dy.buf.slice(dy.range()),
            FftConvGrads {
                du: &mut du.buf.slice_mut(du_r),
                dk: &mut dk.buf.slice_mut(dk_r),
                d_in_gate: call.d_in_gate.then_some(&mut din_view),
                d_out_gate: call.d_out_gate.then_some(&mut dout_view),
            },
        );
        stream.synchronize()?;
        let touched =
            [untouched(stream, &du)?, untouched_f32(stream, &dk)?, untouched(stream, &din)?, untouched(stream, &dout)?];
        out.push(rejection(call.case, result, call.expect, &touched));
    }
    Ok(out)
}

/// The long sizes' rejections (N = 65536): L above N in the forward and the backward, and the
/// backward's rejections as on chip (short buffers, gate gradients without gates, a prepared
/// kernel of another size: an on-chip one).
fn run_fftconv_long(gpu: &Gpu, stream: &Arc<CudaStream>) -> flashfftconv::Result<Vec<Rejection>> {
    const N: usize = 65536;
    let mut out = Vec::new();
    let conv = FftConv::new(gpu, N)?;
    let data = |len: usize| -> Vec<f64> { (0..len).map(|i| ((i % 7) as f64 - 3.0) / 4.0).collect() };
    let k = Guarded::<f32>::upload(stream, &data(FFT_H * N), 0)?;
    let k_view = k.buf.slice(k.range());

    let over = B * FFT_H * (N + 1);
    let u = Guarded::<bf16>::upload(stream, &data(over), 0)?;
    let mut y = Guarded::<bf16>::poisoned(stream, over, 0)?;
    let y_range = y.range();
    let result = conv.forward(
        gpu,
        stream,
        FftInput { u: &u.buf.slice(u.range()), batch: B, heads: FFT_H, len: N + 1 },
        KernelInput::Raw { k: &k_view, kernel_len: N },
        Gates::none(),
        &mut y.buf.slice_mut(y_range),
    );
    stream.synchronize()?;
    out.push(rejection(
        "fftconv forward: L = N + 1 on an N = 65536 plan",
        result,
        unsupported,
        &[untouched(stream, &y)?],
    ));

    let case = "fftconv backward: L = N + 1 on an N = 65536 plan";
    out.push(ungated_backward_rejection(gpu, stream, &conv, &k_view, (N + 1, N), case)?);

    let names = [
        "fftconv backward (N = 65536): dk one element too short",
        "fftconv backward (N = 65536): dy one element too short",
        "fftconv backward (N = 65536): d_in_gate requested without in_gate",
        "fftconv backward (N = 65536): d_out_gate requested without out_gate",
        "fftconv backward (N = 65536): gate gradients requested without gates",
        "fftconv backward (N = 65536): prepared kernel of N = 32768",
    ];
    out.extend(run_backward_rejections(gpu, stream, &conv, N / 2 + 1, 32768, names)?);

    // Workspaces: below one row pair the plan is refused; one that serves only the forward
    // refuses the backward, outputs untouched.
    let min = FftConv::min_workspace_bytes(N)?;
    let result = FftConv::with_workspace_bytes(gpu, N, min.forward - 1).map(|_| ());
    out.push(rejection("fftconv plan (N = 65536): workspace one byte below one row pair", result, unsupported, &[]));
    let forward_only = FftConv::with_workspace_bytes(gpu, N, min.backward - 1)?;
    let case = "fftconv backward (N = 65536): workspace one byte below the backward's row pair";
    out.push(ungated_backward_rejection(gpu, stream, &forward_only, &k_view, (N / 2, N / 2), case)?);
    Ok(out)
}

/// An ungated backward on `conv` with `(L, Lk) = lens` (B = `B`, H = `FFT_H`, raw `k` of at
/// least `H · Lk` f32) that must be refused with [`Error::Unsupported`] and leave `du`, `dk`
/// untouched.
fn ungated_backward_rejection(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    conv: &FftConv,
    k: &CudaView<'_, f32>,
    (len, kernel_len): (usize, usize),
    case: &'static str,
) -> flashfftconv::Result<Rejection> {
    let data = |n: usize| -> Vec<f64> { (0..n).map(|i| ((i % 7) as f64 - 3.0) / 4.0).collect() };
    let elements = B * FFT_H * len;
    let (u, dy) =
        (Guarded::<bf16>::upload(stream, &data(elements), 0)?, Guarded::<bf16>::upload(stream, &data(elements), 0)?);
    let mut du = Guarded::<bf16>::poisoned(stream, elements, 0)?;
    let mut dk = Guarded::<f32>::poisoned(stream, FFT_H * kernel_len, 0)?;
    let (du_r, dk_r) = (du.range(), dk.range());
    let result = conv.backward(
        gpu,
        stream,
        FftInput { u: &u.buf.slice(u.range()), batch: B, heads: FFT_H, len },
        KernelInput::Raw { k, kernel_len },
        Gates::none(),
        &dy.buf.slice(dy.range()),
        FftConvGrads {
            du: &mut du.buf.slice_mut(du_r),
            dk: &mut dk.buf.slice_mut(dk_r),
            d_in_gate: None,
            d_out_gate: None,
        },
    );
    stream.synchronize()?;
    let touched = [untouched(stream, &du)?, untouched_f32(stream, &dk)?];
    Ok(rejection(case, result, unsupported, &touched))
}

/// [`untouched`] for an f32 buffer.
fn untouched_f32(stream: &Arc<CudaStream>, g: &Guarded<f32>) -> flashfftconv::Result<usize> {
    let (values, guard_hits) = g.download(stream)?;
    Ok(guard_hits + values.iter().filter(|v| !v.is_nan()).count())
}
