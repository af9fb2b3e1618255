//! `cargo xtask ptxas [--check]`: assembles the committed PTX with `ptxas -v` and keeps a
//! committed per-kernel resource report.
//!
//! Why: LLVM's PTX says nothing about what the hardware will get. `ptxas` decides registers,
//! spills and stack, and those decide occupancy and whether an inner loop goes through local
//! memory. Committing the report (`crates/flashfftconv/ptx/resources.md`) makes every change
//! in them show up in review, and the hot-kernel rule (`rules.rs`) fails the build when a hot
//! kernel spills or keeps a stack frame. It also proves that `ptxas` accepts the PTX at all,
//! which is otherwise only found out on the GPU machine.
//!
//! `--check` (CI) writes nothing and fails if the fresh report differs from the committed one.
//! Without it the report is rewritten (even when a rule fails, so it can be read).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::util::{self, Context, Result};
use crate::{bail, nvtools, ptx, rules};

/// The committed report, relative to the repository root.
pub const REPORT: &str = "crates/flashfftconv/ptx/resources.md";
/// The architecture the report is for.
pub const ARCH: &str = "sm_90";

pub struct Args {
    pub check: bool,
}

/// What `ptxas -v` says about one function.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    pub entry: bool,
    pub registers: u64,
    pub barriers: u64,
    /// Static shared memory.
    pub smem: u64,
    pub stack_frame: u64,
    /// Stack including the callees.
    pub cumulative_stack: u64,
    pub spill_stores: u64,
    pub spill_loads: u64,
    /// (bank, bytes).
    pub cmem: Vec<(u32, u64)>,
    /// Parts of the `Used …` line this parser does not know, kept verbatim.
    pub other: Vec<String>,
}

impl Usage {
    /// Why this kernel breaks the hot-kernel rule, if it does: any spill or stack frame other
    /// than exactly the `allowed` (stack frame, spill stores, spill loads) of
    /// [`rules::measured_spill`].
    pub fn hot_violation(&self, allowed: Option<(u64, u64, u64)>) -> Option<String> {
        let found = (self.stack_frame, self.spill_stores, self.spill_loads);
        if allowed.is_some_and(|a| a == found && self.cumulative_stack == self.stack_frame) {
            return None;
        }
        let mut v = Vec::new();
        if let Some((frame, st, ld)) = allowed {
            v.push(format!("not the measured spill it is allowed ({frame} B frame, {st} B stores, {ld} B loads)"));
        }
        if self.spill_stores > 0 || self.spill_loads > 0 {
            v.push(format!("spills ({} B stores, {} B loads)", self.spill_stores, self.spill_loads));
        }
        if self.stack_frame > 0 || self.cumulative_stack > 0 {
            v.push(format!("stack ({} B frame, {} B with callees)", self.stack_frame, self.cumulative_stack));
        }
        (!v.is_empty()).then(|| v.join(", "))
    }
}

/// Parsed `ptxas -v` output.
#[derive(Debug, Default)]
pub struct Report {
    pub functions: BTreeMap<String, Usage>,
    pub warnings: Vec<String>,
}

pub fn main(args: Args) -> Result<()> {
    let root = util::repo_root();
    let ptxas = nvtools::ensure(&nvtools::PTXAS)?;
    let version = nvtools::version(&ptxas)?;
    let ptx_path = root.join(ptx::COMMITTED_PTX);
    let ptx_text = std::fs::read_to_string(&ptx_path)
        .context(|| format!("cannot read {} (run `cargo xtask ptx`)", ptx::COMMITTED_PTX))?;
    let cubin_dir = root.join("target").join("ptxas");
    let log = assemble(&ptxas, &ptx_path, &cubin_dir.join("flashfftconv_sm90.cubin"))?;
    let report = parse(&log);

    // The parser must have seen every kernel of the PTX.
    let expected = ptx::entries(&ptx_text);
    let seen: Vec<&String> = report.functions.iter().filter(|(_, u)| u.entry).map(|(n, _)| n).collect();
    let missing: Vec<&String> = expected.iter().filter(|n| !seen.contains(n)).collect();
    if !missing.is_empty() {
        bail!("ptxas -v said nothing about {missing:?}; its output format changed?\n{log}");
    }

    let ptx_name = ptx_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let markdown = render(&report, &ptx_name, &version);
    let report_path = root.join(REPORT);
    let mut failures = Vec::new();
    if args.check {
        let old = std::fs::read_to_string(&report_path).unwrap_or_default();
        if old != markdown {
            failures.push(format!(
                "{REPORT} is out of date: run `cargo xtask ptxas` and commit it\n{}",
                util::first_difference(&old, &markdown)
            ));
        }
    } else {
        let old = std::fs::read_to_string(&report_path).ok();
        if old.as_deref() != Some(markdown.as_str()) {
            std::fs::write(&report_path, &markdown).context(|| format!("cannot write {REPORT}"))?;
            println!("ptxas: wrote {REPORT}");
        } else {
            println!("ptxas: {REPORT} unchanged");
        }
    }
    print_summary(&report);

    let hot: Vec<String> = report
        .functions
        .iter()
        .filter(|(n, u)| u.entry && rules::is_hot(n))
        .filter_map(|(n, u)| u.hot_violation(rules::measured_spill(n)).map(|why| format!("hot kernel {n} has {why}")))
        .collect();
    if !hot.is_empty() {
        failures.push(format!(
            "{}\n(hot kernels are {}: they must not spill or use a stack frame; see \
             xtask/src/rules.rs)",
            hot.join("\n"),
            rules::describe(rules::HOT_PREFIXES)
        ));
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    println!("ptxas {version}: {} kernels assembled for {ARCH}; hot kernels have no spills or stack beyond rules::MEASURED_SPILLS", expected.len());
    Ok(())
}

/// Runs `ptxas -arch=sm_90 -v` (in the PTX's directory, so that messages carry no absolute
/// path) and returns its combined output.
pub fn assemble(ptxas: &Path, ptx: &Path, cubin: &Path) -> Result<String> {
    if let Some(dir) = cubin.parent() {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    let (dir, name) = match (ptx.parent(), ptx.file_name()) {
        (Some(d), Some(n)) => (d, n),
        _ => bail!("not a file path: {}", ptx.display()),
    };
    let mut cmd = Command::new(ptxas);
    cmd.current_dir(dir).arg(format!("-arch={ARCH}")).arg("-v").arg(name).arg("-o").arg(cubin);
    let out = util::output(&mut cmd)?;
    Ok(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Reads `ptxas -v` output (CUDA 12.x format).
pub fn parse(log: &str) -> Report {
    let mut report = Report::default();
    let mut entry: Option<String> = None;
    let mut props_for: Option<String> = None;
    for line in log.lines() {
        if line.contains("warning") {
            report.warnings.push(line.trim().to_string());
            continue;
        }
        let body = line.split_once(" : ").map(|(_, b)| b.trim()).unwrap_or(line.trim());
        if let Some(rest) = body.strip_prefix("Compiling entry function '") {
            let name = rest.split('\'').next().unwrap_or(rest).to_string();
            report.functions.entry(name.clone()).or_default().entry = true;
            entry = Some(name);
        } else if let Some(name) = body.strip_prefix("Function properties for ") {
            let name = name.trim().to_string();
            report.functions.entry(name.clone()).or_default();
            props_for = Some(name);
        } else if body.contains("bytes stack frame") {
            if let Some(u) = props_for.take().and_then(|n| report.functions.get_mut(&n)) {
                for part in body.split(", ") {
                    let n = leading_number(part);
                    if part.ends_with("stack frame") {
                        u.stack_frame = n;
                    } else if part.ends_with("spill stores") {
                        u.spill_stores = n;
                    } else if part.ends_with("spill loads") {
                        u.spill_loads = n;
                    }
                }
            }
        } else if let Some(rest) = body.strip_prefix("Used ") {
            if let Some(u) = entry.as_ref().and_then(|n| report.functions.get_mut(n)) {
                parse_used(rest, u);
            }
        }
    }
    report
}

fn parse_used(rest: &str, u: &mut Usage) {
    for part in rest.split(", ").map(str::trim) {
        let part_no_used = part.strip_prefix("used ").unwrap_or(part);
        let n = leading_number(part_no_used);
        if part_no_used.ends_with(" registers") {
            u.registers = n;
        } else if part_no_used.ends_with(" barriers") {
            u.barriers = n;
        } else if part.ends_with(" bytes smem") {
            u.smem = n;
        } else if part.ends_with(" bytes cumulative stack size") {
            u.cumulative_stack = n;
        } else if let Some(bank) = part.split_once("bytes cmem[").map(|(_, b)| b.trim_end_matches(']')) {
            u.cmem.push((bank.parse().unwrap_or(u32::MAX), n));
        } else {
            u.other.push(part.to_string());
        }
    }
}

fn leading_number(s: &str) -> u64 {
    s.split_whitespace().next().and_then(|w| w.parse().ok()).unwrap_or(0)
}

/// The committed markdown. Only deterministic facts: no times, no paths.
pub fn render(report: &Report, ptx_name: &str, version: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# ptxas resource report: `{ptx_name}`\n");
    let _ = writeln!(
        s,
        "Generated by `cargo xtask ptxas` with ptxas {version} (`-arch={ARCH} -v`, default `-O3`); \
         do not edit. CI runs `cargo xtask ptxas --check`, which fails when this file is stale or \
         when a hot kernel ({}, see `xtask/src/rules.rs`) spills or has a stack frame, other than \
         exactly the measured spills that `MEASURED_SPILLS` there allows.\n",
        rules::describe(rules::HOT_PREFIXES)
    );
    let _ = writeln!(
        s,
        "Sizes in bytes. `smem` is static shared memory only (dynamic shared memory is sized at \
         launch). `stack` is the kernel's own frame, `stack+callees` includes the device \
         functions it calls. `cmem` lists constant banks as `bank:bytes` where ptxas reports them.\n"
    );
    let _ = writeln!(
        s,
        "| kernel | hot | registers | barriers | smem | stack | stack+callees | spill stores | spill loads | cmem |"
    );
    let _ = writeln!(s, "|---|:-:|--:|--:|--:|--:|--:|--:|--:|---|");
    for (name, u) in report.functions.iter().filter(|(_, u)| u.entry) {
        let hot = if rules::is_hot(name) { "yes" } else { "" };
        let mut cmem = u.cmem.iter().map(|(b, n)| format!("{b}:{n}")).collect::<Vec<_>>();
        cmem.extend(u.other.iter().cloned());
        let cmem = if cmem.is_empty() { "—".to_string() } else { cmem.join(" ") };
        let _ = writeln!(
            s,
            "| `{name}` | {hot} | {} | {} | {} | {} | {} | {} | {} | {cmem} |",
            u.registers, u.barriers, u.smem, u.stack_frame, u.cumulative_stack, u.spill_stores, u.spill_loads
        );
    }
    let funcs: Vec<_> = report.functions.iter().filter(|(_, u)| !u.entry).collect();
    if !funcs.is_empty() {
        let _ = writeln!(s, "\n## Device functions (`.func`)\n");
        let _ = writeln!(s, "| function | stack | spill stores | spill loads |");
        let _ = writeln!(s, "|---|--:|--:|--:|");
        for (name, u) in funcs {
            let _ = writeln!(s, "| `{name}` | {} | {} | {} |", u.stack_frame, u.spill_stores, u.spill_loads);
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(s, "\n## ptxas warnings\n");
        for w in &report.warnings {
            let _ = writeln!(s, "- `{w}`");
        }
    }
    s
}

fn print_summary(report: &Report) {
    for (name, u) in report.functions.iter().filter(|(_, u)| u.entry) {
        println!(
            "  {name}: {} regs, {} B smem, {} B stack, {}/{} B spill st/ld{}",
            u.registers,
            u.smem,
            u.stack_frame,
            u.spill_stores,
            u.spill_loads,
            if rules::is_hot(name) { " [hot]" } else { "" }
        );
    }
    for w in &report.warnings {
        println!("  {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'conv1d_fwd' for 'sm_90'
ptxas info    : Function properties for conv1d_fwd
    64 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 12 registers, used 1 barriers, 64 bytes cumulative stack size, 1024 bytes smem, 368 bytes cmem[0], 8 bytes cmem[2]
ptxas info    : Compile time = 2.750 ms
ptxas info    : Function properties for helper
    16 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Compiling entry function 'smoke_add_one' for 'sm_90'
ptxas info    : Function properties for smoke_add_one
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers, used 0 barriers
";

    #[test]
    fn parses_ptxas_v() {
        let r = parse(LOG);
        let k = &r.functions["conv1d_fwd"];
        assert!(k.entry);
        assert_eq!((k.registers, k.barriers, k.smem), (12, 1, 1024));
        assert_eq!((k.stack_frame, k.cumulative_stack, k.spill_stores, k.spill_loads), (64, 64, 8, 4));
        assert_eq!(k.cmem, [(0, 368), (2, 8)]);
        assert!(k.hot_violation(None).is_some());
        // Only exactly the measured spill is allowed.
        assert!(k.hot_violation(Some((64, 8, 4))).is_none());
        assert!(k.hot_violation(Some((64, 8, 0))).is_some_and(|why| why.contains("not the measured spill")));
        let h = &r.functions["helper"];
        assert!(!h.entry);
        assert_eq!(h.stack_frame, 16);
        let s = &r.functions["smoke_add_one"];
        assert_eq!((s.registers, s.barriers, s.stack_frame), (10, 0, 0));
        assert!(s.hot_violation(None).is_none());
        assert!(s.hot_violation(Some((8, 4, 4))).is_some());
    }

    #[test]
    fn report_is_sorted_and_deterministic() {
        let r = parse(LOG);
        let md = render(&r, "k.ptx", "12.9.86");
        assert_eq!(md, render(&parse(LOG), "k.ptx", "12.9.86"));
        let a = md.find("`conv1d_fwd`").unwrap();
        let b = md.find("`smoke_add_one`").unwrap();
        assert!(a < b);
        assert!(md.contains("| `conv1d_fwd` | yes | 12 | 1 | 1024 | 64 | 64 | 8 | 4 | 0:368 2:8 |"), "{md}");
        assert!(md.contains("| `helper` | 16 | 0 | 0 |"));
        assert!(!md.contains("Compile time"));
    }
}
