//! flashfftconv's GPU kernels, compiled for `nvptx64-nvidia-cuda` by `cargo xtask ptx`.
//!
//! Layout: `device` wraps the few PTX instructions used (thread indices, shuffles, 16-byte
//! loads, rounding conversions); `element` maps storage types to the f32/f64 arithmetic;
//! `conv1d` holds one generic body per operation; `entries` is the single instantiation table
//! that stamps the `extern "ptx-kernel"` entry points whose names `flashfftconv-abi` lists.
#![no_std]
#![feature(
    abi_ptx,
    stdarch_nvptx,
    asm_experimental_arch,
    core_intrinsics,
    gpu_intrinsics,
    gpu_launch_sized_workgroup_mem
)]
#![allow(internal_features)]

mod conv1d;
mod device;
mod element;
mod entries;
mod fftconv;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: `trap` aborts the kernel; the host sees a launch failure instead of wrong data.
    unsafe { core::arch::nvptx::trap() }
}
