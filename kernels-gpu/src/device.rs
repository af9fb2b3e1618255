//! Thin wrappers over the PTX instructions the kernels use.

use core::arch::{asm, nvptx};

/// Block index in x, as u64 so that offsets derived from it are 64-bit.
#[inline(always)]
pub fn block_x() -> u64 {
    // SAFETY: reads a special register; always valid inside a kernel.
    unsafe { nvptx::_block_idx_x() as u32 as u64 }
}

/// Block index in y.
#[inline(always)]
pub fn block_y() -> u32 {
    // SAFETY: as above.
    unsafe { nvptx::_block_idx_y() as u32 }
}

/// Thread index in x.
#[inline(always)]
pub fn thread_x() -> u32 {
    // SAFETY: as above.
    unsafe { nvptx::_thread_idx_x() as u32 }
}

/// Thread index in y.
#[inline(always)]
pub fn thread_y() -> u32 {
    // SAFETY: as above.
    unsafe { nvptx::_thread_idx_y() as u32 }
}

/// `value` from the lane whose index is this lane's XOR `lane_mask` (all 32 lanes take part).
#[inline(always)]
pub fn shfl_xor_u32(value: u32, lane_mask: u32) -> u32 {
    let out: u32;
    // SAFETY: a full-warp shuffle; every caller reaches it with all 32 lanes converged.
    unsafe {
        asm!("shfl.sync.bfly.b32 {o}, {v}, {m}, 0x1f, 0xffffffff;",
             o = out(reg32) out, v = in(reg32) value, m = in(reg32) lane_mask,
             options(nomem, nostack));
    }
    out
}

/// 16 bytes from global memory through the read-only path.
///
/// # Safety
/// `ptr` is 16-byte aligned and points to 16 readable bytes of global memory that no thread
/// writes during the launch.
#[inline(always)]
pub unsafe fn load_16b(ptr: *const u8) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("ld.global.nc.v4.u32 {{{a}, {b}, {c}, {d}}}, [{p}];",
             a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
             p = in(reg64) ptr, options(pure, readonly, nostack));
    }
    [a, b, c, d]
}

/// 8 bytes from global memory through the read-only path.
///
/// # Safety
/// `ptr` is 8-byte aligned and points to 8 readable bytes of global memory that no thread
/// writes during the launch.
#[inline(always)]
pub unsafe fn load_8b(ptr: *const u8) -> [u32; 2] {
    let (a, b): (u32, u32);
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("ld.global.nc.v2.u32 {{{a}, {b}}}, [{p}];", a = out(reg32) a, b = out(reg32) b,
             p = in(reg64) ptr, options(pure, readonly, nostack));
    }
    [a, b]
}

/// Store 8 bytes to global memory.
///
/// # Safety
/// `ptr` is 8-byte aligned and points to 8 writable bytes of global memory.
#[inline(always)]
pub unsafe fn store_8b(ptr: *mut u8, v: [u32; 2]) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("st.global.v2.u32 [{p}], {{{a}, {b}}};", p = in(reg64) ptr, a = in(reg32) v[0],
             b = in(reg32) v[1], options(nostack));
    }
}

/// Store 16 bytes to global memory.
///
/// # Safety
/// `ptr` is 16-byte aligned and points to 16 writable bytes of global memory.
#[inline(always)]
pub unsafe fn store_16b(ptr: *mut u8, v: [u32; 4]) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("st.global.v4.u32 [{p}], {{{a}, {b}, {c}, {d}}};",
             p = in(reg64) ptr, a = in(reg32) v[0], b = in(reg32) v[1], c = in(reg32) v[2],
             d = in(reg32) v[3], options(nostack));
    }
}

/// Two f32 rounded to nearest-even bf16, packed `lo | hi << 16`.
#[inline(always)]
pub fn pack_bf16x2(lo: f32, hi: f32) -> u32 {
    let out: u32;
    // SAFETY: pure register arithmetic (sm_80+).
    unsafe {
        asm!("cvt.rn.bf16x2.f32 {o}, {hi}, {lo};", o = out(reg32) out, hi = in(reg32) hi,
             lo = in(reg32) lo, options(pure, nomem, nostack));
    }
    out
}

/// Two f32 rounded to nearest-even f16, packed `lo | hi << 16`.
#[inline(always)]
pub fn pack_f16x2(lo: f32, hi: f32) -> u32 {
    let out: u32;
    // SAFETY: pure register arithmetic (sm_80+).
    unsafe {
        asm!("cvt.rn.f16x2.f32 {o}, {hi}, {lo};", o = out(reg32) out, hi = in(reg32) hi,
             lo = in(reg32) lo, options(pure, nomem, nostack));
    }
    out
}

/// The f16 in the low 16 bits of `bits`, widened exactly to f32.
#[inline(always)]
pub fn f16_to_f32(bits: u16) -> f32 {
    let out: f32;
    // SAFETY: pure register arithmetic.
    unsafe {
        asm!("cvt.f32.f16 {o}, {h};", o = out(reg32) out, h = in(reg16) bits,
             options(pure, nomem, nostack));
    }
    out
}
