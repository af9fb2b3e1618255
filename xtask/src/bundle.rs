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
//! bash .device/run.sh ab [OP] [ARGS]          # ./bench-old and ./bench alternately, 2 rounds (`--old`), then the A/B table
//! ```
//!
//! The binaries go into one `bins.tar.xz` packed with a 192 MiB LZMA dictionary: each embeds
//! the same PTX and cubin (~53 MiB), so a dictionary that spans the whole tar stores them once
//! (test-gpu + bench: 5 MiB, where one xz file per binary took 8 MiB and gzip 16 MiB). The
//! tracked tree (with the committed PTX) travels to the device too and counts against the
//! runner's 64 MiB limit with the bundle, so the bundle carries no PTX copy. `--old BENCH` adds
//! another build's bench binary as `bench-old` (nearly free: it shares the dictionary) for
//! same-call A/B timings: `run.sh ab [OP] [ARGS]`. run.sh unpacks on first use with python3's
//! `tarfile`/`lzma` (the GPU machine has python3; `xz` is not promised there).
//! `conv1d` works in place of `fftconv` in each. Each step's output also goes to
//! `$OUT/<step>.log` when `$OUT` is set (and the fftconv sweep's table and the bench JSON to
//! `$OUT`). A binary that does not exist yet is skipped with a warning. The folder is replaced
//! on each run; one that was not made by this command is never deleted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::bail;
use crate::util::{self, rel, Context, Result};

/// (package, binary) pairs to bundle.
const BINARIES: &[(&str, &str)] = &[("flashfftconv-tests", "test-gpu"), ("flashfftconv-bench", "bench")];
/// The device runner's limit on carried paths.
const CARRY_LIMIT: u64 = 64 << 20;
/// File that marks a folder as made by this command (and so safe to replace).
const MARKER: &str = ".flashfftconv-bundle";

pub fn main(dir: Option<PathBuf>, old_bench: Option<PathBuf>) -> Result<()> {
    let root = util::repo_root();
    let dir = match dir {
        Some(d) if d.is_absolute() => d,
        Some(d) => std::env::current_dir().context(|| "cannot read the current directory".into())?.join(d),
        None => root.join(".device"),
    };
    if let Some(old) = &old_bench {
        if !old.is_file() {
            bail!("--old {}: no such file", old.display());
        }
    }
    prepare(&dir)?;
    let llvm = util::llvm_tools(&root)?;

    let pack = dir.join(".pack");
    std::fs::create_dir_all(&pack).context(|| format!("cannot create {}", pack.display()))?;
    let mut bundled = Vec::new();
    let mut add = |src: &Path, name: &str| -> Result<()> {
        let dest = pack.join(name);
        std::fs::copy(src, &dest).context(|| format!("cannot copy {}", src.display()))?;
        let mut strip = Command::new(llvm.join("llvm-strip"));
        strip.arg("--strip-all").arg(&dest);
        util::output(&mut strip)?;
        bundled.push(name.to_string());
        Ok(())
    };
    for (package, bin) in BINARIES {
        if build_bin(&root, package, bin)? {
            add(&root.join("target").join("release").join(bin), bin)?;
        }
    }
    if let Some(old) = &old_bench {
        add(old, "bench-old")?;
    }
    if !bundled.is_empty() {
        pack_binaries(&pack, &bundled, &dir.join("bins.tar.xz"))?;
    }
    std::fs::remove_dir_all(&pack).context(|| format!("cannot remove {}", pack.display()))?;

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
    let tracked = tracked_size(&root)?;
    println!(
        "bundle: {} ({}; binaries: {}); with the tracked tree ({}): {}",
        rel(&dir),
        util::human_bytes(size),
        if bundled.is_empty() { "none yet".to_string() } else { bundled.join(", ") },
        util::human_bytes(tracked),
        util::human_bytes(size + tracked)
    );
    if size + tracked > CARRY_LIMIT {
        bail!(
            "the bundle and the tracked tree are {}, over the {} the device runner copies",
            util::human_bytes(size + tracked),
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

/// Packs `names` (files in `pack`) into the tar `out`, xz-compressed with a dictionary larger
/// than the tar so that the PTX and cubin every binary embeds are stored once (see the module
/// docs); run.sh unpacks it on first use.
fn pack_binaries(pack: &Path, names: &[String], out: &Path) -> Result<()> {
    let tar_path = pack.join("bins.tar");
    let mut tar = Command::new("tar");
    tar.arg("-C").arg(pack).arg("-cf").arg(&tar_path).args(names);
    util::output(&mut tar)?;
    let mut xz = Command::new("xz");
    xz.args(["--lzma2=preset=6,dict=192MiB", "-T1", "-f"]).arg(&tar_path);
    util::output(&mut xz)
        .map_err(|e| util::Error(format!("{e}\n(the bundle needs `xz`: apt-get install xz-utils)")))?;
    let packed = pack.join("bins.tar.xz");
    std::fs::rename(&packed, out).context(|| format!("cannot move {} to {}", packed.display(), out.display()))
}

/// Bytes of the files git tracks: the device runner copies them along with the carried bundle.
fn tracked_size(root: &Path) -> Result<u64> {
    let mut git = Command::new("git");
    git.current_dir(root).args(["ls-files", "-z"]);
    let listing = util::output(&mut git)?;
    let mut total = 0;
    for name in String::from_utf8_lossy(&listing.stdout).split('\0').filter(|n| !n.is_empty()) {
        // A tracked file deleted in the working tree is not copied.
        if let Ok(meta) = std::fs::metadata(root.join(name)) {
            total += meta.len();
        }
    }
    Ok(total)
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
#   run.sh ab [OP] [ARGS]        ./bench-old and ./bench [--op OP] ARGS alternately, 2 rounds
#                                (bundle made with --old); logs $OUT/ab-{old,new}-{1,2}.log and
#                                the min-of-rounds table $OUT/ab-table.md (python/ab_table.py)
#
# OP is conv1d or fftconv. With $OUT set, each step's output is also written to
# $OUT/<step>.log, `test fftconv` writes its table to $OUT/test-fftconv.md and `bench OP` its
# JSON into $OUT (fftconv: fftconv-<device>.json), unless ARGS say otherwise.
# Exit status: the binary's own, or the first non-zero one for sanitize.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

usage() { sed -n '4,16p' "$here/$(basename "${BASH_SOURCE[0]}")" | sed 's/^# \{0,1\}//'; }

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

# need BIN: unpacks the binaries from ./bins.tar.xz on first use (python3's tarfile: xz itself
# may be missing there); fails if BIN is not in the bundle.
need() {
    if [ ! -x "./$1" ] && [ -f ./bins.tar.xz ]; then
        python3 -c 'import tarfile; tarfile.open("bins.tar.xz", "r:xz").extractall(".")' || exit 2
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
        # The long table gets its own log name (a second bench call in one device call would
        # otherwise overwrite the first one's log).
        long=""; has --long "$@" && long="-long"
        step "bench${op:+-$op}$long" ./bench "${extra[@]}" "$@"
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
    ab)
        need bench
        need bench-old
        extra=()
        [ -n "$op" ] && extra+=(--op "$op")
        [ "$op" = fftconv ] && nvrtc_path
        out="${OUT:-$here/ab-out}"
        # The rounds' JSON stays here, out of $OUT: the device tool returns only a few files.
        json="$here/ab-json"
        mkdir -p "$out"
        status=0
        for round in 1 2; do
            for v in old new; do
                bin=./bench; [ "$v" = old ] && bin=./bench-old
                mkdir -p "$json/ab-$v-$round"
                echo "== run.sh ab: $v, round $round" >&2
                "$bin" "${extra[@]}" --out-dir "$json/ab-$v-$round" "$@" > "$out/ab-$v-$round.log" 2>&1 || status=$?
            done
        done
        python3 python/ab_table.py "$out" | tee "$out/ab-table.md"
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
