//! `cargo xtask test` and `cargo xtask ci`.

use anyhow::ensure;

use crate::tools;

fn run_cargo(args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let status = tools::cargo()?.args(args).status()?;
    ensure!(status.success(), "cargo {} failed ({status})", args.join(" "));
    Ok(())
}

/// Runs every test of the workspace; extra arguments go to `cargo test`.
///
/// # Errors
/// When a test fails.
pub fn test(extra: &[String]) -> anyhow::Result<()> {
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    run_cargo(&args)
}

/// fmt, clippy with warnings as errors, the tests, the benchmarks compiled, tidy, and the fuzz targets
/// built and run over their seeds (where the toolchain allows).
///
/// # Errors
/// When any step fails.
pub fn ci() -> anyhow::Result<()> {
    run_cargo(&["fmt", "--all", "--check"])?;
    run_cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    test(&[])?;
    run_cargo(&["bench", "--workspace", "--no-run"])?;
    crate::tidy::tidy()?;
    crate::fuzz::smoke()
}
