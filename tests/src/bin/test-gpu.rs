//! `cargo xtask test-gpu`: the GPU correctness sweep. Exits non-zero when any check fails and
//! also when there is no GPU, so that a machine without one never reports a pass.
//!
//! Flags: `--quick` (a reduced sweep, e.g. under compute-sanitizer), `--seed N` (else
//! `FLASHFFTCONV_SEED` or a fresh seed; printed either way).

use flashfftconv_reference::bounds::CONV1D_MAX_RATIO;
use flashfftconv_reference::data::{seed_from_env, Rng};
use flashfftconv_tests::{conv1d_sweep, harness};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let seed = match args.iter().position(|a| a == "--seed").map(|i| args.get(i + 1).map(|s| s.parse::<u64>())) {
        None => seed_from_env(),
        Some(Some(Ok(seed))) => seed,
        Some(_) => {
            eprintln!("test-gpu: --seed needs an unsigned integer");
            return ExitCode::from(2);
        }
    };
    let gpu = match harness::open_gpu() {
        Ok(gpu) => gpu,
        Err(why) => {
            eprintln!("test-gpu: NO GPU — nothing was tested ({why}). This is not a pass.");
            return ExitCode::from(3);
        }
    };
    let stream = gpu.context().default_stream();
    println!(
        "test-gpu: device {} ({} SMs), seed {seed} (rerun with --seed {seed}){}",
        gpu.context().name().unwrap_or_default(),
        gpu.multiprocessors(),
        if quick { ", quick sweep" } else { "" }
    );
    match gpu.load_all_kernels() {
        Ok(n) => println!("test-gpu: all {n} kernels of the host's table load from the module ({})", gpu.module_kind()),
        Err(e) => {
            eprintln!("test-gpu: {e}");
            return ExitCode::FAILURE;
        }
    }
    let rejections = match flashfftconv_tests::validation::run(&gpu, &stream) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("test-gpu: the validation checks could not run: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut rejected_wrongly = 0;
    for r in &rejections {
        if !r.passed() {
            rejected_wrongly += 1;
            eprintln!(
                "FAIL validation `{}`: error {:?}, expected variant {}, output elements touched {}",
                r.case, r.error, r.expected_variant, r.touched
            );
        }
    }
    println!(
        "validation: {} invalid calls rejected before launch with outputs untouched: {}/{}",
        rejections.len(),
        rejections.len() - rejected_wrongly,
        rejections.len()
    );
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let cases = conv1d_sweep::cases(quick);
    let mut progress = harness::Progress::new("conv1d", cases.len());
    let outcome = conv1d_sweep::run_sweep(&gpu, &stream, &cases, &mut rng, |failures| progress.step(failures));
    let (failures, summary) = match outcome {
        Ok(x) => x,
        Err(e) => {
            eprintln!("test-gpu: error while running the sweep: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("\n## conv1d: worst error per group (rel. L2 / rounding floor)\n");
    println!("{}", summary.table(CONV1D_MAX_RATIO));
    println!(
        "conv1d: {} cases, {} failed, {:.1} s, seed {seed}",
        cases.len(),
        failures,
        started.elapsed().as_secs_f64()
    );
    let total = cases.len() + rejections.len();
    let failed = failures + rejected_wrongly;
    println!("{} passed, {} failed", total - failed, failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
