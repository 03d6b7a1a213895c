//! `post label`: placeholder until the reference labeller lands.
use std::process::ExitCode;
/// Compute labels.
#[derive(Debug, clap::Args)]
pub struct Args {}
/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("post label is not built yet")
}
