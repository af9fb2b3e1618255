//! The baseline a Rust user would write without flashfftconv: cudarc's cuFFT bindings
//! (batched R2C / C2R over the `B·H` rows) and three small elementwise kernels compiled at run
//! time with NVRTC:
//!
//! ```text
//! z      = f32(in_gate ⊙ u), zero-padded to N        gate_widen_{bf16,f16}   (B·H, N) f32
//! Z      = rfft(z)                                    cuFFT R2C               (B·H, N/2+1) c32
//! Z     *= K[h]     (K = rfft(k), precomputed once)   spectrum_mul
//! c      = irfft(Z)  (unnormalised)                   cuFFT C2R               (B·H, N) f32
//! y      = round(out_gate ⊙ c[..L] / N)               gate_narrow_{bf16,f16}  (B·H, L)
//! ```
//!
//! Only the forward is timed (with the kernel spectrum precomputed, like flashfftconv's
//! prepared path). It needs `libcufft` and `libnvrtc` at run time; [`CufftKernels::new`] says
//! why when either is missing and the bench reports the baseline as not run.

use flashfftconv::cudarc::cufft::{sys as cufft_sys, CudaFft};
use flashfftconv::cudarc::driver::{
    CudaFunction, CudaSlice, CudaStream, CudaView, CudaViewMut, LaunchConfig, PushKernelArg,
};
use flashfftconv::cudarc::nvrtc::{self, compile_ptx_with_opts, CompileOptions};
use flashfftconv::{DType, Element};
use std::sync::Arc;

/// Errors of the baseline (driver, cuFFT, NVRTC): reported, never fatal to the bench.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The elementwise kernels. 16-bit values travel as `unsigned short` and are converted with
/// PTX `cvt` (no `cuda_fp16.h` / `cuda_bf16.h` needed, so NVRTC needs no include path). Rows
/// are `blockIdx.y` (grid-strided), positions `blockIdx.x·blockDim.x + threadIdx.x`: no 64-bit
/// division per element.
const SOURCE: &str = r#"
typedef unsigned short u16;
struct cf { float x, y; };

__device__ __forceinline__ float widen_bf16(u16 h) {
    float f; unsigned int b = ((unsigned int)h) << 16;
    asm("mov.b32 %0, %1;" : "=f"(f) : "r"(b));
    return f;
}
__device__ __forceinline__ float widen_f16(u16 h) {
    float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f;
}
__device__ __forceinline__ u16 narrow_bf16(float f) {
    u16 h; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h;
}
__device__ __forceinline__ u16 narrow_f16(float f) {
    u16 h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h;
}

#define DEFINE(T)                                                                                   \
extern "C" __global__ void gate_widen_##T(const u16* __restrict__ u, const u16* __restrict__ g,    \
        int has_gate, float* __restrict__ z, long long rows, int len, int n) {                      \
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {                                      \
        for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < n; t += gridDim.x * blockDim.x) {   \
            float v = 0.0f;                                                                         \
            if (t < len) {                                                                          \
                long long j = r * len + t;                                                          \
                v = widen_##T(u[j]);                                                                \
                if (has_gate) v *= widen_##T(g[j]);                                                 \
            }                                                                                       \
            z[r * n + t] = v;                                                                       \
        }                                                                                           \
    }                                                                                               \
}                                                                                                   \
extern "C" __global__ void gate_narrow_##T(const float* __restrict__ c, const u16* __restrict__ g, \
        int has_gate, u16* __restrict__ y, long long rows, int len, int n, float scale) {           \
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {                                      \
        for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < len; t += gridDim.x * blockDim.x) { \
            long long j = r * len + t;                                                              \
            float v = c[r * n + t] * scale;                                                         \
            if (has_gate) v *= widen_##T(g[j]);                                                     \
            y[j] = narrow_##T(v);                                                                   \
        }                                                                                           \
    }                                                                                               \
}
DEFINE(bf16)
DEFINE(f16)

extern "C" __global__ void spectrum_mul(cf* __restrict__ x, const cf* __restrict__ k, long long rows,
        int bins, int heads) {
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {
        const cf* kh = k + (r % heads) * bins;
        for (int f = blockIdx.x * blockDim.x + threadIdx.x; f < bins; f += gridDim.x * blockDim.x) {
            cf a = x[r * bins + f], b = kh[f];
            cf p; p.x = a.x * b.x - a.y * b.y; p.y = a.x * b.y + a.y * b.x;
            x[r * bins + f] = p;
        }
    }
}
"#;

/// The NVRTC-compiled elementwise kernels, loaded once per context.
pub struct CufftKernels {
    widen: [CudaFunction; 2],
    narrow: [CudaFunction; 2],
    mul: CudaFunction,
}

/// Index of a 16-bit dtype in the kernel arrays.
fn dtype_slot(dtype: DType) -> Result<usize, BoxError> {
    match dtype {
        DType::BF16 => Ok(0),
        DType::F16 => Ok(1),
        DType::F32 => Err("the cuFFT baseline takes 16-bit data only".into()),
    }
}

impl CufftKernels {
    /// Compiles the elementwise kernels (this module's CUDA C source) with NVRTC for
    /// `compute_90` and loads them on `stream`'s context.
    /// Errs (without panicking) when libnvrtc or libcufft cannot be loaded.
    pub fn new(stream: &Arc<CudaStream>) -> Result<Self, BoxError> {
        // SAFETY: only dlopen probes; no library function is called.
        let (nvrtc, cufft) = unsafe { (nvrtc::sys::is_culib_present(), cufft_sys::is_culib_present()) };
        if !nvrtc {
            return Err("libnvrtc not found by cudarc (tries libnvrtc.so, .so.12, .so.11, …)".into());
        }
        if !cufft {
            return Err("libcufft not found by cudarc".into());
        }
        let opts = CompileOptions { arch: Some("compute_90"), ..Default::default() };
        let ptx = compile_ptx_with_opts(SOURCE, opts)?;
        let module = stream.context().load_module(ptx)?;
        let f = |name: &str| module.load_function(name);
        Ok(CufftKernels {
            widen: [f("gate_widen_bf16")?, f("gate_widen_f16")?],
            narrow: [f("gate_narrow_bf16")?, f("gate_narrow_f16")?],
            mul: f("spectrum_mul")?,
        })
    }
}

/// A 2-D launch: `x` covers `width` positions (grid-strided beyond 64 blocks of 256), `y` one
/// row per block row (grid-strided beyond 65535).
fn grid(width: usize, rows: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (width.div_ceil(256).clamp(1, 64) as u32, rows.clamp(1, 65535) as u32, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One shape's cuFFT plans, intermediates and precomputed kernel spectrum.
pub struct CufftConv {
    r2c: CudaFft,
    c2r: CudaFft,
    real: CudaSlice<f32>,
    spectrum: CudaSlice<cufft_sys::float2>,
    kernel_spectrum: CudaSlice<cufft_sys::float2>,
    rows: usize,
    heads: usize,
    len: usize,
    n: usize,
}

impl CufftConv {
    /// Plans R2C and C2R for `batch · heads` rows of size `n`, and computes `rfft(k)` of the
    /// host kernel `k (H, Lk)` zero-padded to `n` (not timed).
    pub fn new(
        stream: &Arc<CudaStream>,
        batch: usize,
        heads: usize,
        len: usize,
        n: usize,
        k: &[f32],
        kernel_len: usize,
    ) -> Result<Self, BoxError> {
        let rows = batch * heads;
        let bins = n / 2 + 1;
        let to_i32 = |v: usize, what: &str| i32::try_from(v).map_err(|_| format!("cuFFT {what} {v} exceeds i32"));
        let mut padded = vec![0f32; heads * n];
        for h in 0..heads {
            padded[h * n..h * n + kernel_len].copy_from_slice(&k[h * kernel_len..(h + 1) * kernel_len]);
        }
        let k_real = stream.clone_htod(&padded)?;
        let mut kernel_spectrum = stream.alloc_zeros::<cufft_sys::float2>(heads * bins)?;
        {
            let plan = CudaFft::plan_1d(
                to_i32(n, "size")?,
                cufft_sys::cufftType::CUFFT_R2C,
                to_i32(heads, "batch")?,
                stream.clone(),
            )?;
            plan.exec_r2c(&k_real, &mut kernel_spectrum)?;
            stream.synchronize()?;
        }
        let r2c = CudaFft::plan_1d(
            to_i32(n, "size")?,
            cufft_sys::cufftType::CUFFT_R2C,
            to_i32(rows, "batch")?,
            stream.clone(),
        )?;
        let c2r = CudaFft::plan_1d(
            to_i32(n, "size")?,
            cufft_sys::cufftType::CUFFT_C2R,
            to_i32(rows, "batch")?,
            stream.clone(),
        )?;
        Ok(CufftConv {
            r2c,
            c2r,
            real: stream.alloc_zeros::<f32>(rows * n)?,
            spectrum: stream.alloc_zeros::<cufft_sys::float2>(rows * bins)?,
            kernel_spectrum,
            rows,
            heads,
            len,
            n,
        })
    }

    /// `y = out_gate ⊙ irfft(rfft(in_gate ⊙ u) · K)[..L] / N` on `stream` (the plans' stream),
    /// asynchronously. Absent gates are not multiplied.
    pub fn forward<T: Element>(
        &mut self,
        kernels: &CufftKernels,
        stream: &Arc<CudaStream>,
        u: &CudaView<'_, T>,
        in_gate: Option<&CudaView<'_, T>>,
        out_gate: Option<&CudaView<'_, T>>,
        y: &mut CudaViewMut<'_, T>,
    ) -> Result<(), BoxError> {
        let slot = dtype_slot(T::DTYPE)?;
        let need = self.rows * self.len;
        if u.len() < need
            || y.len() < need
            || in_gate.is_some_and(|g| g.len() < need)
            || out_gate.is_some_and(|g| g.len() < need)
        {
            return Err(format!("cuFFT baseline: buffers shorter than B·H·L = {need}").into());
        }
        let (rows, len, n) = (self.rows as i64, self.len as i32, self.n as i32);
        let bins = (self.n / 2 + 1) as i32;
        let heads = self.heads as i32;
        let has_in = in_gate.is_some() as i32;
        let has_out = out_gate.is_some() as i32;
        let scale = 1.0f32 / self.n as f32;

        let mut widen = stream.launch_builder(&kernels.widen[slot]);
        widen.arg(u).arg(in_gate.unwrap_or(u)).arg(&has_in).arg(&mut self.real).arg(&rows).arg(&len).arg(&n);
        // SAFETY: gate_widen reads rows·len elements of u (and of the gate when has_gate), all
        // checked above, and writes rows·n f32 of `real`, which holds exactly that.
        unsafe { widen.launch(grid(self.n, self.rows)) }?;

        self.r2c.exec_r2c(&self.real, &mut self.spectrum)?;

        let mut mul = stream.launch_builder(&kernels.mul);
        mul.arg(&mut self.spectrum).arg(&self.kernel_spectrum).arg(&rows).arg(&bins).arg(&heads);
        // SAFETY: spectrum holds rows·bins complex values, kernel_spectrum heads·bins.
        unsafe { mul.launch(grid(self.n / 2 + 1, self.rows)) }?;

        self.c2r.exec_c2r(&mut self.spectrum, &mut self.real)?;

        let mut narrow = stream.launch_builder(&kernels.narrow[slot]);
        narrow.arg(&self.real).arg(out_gate.unwrap_or(u)).arg(&has_out).arg(y).arg(&rows).arg(&len).arg(&n).arg(&scale);
        // SAFETY: gate_narrow reads rows·n f32 of `real` and rows·len gate elements when
        // has_gate, and writes rows·len elements of y; all lengths checked above.
        unsafe { narrow.launch(grid(self.len, self.rows)) }?;
        Ok(())
    }
}
