//! `cargo xtask dist`: release binaries with LTO, stripped, packed as `tar.gz` with SHA-256 sums.

use std::fs;
use std::process::Command;

use anyhow::{ensure, Context};

use crate::tools;

/// Builds `post` in release mode and writes `dist/post-<version>-<target>.tar.gz` and `SHA256SUMS`.
///
/// # Errors
/// When the build, `tar` or `sha256sum` fails.
pub fn dist() -> anyhow::Result<()> {
    let root = tools::root();
    let status = tools::cargo()?
        .args(["build", "--release", "--locked", "--package", "post-cli"])
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .status()?;
    ensure!(status.success(), "release build failed ({status})");

    let version = env!("CARGO_PKG_VERSION");
    let target = format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS);
    let name = format!("post-{version}-{target}");
    let dist = root.join("dist");
    let stage = dist.join(&name);
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("clearing {}", stage.display()))?;
    }
    fs::create_dir_all(&stage)?;
    let bin = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), Into::into);
    fs::copy(bin.join("release/post"), stage.join("post")).context("copying the post binary")?;
    for doc in ["README.md", "ARCHITECTURE.md"] {
        fs::copy(root.join(doc), stage.join(doc)).with_context(|| format!("copying {doc}"))?;
    }
    let archive = format!("{name}.tar.gz");
    let status = Command::new("tar").current_dir(&dist).args(["czf", &archive, &name]).status()?;
    ensure!(status.success(), "tar failed ({status})");
    fs::remove_dir_all(&stage)?;
    let sums = Command::new("sha256sum").current_dir(&dist).arg(&archive).output()?;
    ensure!(sums.status.success(), "sha256sum failed");
    fs::write(dist.join("SHA256SUMS"), &sums.stdout)?;
    print!("{}", String::from_utf8_lossy(&sums.stdout));
    eprintln!("dist: wrote {}", dist.join(&archive).display());
    Ok(())
}
