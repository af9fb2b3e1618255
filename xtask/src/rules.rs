//! The kernel naming rules that the offline checks enforce — the one place they are written.
//!
//! Kernel entry names carry their family as a prefix (the kernel registry in
//! `flashfftconv-abi` names them):
//!
//! | prefix     | family                        | `cargo xtask ptxas`                     | `cargo xtask sass-check`  |
//! |------------|-------------------------------|-----------------------------------------|---------------------------|
//! | `conv1d_`  | short depthwise conv1d        | hot: no spills, no stack frame          | —                         |
//! | `fftconv_` | long FFT convolution          | hot: no spills, no stack frame          | must contain `HMMA` (SASS) |
//! | other      | helpers, smoke tests          | reported only                           | reported only             |
//!
//! Why: a hot kernel that spills or keeps a stack frame goes through local memory (L1/L2) in
//! its inner loop, which costs far more than any gain it was written for; an FFT-conv kernel
//! without tensor-core instructions has silently fallen back to scalar FMA.

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
}
