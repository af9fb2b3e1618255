//! `cargo test`: the quick FFT-convolution sweep and its validation checks on the GPU when
//! there is one. A plain `main` (`harness = false`) so that, without a GPU, its one line saying
//! so is printed even though libtest would capture it; the full sweep (`cargo xtask test-gpu`)
//! fails instead of skipping.

use flashfftconv_reference::data::seed_from_env;
use flashfftconv_tests::fftconv_sweep::{self, FftSummary};
use flashfftconv_tests::{harness, validation};
use std::process::ExitCode;

fn main() -> ExitCode {
    let gpu = match harness::open_gpu() {
        Ok(gpu) => gpu,
        Err(why) => {
            println!("SKIPPED gpu_fftconv: no usable GPU ({why}); the GPU sweep did not run");
            println!("0 passed, 0 failed, 1 skipped");
            return ExitCode::SUCCESS;
        }
    };
    let seed = seed_from_env();
    println!("gpu_fftconv: quick fftconv sweep, seed {seed}");
    let stream = gpu.context().default_stream();
    let rejections = match validation::run_fftconv(&gpu, &stream) {
        Ok(r) => r,
        Err(e) => {
            println!("gpu_fftconv: the validation checks could not run: {e}");
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = 0;
    for r in rejections.iter().filter(|r| !r.passed()) {
        failed += 1;
        println!(
            "FAIL validation `{}`: error {:?}, expected variant {}, touched {}",
            r.case, r.error, r.expected_variant, r.touched
        );
    }
    let cases = fftconv_sweep::cases(true);
    let selected: Vec<usize> = (0..cases.len()).collect();
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
    let mut progress = harness::Progress::new("fftconv", cases.len());
    match fftconv_sweep::run_sweep(&gpu, &cases, &selected, seed, threads, &mut progress) {
        Ok(outcomes) => {
            println!("{}", FftSummary::new(&outcomes).table());
            failed += outcomes.iter().filter(|o| !o.passed()).count();
            let total = outcomes.len() + rejections.len();
            println!("{} passed, {} failed", total - failed, failed);
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            println!("gpu_fftconv: the sweep could not run: {e}");
            println!("0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}
