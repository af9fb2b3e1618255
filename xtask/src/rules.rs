//! The kernel naming rules that the offline checks enforce — the one place they are written.
//!
//! Kernel entry names carry their family as a prefix (the kernel registry in
//! `flashfftconv-abi` names them):
//!
//! | prefix     | family                        | `cargo xtask ptxas`                     | `cargo xtask sass-check`  |
//! |------------|-------------------------------|-----------------------------------------|---------------------------|
//! | `conv1d_`  | short depthwise conv1d        | hot: no spills, no stack frame¹         | —                         |
//! | `fftconv_` | long FFT convolution          | hot: no spills, no stack frame¹         | must contain `HMMA` (SASS) |
//! | other      | helpers, smoke tests          | reported only                           | reported only             |
//!
//! Why: a hot kernel that spills or keeps a stack frame goes through local memory (L1/L2) in
//! its inner loop, which costs far more than any gain it was written for; an FFT-conv kernel
//! without tensor-core instructions has silently fallen back to scalar FMA.
//!
//! ¹ Except exactly the bytes listed in [`MEASURED_SPILLS`], each measured faster than the same
//! kernel without a spill.

/// Name prefixes of the hot kernels.
pub const HOT_PREFIXES: &[&str] = &["conv1d_", "fftconv_"];

/// Name prefixes of the kernels whose SASS must use tensor cores (`HMMA`).
pub const TENSOR_CORE_PREFIXES: &[&str] = &["fftconv_"];

/// A hot kernel must not spill registers or use a stack frame.
pub fn is_hot(kernel: &str) -> bool {
    HOT_PREFIXES.iter().any(|p| kernel.starts_with(p))
}

/// A kernel that must contain `HMMA` in its SASS.
pub fn needs_tensor_cores(kernel: &str) -> bool {
    TENSOR_CORE_PREFIXES.iter().any(|p| kernel.starts_with(p))
}

/// Kernels that must fit this many blocks per SM, with the threads per block they launch with:
/// `cargo xtask ptx` gives each the PTX directives `.maxntid` and `.minnctapersm` (CUDA C's
/// `__launch_bounds__`), so that `ptxas` keeps their registers within `65536 / (blocks ·
/// threads)`. One `*` in a name stands for any characters (`fftconv_long_out_n*_f16`: every
/// size; it does not match `…_f16_unsplit`), and no kernel may match two entries. Only where it
/// was measured to pay (see docs/perf-notes.md); the ptxas check still fails if the bound makes a
/// hot kernel spill.
pub const MIN_BLOCKS_PER_SM: &[(&str, u32, u32)] = &[
    ("conv1d_fwd_blh_bf16_*", 32, 12),
    ("conv1d_fwd_blh_f16_*", 32, 12),
    ("fftconv_fwd_n256_bf16", 256, 4),
    // On-chip v21: the unsplit 1K forward at four blocks per SM, the f16 1K/2K ones at three
    // (spilling 12–64 B; −5 to −8 %).
    ("fftconv_fwd_n1024_bf16", 256, 4),
    ("fftconv_fwd_n1024_f16", 256, 3),
    ("fftconv_fwd_n2048_f16", 256, 3),
    ("fftconv_fwd_n2048_bf16", 256, 4),
    ("fftconv_fwd_n4096_bf16", 256, 4),
    ("fftconv_fwd_n8192_bf16", 256, 3),
    ("fftconv_fwd_zero_half_n512_bf16", 256, 4),
    ("fftconv_fwd_zero_half_n8192_bf16", 256, 3),
    // On-chip v22: 96 → 80 registers, spilling 16 B; −9.6 % (H200).
    ("fftconv_fwd_zero_half_n8192_f16", 256, 3),
    ("fftconv_fwd_zero_half_n512_bf16_split", 256, 3),
    ("fftconv_fwd_zero_half_n512_f16", 256, 3),
    ("fftconv_fwd_n16384_bf16", 256, 3),
    ("fftconv_fwd_zero_half_n16384_bf16", 256, 3),
    // On-chip v24: 128 → 80 registers (184 B spill stores), three blocks per SM: −3 to −5 % (H200).
    ("fftconv_fwd_n32768_bf16", 256, 3),
    ("fftconv_fwd_n256_bf16_split", 256, 3),
    ("fftconv_fwd_n256_f16", 256, 3),
    ("fftconv_fwd_n4096_bf16_split", 256, 3),
    ("fftconv_fwd_n4096_f16", 256, 3),
    ("fftconv_bwd_n4096_f16", 256, 2),
    ("fftconv_bwd_n8192_bf16", 256, 2),
    // On-chip v27: its f16 scratch row took it from 128 to 168 registers unbounded.
    ("fftconv_bwd_n16384_bf16", 256, 2),
    // On-chip v23: its `z` spectrum in a global scratch row, so that two blocks fit (−18 to −23 %).
    ("fftconv_bwd_n32768_bf16", 256, 2),
    // The zero-half backward (on-chip v17) keeps the general one's two blocks per SM.
    ("fftconv_bwd_zero_half_n512_bf16", 256, 2),
    ("fftconv_long_mid_unsplit", 256, 3),
    ("fftconv_long_in_n65536_bf16_unsplit", 256, 3),
    ("fftconv_long_in_n131072_bf16_unsplit", 256, 3),
    ("fftconv_long_in_n262144_bf16_unsplit", 256, 3),
    ("fftconv_long_in_n524288_bf16_unsplit", 256, 3),
    ("fftconv_long_in_n1048576_bf16_unsplit", 256, 3),
    ("fftconv_long_in_n2097152_bf16_unsplit", 256, 3),
    ("fftconv_long_in_n4194304_bf16_unsplit", 256, 3),
    ("fftconv_long_in_n8388608_bf16_unsplit", 256, 3),
    ("fftconv_long_out_n262144_bf16_unsplit", 256, 3),
    ("fftconv_long_out_n1048576_bf16_unsplit", 256, 3),
    ("fftconv_long_out_n2097152_bf16_unsplit", 256, 3),
    ("fftconv_long_out_n4194304_bf16_unsplit", 256, 3),
    ("fftconv_long_out_n8388608_bf16_unsplit", 256, 3),
    // v22: the split *in* (its tile read twice, no chunk held across the maximum).
    ("fftconv_long_in_n131072_bf16", 256, 3),
    ("fftconv_long_in_n131072_f16", 256, 3),
    ("fftconv_long_in_n131072_f32", 256, 3),
    ("fftconv_long_in_n262144_bf16", 256, 3),
    ("fftconv_long_in_n262144_f16", 256, 3),
    ("fftconv_long_in_n262144_f32", 256, 3),
    ("fftconv_long_in_n1048576_bf16", 256, 3),
    ("fftconv_long_in_n1048576_f16", 256, 3),
    ("fftconv_long_in_n1048576_f32", 256, 3),
    ("fftconv_long_in_n2097152_bf16", 256, 3),
    ("fftconv_long_in_n2097152_f16", 256, 3),
    ("fftconv_long_in_n2097152_f32", 256, 3),
    ("fftconv_long_in_n4194304_bf16", 256, 3),
    ("fftconv_long_in_n4194304_f16", 256, 3),
    ("fftconv_long_in_n4194304_f32", 256, 3),
    ("fftconv_long_mid_spectrum_conv_unsplit", 256, 3),
    ("fftconv_long_mid_grad_unsplit", 256, 3),
    ("fftconv_long_mid_grad", 256, 2),
    // 130 registers unbounded since the split row passes do their radix-2 stage 0 in the fill
    // and the row store (v24): one block per SM without the bound.
    ("fftconv_long_dk_sum", 256, 2),
    // The split *out* (f16, short-L bf16, `dk` in f32) at two blocks per SM (v21), every size.
    ("fftconv_long_out_n*_bf16", 256, 2),
    ("fftconv_long_out_n*_f16", 256, 2),
    ("fftconv_long_out_n*_f32", 256, 2),
];

/// Hot kernels allowed exactly this spill — (stack frame, spill stores, spill loads) bytes —
/// where their [`MIN_BLOCKS_PER_SM`] bound costs a few values and the bounded kernel was
/// measured faster than the unbounded one, which did not spill (see docs/perf-notes.md, long
/// v15, v17, v19 and v22; on-chip v21 and v22: the 1K forwards and the f16 2K and zero-half 8K
/// ones a block per SM up; v23 and v24: the unsplit 32K backward and forward), or where the
/// change that brought the spill was measured faster than the same kernel before it (on-chip
/// v16: the split N = 256 and zero-half 512 forwards with their last two stages as one pass;
/// v17: the zero-half 512 backward, against the general one; v27: the unsplit 16K backward
/// with its f16 scratch row). Any other amount, larger or smaller, still fails, so a change of
/// the spill is always looked at.
pub const MEASURED_SPILLS: &[(&str, u64, u64, u64)] = &[
    ("fftconv_fwd_n256_bf16_split", 8, 8, 8),
    ("fftconv_fwd_n256_f16", 8, 8, 8),
    ("fftconv_fwd_zero_half_n512_bf16_split", 16, 16, 16),
    ("fftconv_fwd_zero_half_n512_f16", 16, 16, 16),
    ("fftconv_bwd_zero_half_n512_bf16", 16, 16, 24),
    // On-chip v21 and v22: one block per SM more than unbounded, −5 to −10 % (H200).
    ("fftconv_fwd_n1024_bf16", 16, 12, 12),
    ("fftconv_fwd_n1024_f16", 56, 64, 64),
    ("fftconv_fwd_n2048_f16", 40, 44, 40),
    ("fftconv_fwd_zero_half_n8192_f16", 16, 16, 16),
    // On-chip v23: two blocks per SM with `z` in a global row, −18 to −23 % (H200).
    ("fftconv_bwd_n32768_bf16", 112, 128, 220),
    // On-chip v27: its f16 scratch row, at the two blocks per SM it had unbounded with an f32 one.
    ("fftconv_bwd_n16384_bf16", 8, 8, 8),
    // On-chip v24: three blocks per SM instead of two, −3 to −5 % (H200).
    ("fftconv_fwd_n32768_bf16", 96, 184, 308),
    ("fftconv_long_in_n1048576_bf16_unsplit", 24, 40, 20),
    ("fftconv_long_in_n2097152_bf16_unsplit", 8, 20, 8),
    ("fftconv_long_mid_spectrum_conv_unsplit", 16, 12, 16),
    ("fftconv_long_mid_grad_unsplit", 8, 8, 12),
    ("fftconv_long_in_n1048576_bf16", 32, 32, 36),
    ("fftconv_long_in_n1048576_f16", 32, 32, 36),
    ("fftconv_long_in_n1048576_f32", 32, 28, 32),
    ("fftconv_long_in_n2097152_bf16", 8, 4, 4),
    ("fftconv_long_in_n2097152_f16", 8, 4, 4),
    ("fftconv_long_in_n2097152_f32", 8, 4, 4),
];

/// The spill [`MEASURED_SPILLS`] allows `kernel`: (stack frame, spill stores, spill loads).
pub fn measured_spill(kernel: &str) -> Option<(u64, u64, u64)> {
    MEASURED_SPILLS.iter().find(|(n, ..)| *n == kernel).map(|&(_, frame, st, ld)| (frame, st, ld))
}

/// Kernels that run in clusters of this many blocks (`cargo xtask ptx` gives each the PTX
/// directive `.reqnctapercluster`): the forwards and backwards with an outer radix-2 step, whose
/// two halves run on the two blocks of a cluster (`flashfftconv_abi::fftconv::cluster_blocks`; the
/// host launches twice the blocks, and the kernel checks its cluster size).
pub const CLUSTER_BLOCKS: &[(&str, u32)] = &[("fftconv_fwd_n32768_*", 2), ("fftconv_bwd_n32768_*", 2)];

/// `conv1d_*, fftconv_*` for messages.
pub fn describe(prefixes: &[&str]) -> String {
    prefixes.iter().map(|p| format!("`{p}*`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_and_tensor_core_rules() {
        assert!(is_hot("conv1d_fwd_bf16_k4"));
        assert!(is_hot("fftconv_fwd_bf16_n4096"));
        assert!(!is_hot("smoke_add_one"));
        assert!(needs_tensor_cores("fftconv_fwd_bf16_n4096"));
        assert!(!needs_tensor_cores("conv1d_fwd_bf16_k4"));
    }

    #[test]
    fn measured_spills_are_bounded_hot_kernels() {
        for &(name, ..) in MEASURED_SPILLS {
            assert!(is_hot(name), "{name}");
            assert!(MIN_BLOCKS_PER_SM.iter().any(|(n, ..)| *n == name), "{name}: no bound, so no reason to spill");
        }
        assert_eq!(measured_spill("fftconv_long_in_n2097152_bf16_unsplit"), Some((8, 20, 8)));
        assert_eq!(measured_spill("fftconv_long_in_n65536_bf16_unsplit"), None);
    }

    #[test]
    fn occupancy_bounds_fit_the_register_file() {
        for &(name, threads, blocks) in MIN_BLOCKS_PER_SM {
            assert!(is_hot(name.trim_end_matches('*')), "{name}");
            // At least 32 registers per thread must remain (ptxas's smallest useful budget).
            assert!(threads * blocks * 32 <= 65536, "{name}");
        }
    }
}
