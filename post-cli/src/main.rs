//! `post`: initialize, prove and verify Spacemesh Proof of Space-Time data.
//!
//! This binary only parses arguments, wires the library crates together and talks to the terminal.
//! Exit codes: 0 success, 1 a negative answer (an invalid proof, corrupt data), 2 a usage or I/O error,
//! 3 unfinished data, 4 a proof that could not be written to `--out` (on stdout instead), 130 interrupted.

mod ceiling;
mod cmd;
mod compute;
mod ctrl_c;
mod data_report;
mod exit;
mod identity_file;
mod logging;
mod progress;
mod prove_estimate;
mod prove_progress;
mod provider;
mod shutdown_signal;
mod sigbus;
mod thresholds;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Spacemesh Proof of Space-Time: initialize, prove, verify.
#[derive(Debug, Parser)]
#[command(name = "post", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr (no progress, notes or warnings).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

// Each subcommand lives in `cmd/<name>.rs` with `pub struct Args` and `pub fn run(Args)`.
// To add one: a variant here and an arm in `main` (keep both lists sorted).
#[derive(Debug, Subcommand)]
enum Command {
    /// Measure throughput on this machine (`post bench label`: labels per second of a provider).
    Bench(cmd::bench::Args),
    /// Verify PoST proofs and sign certificates for PoETs over HTTP (the network's certifier).
    Certifier(cmd::certifier::Args),
    /// Print the commitment (BLAKE3 of node id and commitment ATX id) as hex.
    Commitment(cmd::commitment::Args),
    /// Create an identity key file as the node keeps it, or print the node id of one.
    Identity(cmd::identity::Args),
    /// Show a data directory: identity, size, the state of every file, the VRF nonce and the lock.
    Info(cmd::info::Args),
    /// Initialize PoST data, or resume, grow or finish a data directory (never deletes data).
    Init(cmd::init::Args),
    /// Compute k2 proofs of work for remote proving services over HTTP (the network's k2pow-service).
    K2powService(cmd::k2pow_service::Args),
    /// Compute labels and print them as `<index> <64 hex digits>` lines.
    Label(cmd::label::Args),
    /// Combine data directories initialized in pieces (--from-file/--to-file) into one.
    Merge(cmd::merge::Args),
    /// Generate a proof for a challenge from a complete data directory (proof JSON on stdout or --out).
    Prove(cmd::prove::Args),
    /// List the CPU backends and CUDA devices that can compute labels, and how to select them.
    Providers(cmd::providers::Args),
    /// Recompute every label and rewrite exactly the bad ones in place.
    Repair(cmd::repair::Args),
    /// Serve proofs to a Spacemesh node over gRPC (the network's post-service; reconnects forever).
    Serve(cmd::serve::Args),
    /// Reduce a data directory to fewer units (shows what it deletes; needs --yes).
    Shrink(cmd::shrink::Args),
    /// Verify a proof: exit code 0 valid, 1 invalid (reason on stderr), 2 usage or I/O error.
    Verify(cmd::verify::Args),
    /// Recompute stored labels (a sample or all) and report every bad range; exit code 1 when corrupt.
    VerifyData(cmd::verify_data::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => usage_error(&err),
    };
    init_logging(cli.verbose, cli.quiet);
    // A writer's lock note names the command, so that a refused `post` can say who holds the directory.
    let command_line: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    post_core::set_lock_note(&command_line.join(" "));
    let result = match cli.command {
        Command::Bench(args) => cmd::bench::run(args),
        Command::Certifier(args) => cmd::certifier::run(args),
        Command::Commitment(args) => cmd::commitment::run(args),
        Command::Identity(args) => cmd::identity::run(args),
        Command::Info(args) => cmd::info::run(args),
        Command::Init(args) => cmd::init::run(args),
        Command::K2powService(args) => cmd::k2pow_service::run(args),
        Command::Label(args) => cmd::label::run(args),
        Command::Merge(args) => cmd::merge::run(args),
        Command::Prove(args) => cmd::prove::run(args),
        Command::Providers(args) => cmd::providers::run(args),
        Command::Repair(args) => cmd::repair::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Shrink(args) => cmd::shrink::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::VerifyData(args) => cmd::verify_data::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::from(2)
        }
    }
}

/// Exits on a command line clap refused (or on --help/--version). `verify --json` promises a verdict on
/// stdout whatever happens, so a usage error there is one too: `{"valid": false, "error": …}`.
fn usage_error(err: &clap::Error) -> ! {
    use clap::error::ErrorKind;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verify_json = args.iter().any(|a| a == "verify") && args.iter().any(|a| a == "--json");
    if verify_json && !matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // The rendered error without its "error: " prefix and usage footer.
        let text = err.render().to_string();
        let first = text.split("\n\n").next().unwrap_or_default();
        let message = first.trim_start_matches("error: ").split_whitespace().collect::<Vec<_>>().join(" ");
        let report = serde_json::json!({
            "valid": false,
            "reason": null,
            "error": message,
            "checked": 0,
            "milliseconds": null,
        });
        println!("{report}");
    }
    err.exit()
}

/// Logs go to stderr in one style (see `logging.rs`); `RUST_LOG` wins over `-v`/`-q`.
fn init_logging(verbose: u8, quiet: bool) {
    logging::init(verbose, quiet);
}

/// The error and its causes on one line, leaving out a cause that the message before it already
/// quotes (library errors name their cause in their own text).
fn error_chain(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_quotes_each_cause_once() {
        let io = std::io::Error::other("No space left on device");
        let err = anyhow::Error::new(io).context("/d/postdata_0.bin: No space left on device").context("post init");
        assert_eq!(error_chain(&err), "post init: /d/postdata_0.bin: No space left on device");
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&err), "outer: inner");
    }
}
