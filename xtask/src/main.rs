//! `cargo xtask`: the project's build tasks, in Rust, with no dependencies.
//!
//! | command | what and why |
//! |---|---|
//! | `ptx [--check]` | kernels-gpu → committed PTX and its sm_90 cubin (`ptx.rs`); `--check` fails if either is stale |
//! | `ptxas [--check]` | `ptxas -v` resource report, committed; hot kernels may not spill (`ptxas.rs`) |
//! | `sass-check` | SASS of `fftconv_*` kernels must contain `HMMA` (`sass.rs`) |
//! | `bundle [DIR] [--old BENCH]` | binaries + `run.sh` for the GPU machine (`bundle.rs`) |
//! | `test-gpu [ARGS]` | `cargo run --release -p flashfftconv-tests --bin test-gpu -- ARGS` |
//! | `bench [ARGS]` | `cargo run --release -p flashfftconv-bench --bin bench -- ARGS` |
//!
//! The naming rules the checks enforce live in `rules.rs`. The second binary of this package,
//! `ptx-linker` (`src/bin/ptx-linker.rs`), is the linker rustc uses for the kernel crate.

mod bundle;
mod nvtools;
mod ptx;
mod ptxas;
mod rules;
mod sass;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;

use util::{Context, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  ptx [--check]       build kernels-gpu to PTX and write crates/flashfftconv/ptx/flashfftconv_sm90.ptx,
                      assemble it (ptxas -arch=sm_90 -O3, CUDA 12.9, pip-installed into target/tools)
                      and write crates/flashfftconv/ptx/flashfftconv_sm90.cubin;
                      --check: build and assemble into target/ptx-check and fail if the committed
                      PTX or cubin differs
  ptxas [--check]     run ptxas -v (CUDA 12.9, pip-installed into target/tools) on the committed PTX,
                      write crates/flashfftconv/ptx/resources.md, fail if a hot kernel (conv1d_*,
                      fftconv_*) spills or has a stack frame; --check: also fail if the report is stale
  sass-check          assemble and disassemble the PTX; fail if an fftconv_* kernel has no HMMA
  bundle [DIR] [--old BENCH]
                      build test-gpu and bench (release, stripped), pack them (and BENCH as
                      bench-old, for `run.sh ab`) into DIR/bins.tar.xz, copy benches/python,
                      write DIR/run.sh (default DIR: .device)
  test-gpu [ARGS]     cargo run --release -p flashfftconv-tests --bin test-gpu -- ARGS
  bench [ARGS]        cargo run --release -p flashfftconv-bench --bin bench -- ARGS
  help                this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<ExitCode> {
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    match command.as_str() {
        "ptx" => ptx::main(ptx::Args { check: check_flag(command, rest)? })?,
        "ptxas" => ptxas::main(ptxas::Args { check: check_flag(command, rest)? })?,
        "sass-check" => {
            no_args(command, rest)?;
            sass::main()?
        }
        "bundle" => {
            let usage = "usage: cargo xtask bundle [DIR] [--old BENCH_BINARY]";
            let (mut dir, mut old) = (None, None);
            let mut args = rest.iter();
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--old" => match args.next() {
                        Some(path) => old = Some(PathBuf::from(path)),
                        None => bail!("{usage}"),
                    },
                    d if !d.starts_with('-') && dir.is_none() => dir = Some(PathBuf::from(d)),
                    _ => bail!("{usage}"),
                }
            }
            bundle::main(dir, old)?
        }
        "test-gpu" => return run_bin("flashfftconv-tests", "test-gpu", rest),
        "bench" => return run_bin("flashfftconv-bench", "bench", rest),
        "help" | "-h" | "--help" => print!("{USAGE}"),
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn check_flag(command: &str, rest: &[String]) -> Result<bool> {
    match rest {
        [] => Ok(false),
        [flag] if flag == "--check" => Ok(true),
        _ => bail!("usage: cargo xtask {command} [--check]"),
    }
}

fn no_args(command: &str, rest: &[String]) -> Result<()> {
    if !rest.is_empty() {
        bail!("`cargo xtask {command}` takes no arguments");
    }
    Ok(())
}

/// `cargo run --release -p PACKAGE --bin BIN -- ARGS`, with the binary's exit code.
fn run_bin(package: &str, bin: &str, args: &[String]) -> Result<ExitCode> {
    let mut cmd = util::cargo();
    cmd.current_dir(util::repo_root()).args(["run", "--release", "-p", package, "--bin", bin, "--"]).args(args);
    let status = cmd.status().context(|| format!("cannot start `{}`", util::render(&cmd)))?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => {
            eprintln!("error: {bin} was killed by a signal ({status})");
            ExitCode::FAILURE
        }
    })
}
