//! Element types: `half::f16`, `half::bf16` and `f32`.

use cudarc::driver::DeviceRepr;
pub use flashfftconv_abi::DType;

mod sealed {
    pub trait Sealed {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
    impl Sealed for f32 {}
}

/// A tensor element type the kernels are instantiated for. Sealed: implemented for
/// `half::f16`, `half::bf16` and `f32` only.
pub trait Element: DeviceRepr + Copy + Send + Sync + sealed::Sealed + 'static {
    /// The runtime tag of this type.
    const DTYPE: DType;
    /// Widen to f64 (exact).
    fn to_f64(self) -> f64;
    /// Round from f64 to nearest.
    fn from_f64(v: f64) -> Self;
}

impl Element for half::f16 {
    const DTYPE: DType = DType::F16;
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(v: f64) -> Self {
        half::f16::from_f64(v)
    }
}

impl Element for half::bf16 {
    const DTYPE: DType = DType::BF16;
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(v: f64) -> Self {
        half::bf16::from_f64(v)
    }
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
