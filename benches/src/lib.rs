//! Benchmark machinery shared by `cargo xtask bench` (the `bench` binary) and the criterion
//! benches: CUDA-event timing with warm-up and medians, the measured copy bandwidth that defines
//! the memory floor, and input rotation so that repeated runs do not measure the L2 cache.

pub mod conv1d;
pub mod cufft_baseline;
pub mod fftconv;

use flashfftconv::cudarc::driver::{sys, CudaContext, CudaStream, DriverError};
use flashfftconv::Gpu;
use serde::Serialize;
use std::io::Write;
use std::process::{Command, Stdio};
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
/// on `stream` (`i` counts from 0 across warm-up and timed runs, for input rotation). `run`'s
/// error type is the caller's (flashfftconv's, or a baseline's), as long as driver errors
/// convert into it.
pub fn median_time<E: From<DriverError>>(
    ctx: &Arc<CudaContext>,
    stream: &Arc<CudaStream>,
    timing: Timing,
    mut run: impl FnMut(usize) -> Result<(), E>,
) -> Result<Duration, E> {
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
    let t = median_time(gpu.context(), stream, Timing { warmup: 3, iters: 20 }, |_| -> flashfftconv::Result<()> {
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

/// Runs a PyTorch baseline script: writes one JSON object per shape to its stdin, reads one JSON
/// object per shape from its stdout (in order). Returns the objects and the `torch` version they
/// report; errs when python3 cannot start, the script fails, or a line is not JSON.
pub fn python_baseline<S: Serialize>(script: &str, shapes: &[S]) -> Result<(Vec<serde_json::Value>, String), String> {
    let mut command = Command::new("python3");
    // The device bundle's run.sh may have put an NVRTC link folder on LD_LIBRARY_PATH for the
    // cuFFT baseline; PyTorch gets the path it had before (its own CUDA libraries).
    match std::env::var_os("FLASHFFTCONV_PYTHON_LD_LIBRARY_PATH") {
        Some(orig) if orig.is_empty() => {
            command.env_remove("LD_LIBRARY_PATH");
        }
        Some(orig) => {
            command.env("LD_LIBRARY_PATH", orig);
        }
        None => {}
    }
    let mut child = command
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    {
        let stdin = child.stdin.as_mut().ok_or("no stdin")?;
        for shape in shapes {
            let line = serde_json::to_string(shape).map_err(|e| e.to_string())?;
            writeln!(stdin, "{line}").map_err(|e| e.to_string())?;
        }
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("{script} failed with {}", output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut values = Vec::new();
    let mut version = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{script}: {e} in {line:?}"))?;
        version = v["torch"].as_str().unwrap_or_default().to_string();
        values.push(v);
    }
    if values.len() != shapes.len() {
        return Err(format!("{script} answered {} of {} shapes", values.len(), shapes.len()));
    }
    Ok((values, version))
}

/// A short lowercase name for the device in file names: `h100`, `h200`, else its name with
/// non-alphanumerics replaced.
pub fn device_slug(name: &str) -> String {
    let lower = name.to_lowercase();
    for known in ["h100", "h200", "gh200", "b200", "a100"] {
        if lower.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == known) {
            return known.into();
        }
    }
    let slug: String = lower.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    slug.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(device_slug("NVIDIA H100 80GB HBM3"), "h100");
        assert_eq!(device_slug("NVIDIA H200"), "h200");
        assert_eq!(device_slug("NVIDIA GH200 480GB"), "gh200");
        assert_eq!(device_slug("Some GPU"), "some-gpu");
    }
}
