//! The workspace root and the `cargo` command every xtask runs.
//!
//! RandomX (through `randomx-rs`) is built with CMake, which a fresh machine may lack. That is handled
//! below xtask, in `.cargo/config.toml`: its `[env]` section points the `cmake` build crate at the
//! `.cargo/cmake` wrapper, which runs the system's cmake or installs the CMake wheel from PyPI into
//! `target/tools/cmake` on first use. Plain `cargo` and `cargo xtask` therefore build the same way, and
//! xtask only has to run cargo from the workspace root so that the configuration applies.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

/// A `cargo` command run from the workspace root (so `.cargo/config.toml`, and with it the CMake
/// wrapper, applies).
///
/// # Errors
/// Never today; kept fallible so that a tool check can be added without touching every caller.
pub fn cargo() -> anyhow::Result<Command> {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    Ok(cmd)
}
