//! `cargo xtask install [--root DIR]`: the documented way to install `post`.
//!
//! It runs `cargo install --locked --path post-cli` from the workspace root: `--locked` builds with the
//! versions in `Cargo.lock` (the ones the tests ran with) instead of resolving the dependencies again,
//! and running from the root applies `.cargo/config.toml` (the CMake wrapper RandomX needs). Extra
//! arguments (`--root DIR`, `--force`, …) go to `cargo install`.

use anyhow::ensure;

use crate::tools;

/// Installs the `post` binary into cargo's bin directory (or `--root DIR`).
///
/// # Errors
/// When `cargo install` fails.
pub fn install(extra: &[String]) -> anyhow::Result<()> {
    let mut args = vec!["install", "--locked", "--path", "post-cli"];
    args.extend(extra.iter().map(String::as_str));
    eprintln!("$ cargo {}", args.join(" "));
    let status = tools::cargo()?.args(&args).status()?;
    ensure!(status.success(), "cargo {} failed ({status})", args.join(" "));
    Ok(())
}
