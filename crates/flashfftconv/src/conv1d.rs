//! Short depthwise conv1d (`groups = channels`), forward and backward.
//!
//! Semantics are PyTorch's `nn.Conv1d(D, D, K, groups=D, padding=…, bias=…)` with stride 1,
//! with separate left and right zero padding:
//! `y[b, d, j] = bias[d] + Σ_k w[d, k] · x[b, d, j − pad_left + k]`, `0 ≤ j < L + pad_left +
//! pad_right − K + 1`. Causal conv is `pad_left = K − 1, pad_right = 0`.
//!
//! | tensor | `Layout::Bhl` | `Layout::Blh` | dtype |
//! |---|---|---|---|
//! | x, dx | `(B, D, L)` | `(B, L, D)` | `T`: f16, bf16, f32 |
//! | y, dy | `(B, D, L_out)` | `(B, L_out, D)` | `T` |
//! | weight, dweight | `(D, K)` | `(D, K)` | `W`: f16, bf16, f32 (independent of `T`) |
//! | bias, dbias | `(D)` | `(D)` | `W` |
//!
//! Sums run in f32 for 16-bit outputs and in f64 for f32 outputs; each output is rounded once.
//! Weight and bias gradients are reduced in a fixed order (no atomics): the same inputs give
//! bit-identical results on every run.

use crate::checks::{check_device, check_disjoint, check_len, check_outputs_disjoint, grid_x, ordinal_of};
use crate::context::Gpu;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::launch::{self, DevicePtr};
use cudarc::driver::{CudaStream, CudaView, CudaViewMut, DevicePtr as _, DevicePtrMut as _, LaunchConfig};
use flashfftconv_abi::conv1d::{
    geometry::*, tap_slots, Conv1dKernel, Conv1dParams, Conv1dWeightGradParams, CHUNK, FLAG_FLIP_TAPS, FLAG_HAS_BIAS,
    FLAG_INPUT_VECTOR, FLAG_OUTPUT_VECTOR, FLAG_X_VECTOR,
};
use flashfftconv_abi::DType;
use std::sync::Arc;

/// Memory layout of the activations. Weights are `(D, K)` in both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `(batch, channels, length)`: each channel's sequence is contiguous (PyTorch's Conv1d).
    Bhl,
    /// `(batch, length, channels)`: each position's channels are contiguous (a transformer's
    /// hidden states).
    Blh,
}

/// An input sequence batch: the buffer and its `(batch, length)`; channels come from the conv.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a, 'b, T> {
    /// The data, `(B, D, L)` or `(B, L, D)` by the conv's layout. May be longer than needed.
    pub data: &'a CudaView<'b, T>,
    /// Batch size B.
    pub batch: usize,
    /// Sequence length L.
    pub len: usize,
}

/// Where [`DepthwiseConv1d::backward`] writes the gradients.
#[derive(Debug)]
pub struct Gradients<'a, 'b, T, W> {
    /// Gradient of the input, shaped like x.
    pub dx: &'a mut CudaViewMut<'b, T>,
    /// Gradient of the weights, `(D, K)`.
    pub dweight: &'a mut CudaViewMut<'b, W>,
    /// Gradient of the bias, `(D)`; `None` for a conv without bias.
    pub dbias: Option<&'a mut CudaViewMut<'b, W>>,
}

/// A depthwise conv1d layer's shape: channels, taps, padding and layout. Cheap to copy; the
/// weights are passed to each call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthwiseConv1d {
    /// Channels D (= groups).
    pub channels: usize,
    /// Taps K.
    pub kernel_size: usize,
    /// Zeros before each sequence, `0 ≤ pad_left ≤ K − 1`.
    pub pad_left: usize,
    /// Zeros after each sequence, `0 ≤ pad_right ≤ K − 1`.
    pub pad_right: usize,
    /// Activation layout.
    pub layout: Layout,
}

/// Elements of the weight-gradient workspace, in units of 8 bytes.
type PartialWord = u64;

impl DepthwiseConv1d {
    /// A conv without padding (`L_out = L − K + 1`), `(B, D, L)` layout.
    pub fn new(channels: usize, kernel_size: usize) -> Self {
        Self { channels, kernel_size, pad_left: 0, pad_right: 0, layout: Layout::Bhl }
    }

    /// A causal conv: `pad_left = K − 1`, `pad_right = 0`, so `L_out = L` and output `j` sees
    /// inputs `j − K + 1 ..= j` only.
    pub fn causal(channels: usize, kernel_size: usize) -> Self {
        Self { pad_left: kernel_size.saturating_sub(1), ..Self::new(channels, kernel_size) }
    }

    /// PyTorch's `padding="same"`: `L_out = L`, the odd zero (even K) on the right.
    pub fn same(channels: usize, kernel_size: usize) -> Self {
        let total = kernel_size.saturating_sub(1);
        Self { pad_left: total / 2, pad_right: total - total / 2, ..Self::new(channels, kernel_size) }
    }

    /// The same conv with the given padding.
    pub fn with_padding(self, pad_left: usize, pad_right: usize) -> Self {
        Self { pad_left, pad_right, ..self }
    }

    /// The same conv with the given layout.
    pub fn with_layout(self, layout: Layout) -> Self {
        Self { layout, ..self }
    }

    /// Output length for inputs of length `len`.
    pub fn output_len(&self, len: usize) -> Result<usize> {
        self.params(1, len).map(|p| p.len_out as usize)
    }

    /// Validated kernel parameters for `(batch, len)`, flags other than the bias unset.
    fn params(&self, batch: usize, len: usize) -> Result<Conv1dParams> {
        let u32_dim = |what: &'static str, value: usize, min: usize| -> Result<u32> {
            if value < min || value > u32::MAX as usize {
                return Err(Error::Unsupported {
                    what,
                    value: value as u64,
                    expected: format!("{min} ..= {}", u32::MAX),
                });
            }
            Ok(value as u32)
        };
        let channels = u32_dim("channels", self.channels, 1)?;
        let taps = u32_dim("kernel_size", self.kernel_size, 1)?;
        let batch = u32_dim("batch", batch, 1)?;
        let len_in = u32_dim("len", len, 1)?;
        for (what, pad) in [("pad_left", self.pad_left), ("pad_right", self.pad_right)] {
            if pad >= self.kernel_size {
                return Err(Error::Unsupported {
                    what,
                    value: pad as u64,
                    expected: format!("0 ..= kernel_size − 1 = {}", self.kernel_size - 1),
                });
            }
        }
        let len_out = flashfftconv_abi::conv1d::output_len(len_in, taps, self.pad_left as u32, self.pad_right as u32)
            .ok_or(Error::Unsupported {
            what: "len",
            value: len as u64,
            expected: format!(
                "len + pad_left + pad_right ≥ kernel_size = {} (and an output length ≤ {})",
                self.kernel_size,
                u32::MAX
            ),
        })?;
        Ok(Conv1dParams {
            batch,
            channels,
            len_in,
            len_out,
            taps,
            pad_left: self.pad_left as u32,
            flags: 0,
            reserved: 0,
        })
    }

    /// `y = conv(x, weight) + bias` on `stream`. Asynchronous: returns once queued; no
    /// synchronisation, no allocation.
    ///
    /// Errors before any launch: shapes out of range, buffers too small, `y` overlapping an
    /// input, buffers of another device.
    pub fn forward<T: Element, W: Element>(
        &self,
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        x: Input<'_, '_, T>,
        weight: &CudaView<'_, W>,
        bias: Option<&CudaView<'_, W>>,
        y: &mut CudaViewMut<'_, T>,
    ) -> Result<()> {
        let mut p = self.params(x.batch, x.len)?;
        let (b, d, l, lo, k) = (p.batch as u64, p.channels as u64, p.len_in as u64, p.len_out as u64, p.taps as u64);
        check_len("x", x.data.len(), b * d * l)?;
        check_len("weight", weight.len(), d * k)?;
        if let Some(bias) = bias {
            check_len("bias", bias.len(), d)?;
        }
        check_len("y", y.len(), b * d * lo)?;
        for (what, ordinal) in [("x", ordinal_of(x.data)), ("weight", ordinal_of(weight)), ("y", ordinal_of(y))]
            .into_iter()
            .chain(bias.map(|v| ("bias", ordinal_of(v))))
        {
            check_device(gpu, stream, what, ordinal)?;
        }
        let f = gpu.function(self.forward_kernel().entry_name(T::DTYPE, W::DTYPE))?;
        let cfg = self.forward_config(&p, T::DTYPE)?;

        let (x_ptr, _x_sync) = x.data.device_ptr(stream);
        let (w_ptr, _w_sync) = weight.device_ptr(stream);
        let bias_ptr = bias.map(|v| v.device_ptr(stream));
        let (y_ptr, _y_sync) = y.device_ptr_mut(stream);
        check_disjoint("y", y_ptr, b * d * lo, T::DTYPE, "x", x_ptr, b * d * l, T::DTYPE)?;
        check_disjoint("y", y_ptr, b * d * lo, T::DTYPE, "weight", w_ptr, d * k, W::DTYPE)?;
        if let Some((bias_ptr, _)) = &bias_ptr {
            check_disjoint("y", y_ptr, b * d * lo, T::DTYPE, "bias", *bias_ptr, d, W::DTYPE)?;
            p.flags |= FLAG_HAS_BIAS;
        }
        p.flags |= self.vector_flag(x_ptr, p.len_in, FLAG_INPUT_VECTOR)
            | self.vector_flag(y_ptr, p.len_out, FLAG_OUTPUT_VECTOR);
        let bias_raw = bias_ptr.as_ref().map_or(0, |(ptr, _)| *ptr);
        // SAFETY: the kernel matches (T, W) and the layout; every buffer was checked to hold
        // the elements `p` implies, y overlaps no input, and the views outlive the queued
        // launch through cudarc's stream tracking (the sync guards drop after the launch).
        unsafe { launch::conv1d_forward(stream, &f, cfg, [x_ptr, w_ptr, bias_raw, y_ptr], p) }
    }

    /// Gradients of [`DepthwiseConv1d::forward`]: `dx`, `dweight` and (with a bias) `dbias`,
    /// given `x`, `weight` and `dy`. Asynchronous on `stream`.
    ///
    /// Allocates one stream-ordered workspace of
    /// [`DepthwiseConv1d::weight_grad_workspace_bytes`] bytes (small: a few partial sums per
    /// channel and tap) and frees it after the launches.
    pub fn backward<T: Element, W: Element>(
        &self,
        gpu: &Gpu,
        stream: &Arc<CudaStream>,
        x: Input<'_, '_, T>,
        weight: &CudaView<'_, W>,
        dy: &CudaView<'_, T>,
        grads: Gradients<'_, '_, T, W>,
    ) -> Result<()> {
        let p = self.params(x.batch, x.len)?;
        let (b, d, l, lo, k) = (p.batch as u64, p.channels as u64, p.len_in as u64, p.len_out as u64, p.taps as u64);
        check_len("x", x.data.len(), b * d * l)?;
        check_len("weight", weight.len(), d * k)?;
        check_len("dy", dy.len(), b * d * lo)?;
        check_len("dx", grads.dx.len(), b * d * l)?;
        check_len("dweight", grads.dweight.len(), d * k)?;
        if let Some(db) = &grads.dbias {
            check_len("dbias", db.len(), d)?;
        }
        for (what, ordinal) in [
            ("x", ordinal_of(x.data)),
            ("weight", ordinal_of(weight)),
            ("dy", ordinal_of(dy)),
            ("dx", ordinal_of(grads.dx)),
            ("dweight", ordinal_of(grads.dweight)),
        ]
        .into_iter()
        .chain(grads.dbias.as_ref().map(|v| ("dbias", ordinal_of(&**v))))
        {
            check_device(gpu, stream, what, ordinal)?;
        }
        // dx = conv(dy, flip(w)) with pad_left' = K − 1 − pad_left, length L.
        let mut pdx = Conv1dParams {
            len_in: p.len_out,
            len_out: p.len_in,
            pad_left: p.taps - 1 - p.pad_left,
            flags: FLAG_FLIP_TAPS,
            ..p
        };
        let has_bias = grads.dbias.is_some();
        // One tap chunk: dx and the weight-gradient partials in one pass (either layout).
        let fused = p.taps as usize <= CHUNK;
        let (q, dw_cfg) = if fused {
            self.fused_backward_config(&pdx, T::DTYPE, has_bias)?
        } else {
            self.weight_grad_config(&p, T::DTYPE, has_bias)?
        };
        let reduce_cfg = LaunchConfig {
            grid_dim: (grid_x((d * q.tap_slots as u64).div_ceil(DW_REDUCE_COLUMNS as u64))?, 1, 1),
            block_dim: (DW_REDUCE_COLUMNS, DW_REDUCE_ROW_GROUPS, 1),
            shared_mem_bytes: DW_REDUCE_SHARED_BYTES,
        };
        let dw_kernel = match (self.layout, fused) {
            (Layout::Bhl, true) => Conv1dKernel::BackwardBhl,
            (Layout::Blh, true) => Conv1dKernel::BackwardBlh,
            (Layout::Bhl, false) => Conv1dKernel::WeightGradBhl,
            (Layout::Blh, false) => Conv1dKernel::WeightGradBlh,
        };
        // The (B, L, D) kernel stages more than the default 48 KiB (at most 78 KiB, within
        // every sm_80+ device's opt-in limit).
        let dw_f = gpu.function_with_shared(dw_kernel.entry_name(T::DTYPE, W::DTYPE), dw_cfg.shared_mem_bytes)?;
        let reduce_f = gpu.function(Conv1dKernel::WeightGradReduce.entry_name(T::DTYPE, W::DTYPE))?;
        // The separate path's input-gradient launch (the fused kernel is that launch).
        let dx_launch = if fused {
            None
        } else {
            Some((
                gpu.function(self.forward_kernel().entry_name(T::DTYPE, W::DTYPE))?,
                self.forward_config(&pdx, T::DTYPE)?,
            ))
        };

        let Gradients { dx, dweight, dbias } = grads;
        let (x_ptr, _x_sync) = x.data.device_ptr(stream);
        let (w_ptr, _w_sync) = weight.device_ptr(stream);
        let (dy_ptr, _dy_sync) = dy.device_ptr(stream);
        let (dx_ptr, _dx_sync) = dx.device_ptr_mut(stream);
        let (dw_ptr, _dw_sync) = dweight.device_ptr_mut(stream);
        let dbias_ptr = dbias.map(|v| v.device_ptr_mut(stream));
        let dbias_raw = dbias_ptr.as_ref().map_or(0, |(ptr, _)| *ptr);
        let inputs = [
            ("x", x_ptr, b * d * l, T::DTYPE),
            ("weight", w_ptr, d * k, W::DTYPE),
            ("dy", dy_ptr, b * d * lo, T::DTYPE),
        ];
        let mut outputs = vec![("dx", dx_ptr, b * d * l, T::DTYPE), ("dweight", dw_ptr, d * k, W::DTYPE)];
        if dbias_raw != 0 {
            outputs.push(("dbias", dbias_raw, d, W::DTYPE));
        }
        check_outputs_disjoint(&outputs, &inputs)?;
        pdx.flags |= self.vector_flag(dy_ptr, pdx.len_in, FLAG_INPUT_VECTOR)
            | self.vector_flag(dx_ptr, pdx.len_out, FLAG_OUTPUT_VECTOR);
        let mut q = q;
        if fused {
            q.conv.flags |= pdx.flags | self.vector_flag(x_ptr, p.len_in, FLAG_X_VECTOR);
        } else {
            q.conv.flags |= self.vector_flag(x_ptr, p.len_in, FLAG_INPUT_VECTOR)
                | self.vector_flag(dy_ptr, p.len_out, FLAG_OUTPUT_VECTOR);
        }

        let words = self.weight_grad_workspace_bytes(x.batch, x.len)? / std::mem::size_of::<PartialWord>();
        // SAFETY: every partial the reduction reads is written by the weight-gradient kernel
        // before it (same stream), so the uninitialised contents are never read.
        let mut partials = unsafe { stream.alloc::<PartialWord>(words) }?;
        let (partials_ptr, _partials_sync) = partials.device_ptr_mut(stream);
        // SAFETY: kernels match (T, W) and the layout; all buffers hold what `pdx` / `q` imply
        // (checked above; the workspace is sized by the same parts and tap slots), outputs
        // overlap nothing, and the guards keep the views' stream tracking until after the
        // launches.
        unsafe {
            match &dx_launch {
                None => launch::conv1d_backward_fused(
                    stream,
                    &dw_f,
                    dw_cfg,
                    [dy_ptr, w_ptr, x_ptr, dx_ptr, partials_ptr],
                    q,
                )?,
                Some((fwd, dx_cfg)) => {
                    launch::conv1d_forward(stream, fwd, *dx_cfg, [dy_ptr, w_ptr, 0, dx_ptr], pdx)?;
                    launch::conv1d_weight_grad(stream, &dw_f, dw_cfg, [x_ptr, dy_ptr, partials_ptr], q)?;
                }
            }
            launch::conv1d_weight_grad(stream, &reduce_f, reduce_cfg, [partials_ptr, dw_ptr, dbias_raw], q)?;
        }
        Ok(())
    }

    /// Bytes of the workspace [`DepthwiseConv1d::backward`] allocates for `(batch, len)`.
    pub fn weight_grad_workspace_bytes(&self, batch: usize, len: usize) -> Result<usize> {
        let p = self.params(batch, len)?;
        // f32 inputs have the shortest `(B, L, D)` tiles, so the most parts: an upper bound.
        let (q, _) = self.weight_grad_config(&p, DType::F32, false)?;
        let separate = q.partial_rows as u64 * p.channels as u64 * q.tap_slots as u64;
        let pdx = Conv1dParams { len_in: p.len_out, len_out: p.len_in, ..p };
        let (q, _) = self.fused_backward_config(&pdx, DType::F32, false)?;
        let fused = q.partial_rows as u64 * p.channels as u64 * q.tap_slots as u64;
        Ok((separate.max(fused) * std::mem::size_of::<PartialWord>() as u64) as usize)
    }

    fn forward_kernel(&self) -> Conv1dKernel {
        match self.layout {
            Layout::Bhl => Conv1dKernel::ForwardBhl,
            Layout::Blh => Conv1dKernel::ForwardBlh,
        }
    }

    fn forward_config(&self, p: &Conv1dParams, dtype: DType) -> Result<LaunchConfig> {
        let (b, d, lo) = (p.batch as u64, p.channels as u64, p.len_out as u64);
        Ok(match self.layout {
            // One warp per (row, segment of FWD_BHL_SEGMENT outputs).
            Layout::Bhl => LaunchConfig {
                grid_dim: (grid_x((b * d * lo.div_ceil(FWD_BHL_SEGMENT as u64)).div_ceil(FWD_BHL_WARPS as u64))?, 1, 1),
                block_dim: (32 * FWD_BHL_WARPS, 1, 1),
                shared_mem_bytes: fwd_bhl_shared_bytes(dtype.size_bytes() as u32),
            },
            // One warp per (batch, tile of positions, 128 channels); warps are independent.
            Layout::Blh => {
                let elem = dtype.size_bytes() as u32;
                let tiles =
                    b * lo.div_ceil(blh_tile_positions(elem) as u64) * d.div_ceil(BLH_CHANNELS_PER_BLOCK as u64);
                LaunchConfig {
                    grid_dim: (grid_x(tiles.div_ceil(FWD_BLH_WARPS as u64))?, 1, 1),
                    block_dim: (32, FWD_BLH_WARPS, 1),
                    shared_mem_bytes: fwd_blh_shared_bytes(elem),
                }
            }
        })
    }

    /// Reduction parameters and launch shape of the fused backward (K ≤ 8) on the input
    /// gradient's parameters `pdx`. `(B, D, L)`: the input gradient's launch, one partial row
    /// per (batch, `dx` segment). `(B, L, D)`: one-warp blocks, one partial row per part.
    fn fused_backward_config(
        &self,
        pdx: &Conv1dParams,
        x_dtype: DType,
        has_bias: bool,
    ) -> Result<(Conv1dWeightGradParams, LaunchConfig)> {
        let mut conv = *pdx;
        if has_bias {
            conv.flags |= FLAG_HAS_BIAS;
        }
        let (parts, partial_rows, cfg) = match self.layout {
            Layout::Bhl => {
                let segments = pdx.len_out.div_ceil(FWD_BHL_SEGMENT);
                (segments as u64, pdx.batch as u64 * segments as u64, self.forward_config(pdx, x_dtype)?)
            }
            Layout::Blh => {
                let elem = x_dtype.size_bytes() as u32;
                let channel_tiles = (pdx.channels as u64).div_ceil(BLH_CHANNELS_PER_BLOCK as u64);
                let items = pdx.batch as u64 * (pdx.len_out as u64).div_ceil(blh_tile_positions(elem) as u64);
                let parts =
                    BWD_BLH_TARGET_WARPS.div_ceil(channel_tiles).min(items.div_ceil(BWD_BLH_MIN_ITEMS_PER_PART)).max(1);
                let cfg = LaunchConfig {
                    grid_dim: (grid_x(channel_tiles * parts)?, 1, 1),
                    block_dim: (32, 1, 1),
                    shared_mem_bytes: bwd_blh_shared_bytes(elem),
                };
                (parts, parts, cfg)
            }
        };
        let too_many = || Error::Unsupported {
            what: "batch",
            value: pdx.batch as u64,
            expected: format!("batch · segments of len {} within u32", pdx.len_out),
        };
        let q = Conv1dWeightGradParams {
            conv,
            parts: u32::try_from(parts).map_err(|_| too_many())?,
            tap_slots: tap_slots(pdx.taps),
            partial_rows: u32::try_from(partial_rows).map_err(|_| too_many())?,
            reserved: 0,
        };
        Ok((q, cfg))
    }

    /// Parts of the reduction and the launch shape of the weight-gradient kernel.
    fn weight_grad_config(
        &self,
        p: &Conv1dParams,
        x_dtype: DType,
        has_bias: bool,
    ) -> Result<(Conv1dWeightGradParams, LaunchConfig)> {
        let (b, d, lo) = (p.batch as u64, p.channels as u64, p.len_out as u64);
        let tap_chunks = p.tap_chunks() as u64;
        // Blocks without parts, items a block walks, items a block should at least get, the
        // blocks aimed for, partial rows per part, block shape and shared memory.
        let elem = x_dtype.size_bytes() as u32;
        let (base_blocks, items, min_items_per_part, target, rows_per_part, block_dim, shared) = match self.layout {
            Layout::Bhl => (
                d,
                b * lo.div_ceil(BHL_RUN as u64),
                BHL_THREADS as u64,
                DW_TARGET_BLOCKS,
                DW_WARPS as u64,
                (BHL_THREADS, 1, 1),
                0,
            ),
            // Items of the (B, L, D) kernel are tiles of positions.
            Layout::Blh => (
                d.div_ceil(BLH_CHANNELS_PER_BLOCK as u64),
                b * lo.div_ceil(blh_tile_positions(elem) as u64),
                2 * DW_BLH_WARPS as u64,
                DW_BLH_TARGET_BLOCKS,
                1,
                (32, DW_BLH_WARPS, 1),
                dw_blh_shared_bytes(elem),
            ),
        };
        let wanted = target.div_ceil(base_blocks * tap_chunks);
        let parts = wanted.min(items.div_ceil(min_items_per_part)).max(1);
        let mut conv = *p;
        if has_bias {
            conv.flags |= FLAG_HAS_BIAS;
        }
        let q = Conv1dWeightGradParams {
            conv,
            parts: parts as u32,
            tap_slots: tap_slots(p.taps),
            partial_rows: (parts * rows_per_part) as u32,
            reserved: 0,
        };
        let cfg = LaunchConfig {
            grid_dim: (grid_x(base_blocks * parts)?, u32::try_from(tap_chunks).map_err(|_| too_many_taps(p.taps))?, 1),
            block_dim,
            shared_mem_bytes: shared,
        };
        if tap_chunks > 65_535 {
            return Err(too_many_taps(p.taps));
        }
        Ok((q, cfg))
    }

    fn vector_flag(&self, ptr: DevicePtr, len: u32, flag: u32) -> u32 {
        let contiguous = match self.layout {
            Layout::Bhl => len as usize,
            Layout::Blh => self.channels,
        };
        if ptr.is_multiple_of(16) && contiguous.is_multiple_of(CHUNK) {
            flag
        } else {
            0
        }
    }
}

/// Every kernel name the conv1d host code can launch.
pub(crate) fn kernel_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    for kernel in Conv1dKernel::ALL {
        for x in DType::ALL {
            for w in DType::ALL {
                let name = kernel.entry_name(x, w);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names
}

fn too_many_taps(taps: u32) -> Error {
    Error::Unsupported { what: "kernel_size", value: taps as u64, expected: "at most 65,535 · 8 taps".into() }
}
