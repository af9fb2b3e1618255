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

/// 16 bytes from global memory through the read-only path if `pred`, else zeros: a predicated
/// load, so that a run of them stays in one basic block (the compiler issues them all before
/// their first use, where a branch per load would wait on each in turn). With `WIDE_L2` the
/// load asks the L2 for the whole 256-byte block around it (`.L2::256B`; see
/// [`load_16b_wide_l2`]).
///
/// # Safety
/// If `pred`: as [`load_16b`]. Otherwise `ptr` is not read.
#[inline(always)]
pub unsafe fn load_16b_if<const WIDE_L2: bool>(ptr: *const u8, pred: bool) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: guaranteed by the caller; the load only runs under the predicate.
    unsafe {
        if WIDE_L2 {
            asm!("{{ .reg .pred p; setp.ne.u32 p, {q}, 0; mov.b32 {a}, 0; mov.b32 {b}, 0; mov.b32 {c}, 0; mov.b32 {d}, 0; @p ld.global.nc.L2::256B.v4.u32 {{{a}, {b}, {c}, {d}}}, [{p}]; }}",
                 a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
                 p = in(reg64) ptr, q = in(reg32) pred as u32, options(pure, readonly, nostack));
        } else {
            asm!("{{ .reg .pred p; setp.ne.u32 p, {q}, 0; mov.b32 {a}, 0; mov.b32 {b}, 0; mov.b32 {c}, 0; mov.b32 {d}, 0; @p ld.global.nc.v4.u32 {{{a}, {b}, {c}, {d}}}, [{p}]; }}",
                 a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
                 p = in(reg64) ptr, q = in(reg32) pred as u32, options(pure, readonly, nostack));
        }
    }
    [a, b, c, d]
}

/// As [`load_16b`], asking the L2 to fetch the whole 256-byte block around `ptr`
/// (`.L2::256B`): for the long sizes' tile passes, whose threads read 16- or 32-byte segments
/// of many rows, so that the segments of the neighbouring column groups (the next blocks) are
/// in the L2 when those ask for them. Measured on an H200 (docs/perf-notes.md): the long
/// forwards −0.5 to −1.1 %; on every load of the on-chip kernels, which read whole rows, +0.1 to
/// +1.2 %, so they keep the plain load.
///
/// # Safety
/// As [`load_16b`].
#[inline(always)]
pub unsafe fn load_16b_wide_l2(ptr: *const u8) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("ld.global.nc.L2::256B.v4.u32 {{{a}, {b}, {c}, {d}}}, [{p}];",
             a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
             p = in(reg64) ptr, options(pure, readonly, nostack));
    }
    [a, b, c, d]
}

/// 16 bytes from global memory through a coherent path (for data this launch wrote, e.g. a
/// thread reading back what it stored earlier): cached in L1 and L2 (`ld.global`), or with
/// `L2_ONLY` in the L2 alone (`ld.global.cg`: for rows that need not occupy L1; plain
/// `ld.global` cost the 16K/32K backwards 40–66 registers where `.cg` cost none).
///
/// # Safety
/// `ptr` is 16-byte aligned and points to 16 readable bytes of global memory.
#[inline(always)]
pub unsafe fn load_16b_coherent<const L2_ONLY: bool>(ptr: *const u8) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: guaranteed by the caller. `pure` with `readonly`: the value depends on memory, so
    // the load stays after this thread's earlier stores and any barrier (both write memory for
    // the compiler).
    unsafe {
        if L2_ONLY {
            asm!("ld.global.cg.v4.u32 {{{a}, {b}, {c}, {d}}}, [{p}];",
                 a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
                 p = in(reg64) ptr, options(pure, readonly, nostack));
        } else {
            asm!("ld.global.v4.u32 {{{a}, {b}, {c}, {d}}}, [{p}];",
                 a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
                 p = in(reg64) ptr, options(pure, readonly, nostack));
        }
    }
    [a, b, c, d]
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

/// Adds four f32 (as bits) to the 16-byte aligned f32 quadruple at `ptr` in the L2
/// (`red.global.add.v4.f32`, sm_90, PTX ISA 8.1): nothing comes back to the thread, so it does
/// not wait on the old values. Adds by one thread to one address apply in program order, so
/// a location only ever added to by one thread sums deterministically.
///
/// # Safety
/// `ptr` is 16-byte aligned and points to 16 writable bytes of global memory.
#[inline(always)]
pub unsafe fn red_add_16b_f32(ptr: *mut u8, v: [u32; 4]) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("red.global.add.v4.f32 [{p}], {{{a}, {b}, {c}, {d}}};",
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

/// Lane index within the warp.
#[inline(always)]
pub fn lane() -> u32 {
    thread_x() & 31
}

/// Block-wide barrier.
#[inline(always)]
pub fn sync_threads() {
    // SAFETY: every caller reaches it with all threads of the block (no divergent barriers).
    unsafe { nvptx::_syncthreads() }
}

/// This block's rank within its cluster (0 without clusters).
#[inline(always)]
pub fn cluster_rank() -> u32 {
    let r: u32;
    // SAFETY: reads a special register (sm_90); always valid inside a kernel.
    unsafe { asm!("mov.u32 {r}, %cluster_ctarank;", r = out(reg32) r, options(pure, nomem, nostack)) };
    r
}

/// Blocks in this block's cluster (1 without clusters).
#[inline(always)]
pub fn cluster_size() -> u32 {
    let r: u32;
    // SAFETY: as above.
    unsafe { asm!("mov.u32 {r}, %cluster_nctarank;", r = out(reg32) r, options(pure, nomem, nostack)) };
    r
}

/// Cluster-wide barrier: every thread of every block of the cluster arrives (release) and waits
/// (acquire), so shared-memory writes before it are visible to the cluster's reads after it.
#[inline(always)]
pub fn sync_cluster() {
    // SAFETY: every caller reaches it with all threads of all the cluster's blocks, warps
    // converged (`.aligned`).
    unsafe {
        asm!("barrier.cluster.arrive.release.aligned;", "barrier.cluster.wait.acquire.aligned;", options(nostack));
    }
}

/// One f32 at shared-window address `addr` of the cluster's block `rank`.
///
/// # Safety
/// As [`ld_cluster_shared_16b`], with a 4-byte-aligned `addr`.
#[inline(always)]
pub unsafe fn ld_cluster_shared_f32(addr: u32, rank: u32) -> f32 {
    let v: f32;
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("mapa.shared::cluster.u32 {m}, {p}, {r};",
             "ld.shared::cluster.f32 {v}, [{m}];",
             m = out(reg32) _, p = in(reg32) addr, r = in(reg32) rank, v = out(reg32) v,
             options(readonly, nostack));
    }
    v
}

/// 16 bytes at shared-window address `addr` of the cluster's block `rank` (`mapa`, then
/// `ld.shared::cluster`).
///
/// # Safety
/// `addr` is a 16-byte-aligned address inside the dynamic shared memory that every block of the
/// cluster has alike, `rank` a block of this cluster, and that block has not exited (a cluster
/// barrier follows the last such read).
#[inline(always)]
pub unsafe fn ld_cluster_shared_16b(addr: u32, rank: u32) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("mapa.shared::cluster.u32 {m}, {p}, {r};",
             "ld.shared::cluster.v4.u32 {{{a}, {b}, {c}, {d}}}, [{m}];",
             m = out(reg32) _, p = in(reg32) addr, r = in(reg32) rank,
             a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
             options(readonly, nostack));
    }
    [a, b, c, d]
}

/// The block's dynamic shared memory as a 32-bit shared-window address.
#[inline(always)]
pub fn dynamic_shared_base() -> u32 {
    let generic = core::intrinsics::gpu::gpu_launch_sized_workgroup_mem::<u8>();
    let out: u64;
    // SAFETY: converts a generic address of the shared window to its shared-space offset.
    unsafe {
        asm!("cvta.to.shared.u64 {o}, {p};", o = out(reg64) out, p = in(reg64) generic,
             options(pure, nomem, nostack));
    }
    out as u32
}

/// 16 bytes from shared memory.
///
/// # Safety
/// `addr` is a 16-byte-aligned address inside the block's shared memory.
#[inline(always)]
pub unsafe fn ld_shared_16b(addr: u32) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("ld.shared.v4.u32 {{{a}, {b}, {c}, {d}}}, [{p}];",
             a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
             p = in(reg32) addr, options(readonly, nostack));
    }
    [a, b, c, d]
}

/// 8 bytes from shared memory.
///
/// # Safety
/// `addr` is an 8-byte-aligned address inside the block's shared memory.
#[inline(always)]
pub unsafe fn ld_shared_8b(addr: u32) -> [u32; 2] {
    let (a, b): (u32, u32);
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("ld.shared.v2.u32 {{{a}, {b}}}, [{p}];",
             a = out(reg32) a, b = out(reg32) b, p = in(reg32) addr, options(readonly, nostack));
    }
    [a, b]
}

/// Store 8 bytes to shared memory.
///
/// # Safety
/// `addr` is an 8-byte-aligned address inside the block's shared memory.
#[inline(always)]
pub unsafe fn st_shared_8b(addr: u32, v: [u32; 2]) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("st.shared.v2.u32 [{p}], {{{a}, {b}}};", p = in(reg32) addr, a = in(reg32) v[0], b = in(reg32) v[1],
             options(nostack));
    }
}

/// Store 16 bytes to shared memory.
///
/// # Safety
/// `addr` is a 16-byte-aligned address inside the block's shared memory.
#[inline(always)]
pub unsafe fn st_shared_16b(addr: u32, v: [u32; 4]) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("st.shared.v4.u32 [{p}], {{{a}, {b}, {c}, {d}}};", p = in(reg32) addr,
             a = in(reg32) v[0], b = in(reg32) v[1], c = in(reg32) v[2], d = in(reg32) v[3],
             options(nostack));
    }
}

/// One f32 from shared memory.
///
/// # Safety
/// `addr` is a 4-byte-aligned address inside the block's shared memory.
#[inline(always)]
pub unsafe fn ld_shared_f32(addr: u32) -> f32 {
    let v: f32;
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("ld.shared.f32 {v}, [{p}];", v = out(reg32) v, p = in(reg32) addr, options(readonly, nostack));
    }
    v
}

/// Store one f32 to shared memory.
///
/// # Safety
/// `addr` is a 4-byte-aligned address inside the block's shared memory.
#[inline(always)]
pub unsafe fn st_shared_f32(addr: u32, v: f32) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("st.shared.f32 [{p}], {v};", p = in(reg32) addr, v = in(reg32) v, options(nostack));
    }
}

/// `ldmatrix .x4`: four 8×8 b16 matrices; lane `8m + r` gives the address of row `r` of
/// matrix `m` (16 bytes). With `TRANS`, each matrix is transposed on the way.
///
/// # Safety
/// All 32 lanes take part; every address is 16-byte aligned inside shared memory.
#[inline(always)]
pub unsafe fn ldmatrix_x4<const TRANS: bool>(addr: u32) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: guaranteed by the caller.
    unsafe {
        if TRANS {
            asm!("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {{{a}, {b}, {c}, {d}}}, [{p}];",
                 a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
                 p = in(reg32) addr, options(readonly, nostack));
        } else {
            asm!("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {{{a}, {b}, {c}, {d}}}, [{p}];",
                 a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
                 p = in(reg32) addr, options(readonly, nostack));
        }
    }
    [a, b, c, d]
}

/// `stmatrix .x4`: the inverse of [`ldmatrix_x4`] with the same addressing.
///
/// # Safety
/// As [`ldmatrix_x4`].
#[inline(always)]
pub unsafe fn stmatrix_x4<const TRANS: bool>(addr: u32, v: [u32; 4]) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        if TRANS {
            asm!("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [{p}], {{{a}, {b}, {c}, {d}}};",
                 p = in(reg32) addr, a = in(reg32) v[0], b = in(reg32) v[1], c = in(reg32) v[2],
                 d = in(reg32) v[3], options(nostack));
        } else {
            asm!("stmatrix.sync.aligned.m8n8.x4.shared.b16 [{p}], {{{a}, {b}, {c}, {d}}};",
                 p = in(reg32) addr, a = in(reg32) v[0], b = in(reg32) v[1], c = in(reg32) v[2],
                 d = in(reg32) v[3], options(nostack));
        }
    }
}

/// `d = a · b + c` on tensor cores: `mma.sync` m16n8k16, f16 operands, f32 accumulators, in
/// the PTX ISA's fragment layouts (A row-major 16×16, B column-major 16×8).
#[inline(always)]
pub fn mma_f16(a: &[u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
    let (mut d0, mut d1, mut d2, mut d3) = (c[0], c[1], c[2], c[3]);
    // SAFETY: register-only warp-wide instruction; every caller runs it with all 32 lanes.
    unsafe {
        asm!("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {{{0}, {1}, {2}, {3}}}, {{{4}, {5}, {6}, {7}}}, {{{8}, {9}}}, {{{0}, {1}, {2}, {3}}};",
             inout(reg32) d0, inout(reg32) d1, inout(reg32) d2, inout(reg32) d3,
             in(reg32) a[0], in(reg32) a[1], in(reg32) a[2], in(reg32) a[3],
             in(reg32) b[0], in(reg32) b[1], options(pure, nomem, nostack));
    }
    [d0, d1, d2, d3]
}

/// `(cos x, sin x)` by the hardware approximations (absolute error ≤ 2⁻²⁰·⁹ for |x| ≤ π).
#[inline(always)]
pub fn cos_sin(x: f32) -> (f32, f32) {
    let (c, s): (f32, f32);
    // SAFETY: pure register arithmetic.
    unsafe {
        asm!("cos.approx.f32 {c}, {x};", "sin.approx.f32 {s}, {x};", c = out(reg32) c, s = out(reg32) s,
             x = in(reg32) x, options(pure, nomem, nostack));
    }
    (c, s)
}

/// `*addr = max(*addr, v)` on a shared-memory u32 (unsigned compare; for non-negative f32 bit
/// patterns this is the f32 maximum, independent of the order of the updates).
///
/// # Safety
/// `addr` is a 4-byte-aligned address inside the block's shared memory.
#[inline(always)]
pub unsafe fn atomic_max_shared_u32(addr: u32, v: u32) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("red.shared.max.u32 [{p}], {v};", p = in(reg32) addr, v = in(reg32) v, options(nostack));
    }
}

/// `*ptr = max(*ptr, v)` on a global u32 (unsigned compare, order-independent).
///
/// # Safety
/// `ptr` is 4-byte aligned and points to a writable u32 of global memory.
#[inline(always)]
pub unsafe fn atomic_max_global_u32(ptr: *mut u32, v: u32) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("red.global.max.u32 [{p}], {v};", p = in(reg64) ptr, v = in(reg32) v, options(nostack));
    }
}

/// Prefetches the line holding `ptr` into L1 (a hint; no fault on any address).
#[inline(always)]
pub fn prefetch_l1(ptr: *const u8) {
    // SAFETY: a prefetch is only a hint and cannot fault.
    unsafe {
        asm!("prefetch.global.L1 [{p}];", p = in(reg64) ptr, options(nostack, readonly));
    }
}

/// Prefetches the line holding `ptr` into L2 (a hint; no fault on any address): for data read
/// through the L2 only (`ld.global.cg`).
#[inline(always)]
pub fn prefetch_l2(ptr: *const u8) {
    // SAFETY: a prefetch is only a hint and cannot fault.
    unsafe {
        asm!("prefetch.global.L2 [{p}];", p = in(reg64) ptr, options(nostack, readonly));
    }
}
