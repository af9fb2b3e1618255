//! `cargo xtask bundle [DIR]` (default `.device`): everything the GPU machine needs, in one
//! folder.
//!
//! Why: the lent GPU machine has no Rust toolchain and gets a copy of the working tree plus at
//! most 64 MiB of carried ignored paths. So the binaries are built here (release, stripped;
//! glibc 2.36 here runs on 2.39 there) and carried with a `run.sh` that knows how to run them:
//!
//! ```text
//! cargo xtask bundle
//! # on the device, from the repository root, carrying `.device`:
//! bash .device/run.sh test [ARGS]             # ./test-gpu ARGS (both sweeps)
//! bash .device/run.sh test fftconv [ARGS]     # ./test-gpu --only fftconv --log $OUT/test-fftconv.md ARGS
//! bash .device/run.sh bench [ARGS]            # ./bench ARGS (conv1d)
//! bash .device/run.sh bench fftconv [ARGS]    # ./bench --op fftconv --out-dir $OUT ARGS
//! bash .device/run.sh sanitize [ARGS]         # compute-sanitizer memcheck + racecheck, ./test-gpu --quick
//! bash .device/run.sh sanitize fftconv [ARGS] # the same on ./test-gpu --quick --only fftconv
//! bash .device/run.sh python FILE [ARGS]      # python3 python/FILE (benches/python baselines)
//! ```
//!
//! Binaries and the PTX copy are xz-compressed (the binaries embed the PTX and cubin:
//! uncompressed the bundle nears the 64 MiB carry limit, gzipped it took 16 MiB, with xz 7 MiB,
//! which leaves room for a second build to compare against); run.sh unpacks a binary on first
//! use with python3's `lzma` (the GPU machine has python3; `xz` is not promised there).
//! `conv1d` works in place of `fftconv` in each. Each step's output also goes to
//! `$OUT/<step>.log` when `$OUT` is set (and the fftconv sweep's table and the bench JSON to
//! `$OUT`). A binary that does not exist yet is skipped with a warning. The folder is replaced on each run; one that was
//! not made by this command is never deleted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{self, rel, Context, Result};
use crate::{bail, ptx, ptxas};

/// (package, binary) pairs to bundle.
const BINARIES: &[(&str, &str)] = &[("flashfftconv-tests", "test-gpu"), ("flashfftconv-bench", "bench")];
/// The device runner's limit on carried paths.
const CARRY_LIMIT: u64 = 64 << 20;
/// File that marks a folder as made by this command (and so safe to replace).
const MARKER: &str = ".flashfftconv-bundle";

pub fn main(dir: Option<PathBuf>) -> Result<()> {
    let root = util::repo_root();
    let dir = match dir {
        Some(d) if d.is_absolute() => d,
        Some(d) => std::env::current_dir().context(|| "cannot read the current directory".into())?.join(d),
        None => root.join(".device"),
    };
    prepare(&dir)?;
    let llvm = util::llvm_tools(&root)?;

    let mut bundled = Vec::new();
    for (package, bin) in BINARIES {
        if build_bin(&root, package, bin)? {
            let built = root.join("target").join("release").join(bin);
            let dest = dir.join(bin);
            std::fs::copy(&built, &dest).context(|| format!("cannot copy {}", built.display()))?;
            let mut strip = Command::new(llvm.join("llvm-strip"));
            strip.arg("--strip-all").arg(&dest);
            util::output(&mut strip)?;
            compress(&dest)?;
            bundled.push(*bin);
        }
    }

    let ptx_dir = dir.join("ptx");
    std::fs::create_dir_all(&ptx_dir).context(|| format!("cannot create {}", ptx_dir.display()))?;
    for file in [ptx::COMMITTED_PTX, ptxas::REPORT] {
        let src = root.join(file);
        if src.is_file() {
            let name = src.file_name().unwrap_or_default();
            let dest = ptx_dir.join(name);
            std::fs::copy(&src, &dest).context(|| format!("cannot copy {file}"))?;
            if dest.extension().is_some_and(|e| e == "ptx") {
                compress(&dest)?;
            }
        } else {
            eprintln!("warning: {file} is missing (run `cargo xtask ptx` / `cargo xtask ptxas`)");
        }
    }
    let python = root.join("benches").join("python");
    if python.is_dir() {
        copy_tree(&python, &dir.join("python"))?;
    }

    let run_sh = dir.join("run.sh");
    std::fs::write(&run_sh, RUN_SH).context(|| format!("cannot write {}", run_sh.display()))?;
    set_mode(&run_sh, 0o755)?;
    std::fs::write(dir.join(MARKER), "made by `cargo xtask bundle`; replaced on each run\n")
        .context(|| "cannot write the bundle marker".into())?;

    let size = tree_size(&dir)?;
    println!(
        "bundle: {} ({}; binaries: {})",
        rel(&dir),
        util::human_bytes(size),
        if bundled.is_empty() { "none yet".to_string() } else { bundled.join(", ") }
    );
    if size > CARRY_LIMIT {
        bail!(
            "the bundle is {}, over the {} the device runner carries",
            util::human_bytes(size),
            util::human_bytes(CARRY_LIMIT)
        );
    }
    println!(
        "  on the device: carry [\"{}\"], run `bash {}/run.sh test|bench|sanitize [conv1d|fftconv]`",
        rel(&dir),
        rel(&dir)
    );
    Ok(())
}

/// Replaces `path` by `path.xz` (`xz -6`). The binaries embed the PTX and the cubin (~44 MiB
/// together, ~3.5 MiB compressed), which would otherwise crowd the runner's 64 MiB carry
/// limit; run.sh unpacks them on first use.
fn compress(path: &Path) -> Result<()> {
    let mut cmd = Command::new("xz");
    cmd.args(["-6", "-f", "-T2"]).arg(path);
    util::output(&mut cmd)
        .map_err(|e| util::Error(format!("{e}\n(the bundle needs `xz`: apt-get install xz-utils)")))?;
    Ok(())
}

/// Empties `dir` if this command made it, refuses any other non-empty folder.
fn prepare(dir: &Path) -> Result<()> {
    if dir.exists() {
        let made_by_us = dir.join(MARKER).is_file();
        let empty = std::fs::read_dir(dir).context(|| format!("cannot list {}", dir.display()))?.next().is_none();
        if made_by_us {
            std::fs::remove_dir_all(dir).context(|| format!("cannot clear {}", dir.display()))?;
        } else if !empty {
            bail!(
                "{} exists and was not made by `cargo xtask bundle`: remove it or name another \
                 folder (`cargo xtask bundle DIR`)",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))
}

/// Builds one binary in release. Returns false (after a warning) when the package or the
/// binary does not exist yet; any other failure is an error.
fn build_bin(root: &Path, package: &str, bin: &str) -> Result<bool> {
    let mut cmd = util::cargo();
    cmd.current_dir(root)
        .args(["build", "--release", "-p", package, "--bin", bin])
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    let shown = util::render(&cmd);
    let mut child = cmd.spawn().context(|| format!("cannot start `{shown}`"))?;
    let mut missing = false;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(std::io::Result::ok) {
            if line.contains("no bin target named") || line.contains("did not match any packages") {
                missing = true; // reported below as a warning
            } else {
                eprintln!("{line}");
            }
        }
    }
    let status = child.wait().context(|| format!("`{shown}` did not finish"))?;
    if status.success() {
        return Ok(true);
    }
    if missing {
        eprintln!("warning: {package} has no binary `{bin}` yet: not bundled");
        return Ok(false);
    }
    bail!("`{shown}` failed ({status})")
}

fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).context(|| format!("cannot create {}", dest.display()))?;
    let mut entries: Vec<_> =
        std::fs::read_dir(src).context(|| format!("cannot list {}", src.display()))?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name == "__pycache__" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &dest.join(&name))?;
        } else if path.is_file() {
            std::fs::copy(&path, dest.join(&name)).context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

fn tree_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).context(|| format!("cannot list {}", dir.display()))?.flatten() {
        let meta = entry.metadata().context(|| format!("cannot stat {}", entry.path().display()))?;
        total += if meta.is_dir() { tree_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .context(|| format!("cannot chmod {}", path.display()))
}

/// The script run on the GPU machine.
const RUN_SH: &str = r#"#!/usr/bin/env bash
# Made by `cargo xtask bundle`: runs flashfftconv's GPU binaries on the GPU machine.
#
#   run.sh test [OP] [ARGS]      ./test-gpu [--only OP] ARGS      (GPU correctness sweeps)
#   run.sh bench [OP] [ARGS]     ./bench [--op OP] ARGS           (benchmarks; default conv1d)
#   run.sh sanitize [OP] [ARGS]  compute-sanitizer --tool memcheck, then --tool racecheck,
#                                on ./test-gpu --quick [--only OP] ARGS (fails if either finds an error)
#   run.sh python FILE [ARGS]    python3 python/FILE ARGS         (benches/python baselines)
#
# OP is conv1d or fftconv. With $OUT set, each step's output is also written to
# $OUT/<step>.log, `test fftconv` writes its table to $OUT/test-fftconv.md and `bench OP` its
# JSON into $OUT (fftconv: fftconv-<device>.json), unless ARGS say otherwise.
# Exit status: the binary's own, or the first non-zero one for sanitize.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

usage() { sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//'; }

# step NAME CMD...: runs CMD, echoing to $OUT/NAME.log when OUT is set; returns CMD's status.
step() {
    local name="$1"; shift
    echo "== run.sh $name: $*" >&2
    local start=$SECONDS status
    if [ -n "${OUT:-}" ]; then
        mkdir -p "$OUT"
        "$@" 2>&1 | tee "$OUT/$name.log"
        status=${PIPESTATUS[0]}
    else
        "$@"
        status=$?
    fi
    echo "== run.sh $name: exit $status after $((SECONDS - start)) s" >&2
    return "$status"
}

# need BIN: unpacks ./BIN from ./BIN.xz on first use (python3's lzma: xz itself may be
# missing there); fails if neither is there.
need() {
    if [ ! -x "./$1" ] && [ -f "./$1.xz" ]; then
        python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
            "./$1.xz" "./$1.tmp" && chmod +x "./$1.tmp" && mv "./$1.tmp" "./$1"
    fi
    if [ ! -x "./$1" ]; then
        echo "run.sh: ./$1 is not in this bundle (it did not exist when \`cargo xtask bundle\` ran)" >&2
        exit 2
    fi
}

sanitizer() {
    local c
    if c="$(command -v compute-sanitizer)"; then echo "$c"; return 0; fi
    for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda-*/bin/compute-sanitizer \
             /usr/local/cuda/compute-sanitizer/compute-sanitizer /opt/cuda/bin/compute-sanitizer; do
        if [ -x "$c" ]; then echo "$c"; return 0; fi
    done
    return 1
}

# has FLAG ARGS...: whether FLAG is among ARGS.
has() {
    local flag="$1"; shift
    local a
    for a in "$@"; do [ "$a" = "$flag" ] && return 0; done
    return 1
}

# The cuFFT baseline compiles its elementwise kernels with NVRTC. cudarc (built for CUDA 12.9)
# dlopens libnvrtc.so, libnvrtc.so.12, .11, …; a CUDA 13 machine has libnvrtc.so.13 and maybe no
# unversioned link on the loader's path. Then link the newest libnvrtc.so.N found (and its
# builtins) into $here/.lib as libnvrtc.so and put only that folder on LD_LIBRARY_PATH; the
# bench gives the PyTorch child the original LD_LIBRARY_PATH back
# (FLASHFFTCONV_PYTHON_LD_LIBRARY_PATH).
nvrtc_path() {
    if ldconfig -p 2>/dev/null | grep -qE 'libnvrtc\.so(\.1[12])? '; then return 0; fi
    local site lib found=""
    site="$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null || true)"
    for lib in /usr/local/cuda/lib64/libnvrtc.so.* /usr/local/cuda-*/lib64/libnvrtc.so.* \
               /usr/local/cuda/targets/*/lib/libnvrtc.so.* /usr/lib/x86_64-linux-gnu/libnvrtc.so.* \
               ${site:+$site/nvidia/cuda_nvrtc/lib/libnvrtc.so.*} ${site:+$site/nvidia/cu13/lib/libnvrtc.so.*}; do
        [ -f "$lib" ] && found="$lib"
    done
    if [ -z "$found" ]; then
        echo "run.sh: no libnvrtc found; the cuFFT baseline will say so and not run" >&2
        return 0
    fi
    mkdir -p "$here/.lib" || return 0
    for lib in "$(dirname "$found")"/libnvrtc*; do ln -sf "$lib" "$here/.lib/"; done
    ln -sf "$found" "$here/.lib/libnvrtc.so"
    export FLASHFFTCONV_PYTHON_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
    export LD_LIBRARY_PATH="$here/.lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "run.sh: NVRTC for the cuFFT baseline: $found" >&2
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
op=""
case "${1:-}" in
    conv1d|fftconv) op="$1"; shift ;;
esac
case "$cmd" in
    test)
        need test-gpu
        extra=()
        [ -n "$op" ] && extra+=(--only "$op")
        if [ "$op" = fftconv ] && [ -n "${OUT:-}" ] && ! has --log "$@"; then
            mkdir -p "$OUT"
            extra+=(--log "$OUT/test-fftconv.md")
        fi
        step "test${op:+-$op}" ./test-gpu "${extra[@]}" "$@"
        ;;
    bench)
        need bench
        extra=()
        [ -n "$op" ] && extra+=(--op "$op")
        if [ -n "${OUT:-}" ] && ! has --out "$@" && ! has --out-dir "$@"; then
            mkdir -p "$OUT"
            extra+=(--out-dir "$OUT")
        fi
        [ "$op" = fftconv ] && nvrtc_path
        step "bench${op:+-$op}" ./bench "${extra[@]}" "$@"
        ;;
    sanitize)
        need test-gpu
        if ! san="$(sanitizer)"; then
            echo "run.sh: compute-sanitizer not found (PATH, /usr/local/cuda*/bin)" >&2
            exit 2
        fi
        extra=(--quick)
        [ -n "$op" ] && extra+=(--only "$op")
        status=0
        step "sanitize${op:+-$op}-memcheck" "$san" --tool memcheck --error-exitcode 99 ./test-gpu "${extra[@]}" "$@" || status=$?
        rc=0
        step "sanitize${op:+-$op}-racecheck" "$san" --tool racecheck --error-exitcode 99 ./test-gpu "${extra[@]}" "$@" || rc=$?
        [ "$status" -eq 0 ] && status=$rc
        exit "$status"
        ;;
    python)
        if [ -n "$op" ] || [ $# -lt 1 ] || [ ! -f "python/$1" ]; then
            echo "run.sh python: name a file under python/: $(ls python 2>/dev/null | tr '\n' ' ')" >&2
            exit 2
        fi
        file="$1"; shift
        step "python-$(basename "${file%.py}")" python3 "python/$file" "$@"
        ;;
    -h|--help|help)
        usage
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
"#;
