//! `cargo test`: the quick conv1d sweep on the GPU when there is one. Without a GPU it prints
//! one line saying so and returns (the full sweep, `cargo xtask test-gpu`, fails instead).

use flashfftconv_reference::data::{seed_from_env, Rng};
use flashfftconv_tests::{conv1d_sweep, harness};

#[test]
fn conv1d_quick_sweep_on_gpu() {
    let gpu = match harness::open_gpu() {
        Ok(gpu) => gpu,
        Err(why) => {
            println!("SKIPPED conv1d GPU sweep: no usable GPU ({why})");
            return;
        }
    };
    let seed = seed_from_env();
    println!("seed {seed}");
    let stream = gpu.context().default_stream();
    let cases = conv1d_sweep::cases(true);
    let (failures, summary) = conv1d_sweep::run_sweep(&gpu, &stream, &cases, &mut Rng::new(seed), |_| {}).expect("sweep runs");
    println!("{}", summary.table(flashfftconv_reference::bounds::CONV1D_MAX_RATIO));
    assert_eq!(failures, 0, "{failures} of {} conv1d cases failed (seed {seed})", cases.len());
}
