//! Element types the kernels are instantiated for.

/// An element type of a tensor in device memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum DType {
    /// IEEE 754 binary16.
    F16 = 0,
    /// bfloat16 (8-bit exponent, 7-bit mantissa).
    BF16 = 1,
    /// IEEE 754 binary32.
    F32 = 2,
}

impl DType {
    /// Every supported element type, in table order.
    pub const ALL: [DType; 3] = [DType::F16, DType::BF16, DType::F32];

    /// Bytes per element.
    pub const fn size_bytes(self) -> usize {
        match self {
            DType::F16 | DType::BF16 => 2,
            DType::F32 => 4,
        }
    }

    /// Short lowercase name used in kernel names and reports (`f16`, `bf16`, `f32`).
    pub const fn name(self) -> &'static str {
        match self {
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
        }
    }

    /// Position in [`DType::ALL`], used to index instantiation tables.
    pub const fn index(self) -> usize {
        self as usize
    }
}
