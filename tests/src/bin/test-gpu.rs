//! `cargo xtask test-gpu`: the GPU correctness sweeps. Exits non-zero when any check fails and
//! also when there is no GPU (exit 3), so that a machine without one never reports a pass.
//!
//! Flags:
//! * `--only conv1d|fftconv`: run one operation's validation checks and sweep (default: both);
//! * `--quick`: the reduced sweeps (e.g. under compute-sanitizer);
//! * `--seed N`: else `FLASHFFTCONV_SEED` or a fresh seed; printed either way;
//! * `--case I` (repeatable): only fftconv case I (replays a failure with its `--seed`);
//! * `--threads T`: host threads of the fftconv sweep (default: all cores);
//! * `--log FILE`: also write the fftconv table, failures and timings to FILE;
//! * `--list`: print the fftconv cases with their estimated host cost and exit (tests nothing);
//! * `--big`: instead of the sweeps, the FFT convolutions with ≥ 2³¹-element tensors, checked on
//!   sampled rows (`fftconv_big`; ~50 GiB of device memory, an 80-GB card). Not part of the
//!   default run; `bash .device/run.sh test fftconv --big` on the GPU machine.

use flashfftconv_reference::bounds::CONV1D_MAX_RATIO;
use flashfftconv_reference::data::{seed_from_env, Rng};
use flashfftconv_tests::fftconv_big;
use flashfftconv_tests::fftconv_sweep::{self, FftSummary};
use flashfftconv_tests::validation::Rejection;
use flashfftconv_tests::{conv1d_sweep, harness, validation};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: test-gpu [--only conv1d|fftconv] [--quick] [--seed N] [--case I]... [--threads T] \
                     [--log FILE] [--list] [--big]";

struct Args {
    conv1d: bool,
    fftconv: bool,
    quick: bool,
    seed: u64,
    cases: Vec<usize>,
    threads: usize,
    log: Option<String>,
    list: bool,
    big: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        conv1d: true,
        fftconv: true,
        quick: false,
        seed: 0,
        cases: Vec::new(),
        threads: std::thread::available_parallelism().map_or(4, |n| n.get()),
        log: None,
        list: false,
        big: false,
    };
    let mut seed = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--list" => args.list = true,
            "--big" => args.big = true,
            "--only" => match value("--only")?.as_str() {
                "conv1d" => (args.conv1d, args.fftconv) = (true, false),
                "fftconv" => (args.conv1d, args.fftconv) = (false, true),
                other => return Err(format!("--only takes conv1d or fftconv, not `{other}`")),
            },
            "--seed" => seed = Some(value("--seed")?.parse::<u64>().map_err(|_| "--seed needs an unsigned integer")?),
            "--case" => args.cases.push(value("--case")?.parse().map_err(|_| "--case needs a case index")?),
            "--threads" => {
                args.threads = value("--threads")?.parse().map_err(|_| "--threads needs a positive integer")?;
                if args.threads == 0 {
                    return Err("--threads needs a positive integer".into());
                }
            }
            "--log" => args.log = Some(value("--log")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if !args.cases.is_empty() {
        args.conv1d = false; // --case names fftconv cases
    }
    if args.big {
        if !args.cases.is_empty() || args.quick {
            return Err("--big runs its own cases; --case and --quick name sweep cases".into());
        }
        if !args.fftconv {
            return Err("--big checks fftconv; it does not go with --only conv1d".into());
        }
    }
    args.seed = match seed {
        Some(s) => s,
        None => seed_from_env(),
    };
    Ok(args)
}

/// Prints the failed rejections and a one-line count; returns how many failed.
fn report_rejections(op: &str, rejections: &[Rejection]) -> usize {
    let mut failed = 0;
    for r in rejections {
        if !r.passed() {
            failed += 1;
            eprintln!(
                "FAIL validation `{}`: error {:?}, expected variant {}, output elements touched {}",
                r.case, r.error, r.expected_variant, r.touched
            );
        }
    }
    println!(
        "{op} validation: {} invalid calls rejected before launch with outputs untouched: {}/{}",
        rejections.len(),
        rejections.len() - failed,
        rejections.len()
    );
    failed
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("test-gpu: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let fft_cases = fftconv_sweep::cases(args.quick);
    if let Some(&bad) = args.cases.iter().find(|&&i| i >= fft_cases.len()) {
        eprintln!(
            "test-gpu: --case {bad}: the {} sweep has {} cases",
            if args.quick { "quick" } else { "full" },
            fft_cases.len()
        );
        return ExitCode::from(2);
    }
    let selected: Vec<usize> = if args.cases.is_empty() { (0..fft_cases.len()).collect() } else { args.cases.clone() };
    if args.big && args.list {
        for case in fftconv_big::big_cases() {
            println!("{}  rows {:?}", case.describe(), fftconv_big::sample_rows(&case));
        }
        println!("test-gpu --list --big: nothing was tested.");
        return ExitCode::SUCCESS;
    }
    if args.list {
        let mut total = 0.0;
        for &i in &selected {
            let cost = fftconv_sweep::estimated_cost(&fft_cases[i]);
            total += cost;
            println!("{i:4}  {:7.2} s  {}", cost, fft_cases[i].describe());
        }
        println!(
            "test-gpu --list: {} fftconv cases, estimated host cost {:.0} core-seconds (≈ {:.0} s on {} threads). \
             Nothing was tested.",
            selected.len(),
            total,
            total / args.threads as f64,
            args.threads
        );
        return ExitCode::SUCCESS;
    }

    let gpu = match harness::open_gpu() {
        Ok(gpu) => gpu,
        Err(why) => {
            eprintln!("test-gpu: NO GPU — nothing was tested ({why}). This is not a pass.");
            return ExitCode::from(3);
        }
    };
    let seed = args.seed;
    let stream = gpu.context().default_stream();
    println!(
        "test-gpu: device {} ({} SMs), seed {seed} (rerun with --seed {seed}){}{}",
        gpu.context().name().unwrap_or_default(),
        gpu.multiprocessors(),
        if args.quick { ", quick sweep" } else { "" },
        match (args.conv1d, args.fftconv) {
            (true, false) => ", conv1d only",
            (false, true) => ", fftconv only",
            _ => "",
        }
    );
    match gpu.load_all_kernels() {
        Ok(n) => println!("test-gpu: all {n} kernels of the host's table load from the module ({})", gpu.module_kind()),
        Err(e) => {
            eprintln!("test-gpu: {e}");
            return ExitCode::FAILURE;
        }
    }

    if args.big {
        return run_big(&gpu, &args);
    }

    let mut total = 0;
    let mut failed = 0;
    if args.conv1d {
        let rejections = match validation::run(&gpu, &stream) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("test-gpu: the conv1d validation checks could not run: {e}");
                return ExitCode::FAILURE;
            }
        };
        total += rejections.len();
        failed += report_rejections("conv1d", &rejections);
        let mut rng = Rng::new(seed);
        let started = Instant::now();
        let cases = conv1d_sweep::cases(args.quick);
        let mut progress = harness::Progress::new("conv1d", cases.len());
        let outcome = conv1d_sweep::run_sweep(&gpu, &stream, &cases, &mut rng, |failures| progress.step(failures));
        let (failures, summary) = match outcome {
            Ok(x) => x,
            Err(e) => {
                eprintln!("test-gpu: error while running the conv1d sweep: {e}");
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
        total += cases.len();
        failed += failures;
    }

    if args.fftconv {
        let rejections = match validation::run_fftconv(&gpu, &stream) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("test-gpu: the fftconv validation checks could not run: {e}");
                return ExitCode::FAILURE;
            }
        };
        total += rejections.len();
        failed += report_rejections("fftconv", &rejections);
        let started = Instant::now();
        let estimate: f64 = selected.iter().map(|&i| fftconv_sweep::estimated_cost(&fft_cases[i])).sum();
        println!(
            "fftconv: {} cases on {} threads (estimated host cost {:.0} core-seconds)",
            selected.len(),
            args.threads,
            estimate
        );
        let mut progress = harness::Progress::new("fftconv", selected.len());
        let outcomes = match fftconv_sweep::run_sweep(&gpu, &fft_cases, &selected, seed, args.threads, &mut progress) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("test-gpu: the fftconv sweep could not start: {e}");
                return ExitCode::FAILURE;
            }
        };
        let failures: Vec<_> = outcomes.iter().filter(|o| !o.passed()).collect();
        let host_seconds: f64 = outcomes.iter().map(|o| o.seconds).sum();
        let table = FftSummary::new(&outcomes).table();
        let wall = started.elapsed().as_secs_f64();
        let footer = format!(
            "fftconv: {} cases, {} failed, {wall:.1} s wall ({host_seconds:.0} thread-seconds in cases, estimated \
             {estimate:.0}), seed {seed}",
            outcomes.len(),
            failures.len()
        );
        println!("\n## fftconv: worst error per (N, dtype, inputs) (rel. L2 / rounding floor; dk: rel. L2)\n");
        println!("{table}");
        println!("{footer}");
        if let Some(path) = &args.log {
            let mut log = format!(
                "# test-gpu fftconv sweep\n\ndevice {} · seed {seed}{} · {} threads\n\n",
                gpu.context().name().unwrap_or_default(),
                if args.quick { " · quick" } else { "" },
                args.threads
            );
            for r in &rejections {
                log += &format!(
                    "validation `{}`: {} ({})\n",
                    r.case,
                    if r.passed() { "rejected" } else { "FAIL" },
                    r.error.as_deref().unwrap_or("accepted")
                );
            }
            log += &format!("\n{table}\n{footer}\n\n## failures\n\n");
            for o in &failures {
                log += &o.failure_text(seed);
            }
            log += "\n## every case: index, seconds, worst ratio per output\n\n";
            for o in &outcomes {
                let values: Vec<String> = o.checks.iter().map(|c| format!("{} {:.3e}", c.name, c.value)).collect();
                log += &format!(
                    "{:4} {:6.2}s {} {} | {}\n",
                    o.index,
                    o.seconds,
                    if o.passed() { "ok  " } else { "FAIL" },
                    o.case.describe(),
                    values.join(", ")
                );
            }
            match std::fs::write(path, log) {
                Ok(()) => println!("fftconv: log written to {path}"),
                Err(e) => eprintln!("test-gpu: writing {path}: {e}"),
            }
        }
        total += outcomes.len();
        failed += failures.len();
    }

    println!("{} passed, {} failed", total - failed, failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--big`: the ≥ 2³¹-element cases, one after the other on the default stream.
fn run_big(gpu: &flashfftconv::Gpu, args: &Args) -> ExitCode {
    let stream = gpu.context().default_stream();
    let started = Instant::now();
    let outcomes = fftconv_big::run_big(gpu, &stream, args.seed, args.threads);
    let mut text = format!(
        "# test-gpu --big: FFT convolutions with ≥ 2^31-element tensors, sampled rows\n\ndevice {} · seed {}\n\n",
        gpu.context().name().unwrap_or_default(),
        args.seed
    );
    for o in &outcomes {
        text += &o.report();
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    text += &format!(
        "\nfftconv --big: {} cases, {failed} failed, {:.1} s, seed {}\n",
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        args.seed
    );
    print!("{text}");
    if let Some(path) = &args.log {
        match std::fs::write(path, &text) {
            Ok(()) => println!("fftconv --big: log written to {path}"),
            Err(e) => eprintln!("test-gpu: writing {path}: {e}"),
        }
    }
    println!("{} passed, {failed} failed", outcomes.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
