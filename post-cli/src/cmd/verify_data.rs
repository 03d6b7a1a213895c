//! `post verify-data`: recompute stored labels (a sampled share chosen from a printed seed, or all) and
//! report every bad range, every incomplete or stray file and the state of the VRF nonce.

use std::path::PathBuf;
use std::process::ExitCode;

use post_init::Coverage;

use crate::compute::Compute;
use crate::ctrl_c::cancel_on_ctrl_c;
use crate::data_report::random_seed;
use crate::data_report::{json, seed_text, text, Verdict};
use crate::progress::Progress;

/// Labels per sampled chunk of a partial check.
const SAMPLE_CHUNK: u64 = 64;

/// Check a data directory: recompute labels in parallel and report every bad range as (file, byte
/// offset, label index range), plus missing, short, long or stray files and a bad VRF nonce. Exit code 0
/// when clean, 1 when anything is wrong (corrupt), 3 when nothing is wrong but the data is not finished
/// (missing or short files, no VRF nonce yet: `post init` finishes it), 130 when interrupted. scrypt N is
/// detected from the data when --scrypt-n is not given; a given N that does not reproduce the data is
/// refused (exit code 2).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory.
    #[arg(long)]
    dir: PathBuf,
    /// Share of the labels to recompute, in percent (sampled in chunks of 64 labels).
    #[arg(long, default_value_t = 1.0, conflicts_with = "all", value_parser = percent)]
    fraction: f64,
    /// Recompute every label.
    #[arg(long)]
    all: bool,
    /// The seed that picks the sampled labels, as hex (`0x` optional; printed, so a check can be
    /// repeated); default: random.
    #[arg(long, value_parser = seed_hex, value_name = "HEX")]
    seed: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    compute: Compute,
}

/// A seed of up to 16 hex digits, as `post verify --seed` takes its seed.
fn seed_hex(text: &str) -> Result<u64, String> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")).unwrap_or(digits);
    if digits.is_empty() || digits.len() > 16 {
        return Err(format!("{text:?} is not 1 to 16 hex digits"));
    }
    u64::from_str_radix(digits, 16).map_err(|e| format!("{text:?} is not hex: {e}"))
}

fn percent(text: &str) -> Result<f64, String> {
    let p: f64 = text.parse().map_err(|e| format!("{text:?} is not a number: {e}"))?;
    if !(p > 0.0 && p <= 100.0) {
        return Err(format!("{p} is not a percentage in (0, 100]"));
    }
    Ok(p)
}

/// Runs the subcommand.
///
/// # Errors
/// When the directory cannot be opened (locked by a writer, no metadata) or read.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let coverage = if args.all {
        Coverage::All
    } else {
        let seed = args.seed.unwrap_or_else(random_seed);
        tracing::info!(
            "verify-data: checking {}% of the labels with seed {} (repeat with --seed {})",
            args.fraction,
            seed_text(seed),
            seed_text(seed)
        );
        Coverage::Fraction { percent: args.fraction, seed, chunk: SAMPLE_CHUNK }
    };
    let scrypt = args.compute.scrypt_of("verify-data", &args.dir)?;
    let request = post_init::CheckRequest { dir: args.dir.clone(), scrypt, coverage, tuning: args.compute.tuning() };
    let labeller = args.compute.checking_labeller()?;
    tracing::info!("verify-data: labels computed by {}", labeller.name());
    let cancel = cancel_on_ctrl_c("verify-data")?;
    let report = args.compute.install(|| {
        let progress = Progress::new("verify", args.json);
        let report = post_init::verify_data(&request, labeller.as_ref(), &cancel, &progress);
        progress.finish();
        Ok(report?)
    })?;
    let seed = match coverage {
        Coverage::Fraction { seed, .. } => Some(seed),
        Coverage::All => None,
    };
    if args.json {
        println!("{}", json(&report, seed));
    } else {
        print!("{}", text(&report, seed));
    }
    Ok(Verdict::of(&report).exit_code())
}
