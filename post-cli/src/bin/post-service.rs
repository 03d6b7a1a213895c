//! `post-service`: the PoST proving service under the network's name and command line, for a node that
//! starts it itself (supervised mode: the node runs the `post-service` beside its own binary, reads its
//! stderr into its log and ignores stdout). The same service as `post serve`, with the same flags.
//!
//! Exit codes: 0 when stopped by a signal or when the `--watch-pid` process is gone, 2 when it refused
//! to start or gave up connecting (`--max-retries`).

#[path = "../cmd/serve.rs"]
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// Serve proofs to a Spacemesh node (the network's post-service command line).
#[derive(Debug, Parser)]
#[command(name = "post-service", version)]
struct Cli {
    #[command(flatten)]
    args: serve::Args,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
    match serve::run(cli.args) {
        Ok(code) => code,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::from(2)
        }
    }
}
