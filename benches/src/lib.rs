//! Benchmark machinery shared by `cargo xtask bench` (the `bench` binary) and the criterion
//! benches: CUDA-event timing with warm-up and medians, the measured copy bandwidth that defines
//! the memory floor, and input rotation so that repeated runs do not measure the L2 cache.

pub mod conv1d;

use flashfftconv::cudarc::driver::{sys, CudaContext, CudaStream};
use flashfftconv::Gpu;
use std::sync::Arc;
use std::time::Duration;

/// Timing policy: warm-up launches, then timed launches; the median is reported.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Untimed launches first (module load, allocator warm-up, clocks).
    pub warmup: usize,
    /// Timed launches.
    pub iters: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Self { warmup: 5, iters: 30 }
    }
}

/// Median device time of `run(i)` over `timing.iters` launches, each bracketed by CUDA events
/// on `stream` (`i` counts from 0 across warm-up and timed runs, for input rotation).
pub fn median_time(
    ctx: &Arc<CudaContext>,
    stream: &Arc<CudaStream>,
    timing: Timing,
    mut run: impl FnMut(usize) -> flashfftconv::Result<()>,
) -> flashfftconv::Result<Duration> {
    for i in 0..timing.warmup {
        run(i)?;
    }
    let flags = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
    let mut events = Vec::with_capacity(timing.iters);
    for i in 0..timing.iters {
        let (start, end) = (ctx.new_event(flags)?, ctx.new_event(flags)?);
        start.record(stream)?;
        run(timing.warmup + i)?;
        end.record(stream)?;
        events.push((start, end));
    }
    stream.synchronize()?;
    let mut ms = events.iter().map(|(s, e)| s.elapsed_ms(e)).collect::<Result<Vec<f32>, _>>()?;
    ms.sort_by(f32::total_cmp);
    Ok(Duration::from_secs_f64(ms[ms.len() / 2] as f64 * 1e-3))
}

/// Device-to-device copy bandwidth in bytes/s (bytes read + bytes written), measured on a
/// 1 GiB copy: the denominator of every memory floor.
pub fn copy_bandwidth(gpu: &Gpu, stream: &Arc<CudaStream>) -> flashfftconv::Result<f64> {
    let bytes = 1usize << 30;
    let src = stream.alloc_zeros::<u8>(bytes)?;
    let mut dst = stream.alloc_zeros::<u8>(bytes)?;
    let t = median_time(gpu.context(), stream, Timing { warmup: 3, iters: 20 }, |_| {
        stream.memcpy_dtod(&src, &mut dst)?;
        Ok(())
    })?;
    Ok(2.0 * bytes as f64 / t.as_secs_f64())
}

/// Copies of a workload's buffers needed so that cycling through them defeats the L2 cache:
/// at least three times the L2 size in all, at most 8 copies.
pub fn rotation_sets(gpu: &Gpu, bytes_per_set: u64) -> flashfftconv::Result<usize> {
    let l2 = gpu.context().attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)? as u64;
    Ok((3 * l2).div_ceil(bytes_per_set.max(1)).clamp(1, 8) as usize)
}

/// A compact markdown number: ms with 3 significant decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.4}", d.as_secs_f64() * 1e3)
}
