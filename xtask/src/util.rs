//! Shared plumbing: a readable error type, running commands so that a failure names the
//! command and shows its output, repository paths, and a clean environment for nested cargo.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// An error meant for a person: what failed and, where it helps, what to do.
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Err(Error(format!(…)))`.
#[macro_export]
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::util::Error(format!($($t)*))) };
}

/// Adds what was being done to an I/O (or other) error.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {e}", what())))
    }
}

/// The repository root (the directory above `xtask/`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Shows a path relative to the repository root when it lies inside it.
pub fn rel(path: &Path) -> String {
    let root = repo_root();
    path.strip_prefix(&root).unwrap_or(path).display().to_string()
}

/// A command line as a person would type it.
pub fn render(cmd: &Command) -> String {
    let mut s = String::new();
    if let Some(dir) = cmd.get_current_dir() {
        s.push_str(&format!("(cd {} && ", dir.display()));
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), quote(&v.to_string_lossy())));
        }
    }
    s.push_str(&quote(&cmd.get_program().to_string_lossy()));
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(&a.to_string_lossy()));
    }
    if cmd.get_current_dir().is_some() {
        s.push(')');
    }
    s
}

fn quote(a: &str) -> String {
    if a.contains('\x1f') {
        // CARGO_ENCODED_RUSTFLAGS separators, in a form bash reads back.
        let escaped = a.replace('\\', "\\\\").replace('\'', "\\'").replace('\x1f', "\\x1f");
        return format!("$'{escaped}'");
    }
    let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=+,:@%".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// Runs with inherited stdio; fails with the command line if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().context(|| format!("cannot start `{}`", render(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", render(cmd));
    }
    Ok(())
}

/// Runs capturing stdout and stderr; fails with the command line and both outputs.
pub fn output(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().context(|| format!("cannot start `{}`", render(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}{}",
            render(cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// `cargo`, with the variables that an outer `cargo run` (or a user's shell) sets and that
/// would change or break a nested build removed: compiler overrides and wrappers, flags, the
/// target dir, build-target and profile overrides, and the per-package variables cargo sets for
/// the running binary. `RUSTUP_TOOLCHAIN` is kept, so the nested cargo uses the same pinned
/// toolchain (the kernel crate also pins it through the root `rust-toolchain.toml`).
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let keep = ["CARGO_HOME", "CARGO_TERM_", "CARGO_NET_", "CARGO_HTTP_", "CARGO_REGISTRIES_", "CARGO_REGISTRY_"]
            .iter()
            .any(|p| key.starts_with(p));
        let drop = (key.starts_with("CARGO_") && !keep)
            || matches!(
                key,
                "RUSTC"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTDOC"
                    | "RUSTFLAGS"
                    | "RUSTDOCFLAGS"
                    | "RUSTC_BOOTSTRAP"
                    | "__CARGO_FIX_PLZ"
            );
        if drop {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The sysroot of the pinned toolchain, as `rustc` run in `dir` reports it.
pub fn sysroot(dir: &Path) -> Result<PathBuf> {
    let mut cmd = Command::new("rustc");
    cmd.args(["--print", "sysroot"]).current_dir(dir).env_remove("RUSTC");
    let out = output(&mut cmd)?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The `llvm-tools` binaries directory of the toolchain used in `dir`.
pub fn llvm_tools(dir: &Path) -> Result<PathBuf> {
    let sysroot = sysroot(dir)?;
    let rustlib = sysroot.join("lib").join("rustlib");
    let host = host_triple()?;
    let bin = rustlib.join(host).join("bin");
    if !bin.join("llc").is_file() {
        bail!(
            "no llc in {}: install the `llvm-tools` component (`rustup component add llvm-tools`; \
             rust-toolchain.toml lists it)",
            bin.display()
        );
    }
    Ok(bin)
}

fn host_triple() -> Result<String> {
    let out = output(Command::new("rustc").arg("-vV"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| Error("`rustc -vV` printed no host line".into()))
}

/// First differing line between two texts, for "out of date" messages.
pub fn first_difference(committed: &str, fresh: &str) -> String {
    let (mut a, mut b) = (committed.lines(), fresh.lines());
    let mut n = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (None, None) => return "the texts differ only in line endings or trailing newline".into(),
            (x, y) => {
                return format!(
                    "first difference at line {n}:\n  committed: {}\n  fresh:     {}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                )
            }
        }
    }
}

/// Where two byte strings first differ, for "out of date" messages about binary files.
pub fn first_byte_difference(committed: &[u8], fresh: &[u8]) -> String {
    let sizes = format!("committed {} bytes, fresh {} bytes", committed.len(), fresh.len());
    match committed.iter().zip(fresh).position(|(a, b)| a != b) {
        Some(at) => format!("{sizes}; first difference at byte {at}"),
        None if committed.len() == fresh.len() => format!("{sizes}; identical"),
        None => format!("{sizes}; one is a prefix of the other up to byte {}", committed.len().min(fresh.len())),
    }
}

/// Human-readable byte count.
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_the_line() {
        let d = first_difference("a\nb\nc\n", "a\nx\nc\n");
        assert!(d.contains("line 2") && d.contains("committed: b") && d.contains("fresh:     x"), "{d}");
        let d = first_difference("a\n", "a\nb\n");
        assert!(d.contains("line 2") && d.contains("<end of file>"), "{d}");
    }

    #[test]
    fn first_byte_difference_names_the_offset() {
        let d = first_byte_difference(b"abcd", b"abxd");
        assert!(d.contains("byte 2") && d.contains("committed 4 bytes"), "{d}");
        let d = first_byte_difference(b"ab", b"abc");
        assert!(d.contains("prefix") && d.contains("byte 2"), "{d}");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("-arch=sm_90"), "-arch=sm_90");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("-Ca\x1f-Cb"), r"$'-Ca\x1f-Cb'");
    }
}
