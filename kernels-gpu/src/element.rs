//! Storage types (what sits in device memory) and accumulator types (what the sums run in).
//!
//! Outputs stored in a 16-bit type accumulate in f32: its rounding is orders of magnitude below
//! the output's. Outputs stored in f32 accumulate in f64, because an f32 sum of even a few
//! products already errs by more than the f32 rounding of the exact answer, which is the
//! project's error floor (see `flashfftconv-reference::bounds`).

use crate::device;
use core::intrinsics::{fmaf32, fmaf64};

/// bf16 storage (raw bits).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Bf16(#[allow(dead_code)] u16);

/// f16 storage (raw bits).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct F16(#[allow(dead_code)] u16);

/// An accumulator: f32 or f64.
pub trait Accum: Copy {
    /// Additive identity.
    const ZERO: Self;
    /// `acc + a · b`, one rounding.
    fn fma(self, a: f32, b: f32) -> Self;
    /// `self + v`.
    fn add(self, v: Self) -> Self;
    /// Widen an f32 exactly.
    fn from_f32(v: f32) -> Self;
    /// The value of the lane `lane ^ mask` (full-warp shuffle).
    fn shfl_xor(self, mask: u32) -> Self;
}

impl Accum for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn fma(self, a: f32, b: f32) -> Self {
        fmaf32(a, b, self)
    }
    #[inline(always)]
    fn add(self, v: Self) -> Self {
        self + v
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn shfl_xor(self, mask: u32) -> Self {
        f32::from_bits(device::shfl_xor_u32(self.to_bits(), mask))
    }
}

impl Accum for f64 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn fma(self, a: f32, b: f32) -> Self {
        fmaf64(a as f64, b as f64, self)
    }
    #[inline(always)]
    fn add(self, v: Self) -> Self {
        self + v
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v as f64
    }
    #[inline(always)]
    fn shfl_xor(self, mask: u32) -> Self {
        let bits = self.to_bits();
        let lo = device::shfl_xor_u32(bits as u32, mask) as u64;
        let hi = device::shfl_xor_u32((bits >> 32) as u32, mask) as u64;
        f64::from_bits(lo | (hi << 32))
    }
}

/// 8 elements from 4 words of packed 16-bit pairs, widened by `lo`/`hi` (low and high half).
#[inline(always)]
fn widen_pairs(w: [u32; 4], lo: fn(u32) -> f32, hi: fn(u32) -> f32) -> [f32; 8] {
    let mut out = [0.0; 8];
    for i in 0..4 {
        out[2 * i] = lo(w[i]);
        out[2 * i + 1] = hi(w[i]);
    }
    out
}

/// 8 f32 from the bits of two 16-byte loads.
#[inline(always)]
fn f32_words(a: [u32; 4], b: [u32; 4]) -> [f32; 8] {
    let mut out = [0.0; 8];
    for i in 0..4 {
        out[i] = f32::from_bits(a[i]);
        out[4 + i] = f32::from_bits(b[i]);
    }
    out
}

/// A storage type.
pub trait Element: Copy {
    /// The accumulator used when this type is the output.
    type Acc: Accum;
    /// 4 consecutive elements as stored (2 words of packed pairs, or 4 words for f32), as they
    /// come out of shared memory before widening.
    type Packed4: Copy;
    /// Widen 4 packed elements.
    fn widen4(p: &Self::Packed4) -> [f32; 4];
    /// Read one element, widened to f32 (exact for all three types).
    ///
    /// # Safety
    /// `ptr` is readable.
    unsafe fn load(ptr: *const Self) -> f32;
    /// Read 8 consecutive elements.
    ///
    /// # Safety
    /// `ptr` is 16-byte aligned and the 8 elements are readable and not written in this launch.
    unsafe fn load8(ptr: *const Self) -> [f32; 8];
    /// [`Element::load8`] if `pred`, else zeros, without a branch ([`device::load_16b_if`];
    /// `WIDE_L2` as there).
    ///
    /// # Safety
    /// If `pred`: as [`Element::load8`]. Otherwise `ptr` is not read.
    unsafe fn load8_if<const WIDE_L2: bool>(ptr: *const Self, pred: bool) -> [f32; 8];
    /// Write 4 consecutive elements, rounded to nearest-even.
    ///
    /// # Safety
    /// `ptr` is aligned to 4 elements and the 4 elements are writable.
    unsafe fn store4(ptr: *mut Self, v: [Self::Acc; 4]);
    /// Write one element, rounded to nearest-even.
    ///
    /// # Safety
    /// `ptr` is writable.
    unsafe fn store(ptr: *mut Self, v: Self::Acc);
    /// Write 8 consecutive elements, rounded to nearest-even.
    ///
    /// # Safety
    /// `ptr` is 16-byte aligned and the 8 elements are writable.
    unsafe fn store8(ptr: *mut Self, v: [Self::Acc; 8]);
}

/// The two 16-bit types differ only in how a pair packed in one word is widened and how two
/// f32 are rounded into one word; everything else is stamped from one body.
macro_rules! packed_pair_element {
    ($t:ty, widen_lo = $lo:expr, widen_hi = $hi:expr, pack = $pack:path) => {
        impl Element for $t {
            type Acc = f32;
            type Packed4 = [u32; 2];
            #[inline(always)]
            fn widen4(p: &[u32; 2]) -> [f32; 4] {
                let (lo, hi): (fn(u32) -> f32, fn(u32) -> f32) = ($lo, $hi);
                [lo(p[0]), hi(p[0]), lo(p[1]), hi(p[1])]
            }
            #[inline(always)]
            unsafe fn store4(ptr: *mut Self, v: [f32; 4]) {
                // SAFETY: guaranteed by the caller.
                unsafe { device::store_8b(ptr as *mut u8, [$pack(v[0], v[1]), $pack(v[2], v[3])]) };
            }
            #[inline(always)]
            unsafe fn load(ptr: *const Self) -> f32 {
                let lo: fn(u32) -> f32 = $lo;
                // SAFETY: guaranteed by the caller.
                lo(unsafe { *(ptr as *const u16) } as u32)
            }
            #[inline(always)]
            unsafe fn load8_if<const WIDE_L2: bool>(ptr: *const Self, pred: bool) -> [f32; 8] {
                // SAFETY: guaranteed by the caller.
                widen_pairs(unsafe { device::load_16b_if::<WIDE_L2>(ptr as *const u8, pred) }, $lo, $hi)
            }
            #[inline(always)]
            unsafe fn load8(ptr: *const Self) -> [f32; 8] {
                // SAFETY: guaranteed by the caller.
                widen_pairs(unsafe { device::load_16b(ptr as *const u8) }, $lo, $hi)
            }
            #[inline(always)]
            unsafe fn store(ptr: *mut Self, v: f32) {
                // SAFETY: guaranteed by the caller.
                unsafe { *(ptr as *mut u16) = $pack(v, 0.0) as u16 };
            }
            #[inline(always)]
            unsafe fn store8(ptr: *mut Self, v: [f32; 8]) {
                let mut w = [0u32; 4];
                for i in 0..4 {
                    w[i] = $pack(v[2 * i], v[2 * i + 1]);
                }
                // SAFETY: guaranteed by the caller.
                unsafe { device::store_16b(ptr as *mut u8, w) };
            }
        }
    };
}

packed_pair_element!(
    Bf16,
    widen_lo = |w| f32::from_bits(w << 16),
    widen_hi = |w| f32::from_bits(w & 0xffff_0000),
    pack = device::pack_bf16x2
);
packed_pair_element!(
    F16,
    widen_lo = |w| device::f16_to_f32(w as u16),
    widen_hi = |w| device::f16_to_f32((w >> 16) as u16),
    pack = device::pack_f16x2
);

impl Element for f32 {
    type Acc = f64;
    type Packed4 = [u32; 4];
    #[inline(always)]
    fn widen4(p: &[u32; 4]) -> [f32; 4] {
        p.map(f32::from_bits)
    }
    #[inline(always)]
    unsafe fn store4(ptr: *mut Self, v: [f64; 4]) {
        // SAFETY: guaranteed by the caller.
        unsafe { device::store_16b(ptr as *mut u8, v.map(|x| (x as f32).to_bits())) };
    }
    #[inline(always)]
    unsafe fn load(ptr: *const Self) -> f32 {
        // SAFETY: guaranteed by the caller.
        unsafe { *ptr }
    }
    #[inline(always)]
    unsafe fn load8_if<const WIDE_L2: bool>(ptr: *const Self, pred: bool) -> [f32; 8] {
        // SAFETY: guaranteed by the caller (32 bytes, 16-byte aligned: two loads).
        let (a, b) = unsafe {
            (
                device::load_16b_if::<WIDE_L2>(ptr as *const u8, pred),
                device::load_16b_if::<WIDE_L2>(ptr.wrapping_add(4) as *const u8, pred),
            )
        };
        f32_words(a, b)
    }
    #[inline(always)]
    unsafe fn load8(ptr: *const Self) -> [f32; 8] {
        // SAFETY: guaranteed by the caller (32 bytes, 16-byte aligned: two loads).
        let (a, b) = unsafe { (device::load_16b(ptr as *const u8), device::load_16b(ptr.add(4) as *const u8)) };
        f32_words(a, b)
    }
    #[inline(always)]
    unsafe fn store(ptr: *mut Self, v: f64) {
        // SAFETY: guaranteed by the caller.
        unsafe { *ptr = v as f32 };
    }
    #[inline(always)]
    unsafe fn store8(ptr: *mut Self, v: [f64; 8]) {
        let mut a = [0u32; 4];
        let mut b = [0u32; 4];
        for i in 0..4 {
            a[i] = (v[i] as f32).to_bits();
            b[i] = (v[4 + i] as f32).to_bits();
        }
        // SAFETY: guaranteed by the caller.
        unsafe {
            device::store_16b(ptr as *mut u8, a);
            device::store_16b(ptr.add(4) as *mut u8, b);
        }
    }
}
