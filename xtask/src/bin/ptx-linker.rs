//! `ptx-linker`: the linker rustc calls when it builds `kernels-gpu` for `nvptx64-nvidia-cuda`.
//!
//! Why it exists: the target's default linker, `llvm-bitcode-linker`, cannot be installed with
//! rustup here, and without a linker rustc cannot turn the crate into PTX. `cargo xtask ptx`
//! passes `-C linker=<this tool>`. rustc then calls it like
//!
//! ```text
//! ptx-linker --export-symbol smoke_add_one … <crate>.rcgu.o libcompiler_builtins-….rlib
//!            -L <dir> … --target nvptx64-nvidia-cuda --target-cpu sm_90
//!            --target-feature=+ptx70,…,+ptx80 -o <crate>.ptx -O3 --debug
//! ```
//!
//! With `lto = "fat"` the `.o` is LLVM bitcode holding the whole crate graph except
//! `compiler_builtins`, whose rlib also holds bitcode. The tool:
//!
//! 1. `llvm-link --ignore-non-bitcode` every bitcode input and archive (non-bitcode archive
//!    members such as `lib.rmeta` are skipped; a non-bitcode top-level input is a warning);
//! 2. `opt -passes=internalize,globaldce --internalize-public-api-file=<exports>
//!    --strip-debug`: only the `--export-symbol` names (the kernels) stay visible, everything
//!    unused (most of `compiler_builtins`) is dropped, and debug info (which would put file paths
//!    into the PTX) is removed;
//! 3. `llc -O3 -mtriple=nvptx64-nvidia-cuda -mcpu=<--target-cpu> -mattr=<--target-feature>`
//!    writes the PTX at `-o`;
//! 4. checks the PTX: every exported symbol is defined and visible, no unresolved `.extern .func`
//!    is left (besides the few the CUDA driver provides), and there are no `.file` directives.
//!
//! The LLVM tools come from `$FLASHFFTCONV_LLVM_TOOLS` (set by `cargo xtask ptx`) or else from
//! the `llvm-tools` component of the toolchain that `rustc --print sysroot` names. Intermediate
//! files sit next to the output (`<out>.linked.bc`, `<out>.internalized.bc`, `<out>.exports`)
//! so a failing step can be rerun by hand. Any failure exits non-zero with the failing command
//! and its stderr. Only `std` is used.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Environment variable naming the directory that holds `llvm-link`, `opt` and `llc`.
const LLVM_TOOLS_ENV: &str = "FLASHFFTCONV_LLVM_TOOLS";
/// The only target this linker knows.
const TARGET: &str = "nvptx64-nvidia-cuda";
/// External functions that the CUDA driver resolves itself when it loads a module.
const DRIVER_PROVIDED: &[&str] = &["vprintf", "malloc", "free", "__assertfail"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ptx-linker: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What rustc asked for.
#[derive(Debug, Default)]
struct Request {
    exports: Vec<String>,
    inputs: Vec<PathBuf>,
    out: Option<PathBuf>,
    target_cpu: Option<String>,
    features: Vec<String>,
    opt_level: Option<String>,
}

fn run() -> Result<(), String> {
    let args = expand_response_files(std::env::args_os().skip(1).collect())?;
    let req = parse(args)?;
    let out = req.out.clone().ok_or("no output given (-o)")?;
    if req.exports.is_empty() {
        return Err("no --export-symbol given: a kernel crate must export at least one kernel \
                    (`#[unsafe(no_mangle)] pub unsafe extern \"ptx-kernel\" fn …`)"
            .into());
    }
    let tools = llvm_tools_dir()?;

    // Sort inputs: bitcode and archives go to llvm-link, anything else is skipped.
    let mut link_inputs = Vec::new();
    for input in &req.inputs {
        match file_kind(input)? {
            Kind::Bitcode | Kind::Archive => link_inputs.push(input.clone()),
            Kind::Other => {
                eprintln!("ptx-linker: warning: ignoring non-bitcode input {}", input.display())
            }
        }
    }
    if link_inputs.is_empty() {
        return Err("no LLVM bitcode among the inputs (is `lto = \"fat\"` set for the kernel \
                    crate's release profile?)"
            .into());
    }

    let linked = with_suffix(&out, ".linked.bc");
    let internalized = with_suffix(&out, ".internalized.bc");
    let exports_file = with_suffix(&out, ".exports");

    // 1. One module.
    let mut cmd = Command::new(tools.join("llvm-link"));
    cmd.arg("--ignore-non-bitcode").arg("-o").arg(&linked).args(&link_inputs);
    run_tool(&mut cmd)?;

    // 2. Keep only the kernels visible; drop the rest; no debug info.
    let mut list = String::new();
    for name in &req.exports {
        let _ = writeln!(list, "{name}");
    }
    std::fs::write(&exports_file, list).map_err(|e| format!("cannot write {}: {e}", exports_file.display()))?;
    let mut cmd = Command::new(tools.join("opt"));
    cmd.arg("--passes=internalize,globaldce")
        .arg(format!("--internalize-public-api-file={}", exports_file.display()))
        .arg("--strip-debug")
        .arg("-o")
        .arg(&internalized)
        .arg(&linked);
    run_tool(&mut cmd)?;

    // 3. PTX.
    let mut cmd = Command::new(tools.join("llc"));
    cmd.arg(req.opt_level.as_deref().unwrap_or("-O3"))
        .arg(format!("-mtriple={TARGET}"))
        .arg(format!("-mcpu={}", req.target_cpu.as_deref().unwrap_or("sm_90")));
    let features = if req.features.is_empty() { "+ptx81".to_string() } else { req.features.join(",") };
    cmd.arg(format!("-mattr={features}")).arg("-o").arg(&out).arg(&internalized);
    run_tool(&mut cmd)?;

    // 4. Look at what came out.
    let ptx = std::fs::read_to_string(&out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    check_ptx(&ptx, &req.exports).map_err(|e| format!("{e} (in {})", out.display()))
}

/// Fails on PTX that would load badly or is not reproducible.
fn check_ptx(ptx: &str, exports: &[String]) -> Result<(), String> {
    let mut missing = Vec::new();
    for name in exports {
        let defined = ptx.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with(".visible") && symbol_of(l) == Some(name.as_str())
        });
        if !defined {
            missing.push(name.as_str());
        }
    }
    if !missing.is_empty() {
        return Err(format!("exported symbols missing from the PTX: {}", missing.join(", ")));
    }
    let unresolved: Vec<&str> = ptx
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with(".extern .func"))
        .filter_map(symbol_of)
        .filter(|s| !DRIVER_PROVIDED.contains(s))
        .collect();
    if !unresolved.is_empty() {
        return Err(format!(
            "unresolved external functions (a libcall LLVM could not lower, or a missing \
             definition): {}",
            unresolved.join(", ")
        ));
    }
    if ptx.lines().any(|l| l.trim_start().starts_with(".file")) {
        return Err("the PTX holds `.file` directives (debug info with paths): not reproducible".into());
    }
    Ok(())
}

/// The symbol a PTX declaration line names: `.visible .entry foo(` → `foo`,
/// `.extern .func (.param .b32 func_retval0) bar` → `bar`, `.visible .global .b32 x[4];` → `x`.
fn symbol_of(line: &str) -> Option<&str> {
    let line = line.trim();
    if let Some(open) = line.find('(') {
        // `.func (.param .b32 func_retval0) name(`: the name follows the return-value list.
        if line[..open].trim_end().ends_with(".func") {
            if let Some(close) = line[open..].find(')') {
                let after = &line[open + close + 1..];
                return after.split(['(', ';']).next()?.split_whitespace().next();
            }
        }
    }
    line.split(['(', '[', '=', ';']).next()?.split_whitespace().last()
}

fn parse(args: Vec<String>) -> Result<Request, String> {
    let mut req = Request::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--export-symbol" => req.exports.push(value("--export-symbol")?),
            "-o" => req.out = Some(PathBuf::from(value("-o")?)),
            "-L" => drop(value("-L")?),
            "--target" => check_target(&value("--target")?)?,
            "--target-cpu" => req.target_cpu = Some(value("--target-cpu")?),
            "--target-feature" => req.features.push(value("--target-feature")?),
            "-l" => return Err(format!("native library -l {} cannot be linked into PTX", value("-l")?)),
            // NVPTX debug info is stripped anyway (it would put paths into the PTX).
            "--debug" => {}
            "-O0" | "-O1" | "-O2" | "-O3" => req.opt_level = Some(arg),
            "-Os" | "-Oz" => req.opt_level = Some("-O2".into()),
            _ => {
                if let Some(v) = arg.strip_prefix("--export-symbol=") {
                    req.exports.push(v.into());
                } else if let Some(v) = arg.strip_prefix("--target-feature=") {
                    req.features.push(v.into());
                } else if let Some(v) = arg.strip_prefix("--target-cpu=") {
                    req.target_cpu = Some(v.into());
                } else if let Some(v) = arg.strip_prefix("--target=") {
                    check_target(v)?;
                } else if arg.starts_with("-L") {
                } else if let Some(l) = arg.strip_prefix("-l") {
                    return Err(format!("native library -l{l} cannot be linked into PTX"));
                } else if arg.starts_with('-') {
                    return Err(format!("unknown argument {arg:?} (rustc changed its linker call?)"));
                } else {
                    req.inputs.push(PathBuf::from(arg));
                }
            }
        }
    }
    req.features.retain(|f| !f.is_empty());
    Ok(req)
}

fn check_target(t: &str) -> Result<(), String> {
    if t == TARGET {
        Ok(())
    } else {
        Err(format!("this linker only links {TARGET}, not {t}"))
    }
}

/// rustc passes `@file` when a command line gets long: one argument per line, with `\`
/// escaping backslashes and spaces (its GNU-style escaping).
fn expand_response_files(args: Vec<OsString>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for arg in args {
        let arg = arg.into_string().map_err(|a| format!("argument is not UTF-8: {a:?}"))?;
        if let Some(path) = arg.strip_prefix('@') {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read response file {path}: {e}"))?;
            for line in text.lines() {
                let mut s = String::with_capacity(line.len());
                let mut chars = line.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                    } else {
                        s.push(c);
                    }
                }
                out.push(s);
            }
        } else {
            out.push(arg);
        }
    }
    Ok(out)
}

enum Kind {
    Bitcode,
    Archive,
    Other,
}

fn file_kind(path: &Path) -> Result<Kind, String> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open input {}: {e}", path.display()))?;
    let n = f.read(&mut head).map_err(|e| format!("cannot read input {}: {e}", path.display()))?;
    let head = &head[..n];
    Ok(if head.starts_with(b"BC\xC0\xDE") || head.starts_with(&[0xDE, 0xC0, 0x17, 0x0B]) {
        Kind::Bitcode
    } else if head.starts_with(b"!<arch>\n") {
        Kind::Archive
    } else {
        Kind::Other
    })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Where `llvm-link`, `opt` and `llc` live.
fn llvm_tools_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(LLVM_TOOLS_ENV) {
        let dir = PathBuf::from(dir);
        return if dir.join("llc").is_file() {
            Ok(dir)
        } else {
            Err(format!("${LLVM_TOOLS_ENV}={} holds no llc", dir.display()))
        };
    }
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run `rustc --print sysroot`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`rustc --print sysroot` failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let rustlib = sysroot.join("lib").join("rustlib");
    let entries = std::fs::read_dir(&rustlib).map_err(|e| format!("cannot list {}: {e}", rustlib.display()))?;
    for entry in entries.flatten() {
        let bin = entry.path().join("bin");
        if bin.join("llc").is_file() && bin.join("opt").is_file() && bin.join("llvm-link").is_file() {
            return Ok(bin);
        }
    }
    Err(format!(
        "no llc/opt/llvm-link under {}/*/bin: install the `llvm-tools` component \
         (rust-toolchain.toml lists it)",
        rustlib.display()
    ))
}

/// Runs one LLVM tool; on failure, the error names the command and carries its output.
fn run_tool(cmd: &mut Command) -> Result<(), String> {
    let shown = render(cmd);
    let out = cmd.output().map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if out.status.success() {
        // Tools' warnings still reach the user.
        let err = String::from_utf8_lossy(&out.stderr);
        if !err.trim().is_empty() {
            eprint!("{err}");
        }
        return Ok(());
    }
    Err(format!(
        "`{shown}` failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn render(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains([' ', '\'', '"']) {
            let _ = write!(s, " '{}'", a.replace('\'', r"'\''"));
        } else {
            let _ = write!(s, " {a}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_of_ptx_declarations() {
        assert_eq!(symbol_of(".visible .entry smoke_add_one("), Some("smoke_add_one"));
        assert_eq!(symbol_of(".visible .func  (.param .b32 func_retval0) foo("), Some("foo"));
        assert_eq!(symbol_of(".visible .func bar("), Some("bar"));
        assert_eq!(symbol_of(".extern .func  (.param .b32 func_retval0) vprintf"), Some("vprintf"));
        assert_eq!(symbol_of(".extern .func __assertfail"), Some("__assertfail"));
        assert_eq!(symbol_of(".visible .global .align 4 .b32 table[4] = {1, 2};"), Some("table"));
    }

    #[test]
    fn ptx_checks() {
        let ptx = ".version 8.0\n.visible .entry k(\n)\n{\n}\n";
        assert!(check_ptx(ptx, &["k".into()]).is_ok());
        assert!(check_ptx(ptx, &["other".into()]).unwrap_err().contains("other"));
        let ext = format!("{ptx}.extern .func (.param .b32 r) __udivti3\n(\n);\n");
        assert!(check_ptx(&ext, &["k".into()]).unwrap_err().contains("__udivti3"));
        let printf = format!("{ptx}.extern .func  (.param .b32 func_retval0) vprintf\n");
        assert!(check_ptx(&printf, &["k".into()]).is_ok());
        assert!(check_ptx(&format!("{ptx}\t.file\t1 \"/src/lib.rs\"\n"), &["k".into()]).is_err());
    }

    #[test]
    fn parses_rustc_call() {
        let args = "--export-symbol a --export-symbol=b x.o liby.rlib -L /d -L/e --target \
                    nvptx64-nvidia-cuda --target-cpu sm_90 --target-feature=+ptx78,+ptx80 -o \
                    out.ptx -O3 --debug";
        let req = parse(args.split_whitespace().map(String::from).collect()).unwrap();
        assert_eq!(req.exports, ["a", "b"]);
        assert_eq!(req.inputs, [PathBuf::from("x.o"), PathBuf::from("liby.rlib")]);
        assert_eq!(req.out, Some(PathBuf::from("out.ptx")));
        assert_eq!(req.target_cpu.as_deref(), Some("sm_90"));
        assert_eq!(req.features, ["+ptx78,+ptx80"]);
        assert!(parse(vec!["--target".into(), "x86_64-unknown-linux-gnu".into()]).is_err());
        assert!(parse(vec!["--frobnicate".into()]).is_err());
        assert!(parse(vec!["-lm".into()]).is_err());
    }

    #[test]
    fn response_file_unescapes() {
        let dir = std::env::temp_dir().join(format!("ptx-linker-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rsp = dir.join("args");
        std::fs::write(&rsp, "-o\na\\ b.ptx\nc\\\\d.o\n").unwrap();
        let args = expand_response_files(vec![format!("@{}", rsp.display()).into()]).unwrap();
        assert_eq!(args, ["-o", "a b.ptx", "c\\d.o"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
