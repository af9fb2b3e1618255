//! [`Gpu`]: the device context, the loaded kernel module and a cache of kernel handles.

use crate::error::{Error, Result};
use cudarc::driver::{sys, CudaContext, CudaFunction, CudaModule};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The PTX of every kernel, built from `kernels-gpu/` by `cargo xtask ptx` and committed
/// (CI checks it is fresh), so that this crate needs neither a CUDA toolkit nor a nightly
/// compiler to build.
pub const PTX_SM90: &str = include_str!("../ptx/flashfftconv_sm90.ptx");

/// Compute capability the PTX targets.
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
    functions: Mutex<HashMap<&'static str, CudaFunction>>,
    multiprocessors: u32,
}

impl Gpu {
    /// Opens device `ordinal` (its primary context) and loads the kernels.
    ///
    /// Errors: [`Error::NoDriver`] without libcuda, [`Error::NoDevice`] for a missing ordinal,
    /// [`Error::UnsupportedDevice`] below compute capability 9.0, [`Error::PtxLoad`].
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
        let module = ctx.load_module(cudarc::nvrtc::Ptx::from_src(PTX_SM90)).map_err(Error::PtxLoad)?;
        let multiprocessors =
            ctx.attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32;
        Ok(Self { ctx, module, functions: Mutex::new(HashMap::new()), multiprocessors })
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
        // A poisoned lock only means another thread panicked while inserting; the map is
        // still a valid cache.
        let mut map = self.functions.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(f) = map.get(name) {
            return Ok(f.clone());
        }
        let f = self.module.load_function(name).map_err(|source| Error::MissingKernel { name, source })?;
        map.insert(name, f.clone());
        Ok(f)
    }

    /// Loads every kernel the host can launch, so that a stale or incomplete PTX fails here
    /// rather than at a user's first call. Returns how many were loaded.
    pub fn load_all_kernels(&self) -> Result<usize> {
        let names = crate::conv1d::kernel_names();
        for &name in &names {
            self.function(name)?;
        }
        Ok(names.len())
    }
}
