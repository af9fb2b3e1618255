//! `cargo test`: the quick conv1d sweep on the GPU when there is one. A plain `main`
//! (`harness = false`) so that, without a GPU, its one line saying so is printed even though
//! libtest would capture it; the full sweep (`cargo xtask test-gpu`) fails instead of skipping.

use flashfftconv_reference::data::{seed_from_env, Rng};
use flashfftconv_tests::{conv1d_sweep, harness};
use std::process::ExitCode;

fn main() -> ExitCode {
    let gpu = match harness::open_gpu() {
        Ok(gpu) => gpu,
        Err(why) => {
            println!("SKIPPED gpu_conv1d: no usable GPU ({why}); the GPU sweep did not run");
            println!("0 passed, 0 failed, 1 skipped");
            return ExitCode::SUCCESS;
        }
    };
    let seed = seed_from_env();
    println!("gpu_conv1d: quick conv1d sweep, seed {seed}");
    let stream = gpu.context().default_stream();
    let cases = conv1d_sweep::cases(true);
    match conv1d_sweep::run_sweep(&gpu, &stream, &cases, &mut Rng::new(seed), |_| {}) {
        Ok((failures, summary)) => {
            println!("{}", summary.table(flashfftconv_reference::bounds::CONV1D_MAX_RATIO));
            println!("{} passed, {} failed", cases.len() - failures, failures);
            if failures == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            println!("gpu_conv1d: the sweep could not run: {e}");
            println!("0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}
