//! `cargo xtask ptx [--check]`: builds the kernel crate to PTX, assembles that PTX into an
//! sm_90 cubin, and keeps the committed copies of both current.
//!
//! Why: the host crate embeds `crates/flashfftconv/ptx/flashfftconv_sm90.ptx` with
//! `include_str!` and `crates/flashfftconv/ptx/flashfftconv_sm90.cubin` with `include_bytes!`,
//! so neither users nor CI need the nightly toolchain, `build-std` or a GPU toolchain to build
//! it (no `build.rs` GPU builds). The cubin exists because the driver needs ~20 s on an H100 to
//! JIT-compile the ~10 MiB PTX; a cubin for the device's exact architecture loads without a
//! JIT. The PTX stays the fallback for newer devices, which cannot run sm_90 SASS.
//!
//! The price is that the committed files can go stale; `--check` rebuilds from scratch into a
//! separate target dir, assembles the fresh PTX, and fails if either result differs from the
//! committed bytes. That only works because both are reproducible: one pinned toolchain, no
//! debug info, no paths in the PTX (the linker strips and checks this), and one pinned ptxas
//! (`nvtools::PTXAS`, CUDA 12.9.86) whose output is byte-for-byte the same for the same PTX
//! text, whatever the file's name, directory or time (checked by assembling in different
//! directories under different names; the cubin holds no path, name or time stamp).
//!
//! How: `cargo build --release --target nvptx64-nvidia-cuda -Zbuild-std=core` in `kernels-gpu/`
//! with `-C target-cpu=sm_90 -C target-feature=+ptx81 -C linker=target/ptx-linker/ptx-linker`.
//! The linker path is relative to `kernels-gpu/` (rustc's working directory), so the flags are
//! the same on every machine and for every target dir. Then
//! `ptxas -arch=sm_90 -O3 flashfftconv_sm90.ptx -o flashfftconv_sm90.cubin` in a work folder
//! under `target/` (ptxas is pip-installed into `target/tools/` on first use, see `nvtools.rs`).
//! Without `--check`, the work folder keeps the last PTX it assembled, so an unchanged PTX is
//! not assembled again (ptxas needs ~20 s for it); `--check` always assembles.
//!
//! The flags are given as `--config target.nvptx64-nvidia-cuda.rustflags=[…]`, not through
//! `RUSTFLAGS` (which is cleared): cargo joins arrays from all config sources, so the kernel
//! crate can add its own code generation flags in `kernels-gpu/.cargo/config.toml`,
//!
//! ```toml
//! [target.nvptx64-nvidia-cuda]
//! rustflags = ["-Cllvm-args=-unroll-threshold=3000"]
//! ```
//!
//! and they reach every build, `--check` and CI included, with no change here.
//! cargo does not notice when the linker binary changes, so a stamp next to each target dir
//! records which linker linked it, and a different linker forces a relink.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::{self, rel, Context, Result};
use crate::{bail, nvtools, ptxas, rules};

pub const TARGET: &str = "nvptx64-nvidia-cuda";
/// The kernel crate, relative to the repository root.
pub const KERNEL_CRATE: &str = "kernels-gpu";
/// The committed PTX, relative to the repository root.
pub const COMMITTED_PTX: &str = "crates/flashfftconv/ptx/flashfftconv_sm90.ptx";
/// The committed cubin: the committed PTX assembled for sm_90 by the pinned ptxas.
pub const COMMITTED_CUBIN: &str = "crates/flashfftconv/ptx/flashfftconv_sm90.cubin";
/// ptxas options for the committed cubin besides `-arch=sm_90` (`ptxas::ARCH`). `-O3` is
/// ptxas's default, named so that the command line says it. Nothing here may add line or
/// debug information: the cubin must not depend on the machine.
const PTXAS_FLAGS: &[&str] = &["-O3"];
/// The file cargo writes (the cdylib's name with the linker's `.ptx` output).
const ARTIFACT: &str = "flashfftconv_kernels_gpu.ptx";
/// The kernel package's name (for its fingerprint directories).
const PACKAGE: &str = "flashfftconv-kernels-gpu";
/// Where the linker is installed for the kernel build, relative to `kernels-gpu/`.
const LINKER_REL: &str = "target/ptx-linker/ptx-linker";
/// Code generation flags: Hopper, PTX ISA 8.1 (`mma.sync`, `ldmatrix`, `cp.async`, and 8.1's
/// vector `red.global.add.v4.f32`; the lent machine's driver accepts up to 9.0, the pinned
/// ptxas 12.9 up to 8.8). `wgmma`/`setmaxnreg` would need `sm_90a`.
const CODEGEN_FLAGS: &[&str] = &["-Ctarget-cpu=sm_90", "-Ctarget-feature=+ptx81"];

pub struct Args {
    pub check: bool,
}

pub fn main(args: Args) -> Result<()> {
    let root = util::repo_root();
    // Installed before the kernel build, so that a missing python3/pip fails at once.
    let ptxas_exe = nvtools::ensure(&nvtools::PTXAS)?;
    if args.check {
        return check(&root, &ptxas_exe);
    }
    let started = Instant::now();
    let target_dir = root.join(KERNEL_CRATE).join("target");
    let fresh = build(&root, &target_dir)?;
    let ptx_changed = write_if_changed(&root.join(COMMITTED_PTX), fresh.as_bytes())?;
    let names = entries(&fresh);
    let shown = if names.len() <= 6 {
        names.join(", ")
    } else {
        format!("{}, … {}", names[..3].join(", "), names[names.len() - 1])
    };
    println!(
        "ptx: {} {COMMITTED_PTX} ({}, {} entries: {shown})",
        if ptx_changed { "wrote" } else { "unchanged" },
        util::human_bytes(fresh.len() as u64),
        names.len(),
    );

    let t = Instant::now();
    let work = root.join("target").join("cubin");
    let (cubin, cached) = assemble_cached(&ptxas_exe, &fresh, &work)?;
    let cubin_changed = write_if_changed(&root.join(COMMITTED_CUBIN), &cubin)?;
    println!(
        "ptx: {} {COMMITTED_CUBIN} ({}, {}) in {:.1} s all told",
        if cubin_changed { "wrote" } else { "unchanged" },
        util::human_bytes(cubin.len() as u64),
        if cached {
            "PTX unchanged since the last assembly: ptxas not run".to_string()
        } else {
            format!("ptxas {:.1} s", t.elapsed().as_secs_f64())
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `--check`: a fresh build and a fresh assembly into `target/ptx-check`, compared with the
/// committed PTX and cubin; fails naming every stale file.
fn check(root: &Path, ptxas_exe: &Path) -> Result<()> {
    let started = Instant::now();
    let target_dir = root.join("target").join("ptx-check");
    let fresh = build(root, &target_dir)?;
    let t = Instant::now();
    let cubin = assemble(ptxas_exe, &fresh, &target_dir.join("cubin"))?;
    let ptxas_s = t.elapsed().as_secs_f64();

    let mut stale = Vec::new();
    match std::fs::read_to_string(root.join(COMMITTED_PTX)) {
        Ok(old) if old == fresh => {}
        Ok(old) => stale.push(format!(
            "{COMMITTED_PTX} is out of date with the kernel sources\n{}",
            util::first_difference(&old, &fresh)
        )),
        Err(e) => stale.push(format!("cannot read {COMMITTED_PTX}: {e}")),
    }
    match std::fs::read(root.join(COMMITTED_CUBIN)) {
        Ok(old) if old == cubin => {}
        Ok(old) => stale.push(format!(
            "{COMMITTED_CUBIN} is not ptxas's output for the fresh PTX ({})",
            util::first_byte_difference(&old, &cubin)
        )),
        Err(e) => stale.push(format!("cannot read {COMMITTED_CUBIN}: {e}")),
    }
    if !stale.is_empty() {
        bail!("{}\nrun `cargo xtask ptx` and commit {COMMITTED_PTX} and {COMMITTED_CUBIN}", stale.join("\n"));
    }
    println!(
        "ptx --check: {COMMITTED_PTX} ({} entries) and {COMMITTED_CUBIN} ({}) match a fresh build \
         and assembly (ptxas {ptxas_s:.1} s, {:.1} s all told)",
        entries(&fresh).len(),
        util::human_bytes(cubin.len() as u64),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes `bytes` to `path` unless it already holds them. Returns whether it wrote.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, bytes).context(|| format!("cannot write {}", rel(path)))?;
    Ok(true)
}

/// The file names inside a work folder: the same base name as the committed files.
const WORK_PTX: &str = "flashfftconv_sm90.ptx";
const WORK_CUBIN: &str = "flashfftconv_sm90.cubin";
/// Written after a finished assembly in a work folder: the ptxas and flags that made its cubin.
const WORK_STAMP: &str = "ptxas.stamp";

/// `ptxas -arch=sm_90 -O3` of `ptx` in `work` (which it empties of earlier results first).
/// Runs in `work` with relative names, prints what ptxas says (warnings), and returns the
/// cubin's bytes.
pub fn assemble(ptxas_exe: &Path, ptx: &str, work: &Path) -> Result<Vec<u8>> {
    std::fs::create_dir_all(work).context(|| format!("cannot create {}", work.display()))?;
    for stale in [WORK_STAMP, WORK_CUBIN] {
        let path = work.join(stale);
        if path.exists() {
            std::fs::remove_file(&path).context(|| format!("cannot remove {}", rel(&path)))?;
        }
    }
    std::fs::write(work.join(WORK_PTX), ptx).context(|| format!("cannot write {}", rel(&work.join(WORK_PTX))))?;
    let mut cmd = std::process::Command::new(ptxas_exe);
    cmd.current_dir(work)
        .arg(format!("-arch={}", ptxas::ARCH))
        .args(PTXAS_FLAGS)
        .arg(WORK_PTX)
        .arg("-o")
        .arg(WORK_CUBIN);
    let out = util::output(&mut cmd)?;
    for text in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(text);
        if !text.trim().is_empty() {
            eprintln!("{}", text.trim_end());
        }
    }
    let cubin_path = work.join(WORK_CUBIN);
    let cubin = std::fs::read(&cubin_path).context(|| format!("ptxas wrote no {}", rel(&cubin_path)))?;
    if !cubin.starts_with(b"\x7fELF") {
        bail!("{} is not an ELF file", rel(&cubin_path));
    }
    std::fs::write(work.join(WORK_STAMP), stamp(ptxas_exe)?)
        .context(|| format!("cannot write {}", rel(&work.join(WORK_STAMP))))?;
    Ok(cubin)
}

/// [`assemble`], unless `work` holds a finished assembly of the same PTX text by the same
/// ptxas with the same flags. Returns the cubin and whether it was reused.
fn assemble_cached(ptxas_exe: &Path, ptx: &str, work: &Path) -> Result<(Vec<u8>, bool)> {
    let same_stamp = std::fs::read_to_string(work.join(WORK_STAMP)).ok() == Some(stamp(ptxas_exe)?);
    let same_ptx = same_stamp && std::fs::read(work.join(WORK_PTX)).ok().as_deref() == Some(ptx.as_bytes());
    if same_ptx {
        if let Ok(cubin) = std::fs::read(work.join(WORK_CUBIN)) {
            return Ok((cubin, true));
        }
    }
    Ok((assemble(ptxas_exe, ptx, work)?, false))
}

/// What made a work folder's cubin: the ptxas binary (by its hash) and the options.
fn stamp(ptxas_exe: &Path) -> Result<String> {
    Ok(format!("ptxas {} -arch={} {}\n", file_hash(ptxas_exe)?, ptxas::ARCH, PTXAS_FLAGS.join(" ")))
}

/// The `.entry` names in a PTX text, in file order.
pub fn entries(ptx: &str) -> Vec<String> {
    ptx.lines().filter_map(entry_name).map(str::to_string).collect()
}

/// The kernel a PTX line declares (`.visible .entry foo(` → `foo`), if it declares one.
fn entry_name(line: &str) -> Option<&str> {
    let l = line.trim_start();
    let rest = l.strip_prefix(".visible .entry ").or_else(|| l.strip_prefix(".entry "))?;
    Some(rest.split(['(', ' ']).next()?.trim())
}

/// Builds the kernel crate into `target_dir` and returns the PTX text.
pub fn build(root: &Path, target_dir: &Path) -> Result<String> {
    check_toolchain(root)?;
    let kernel_dir = root.join(KERNEL_CRATE);
    let linker = install_linker(root)?;
    let llvm_tools = util::llvm_tools(&kernel_dir)?;
    relink_if_linker_changed(target_dir, &linker)?;

    let t = Instant::now();
    let mut flags: Vec<String> = CODEGEN_FLAGS.iter().map(|f| format!("{f:?}")).collect();
    flags.push(format!("\"-Clinker={LINKER_REL}\""));
    let rustflags = format!("target.{TARGET}.rustflags=[{}]", flags.join(", "));
    let mut cmd = util::cargo();
    cmd.current_dir(&kernel_dir)
        .args(["build", "--release", "--target", TARGET, "-Zbuild-std=core"])
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--config")
        .arg(rustflags)
        .env("FLASHFFTCONV_LLVM_TOOLS", &llvm_tools);
    if std::env::var_os("CI").is_some() {
        cmd.arg("--locked");
    }
    util::run(&mut cmd)
        .map_err(|e| util::Error(format!("{e}\n(the kernel crate failed to build or link; see the output above)")))?;
    write_stamp(target_dir, &linker)?;
    eprintln!("  kernel build: {:.1} s", t.elapsed().as_secs_f64());

    let artifact = target_dir.join(TARGET).join("release").join(ARTIFACT);
    let ptx = std::fs::read_to_string(&artifact)
        .context(|| format!("the build finished but {} is missing", artifact.display()))?;
    check_reproducible(root, &ptx)?;
    if entries(&ptx).is_empty() {
        bail!("{} holds no `.entry`: no kernel was exported", artifact.display());
    }
    entry_directives(&ptx, rules::MIN_BLOCKS_PER_SM, rules::CLUSTER_BLOCKS)
}

/// Adds `.maxntid threads, 1, 1` and `.minnctapersm blocks` to each entry named in `bounds`
/// (between its parameter list and its body): the PTX form of `__launch_bounds__`, which Rust
/// cannot express; and `.reqnctapercluster blocks, 1, 1` to each named in `clusters` (CUDA C's
/// `__cluster_dims__`: a plain launch then runs in clusters of that many blocks). A `*` in a
/// name stands for any run of characters (one `*` at most). Fails if a name matches no entry.
fn entry_directives(ptx: &str, bounds: &[(&str, u32, u32)], clusters: &[(&str, u32)]) -> Result<String> {
    let matches = |pattern: &str, name: &str| match pattern.split_once('*') {
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
        }
        None => name == pattern,
    };
    let rules: Vec<(&str, String)> = bounds
        .iter()
        .map(|&(name, threads, blocks)| (name, format!(".maxntid {threads}, 1, 1\n.minnctapersm {blocks}\n")))
        .chain(clusters.iter().map(|&(name, blocks)| (name, format!(".reqnctapercluster {blocks}, 1, 1\n"))))
        .collect();
    let mut out = String::with_capacity(ptx.len() + 64 * rules.len());
    let mut pending = String::new();
    let mut used = vec![false; rules.len()];
    for line in ptx.split_inclusive('\n') {
        if let Some(name) = entry_name(line) {
            pending.clear();
            let mut bound_by = None;
            for (i, (pattern, directives)) in rules.iter().enumerate() {
                if matches(pattern, name) {
                    if i < bounds.len() {
                        if let Some(first) = bound_by.replace(pattern) {
                            bail!("entry directives: {name} matches two occupancy bounds, {first:?} and {pattern:?}");
                        }
                    }
                    used[i] = true;
                    pending.push_str(directives);
                }
            }
        }
        if !pending.is_empty() && line.trim_start().starts_with('{') {
            out.push_str(&pending);
            pending.clear();
        }
        out.push_str(line);
    }
    let unused: Vec<&str> = rules.iter().zip(&used).filter(|(_, u)| !**u).map(|(r, _)| r.0).collect();
    if !unused.is_empty() {
        bail!("entry directives: no PTX entry matches {unused:?}");
    }
    Ok(out)
}

/// The committed PTX must be a function of the sources and the pinned toolchain only.
fn check_reproducible(root: &Path, ptx: &str) -> Result<()> {
    let mut forbidden = vec![root.display().to_string()];
    if let Some(home) = std::env::var_os("HOME") {
        forbidden.push(PathBuf::from(home).display().to_string());
    }
    for f in forbidden.iter().filter(|f| f.len() > 1) {
        if ptx.contains(f.as_str()) {
            bail!("the PTX contains the path {f}: it would differ between machines");
        }
    }
    Ok(())
}

/// Refuses a toolchain other than the pinned one (set through `RUSTUP_TOOLCHAIN`, e.g. by
/// `cargo +stable xtask …`): the committed PTX is only reproducible with the pinned compiler.
fn check_toolchain(root: &Path) -> Result<()> {
    let Ok(active) = std::env::var("RUSTUP_TOOLCHAIN") else {
        return Ok(());
    };
    let file = root.join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&file).context(|| format!("cannot read {}", file.display()))?;
    let pinned = text.lines().find_map(|l| {
        let v = l.trim().strip_prefix("channel")?.trim().strip_prefix('=')?.trim();
        Some(v.trim_matches('"').to_string())
    });
    if let Some(pinned) = pinned {
        if !active.starts_with(&pinned) {
            bail!(
                "RUSTUP_TOOLCHAIN={active} overrides the pinned toolchain {pinned} \
                 (rust-toolchain.toml); the PTX must be built with the pinned one"
            );
        }
    }
    Ok(())
}

/// Builds `ptx-linker` and copies it to `kernels-gpu/target/ptx-linker/ptx-linker` when it
/// changed. Returns the installed path.
fn install_linker(root: &Path) -> Result<PathBuf> {
    let mut cmd = util::cargo();
    cmd.current_dir(root).args(["build", "--quiet", "--release", "-p", "xtask", "--bin", "ptx-linker"]);
    util::run(&mut cmd)?;
    let built = root.join("target").join("release").join("ptx-linker");
    let installed = root.join(KERNEL_CRATE).join(LINKER_REL);
    let new = std::fs::read(&built).context(|| format!("cannot read {}", built.display()))?;
    if std::fs::read(&installed).ok().as_deref() != Some(new.as_slice()) {
        let dir = installed.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
        let tmp = installed.with_extension("tmp");
        std::fs::copy(&built, &tmp).context(|| format!("cannot copy the linker to {}", tmp.display()))?;
        std::fs::rename(&tmp, &installed).context(|| format!("cannot install {}", installed.display()))?;
    }
    Ok(installed)
}

fn file_hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).context(|| format!("cannot read {}", path.display()))?;
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    Ok(format!("{:016x}", h.finish()))
}

fn stamp_path(target_dir: &Path) -> PathBuf {
    target_dir.join("ptx-linker.stamp")
}

fn write_stamp(target_dir: &Path, linker: &Path) -> Result<()> {
    let stamp = stamp_path(target_dir);
    std::fs::write(&stamp, file_hash(linker)?).context(|| format!("cannot write {}", stamp.display()))
}

/// If `target_dir` was linked by another linker binary, drop the kernel crate's fingerprint
/// and output so that cargo runs rustc (and so the linker) again. Only the kernel crate
/// rebuilds; `core` and the other dependencies stay.
fn relink_if_linker_changed(target_dir: &Path, linker: &Path) -> Result<()> {
    let current = file_hash(linker)?;
    let stamp = std::fs::read_to_string(stamp_path(target_dir)).unwrap_or_default();
    if stamp.trim() == current {
        return Ok(());
    }
    let release = target_dir.join(TARGET).join("release");
    let fingerprints = release.join(".fingerprint");
    if let Ok(dir) = std::fs::read_dir(&fingerprints) {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&format!("{PACKAGE}-")) {
                std::fs::remove_dir_all(entry.path())
                    .context(|| format!("cannot remove {}", entry.path().display()))?;
            }
        }
    }
    for stale in [release.join(ARTIFACT), release.join("deps").join(ARTIFACT)] {
        if stale.exists() {
            std::fs::remove_file(&stale).context(|| format!("cannot remove {}", stale.display()))?;
        }
    }
    if !stamp.is_empty() {
        eprintln!("  ptx-linker changed since {} was built: relinking", rel(target_dir));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_launch_bounds() {
        let launch_bounds = |ptx: &str, bounds: &[(&str, u32, u32)]| entry_directives(ptx, bounds, &[]);
        let ptx = ".visible .entry a(\n.param .u64 p\n)\n{\nret;\n}\n.visible .entry b(\n)\n{\n}\n";
        let out = launch_bounds(ptx, &[("b", 256, 3)]).unwrap();
        assert_eq!(out, ".visible .entry a(\n.param .u64 p\n)\n{\nret;\n}\n.visible .entry b(\n)\n.maxntid 256, 1, 1\n.minnctapersm 3\n{\n}\n");
        assert!(launch_bounds(ptx, &[("c", 256, 3)]).is_err());
        let both = launch_bounds(ptx, &[("a*", 128, 2)]).unwrap();
        assert_eq!(both.matches(".minnctapersm 2").count(), 1);
        let inner = ".visible .entry k_n1_bf16(\n)\n{\n}\n.visible .entry k_n1_bf16_x(\n)\n{\n}\n";
        assert_eq!(launch_bounds(inner, &[("k_*_bf16", 64, 4)]).unwrap().matches(".minnctapersm 4").count(), 1);
        assert!(launch_bounds(inner, &[("k_n1_bf16_*_bf16", 64, 4)]).is_err(), "prefix and suffix may not overlap");
        assert!(launch_bounds(inner, &[("k_*_bf16", 64, 4), ("k_n1_*", 64, 2)]).is_err(), "two bounds for k_n1_bf16");
    }

    #[test]
    fn adds_cluster_dims_next_to_launch_bounds() {
        let ptx = ".visible .entry a(\n)\n{\n}\n.visible .entry b(\n)\n{\n}\n";
        let out = entry_directives(ptx, &[("b", 256, 2)], &[("b", 2)]).unwrap();
        assert_eq!(
            out,
            ".visible .entry a(\n)\n{\n}\n.visible .entry b(\n)\n.maxntid 256, 1, 1\n.minnctapersm 2\n.reqnctapercluster 2, 1, 1\n{\n}\n"
        );
        assert!(entry_directives(ptx, &[], &[("c", 2)]).is_err());
    }

    #[test]
    fn finds_entries() {
        let ptx = ".version 8.0\n.visible .entry a(\n.param .u64 p\n)\n.entry b(\n.visible .func c(\n";
        assert_eq!(entries(ptx), ["a", "b"]);
    }
}
