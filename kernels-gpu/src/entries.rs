//! The instantiation table: every kernel entry point, stamped from the generic bodies.
//! The names are exactly those of `flashfftconv_abi::Conv1dKernel::entry_name`; a host test
//! checks that every name in that table is in the PTX.

use crate::conv1d;
use crate::element::{Bf16, Element, F16};
use flashfftconv_abi::conv1d::{Conv1dParams, Conv1dWeightGradParams};

/// Position-group sizes of the `(B, L, D)` bodies: by the forward's output type and by the
/// weight-gradient's accumulator (the weight type); see `conv1d::GROUP_16BIT`.
const G16: usize = conv1d::GROUP_16BIT;
const GF: usize = conv1d::GROUP_F32;

/// Stamps the four per-(input, weight) conv1d kernels for each listed type pair:
/// `input, weight, forward group, weight-gradient group => names`.
macro_rules! conv1d_pair_entries {
    ($($x:ty, $w:ty, $g_fwd:expr, $g_dw:expr => $fwd_bhl:ident, $fwd_blh:ident, $dw_bhl:ident, $dw_blh:ident;)*) => {$(
        /// Forward / input gradient, (B, D, L). # Safety: see `conv1d::forward_bhl`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $fwd_bhl(x: *const $x, w: *const $w, bias: *const $w, y: *mut $x, p: Conv1dParams) {
            // SAFETY: the host's launch layer validated the buffers against `p`.
            unsafe { conv1d::forward_bhl::<$x, $w>(x, w, bias, y, p) }
        }
        /// Forward / input gradient, (B, L, D). # Safety: see `conv1d::forward_blh`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $fwd_blh(x: *const $x, w: *const $w, bias: *const $w, y: *mut $x, p: Conv1dParams) {
            // SAFETY: as above.
            unsafe { conv1d::forward_blh::<$x, $w, { $g_fwd }>(x, w, bias, y, p) }
        }
        /// Weight-gradient partials, (B, D, L). # Safety: see `conv1d::weight_grad_bhl`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $dw_bhl(x: *const $x, dy: *const $x, partials: *mut <$w as Element>::Acc, q: Conv1dWeightGradParams) {
            // SAFETY: as above.
            unsafe { conv1d::weight_grad_bhl::<$x, $w>(x, dy, partials, q) }
        }
        /// Weight-gradient partials, (B, L, D). # Safety: see `conv1d::weight_grad_blh`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $dw_blh(x: *const $x, dy: *const $x, partials: *mut <$w as Element>::Acc, q: Conv1dWeightGradParams) {
            // SAFETY: as above.
            unsafe { conv1d::weight_grad_blh::<$x, $w, { $g_dw }>(x, dy, partials, q) }
        }
    )*};
}

conv1d_pair_entries! {
    F16, F16, G16, G16 => conv1d_fwd_bhl_f16_f16, conv1d_fwd_blh_f16_f16, conv1d_dw_bhl_f16_f16, conv1d_dw_blh_f16_f16;
    F16, Bf16, G16, G16 => conv1d_fwd_bhl_f16_bf16, conv1d_fwd_blh_f16_bf16, conv1d_dw_bhl_f16_bf16, conv1d_dw_blh_f16_bf16;
    F16, f32, G16, GF => conv1d_fwd_bhl_f16_f32, conv1d_fwd_blh_f16_f32, conv1d_dw_bhl_f16_f32, conv1d_dw_blh_f16_f32;
    Bf16, F16, G16, G16 => conv1d_fwd_bhl_bf16_f16, conv1d_fwd_blh_bf16_f16, conv1d_dw_bhl_bf16_f16, conv1d_dw_blh_bf16_f16;
    Bf16, Bf16, G16, G16 => conv1d_fwd_bhl_bf16_bf16, conv1d_fwd_blh_bf16_bf16, conv1d_dw_bhl_bf16_bf16, conv1d_dw_blh_bf16_bf16;
    Bf16, f32, G16, GF => conv1d_fwd_bhl_bf16_f32, conv1d_fwd_blh_bf16_f32, conv1d_dw_bhl_bf16_f32, conv1d_dw_blh_bf16_f32;
    f32, F16, GF, G16 => conv1d_fwd_bhl_f32_f16, conv1d_fwd_blh_f32_f16, conv1d_dw_bhl_f32_f16, conv1d_dw_blh_f32_f16;
    f32, Bf16, GF, G16 => conv1d_fwd_bhl_f32_bf16, conv1d_fwd_blh_f32_bf16, conv1d_dw_bhl_f32_bf16, conv1d_dw_blh_f32_bf16;
    f32, f32, GF, GF => conv1d_fwd_bhl_f32_f32, conv1d_fwd_blh_f32_f32, conv1d_dw_bhl_f32_f32, conv1d_dw_blh_f32_f32;
}

/// Stamps the partials reduction for each weight type.
macro_rules! conv1d_reduce_entries {
    ($($w:ty => $name:ident;)*) => {$(
        /// Sum of weight-gradient partials. # Safety: see `conv1d::weight_grad_reduce`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $name(partials: *const <$w as Element>::Acc, dw: *mut $w, dbias: *mut $w, q: Conv1dWeightGradParams) {
            // SAFETY: the host's launch layer validated the buffers against `q`.
            unsafe { conv1d::weight_grad_reduce::<$w>(partials, dw, dbias, q) }
        }
    )*};
}

conv1d_reduce_entries! {
    F16 => conv1d_dw_reduce_f16;
    Bf16 => conv1d_dw_reduce_bf16;
    f32 => conv1d_dw_reduce_f32;
}
