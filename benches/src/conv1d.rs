//! The depthwise conv1d benchmark: the original FlashFFTConv's table shapes (B = 16, K = 5,
//! L ∈ {1K, 2K, 4K, 8K}, D ∈ {768, 1024, 2048, 8192}, bf16), both layouts, "same" padding,
//! with bias; forward and backward against the memory floor and PyTorch's `nn.Conv1d`.

use crate::{median_time, rotation_sets, Timing};
use flashfftconv::cudarc::driver::{CudaSlice, CudaStream};
use flashfftconv::{half::bf16, DepthwiseConv1d, Gpu, Gradients, Input, Layout};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One benchmark row's shape.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Conv1dBenchShape {
    /// "bhl" or "blh".
    pub layout: &'static str,
    /// B.
    pub batch: usize,
    /// D.
    pub channels: usize,
    /// L.
    pub len: usize,
    /// K.
    pub taps: usize,
    /// Left padding.
    pub pad_left: usize,
    /// Right padding.
    pub pad_right: usize,
    /// Element type of x, w, bias, y.
    pub dtype: &'static str,
}

/// One measured row.
#[derive(Clone, Debug, Serialize)]
pub struct Conv1dBenchRow {
    /// The shape.
    #[serde(flatten)]
    pub shape: Conv1dBenchShape,
    /// Forward median, ms.
    pub fwd_ms: f64,
    /// Backward (dx, dw, dbias) median, ms.
    pub bwd_ms: f64,
    /// Forward memory floor: (x + y bytes) / copy bandwidth, ms.
    pub fwd_floor_ms: f64,
    /// Backward memory floor: (x + dy + dx bytes) / copy bandwidth, ms.
    pub bwd_floor_ms: f64,
    /// Median of a device-to-device copy (`cuMemcpyDtoD`) of `x` into a buffer of `x`'s size,
    /// timed like the forward with the same rotation, ms: what the memory system gives a plain
    /// copy of these bytes at this size (launch, ramp-up and tail included), next to the floor,
    /// which uses the 1 GiB copy's bandwidth.
    pub copy_same_ms: f64,
    /// PyTorch forward median, ms (None when it could not run).
    pub torch_fwd_ms: Option<f64>,
    /// PyTorch backward median, ms.
    pub torch_bwd_ms: Option<f64>,
}

/// The table's shapes.
pub fn table_shapes() -> Vec<Conv1dBenchShape> {
    let mut shapes = Vec::new();
    for layout in ["bhl", "blh"] {
        for len in [1024, 2048, 4096, 8192] {
            for channels in [768, 1024, 2048, 8192] {
                shapes.push(Conv1dBenchShape {
                    layout,
                    batch: 16,
                    channels,
                    len,
                    taps: 5,
                    pad_left: 2,
                    pad_right: 2,
                    dtype: "bf16",
                });
            }
        }
    }
    shapes
}

/// Times forward and backward of one shape (bf16 activations and weights).
pub fn measure(
    gpu: &Gpu,
    stream: &Arc<CudaStream>,
    shape: &Conv1dBenchShape,
    copy_bw: f64,
    timing: Timing,
) -> flashfftconv::Result<Conv1dBenchRow> {
    let layout = if shape.layout == "bhl" { Layout::Bhl } else { Layout::Blh };
    let conv = DepthwiseConv1d::new(shape.channels, shape.taps)
        .with_padding(shape.pad_left, shape.pad_right)
        .with_layout(layout);
    let (b, d, l, k) = (shape.batch, shape.channels, shape.len, shape.taps);
    let lo = conv.output_len(l)?;
    let elem = 2u64;
    let (x_bytes, y_bytes) = ((b * d * l) as u64 * elem, (b * d * lo) as u64 * elem);
    let sets = rotation_sets(gpu, 2 * x_bytes + 2 * y_bytes)?;
    // Random-ish non-zero data (timing on zeros can flatter a kernel).
    let fill = |n: usize, salt: usize| -> Vec<bf16> {
        (0..n).map(|i| bf16::from_f32((((i * 7919 + salt) % 2003) as f32 / 1001.0) - 1.0)).collect()
    };
    let mut xs = Vec::new();
    let mut dys = Vec::new();
    let mut ys: Vec<CudaSlice<bf16>> = Vec::new();
    let mut dxs: Vec<CudaSlice<bf16>> = Vec::new();
    for s in 0..sets {
        xs.push(stream.clone_htod(&fill(b * d * l, s))?);
        dys.push(stream.clone_htod(&fill(b * d * lo, s + 17))?);
        ys.push(stream.alloc_zeros(b * d * lo)?);
        dxs.push(stream.alloc_zeros(b * d * l)?);
    }
    let w = stream.clone_htod(&fill(d * k, 3))?;
    let bias = stream.clone_htod(&fill(d, 5))?;
    let mut dw = stream.alloc_zeros::<bf16>(d * k)?;
    let mut db = stream.alloc_zeros::<bf16>(d)?;

    let fwd = median_time(gpu.context(), stream, timing, |i| {
        let s = i % sets;
        let x = xs[s].as_view();
        conv.forward(
            gpu,
            stream,
            Input { data: &x, batch: b, len: l },
            &w.as_view(),
            Some(&bias.as_view()),
            &mut ys[s].as_view_mut(),
        )
    })?;
    let bwd = median_time(gpu.context(), stream, timing, |i| {
        let s = i % sets;
        let x = xs[s].as_view();
        let grads = Gradients {
            dx: &mut dxs[s].as_view_mut(),
            dweight: &mut dw.as_view_mut(),
            dbias: Some(&mut db.as_view_mut()),
        };
        conv.backward(gpu, stream, Input { data: &x, batch: b, len: l }, &w.as_view(), &dys[s].as_view(), grads)
    })?;
    let copy = median_time(gpu.context(), stream, timing, |i| -> flashfftconv::Result<()> {
        let s = i % sets;
        stream.memcpy_dtod(&xs[s], &mut dxs[s])?;
        Ok(())
    })?;
    Ok(Conv1dBenchRow {
        shape: *shape,
        fwd_ms: fwd.as_secs_f64() * 1e3,
        copy_same_ms: copy.as_secs_f64() * 1e3,
        bwd_ms: bwd.as_secs_f64() * 1e3,
        fwd_floor_ms: (x_bytes + y_bytes) as f64 / copy_bw * 1e3,
        bwd_floor_ms: (2 * x_bytes + y_bytes) as f64 / copy_bw * 1e3,
        torch_fwd_ms: None,
        torch_bwd_ms: None,
    })
}
