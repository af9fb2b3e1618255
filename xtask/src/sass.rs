//! `cargo xtask sass-check`: assembles the committed PTX, disassembles the cubin and checks
//! that the FFT-conv kernels use tensor cores.
//!
//! Why: `mma.sync` in the PTX is not proof of tensor-core SASS, and a refactor can quietly
//! turn a tensor-core kernel back into FMA loops while every test still passes. `HMMA` in a
//! kernel's SASS is the proof. The rule (`rules::needs_tensor_cores`: names starting with
//! `fftconv_`) is checked per kernel section; an `HMMA` inside a separate device function
//! that ptxas did not inline would not count for its caller (with fat LTO and `#[inline]`
//! bodies that does not happen today).

use std::collections::BTreeMap;
use std::process::Command;

use crate::util::{self, Context, Result};
use crate::{bail, nvtools, ptx, ptxas, rules};

/// SASS opcodes worth counting per kernel (first word of the instruction, before any `.`).
const OPCODES: &[&str] = &["HMMA", "LDSM", "HGMMA", "LDGSTS"];

#[derive(Debug, Default)]
pub struct Sass {
    pub entry: bool,
    pub counts: BTreeMap<&'static str, usize>,
}

pub fn main() -> Result<()> {
    let root = util::repo_root();
    let ptxas_exe = nvtools::ensure(&nvtools::PTXAS)?;
    let nvdisasm = nvtools::ensure(&nvtools::NVDISASM)?;
    let ptx_path = root.join(ptx::COMMITTED_PTX);
    if !ptx_path.is_file() {
        bail!("{} is missing (run `cargo xtask ptx`)", ptx::COMMITTED_PTX);
    }
    let cubin = root.join("target").join("sass-check").join("flashfftconv_sm90.cubin");
    ptxas::assemble(&ptxas_exe, &ptx_path, &cubin)?;
    let out = util::output(Command::new(&nvdisasm).arg("-c").arg(&cubin))?;
    let listing = String::from_utf8_lossy(&out.stdout);
    let listing_path = cubin.with_extension("sass");
    std::fs::write(&listing_path, listing.as_bytes()).context(|| format!("cannot write {}", listing_path.display()))?;
    let functions = parse(&listing);

    let mut failures = Vec::new();
    let mut tensor_core_kernels = 0;
    for (name, f) in functions.iter().filter(|(_, f)| f.entry) {
        let counts: Vec<String> = OPCODES.iter().map(|op| format!("{op} {}", f.counts.get(op).unwrap_or(&0))).collect();
        let rule = rules::needs_tensor_cores(name);
        println!("  {name}: {}{}", counts.join(", "), if rule { " [needs HMMA]" } else { "" });
        if rule {
            tensor_core_kernels += 1;
            if f.counts.get("HMMA").copied().unwrap_or(0) == 0 {
                failures.push(name.clone());
            }
        }
    }
    if functions.values().all(|f| !f.entry) {
        bail!("nvdisasm listed no kernel in {}; its output format changed?", util::rel(&cubin));
    }
    if !failures.is_empty() {
        bail!(
            "sass-check: kernels without HMMA (tensor cores) in their SASS: {}\n(kernels named {} \
             must use tensor cores; listing: {})",
            failures.join(", "),
            rules::describe(rules::TENSOR_CORE_PREFIXES),
            util::rel(&listing_path)
        );
    }
    if tensor_core_kernels == 0 {
        println!(
            "sass-check: no {} kernels in the PTX yet: the HMMA rule checked nothing (passes)",
            rules::describe(rules::TENSOR_CORE_PREFIXES)
        );
    } else {
        println!("sass-check: all {tensor_core_kernels} tensor-core kernels contain HMMA");
    }
    Ok(())
}

/// Splits an `nvdisasm -c` listing into functions (`.section .text.<name>`), marks the
/// kernels (`STO_CUDA_ENTRY`) and counts the opcodes of interest.
pub fn parse(listing: &str) -> BTreeMap<String, Sass> {
    let mut functions: BTreeMap<String, Sass> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in listing.lines() {
        let t = line.trim();
        // `.section` names a function; `.sectionflags` (kernels with barriers) does not.
        if let Some(rest) = t.strip_prefix(".section").filter(|r| r.starts_with(char::is_whitespace)) {
            let section = rest.trim().split(',').next().unwrap_or("").trim();
            current = section.strip_prefix(".text.").map(str::to_string);
            if let Some(name) = &current {
                functions.entry(name.clone()).or_default();
            }
            continue;
        }
        let Some(name) = &current else { continue };
        let Some(f) = functions.get_mut(name) else {
            continue;
        };
        if t.starts_with(".other") && t.contains("STO_CUDA_ENTRY") {
            f.entry = true;
        } else if let Some(instr) = t.strip_prefix("/*").and_then(|r| r.split_once("*/")).map(|(_, i)| i.trim()) {
            // `/*0040*/   @P0 HMMA.16816.F32.BF16 R4, …`
            let mut words = instr.split_whitespace();
            let mut op = words.next().unwrap_or("");
            if op.starts_with('@') {
                op = words.next().unwrap_or("");
            }
            let base = op.split('.').next().unwrap_or("");
            if let Some(known) = OPCODES.iter().find(|o| **o == base) {
                *f.counts.entry(known).or_default() += 1;
            }
        }
    }
    functions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nvdisasm_listing() {
        let listing = r#"
	.section	.text.fftconv_x,"ax",@progbits
	.sectionflags	@"SHF_BARRIERS=1"
        .other          fftconv_x,@"STO_CUDA_ENTRY STV_DEFAULT"
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/                   HMMA.16816.F32.BF16 R4, R8, R12, R4 ;
        /*0020*/               @P0 HMMA.16816.F32.BF16 R4, R8, R12, R4 ;
        /*0030*/                   LDSM.16.M88.4 R8, [R2] ;
	.section	.text.helper,"ax",@progbits
        /*0000*/                   HMMA.16816.F32.BF16 R4, R8, R12, R4 ;
	.section	.text.conv1d_y,"ax",@progbits
        .other          conv1d_y,@"STO_CUDA_ENTRY STV_DEFAULT"
        /*0000*/                   FFMA R1, R2, R3, R4 ;
	.section	.nv.info,"",@"SHT_CUDA_INFO"
"#;
        let f = parse(listing);
        assert!(f["fftconv_x"].entry);
        assert_eq!(f["fftconv_x"].counts.get("HMMA"), Some(&2));
        assert_eq!(f["fftconv_x"].counts.get("LDSM"), Some(&1));
        assert!(!f["helper"].entry);
        assert!(f["conv1d_y"].entry);
        assert!(f["conv1d_y"].counts.is_empty());
        assert_eq!(f.len(), 3);
    }
}
