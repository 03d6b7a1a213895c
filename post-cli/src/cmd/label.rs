//! `post label`: compute labels with a CPU provider (`--provider`: the fast labeller by default, or
//! the reference label function) and print them, one
//! `<index> <full 32-byte label as 64 lowercase hex digits>` line each, for checking data or another
//! implementation against this one.
//!
//! 1. Check that `--index` + `--count` − 1 stays below 2^64.
//! 2. In batches of [`BATCH`] labels, compute the full labels in parallel (rayon) and print them in
//!    index order.

use std::io::{BufWriter, ErrorKind, Write};
use std::process::ExitCode;

use anyhow::Context;
use post_core::{Commitment, LabelIndex, ScryptParams};

use crate::util::{hex32, scrypt_n};

/// Labels computed between two writes to stdout.
const BATCH: u64 = 1024;

/// Compute labels and print `<index> <full label as 64 hex digits>`, one line per label.
///
/// The stored label (what data files hold) is the first 16 bytes, i.e. the first 32 hex digits.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commitment the labels are derived from, 64 hex digits (see `post commitment`).
    #[arg(long, value_parser = hex32)]
    commitment: [u8; 32],
    /// Global index of the first label.
    #[arg(long, allow_negative_numbers = true)]
    index: u64,
    /// Number of consecutive labels to print.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// scrypt N, a power of two ≥ 2 (r = p = 1); the network uses 8192.
    #[arg(long = "scrypt-n", value_name = "N", value_parser = scrypt_n, default_value = "8192")]
    scrypt_n: ScryptParams,
    /// What computes the labels: `cpu` (the fast labeller), `cpu:<avx512|avx2|sse2|portable>`, or
    /// `reference` (the readable reference function). All give the same labels.
    #[arg(long, default_value = "cpu")]
    provider: String,
    /// Print one JSON object per line, `{"index": <n>, "label": "<64 hex digits>"}` (JSON Lines).
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Args { commitment, index, count, scrypt_n: params, provider, json } = args;
    let labeller = crate::provider::full_labeller(&provider)?;
    let commitment = Commitment(commitment);
    let Some(last) = index.checked_add(count - 1) else {
        anyhow::bail!(
            "--index {index} with --count {count} runs past the last label index {}; lower --index or --count",
            u64::MAX
        );
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut first = index;
    loop {
        let end = last.min(first.saturating_add(BATCH - 1));
        let mut labels = vec![[0u8; 32]; (end - first + 1) as usize];
        labeller
            .label_full(&commitment, params, LabelIndex(first), &mut labels)
            .with_context(|| format!("computing labels with {}", labeller.name()))?;
        for (i, label) in (first..=end).zip(&labels) {
            let line = if json {
                writeln!(out, "{{\"index\": {i}, \"label\": \"{}\"}}", hex::encode(label))
            } else {
                writeln!(out, "{i} {}", hex::encode(label))
            };
            if let Err(err) = line {
                return closed_or(err);
            }
        }
        if let Err(err) = out.flush() {
            return closed_or(err);
        }
        if end == last {
            return Ok(ExitCode::SUCCESS);
        }
        first = end + 1;
    }
}

/// A reader that stopped reading (`post label … | head`) is not an error; anything else is.
fn closed_or(err: std::io::Error) -> anyhow::Result<ExitCode> {
    if err.kind() == ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(err).context("writing to stdout")
    }
}
