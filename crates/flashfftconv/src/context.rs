//! [`Gpu`]: the device context, the loaded kernel module and a cache of kernel handles.
//!
//! The kernels ship twice, both built by `cargo xtask ptx` and committed (CI checks both are
//! fresh): as PTX ([`PTX_SM90`]) and as an sm_90 cubin (`CUBIN_SM90`) that the pinned
//! `ptxas` (CUDA 12.9) assembled from exactly that PTX. On a device of compute capability
//! exactly 9.0 (H100, H200, GH200) [`Gpu`] loads the cubin, which needs no compilation (the
//! whole of `Gpu::new` took 0.35 s on an H100). On any newer device (sm_90 machine code does not
//! run on 10.x or 12.x) the driver JIT-compiles the PTX when the module is loaded, which for this
//! module takes tens of seconds (21 s measured on an H100) unless the driver's JIT cache already
//! holds the result. The PTX is also the fallback when a 9.0 device refuses the cubin.

use crate::error::{Error, Result};
use cudarc::driver::{sys, CudaContext, CudaFunction, CudaModule, DriverError};
use cudarc::nvrtc::Ptx;
use std::collections::hash_map::{Entry, HashMap};
use std::sync::{Arc, Mutex};

/// The PTX of every kernel, built from `kernels-gpu/` by `cargo xtask ptx` and committed
/// (CI checks it is fresh), so that this crate needs neither a CUDA toolkit nor a nightly
/// compiler to build. [`Gpu`] loads it (the driver JIT-compiles it, which is slow) on devices
/// newer than compute capability 9.0, and on a 9.0 device only if `CUBIN_SM90` fails to load.
pub const PTX_SM90: &str = include_str!("../ptx/flashfftconv_sm90.ptx");

/// [`PTX_SM90`] assembled for `sm_90` by `ptxas -arch=sm_90 -O3` (CUDA 12.9.86), also written
/// by `cargo xtask ptx` and checked by CI: an ELF image of SASS that the driver loads without
/// compiling. [`Gpu`] loads it on devices of compute capability exactly 9.0.
pub const CUBIN_SM90: &[u8] = include_bytes!("../ptx/flashfftconv_sm90.cubin");

/// The lowest compute capability the kernels support, and the one `CUBIN_SM90` is for.
pub const REQUIRED_COMPUTE_CAPABILITY: (i32, i32) = (9, 0);

/// Whether the CUDA driver library can be loaded on this machine. Everything else in this crate
/// returns [`Error::NoDriver`] when it cannot; this is the cheap check for tests and examples.
pub fn driver_available() -> bool {
    // SAFETY: only tries to dlopen libcuda; no driver call is made.
    unsafe { sys::is_culib_present() }
}

/// Number of CUDA devices, or [`Error::NoDriver`].
pub fn device_count() -> Result<usize> {
    if !driver_available() {
        return Err(Error::NoDriver);
    }
    Ok(CudaContext::device_count()?.max(0) as usize)
}

/// One device's context with flashfftconv's module loaded (once) and its kernel handles cached.
/// Create one per device and share it (it is `Send + Sync`); every operation takes the caller's
/// stream of this context.
#[derive(Debug)]
pub struct Gpu {
    ctx: Arc<CudaContext>,
    module: Arc<CudaModule>,
    functions: Mutex<HashMap<&'static str, CachedFunction>>,
    multiprocessors: u32,
    module_kind: &'static str,
    cubin_error: Option<DriverError>,
}

/// A loaded kernel and the dynamic shared memory limit set on it.
#[derive(Debug)]
struct CachedFunction {
    function: CudaFunction,
    /// `CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES` as last set (the default until raised).
    max_dynamic_shared: u32,
}

/// Dynamic shared memory every function may use without opting in: 48 KiB.
const DEFAULT_MAX_DYNAMIC_SHARED: u32 = 48 * 1024;

/// [`Gpu::module_kind`] when `CUBIN_SM90` was loaded.
const MODULE_CUBIN: &str = "cubin sm_90";
/// [`Gpu::module_kind`] when [`PTX_SM90`] was loaded (and JIT-compiled by the driver).
const MODULE_PTX: &str = "ptx jit";

/// The cubin on compute capability exactly 9.0, falling back to the PTX if the driver refuses
/// it; the PTX elsewhere. Returns the module, its kind, and the cubin's error if it was refused.
fn load_module(
    ctx: &Arc<CudaContext>,
    capability: (i32, i32),
) -> Result<(Arc<CudaModule>, &'static str, Option<DriverError>)> {
    let mut cubin_error = None;
    if capability == REQUIRED_COMPUTE_CAPABILITY {
        // cuModuleLoadData takes a cubin (ELF) image as well as PTX text. The image is copied
        // to the heap (malloc: 16-byte aligned) because `include_bytes!` data has alignment 1.
        match ctx.load_module(Ptx::from_binary(CUBIN_SM90.to_vec())) {
            Ok(module) => return Ok((module, MODULE_CUBIN, None)),
            Err(e) => cubin_error = Some(e),
        }
    }
    match ctx.load_module(Ptx::from_src(PTX_SM90)) {
        Ok(module) => Ok((module, MODULE_PTX, cubin_error)),
        // The first error is the informative one: the PTX is only tried on a 9.0 device
        // because the cubin failed.
        Err(ptx_error) => Err(Error::PtxLoad(cubin_error.unwrap_or(ptx_error))),
    }
}

impl Gpu {
    /// Opens device `ordinal` (its primary context) and loads the kernels.
    ///
    /// On compute capability 9.0 this loads `CUBIN_SM90` (fast); on newer devices the driver
    /// JIT-compiles [`PTX_SM90`] (tens of seconds). See [`Gpu::module_kind`].
    ///
    /// Errors: [`Error::NoDriver`] without libcuda, [`Error::NoDevice`] for a missing ordinal,
    /// [`Error::UnsupportedDevice`] below compute capability 9.0, [`Error::PtxLoad`] when the
    /// module does not load (on a 9.0 device, where both the cubin and the PTX were tried, it
    /// holds the cubin's error).
    pub fn new(ordinal: usize) -> Result<Self> {
        let count = device_count()?;
        if ordinal >= count {
            return Err(Error::NoDevice { ordinal, count });
        }
        Self::from_context(CudaContext::new(ordinal)?)
    }

    /// Loads the kernels into an existing cudarc context (shared with the caller's own work).
    pub fn from_context(ctx: Arc<CudaContext>) -> Result<Self> {
        let (major, minor) = ctx.compute_capability()?;
        if (major, minor) < REQUIRED_COMPUTE_CAPABILITY {
            return Err(Error::UnsupportedDevice {
                name: ctx.name().unwrap_or_default(),
                major,
                minor,
                required_major: REQUIRED_COMPUTE_CAPABILITY.0,
                required_minor: REQUIRED_COMPUTE_CAPABILITY.1,
            });
        }
        let (module, module_kind, cubin_error) = load_module(&ctx, (major, minor))?;
        let multiprocessors = ctx.attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32;
        Ok(Self { ctx, module, functions: Mutex::new(HashMap::new()), multiprocessors, module_kind, cubin_error })
    }

    /// Which form of the kernels was loaded: `"cubin sm_90"` (the precompiled `CUBIN_SM90`,
    /// on compute capability 9.0) or `"ptx jit"` ([`PTX_SM90`], compiled by the driver).
    pub fn module_kind(&self) -> &'static str {
        self.module_kind
    }

    /// Why the cubin was not used on a compute capability 9.0 device, where the PTX was loaded
    /// instead; `None` when the cubin loaded or was not tried (newer devices).
    pub fn cubin_error(&self) -> Option<&DriverError> {
        self.cubin_error.as_ref()
    }

    /// The cudarc context; make streams and buffers with it.
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// Streaming multiprocessors on the device.
    pub fn multiprocessors(&self) -> u32 {
        self.multiprocessors
    }

    /// The handle of kernel `name`, loaded on first use.
    pub(crate) fn function(&self, name: &'static str) -> Result<CudaFunction> {
        self.function_with_shared(name, 0)
    }

    /// The handle of kernel `name`, loaded on first use, whose dynamic shared memory limit
    /// (`CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES`) admits `shared_bytes`: raised once,
    /// when `shared_bytes` exceeds the 48 KiB every function starts with. Callers check
    /// `shared_bytes` against the device's opt-in limit first.
    pub(crate) fn function_with_shared(&self, name: &'static str, shared_bytes: u32) -> Result<CudaFunction> {
        // A poisoned lock only means another thread panicked while inserting; the map is
        // still a valid cache.
        let mut map = self.functions.lock().unwrap_or_else(|poison| poison.into_inner());
        let entry = match map.entry(name) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(slot) => {
                let f = self.module.load_function(name).map_err(|source| Error::MissingKernel { name, source })?;
                slot.insert(CachedFunction { function: f, max_dynamic_shared: DEFAULT_MAX_DYNAMIC_SHARED })
            }
        };
        if shared_bytes > entry.max_dynamic_shared {
            let value = i32::try_from(shared_bytes).map_err(|_| Error::Unsupported {
                what: "dynamic shared memory bytes",
                value: shared_bytes as u64,
                expected: format!("≤ {}", i32::MAX),
            })?;
            self.ctx.bind_to_thread()?;
            entry
                .function
                .set_attribute(sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, value)?;
            entry.max_dynamic_shared = shared_bytes;
        }
        Ok(entry.function.clone())
    }

    /// Loads every kernel the host can launch, so that a stale or incomplete PTX fails here
    /// rather than at a user's first call. Returns how many were loaded.
    ///
    /// The FFT-convolution kernels are included once the module has any of them (a module
    /// built before they existed has none); from then on every entry of their table must load.
    pub fn load_all_kernels(&self) -> Result<usize> {
        let mut names = crate::conv1d::kernel_names();
        if module_has_fftconv_kernels() {
            names.extend(crate::fftconv::kernel_names());
        }
        for &name in &names {
            self.function(name)?;
        }
        Ok(names.len())
    }
}

/// Whether the embedded module contains FFT-convolution kernels. The PTX and the cubin are
/// built from the same source in one step (and CI checks both are fresh), so the PTX text
/// answers for both.
fn module_has_fftconv_kernels() -> bool {
    PTX_SM90.contains(".entry fftconv_")
}
