//! The instantiation table: every kernel entry point, stamped from the generic bodies.
//! The names are exactly those of `flashfftconv_abi::Conv1dKernel::entry_name`; a host test
//! checks that every name in that table is in the PTX.

use crate::conv1d;
use crate::element::{Bf16, Element, F16};
use crate::fftconv;
use flashfftconv_abi::conv1d::{Conv1dParams, Conv1dWeightGradParams};
use flashfftconv_abi::fftconv::{FftConvParams, LongFftParams};

/// Position-group sizes of the `(B, L, D)` bodies: by the forward's output type and by the
/// weight-gradient's accumulator (the weight type); see `conv1d::GROUP_16BIT`.
const G16: usize = conv1d::GROUP_16BIT;
const GF: usize = conv1d::GROUP_F32;
/// Position groups of the fused `(B, L, D)` backward, by input type; see
/// `conv1d::BWD_GROUP_16BIT`.
const B16: usize = conv1d::BWD_GROUP_16BIT;
const BF: usize = conv1d::BWD_GROUP_F32;

/// Stamps the six per-(input, weight) conv1d kernels for each listed type pair:
/// `input, weight, forward group, weight-gradient group, fused backward group => names`.
macro_rules! conv1d_pair_entries {
    ($($x:ty, $w:ty, $g_fwd:expr, $g_dw:expr, $g_bwd:expr => $fwd_bhl:ident, $fwd_blh:ident, $dw_bhl:ident, $dw_blh:ident, $bwd_bhl:ident, $bwd_blh:ident;)*) => {$(
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
        /// Input gradient fused with the weight-gradient partials, (B, D, L), K ≤ 8.
        /// # Safety: see `conv1d::backward_bhl`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $bwd_bhl(dy: *const $x, w: *const $w, x: *const $x, dx: *mut $x, partials: *mut <$w as Element>::Acc, q: Conv1dWeightGradParams) {
            // SAFETY: as above.
            unsafe { conv1d::backward_bhl::<$x, $w>(dy, w, x, dx, partials, q) }
        }
        /// Input gradient fused with the weight-gradient partials, (B, L, D), K ≤ 8.
        /// # Safety: see `conv1d::backward_blh`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $bwd_blh(dy: *const $x, w: *const $w, x: *const $x, dx: *mut $x, partials: *mut <$w as Element>::Acc, q: Conv1dWeightGradParams) {
            // SAFETY: as above.
            unsafe { conv1d::backward_blh::<$x, $w, { $g_bwd }>(dy, w, x, dx, partials, q) }
        }
    )*};
}

conv1d_pair_entries! {
    F16, F16, G16, G16, B16 => conv1d_fwd_bhl_f16_f16, conv1d_fwd_blh_f16_f16, conv1d_dw_bhl_f16_f16, conv1d_dw_blh_f16_f16, conv1d_bwd_bhl_f16_f16, conv1d_bwd_blh_f16_f16;
    F16, Bf16, G16, G16, B16 => conv1d_fwd_bhl_f16_bf16, conv1d_fwd_blh_f16_bf16, conv1d_dw_bhl_f16_bf16, conv1d_dw_blh_f16_bf16, conv1d_bwd_bhl_f16_bf16, conv1d_bwd_blh_f16_bf16;
    F16, f32, G16, GF, B16 => conv1d_fwd_bhl_f16_f32, conv1d_fwd_blh_f16_f32, conv1d_dw_bhl_f16_f32, conv1d_dw_blh_f16_f32, conv1d_bwd_bhl_f16_f32, conv1d_bwd_blh_f16_f32;
    Bf16, F16, G16, G16, B16 => conv1d_fwd_bhl_bf16_f16, conv1d_fwd_blh_bf16_f16, conv1d_dw_bhl_bf16_f16, conv1d_dw_blh_bf16_f16, conv1d_bwd_bhl_bf16_f16, conv1d_bwd_blh_bf16_f16;
    Bf16, Bf16, G16, G16, B16 => conv1d_fwd_bhl_bf16_bf16, conv1d_fwd_blh_bf16_bf16, conv1d_dw_bhl_bf16_bf16, conv1d_dw_blh_bf16_bf16, conv1d_bwd_bhl_bf16_bf16, conv1d_bwd_blh_bf16_bf16;
    Bf16, f32, G16, GF, B16 => conv1d_fwd_bhl_bf16_f32, conv1d_fwd_blh_bf16_f32, conv1d_dw_bhl_bf16_f32, conv1d_dw_blh_bf16_f32, conv1d_bwd_bhl_bf16_f32, conv1d_bwd_blh_bf16_f32;
    f32, F16, GF, G16, BF => conv1d_fwd_bhl_f32_f16, conv1d_fwd_blh_f32_f16, conv1d_dw_bhl_f32_f16, conv1d_dw_blh_f32_f16, conv1d_bwd_bhl_f32_f16, conv1d_bwd_blh_f32_f16;
    f32, Bf16, GF, G16, BF => conv1d_fwd_bhl_f32_bf16, conv1d_fwd_blh_f32_bf16, conv1d_dw_bhl_f32_bf16, conv1d_dw_blh_f32_bf16, conv1d_bwd_bhl_f32_bf16, conv1d_bwd_blh_f32_bf16;
    f32, f32, GF, GF, BF => conv1d_fwd_bhl_f32_f32, conv1d_fwd_blh_f32_f32, conv1d_dw_bhl_f32_f32, conv1d_dw_blh_f32_f32, conv1d_bwd_bhl_f32_f32, conv1d_bwd_blh_f32_f32;
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

/// Stamps the FFT-convolution kernels of one FFT size `2^log2`: prepare (split precision),
/// `dk`, and forward and backward for bf16, bf16 with split intermediates, and f16 (always
/// split); see `flashfftconv_abi::fftconv::kernel_split`.
macro_rules! fftconv_entries {
    ($($log2:literal => $prepare:ident, $dk:ident, $fwd_bf16:ident, $fwd_bf16s:ident, $fwd_f16:ident, $bwd_bf16:ident, $bwd_bf16s:ident, $bwd_f16:ident;)*) => {$(
        /// Kernel spectrum. # Safety: see `fftconv::prepare`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $prepare(k: *const f32, prepared: *mut f32, p: FftConvParams) {
            // SAFETY: the host's launch layer validated the buffers against `p`.
            unsafe { fftconv::prepare::<$log2, true>(k, prepared, p) }
        }
        /// Kernel gradient from the backward's partials. # Safety: see `fftconv::kernel_grad`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $dk(workspace: *const u8, dk: *mut f32, p: FftConvParams) {
            // SAFETY: as above.
            unsafe { fftconv::kernel_grad::<$log2, true>(workspace, dk, p) }
        }
        fftconv_entries!(@data $log2, Bf16, false, $fwd_bf16, $bwd_bf16);
        fftconv_entries!(@data $log2, Bf16, true, $fwd_bf16s, $bwd_bf16s);
        fftconv_entries!(@data $log2, F16, true, $fwd_f16, $bwd_f16);
    )*};
    (@data $log2:literal, $t:ty, $split:literal, $fwd:ident, $bwd:ident) => {
        /// Forward. # Safety: see `fftconv::forward`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $fwd(u: *const $t, in_gate: *const $t, out_gate: *const $t, prepared: *const f32, y: *mut $t, p: FftConvParams) {
            // SAFETY: the host's launch layer validated the buffers against `p`.
            unsafe { fftconv::forward::<$t, $log2, $split, false>(u, in_gate, out_gate, prepared, y, p) }
        }
        /// Backward. # Safety: see `fftconv::backward`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $bwd(
            u: *const $t, in_gate: *const $t, out_gate: *const $t, dy: *const $t, prepared: *const f32,
            du: *mut $t, d_in_gate: *mut $t, d_out_gate: *mut $t, workspace: *mut u8, p: FftConvParams,
        ) {
            // SAFETY: as above.
            unsafe { fftconv::backward::<$t, $log2, $split, false>(u, in_gate, out_gate, dy, prepared, du, d_in_gate, d_out_gate, workspace, p) }
        }
    };
}

fftconv_entries! {
    8 => fftconv_prepare_n256, fftconv_dk_n256, fftconv_fwd_n256_bf16, fftconv_fwd_n256_bf16_split, fftconv_fwd_n256_f16, fftconv_bwd_n256_bf16, fftconv_bwd_n256_bf16_split, fftconv_bwd_n256_f16;
    9 => fftconv_prepare_n512, fftconv_dk_n512, fftconv_fwd_n512_bf16, fftconv_fwd_n512_bf16_split, fftconv_fwd_n512_f16, fftconv_bwd_n512_bf16, fftconv_bwd_n512_bf16_split, fftconv_bwd_n512_f16;
    10 => fftconv_prepare_n1024, fftconv_dk_n1024, fftconv_fwd_n1024_bf16, fftconv_fwd_n1024_bf16_split, fftconv_fwd_n1024_f16, fftconv_bwd_n1024_bf16, fftconv_bwd_n1024_bf16_split, fftconv_bwd_n1024_f16;
    11 => fftconv_prepare_n2048, fftconv_dk_n2048, fftconv_fwd_n2048_bf16, fftconv_fwd_n2048_bf16_split, fftconv_fwd_n2048_f16, fftconv_bwd_n2048_bf16, fftconv_bwd_n2048_bf16_split, fftconv_bwd_n2048_f16;
    12 => fftconv_prepare_n4096, fftconv_dk_n4096, fftconv_fwd_n4096_bf16, fftconv_fwd_n4096_bf16_split, fftconv_fwd_n4096_f16, fftconv_bwd_n4096_bf16, fftconv_bwd_n4096_bf16_split, fftconv_bwd_n4096_f16;
    13 => fftconv_prepare_n8192, fftconv_dk_n8192, fftconv_fwd_n8192_bf16, fftconv_fwd_n8192_bf16_split, fftconv_fwd_n8192_f16, fftconv_bwd_n8192_bf16, fftconv_bwd_n8192_bf16_split, fftconv_bwd_n8192_f16;
    14 => fftconv_prepare_n16384, fftconv_dk_n16384, fftconv_fwd_n16384_bf16, fftconv_fwd_n16384_bf16_split, fftconv_fwd_n16384_f16, fftconv_bwd_n16384_bf16, fftconv_bwd_n16384_bf16_split, fftconv_bwd_n16384_f16;
    15 => fftconv_prepare_n32768, fftconv_dk_n32768, fftconv_fwd_n32768_bf16, fftconv_fwd_n32768_bf16_split, fftconv_fwd_n32768_f16, fftconv_bwd_n32768_bf16, fftconv_bwd_n32768_bf16_split, fftconv_bwd_n32768_f16;
}

/// Stamps the zero-half forwards (`L ≤ N/2`) of the sizes where they skip a stage
/// (`flashfftconv_abi::fftconv::zero_half_skip`): bf16, bf16 split, f16.
macro_rules! fftconv_zero_half_entries {
    ($($log2:literal => $($t:ty, $split:literal, $name:ident);+;)*) => {$($(
        /// Forward for `L ≤ N/2`. # Safety: see `fftconv::forward`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $name(u: *const $t, in_gate: *const $t, out_gate: *const $t, prepared: *const f32, y: *mut $t, p: FftConvParams) {
            // SAFETY: the host's launch layer validated the buffers against `p` (and `L ≤ N/2`).
            unsafe { fftconv::forward::<$t, $log2, $split, true>(u, in_gate, out_gate, prepared, y, p) }
        }
    )+)*};
}

fftconv_zero_half_entries! {
    9 => Bf16, false, fftconv_fwd_zero_half_n512_bf16; Bf16, true, fftconv_fwd_zero_half_n512_bf16_split; F16, true, fftconv_fwd_zero_half_n512_f16;
    13 => Bf16, false, fftconv_fwd_zero_half_n8192_bf16; Bf16, true, fftconv_fwd_zero_half_n8192_bf16_split; F16, true, fftconv_fwd_zero_half_n8192_f16;
    14 => Bf16, false, fftconv_fwd_zero_half_n16384_bf16; Bf16, true, fftconv_fwd_zero_half_n16384_bf16_split; F16, true, fftconv_fwd_zero_half_n16384_f16;
}

/// Stamps the zero-half backwards (`L ≤ N/2`) of the sizes where they skip a stage
/// (`flashfftconv_abi::fftconv::backward_zero_half_skip`): bf16, bf16 split, f16.
macro_rules! fftconv_backward_zero_half_entries {
    ($($log2:literal => $($t:ty, $split:literal, $name:ident);+;)*) => {$($(
        /// Backward for `L ≤ N/2`. # Safety: see `fftconv::backward`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $name(
            u: *const $t, in_gate: *const $t, out_gate: *const $t, dy: *const $t, prepared: *const f32,
            du: *mut $t, d_in_gate: *mut $t, d_out_gate: *mut $t, workspace: *mut u8, p: FftConvParams,
        ) {
            // SAFETY: the host's launch layer validated the buffers against `p` (and `L ≤ N/2`).
            unsafe { fftconv::backward::<$t, $log2, $split, true>(u, in_gate, out_gate, dy, prepared, du, d_in_gate, d_out_gate, workspace, p) }
        }
    )+)*};
}

fftconv_backward_zero_half_entries! {
    9 => Bf16, false, fftconv_bwd_zero_half_n512_bf16; Bf16, true, fftconv_bwd_zero_half_n512_bf16_split; F16, true, fftconv_bwd_zero_half_n512_f16;
}

/// Stamps the long-size passes *in* and *out* of one FFT size `2^log2` (see
/// `flashfftconv_abi::fftconv::LongPass`): *in* for bf16, f16 and f32 (the kernel `k`), *out* for
/// bf16, f16 and f32 (the backward's `dk` partials), all with split planes, plus unsplit bf16
/// *in* and *out* and unsplit f32 *out* (where `kernel_split` allows: `L ≥ N/4`, and `Lk ≥ N/4`
/// in the backward).
macro_rules! fftconv_long_entries {
    ($($log2:literal => $in_bf16:ident, $in_f16:ident, $in_f32:ident, $out_bf16:ident, $out_f16:ident, $out_f32:ident, $in_bf16u:ident, $out_bf16u:ident, $out_f32u:ident;)*) => {$(
        fftconv_long_entries!(@in $log2, Bf16, true, $in_bf16);
        fftconv_long_entries!(@in $log2, F16, true, $in_f16);
        fftconv_long_entries!(@in $log2, f32, true, $in_f32);
        fftconv_long_entries!(@in $log2, Bf16, false, $in_bf16u);
        fftconv_long_entries!(@out $log2, Bf16, true, $out_bf16);
        fftconv_long_entries!(@out $log2, F16, true, $out_f16);
        fftconv_long_entries!(@out $log2, f32, true, $out_f32);
        fftconv_long_entries!(@out $log2, Bf16, false, $out_bf16u);
        fftconv_long_entries!(@out $log2, f32, false, $out_f32u);
    )*};
    (@in $log2:literal, $t:ty, $split:literal, $name:ident) => {
        /// Long sizes, pass *in*. # Safety: see `fftconv::long::long_in`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $name(x: *const $t, gate: *const $t, z: *mut f32, p: LongFftParams) {
            // SAFETY: the host's launch layer validated the buffers against `p`.
            unsafe { fftconv::long::long_in::<$t, $log2, $split>(x, gate, z, p) }
        }
    };
    (@out $log2:literal, $t:ty, $split:literal, $name:ident) => {
        /// Long sizes, pass *out*. # Safety: see `fftconv::long::long_out`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $name(
            z: *const f32,
            gate: *const $t,
            y: *mut $t,
            gate2: *const $t,
            y2: *mut $t,
            p: LongFftParams,
        ) {
            // SAFETY: the host's launch layer validated the buffers against `p`.
            unsafe { fftconv::long::long_out::<$t, $log2, $split>(z, gate, y, gate2, y2, p) }
        }
    };
}

fftconv_long_entries! {
    16 => fftconv_long_in_n65536_bf16, fftconv_long_in_n65536_f16, fftconv_long_in_n65536_f32, fftconv_long_out_n65536_bf16, fftconv_long_out_n65536_f16, fftconv_long_out_n65536_f32, fftconv_long_in_n65536_bf16_unsplit, fftconv_long_out_n65536_bf16_unsplit, fftconv_long_out_n65536_f32_unsplit;
    17 => fftconv_long_in_n131072_bf16, fftconv_long_in_n131072_f16, fftconv_long_in_n131072_f32, fftconv_long_out_n131072_bf16, fftconv_long_out_n131072_f16, fftconv_long_out_n131072_f32, fftconv_long_in_n131072_bf16_unsplit, fftconv_long_out_n131072_bf16_unsplit, fftconv_long_out_n131072_f32_unsplit;
    18 => fftconv_long_in_n262144_bf16, fftconv_long_in_n262144_f16, fftconv_long_in_n262144_f32, fftconv_long_out_n262144_bf16, fftconv_long_out_n262144_f16, fftconv_long_out_n262144_f32, fftconv_long_in_n262144_bf16_unsplit, fftconv_long_out_n262144_bf16_unsplit, fftconv_long_out_n262144_f32_unsplit;
    19 => fftconv_long_in_n524288_bf16, fftconv_long_in_n524288_f16, fftconv_long_in_n524288_f32, fftconv_long_out_n524288_bf16, fftconv_long_out_n524288_f16, fftconv_long_out_n524288_f32, fftconv_long_in_n524288_bf16_unsplit, fftconv_long_out_n524288_bf16_unsplit, fftconv_long_out_n524288_f32_unsplit;
    20 => fftconv_long_in_n1048576_bf16, fftconv_long_in_n1048576_f16, fftconv_long_in_n1048576_f32, fftconv_long_out_n1048576_bf16, fftconv_long_out_n1048576_f16, fftconv_long_out_n1048576_f32, fftconv_long_in_n1048576_bf16_unsplit, fftconv_long_out_n1048576_bf16_unsplit, fftconv_long_out_n1048576_f32_unsplit;
    21 => fftconv_long_in_n2097152_bf16, fftconv_long_in_n2097152_f16, fftconv_long_in_n2097152_f32, fftconv_long_out_n2097152_bf16, fftconv_long_out_n2097152_f16, fftconv_long_out_n2097152_f32, fftconv_long_in_n2097152_bf16_unsplit, fftconv_long_out_n2097152_bf16_unsplit, fftconv_long_out_n2097152_f32_unsplit;
    22 => fftconv_long_in_n4194304_bf16, fftconv_long_in_n4194304_f16, fftconv_long_in_n4194304_f32, fftconv_long_out_n4194304_bf16, fftconv_long_out_n4194304_f16, fftconv_long_out_n4194304_f32, fftconv_long_in_n4194304_bf16_unsplit, fftconv_long_out_n4194304_bf16_unsplit, fftconv_long_out_n4194304_f32_unsplit;
    23 => fftconv_long_in_n8388608_bf16, fftconv_long_in_n8388608_f16, fftconv_long_in_n8388608_f32, fftconv_long_out_n8388608_bf16, fftconv_long_out_n8388608_f16, fftconv_long_out_n8388608_f32, fftconv_long_in_n8388608_bf16_unsplit, fftconv_long_out_n8388608_bf16_unsplit, fftconv_long_out_n8388608_f32_unsplit;
}

/// Long sizes, pass *mid* (any size: `p.log2_n`). # Safety: see `fftconv::long::long_mid`.
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn fftconv_long_mid(z: *mut f32, prepared: *const f32, p: LongFftParams) {
    // SAFETY: the host's launch layer validated the buffers against `p`; this pass only reads
    // `prepared`.
    unsafe { fftconv::long::long_mid::<{ fftconv::long::MID_CONV }, true>(z, z, prepared as *mut f32, p) }
}

/// Long sizes, pass *mid* with unsplit planes (bf16 data with `L ≥ N/4`). # Safety: see
/// `fftconv::long::long_mid`.
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn fftconv_long_mid_unsplit(z: *mut f32, prepared: *const f32, p: LongFftParams) {
    // SAFETY: as `fftconv_long_mid`.
    unsafe { fftconv::long::long_mid::<{ fftconv::long::MID_CONV }, false>(z, z, prepared as *mut f32, p) }
}

/// Long sizes, pass *mid* storing the kernel spectrum. # Safety: see `fftconv::long::long_mid`.
#[unsafe(no_mangle)]
pub unsafe extern "ptx-kernel" fn fftconv_long_mid_prepare(z: *const f32, prepared: *mut f32, p: LongFftParams) {
    // SAFETY: as above; this pass only reads the workspace.
    unsafe {
        fftconv::long::long_mid::<{ fftconv::long::MID_PREPARE }, true>(z as *mut f32, z as *mut f32, prepared, p)
    }
}

/// Stamps the backward's row passes with split planes or not: the spectrum passes (`z`'s, with
/// or without its convolution), the `dv` pass and the `dk` sum. # Safety: see
/// `fftconv::long::long_mid` and `fftconv::long::long_dk_sum`.
macro_rules! fftconv_long_backward_rows {
    ($($split:literal => $spectrum:ident, $spectrum_conv:ident, $grad:ident, $dk_sum:ident;)*) => {$(
        /// Long sizes, pass *mid* replacing each row by its spectrum (backward). # Safety: see
        /// `fftconv::long::long_mid`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $spectrum(z: *mut f32, p: LongFftParams) {
            // SAFETY: the host's launch layer validated the buffers against `p`; this mode reads
            // no spectrum.
            unsafe { fftconv::long::long_mid::<{ fftconv::long::MID_SPECTRUM }, $split>(z, z, core::ptr::null_mut(), p) }
        }
        /// Long sizes, pass *mid* replacing each row by its spectrum and writing its convolution
        /// with the kernel into `dst` (backward). # Safety: see `fftconv::long::long_mid`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $spectrum_conv(z: *mut f32, dst: *mut f32, prepared: *const f32, p: LongFftParams) {
            // SAFETY: the host's launch layer validated the buffers against `p`; this mode only
            // reads `prepared`.
            unsafe { fftconv::long::long_mid::<{ fftconv::long::MID_SPECTRUM_CONV }, $split>(z, dst, prepared as *mut f32, p) }
        }
        /// Long sizes, the backward's `dv` rows: the `dk` products into `dst` (over `z`'s
        /// spectra there), `dz` in place. # Safety: see `fftconv::long::long_mid`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $grad(z: *mut f32, dst: *mut f32, prepared: *const f32, p: LongFftParams) {
            // SAFETY: the host's launch layer validated the buffers against `p`; this mode only
            // reads `prepared`.
            unsafe { fftconv::long::long_mid::<{ fftconv::long::MID_GRAD }, $split>(z, dst, prepared as *mut f32, p) }
        }
        /// Long sizes, the backward's `dk` rows per head. # Safety: see
        /// `fftconv::long::long_dk_sum`.
        #[unsafe(no_mangle)]
        pub unsafe extern "ptx-kernel" fn $dk_sum(dst: *mut f32, a: *const f32, p: LongFftParams) {
            // SAFETY: the host's launch layer validated the buffers against `p`.
            unsafe { fftconv::long::long_dk_sum::<$split>(dst, a, p) }
        }
    )*};
}

fftconv_long_backward_rows! {
    true => fftconv_long_mid_spectrum, fftconv_long_mid_spectrum_conv, fftconv_long_mid_grad, fftconv_long_dk_sum;
    false => fftconv_long_mid_spectrum_unsplit, fftconv_long_mid_spectrum_conv_unsplit, fftconv_long_mid_grad_unsplit, fftconv_long_dk_sum_unsplit;
}
