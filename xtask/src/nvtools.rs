//! NVIDIA's offline tools (`ptxas`, `nvdisasm`) from their PyPI wheels.
//!
//! Why: this machine and CI have no CUDA toolkit, but `ptxas` (PTX → SASS, with the resource
//! usage `-v` prints) and `nvdisasm` (SASS listing) need no GPU, and NVIDIA ships them as
//! wheels on PyPI, the one GPU-tool source reachable here. Each pinned wheel is installed
//! once with `python3 -m pip install --target target/tools/<name>-<version>` (set `PYTHON` to
//! use another interpreter); a finished install is renamed into place, so an interrupted one
//! is simply redone.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bail;
use crate::util::{self, Context, Result};

/// One pinned wheel and the executable inside it.
pub struct Tool {
    /// Directory name under `target/tools/`.
    pub dir: &'static str,
    /// `package==version` for pip.
    pub requirement: &'static str,
    /// The executable, relative to the install directory.
    pub exe: &'static str,
}

/// `ptxas` of CUDA 12.9, the version the host crate's cudarc bindings target. Its `-v`
/// output is the committed resource report; another version may allocate differently.
pub const PTXAS: Tool =
    Tool { dir: "cuda-nvcc-12.9.86", requirement: "nvidia-cuda-nvcc-cu12==12.9.86", exe: "nvidia/cuda_nvcc/bin/ptxas" };

/// `nvdisasm` of CUDA 13.4 (there is no CUDA 12 wheel of it; it reads sm_90 cubins from any
/// ptxas). `cuobjdump -sass` would need `nvdisasm` as well, so it is not used.
pub const NVDISASM: Tool = Tool {
    dir: "cuda-nvdisasm-13.4.92",
    requirement: "nvidia-cuda-nvdisasm==13.4.92",
    exe: "nvidia/cu13/bin/nvdisasm",
};

/// Returns the executable, installing the wheel first if needed.
pub fn ensure(tool: &Tool) -> Result<PathBuf> {
    let tools = util::repo_root().join("target").join("tools");
    let dir = tools.join(tool.dir);
    let exe = dir.join(tool.exe);
    if exe.is_file() {
        return Ok(exe);
    }
    let partial = tools.join(format!("{}.partial", tool.dir));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).context(|| format!("cannot remove {}", partial.display()))?;
    }
    std::fs::create_dir_all(&tools).context(|| format!("cannot create {}", tools.display()))?;
    eprintln!("  installing {} into {}", tool.requirement, util::rel(&dir));
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pip", "install", "--quiet", "--no-deps", "--no-input"])
        .args(["--disable-pip-version-check", "--root-user-action=ignore", "--target"])
        .arg(&partial)
        .arg(tool.requirement);
    util::run(&mut cmd).map_err(|e| util::Error(format!("{e}\n(needs python3 with pip and access to PyPI)")))?;
    let staged = partial.join(tool.exe);
    if !staged.is_file() {
        bail!("{} installed, but {} is not in it", tool.requirement, tool.exe);
    }
    make_executable(&staged)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::rename(&partial, &dir).context(|| format!("cannot move the install to {}", dir.display()))?;
    Ok(exe)
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).context(|| format!("cannot stat {}", path.display()))?;
    let mut perms = meta.permissions();
    if perms.mode() & 0o111 != 0o111 {
        perms.set_mode(perms.mode() | 0o755);
        std::fs::set_permissions(path, perms).context(|| format!("cannot chmod {}", path.display()))?;
    }
    Ok(())
}

/// `Cuda compilation tools, release 12.9, V12.9.86` → `12.9.86`.
pub fn version(exe: &Path) -> Result<String> {
    let out = util::output(Command::new(exe).arg("--version"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .find_map(|l| l.rsplit_once(", V").map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into()))
}
