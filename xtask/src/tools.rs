//! Build tools the workspace needs beyond the Rust toolchain, provisioned into `target/tools`.
//!
//! RandomX (through `randomx-rs`) is built with CMake, which a fresh machine lacks. When no `cmake` is
//! on the PATH, we install the CMake wheel from PyPI with the machine's python3 into
//! `target/tools/cmake` and point the `cmake` build crate at it through the `CMAKE` variable.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

fn works(cmd: &Path) -> bool {
    Command::new(cmd).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Returns a working `cmake`, installing one under `target/tools/cmake` if needed.
///
/// # Errors
/// When neither a `cmake` on the PATH nor python3 with pip is available.
pub fn cmake() -> anyhow::Result<PathBuf> {
    if let Some(explicit) = std::env::var_os("CMAKE").map(PathBuf::from) {
        if works(&explicit) {
            return Ok(explicit);
        }
    }
    let on_path = PathBuf::from("cmake");
    if works(&on_path) {
        return Ok(on_path);
    }
    let dir = root().join("target/tools/cmake");
    let local = dir.join("cmake/data/bin/cmake");
    if works(&local) {
        return Ok(local);
    }
    eprintln!("xtask: cmake not found; installing it from PyPI into {}", dir.display());
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
        .arg(&dir)
        .arg("cmake>=3.16,<5")
        .status()
        .context("running python3 -m pip (python3 with pip is needed to install cmake)")?;
    if !status.success() || !works(&local) {
        bail!("could not install cmake with pip ({status}); install cmake by hand and retry");
    }
    Ok(local)
}

/// A `cargo` command with the provisioned tools in its environment.
///
/// # Errors
/// When a tool cannot be provisioned.
pub fn cargo() -> anyhow::Result<Command> {
    let cmake = cmake()?;
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root()).env("CMAKE", &cmake);
    // RandomX declares an old minimum CMake version; let CMake 4 accept it.
    cmd.env("CMAKE_POLICY_VERSION_MINIMUM", "3.5");
    Ok(cmd)
}
