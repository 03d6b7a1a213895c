//! `post verify-data`: recompute stored labels (a sampled share chosen from a printed seed, or all) and
//! report every bad range, every incomplete or stray file and the state of the VRF nonce.

use std::path::PathBuf;
use std::process::ExitCode;

use post_init::{Coverage, DataReport, NonceCheck};

use super::init::{cancel_on_ctrl_c, Compute, EXIT_INTERRUPTED};
use crate::progress::Progress;

/// Labels per sampled chunk of a partial check.
const SAMPLE_CHUNK: u64 = 64;

/// Exit code of a check that found the data unfinished but nothing wrong in it.
pub const EXIT_INCOMPLETE: u8 = 3;

/// How a check ended, from the worst finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every file complete, every checked label right, the VRF nonce valid.
    Clean,
    /// Nothing wrong, but not finished: missing or short files (on label boundaries) or no VRF nonce yet.
    Incomplete,
    /// Something is wrong: a bad label, a torn, oversized or stray file, an invalid VRF nonce.
    Corrupt,
    /// Stopped by Ctrl-C before the end, nothing wrong so far.
    Interrupted,
}

impl Verdict {
    /// The verdict of a report.
    pub fn of(report: &DataReport) -> Self {
        let torn_or_long = report.incomplete_files().any(|f| {
            matches!(f.state, post_core::FileState::Misaligned { .. } | post_core::FileState::Oversized { .. })
        });
        let wrong = (!report.bad.is_empty() && !report.repaired)
            || torn_or_long
            || !report.stray_files.is_empty()
            || matches!(report.nonce, NonceCheck::Invalid { .. });
        if wrong {
            Verdict::Corrupt
        } else if report.cancelled {
            Verdict::Interrupted
        } else if report.is_clean() {
            Verdict::Clean
        } else {
            Verdict::Incomplete
        }
    }

    /// The word reports use: `clean`, `incomplete`, `corrupt`, `interrupted`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Incomplete => "incomplete",
            Verdict::Corrupt => "corrupt",
            Verdict::Interrupted => "interrupted",
        }
    }

    /// The exit code: 0 clean, 1 corrupt, 3 incomplete, 130 interrupted.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Verdict::Clean => ExitCode::SUCCESS,
            Verdict::Corrupt => ExitCode::from(1),
            Verdict::Incomplete => ExitCode::from(EXIT_INCOMPLETE),
            Verdict::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
        }
    }
}

/// Check a data directory: recompute labels in parallel and report every bad range as (file, byte
/// offset, label index range), plus missing, short, long or stray files and a bad VRF nonce. Exit code 0
/// when clean, 1 when anything is wrong (corrupt), 3 when nothing is wrong but the data is not finished
/// (missing or short files, no VRF nonce yet: `post init` finishes it), 130 when interrupted.
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

/// A seed as it is printed and taken: 16 hex digits.
pub fn seed_text(seed: u64) -> String {
    format!("{seed:016x}")
}

fn percent(text: &str) -> Result<f64, String> {
    let p: f64 = text.parse().map_err(|e| format!("{text:?} is not a number: {e}"))?;
    if !(p > 0.0 && p <= 100.0) {
        return Err(format!("{p} is not a percentage in (0, 100]"));
    }
    Ok(p)
}

/// A seed from the clock and the process id; only needs to differ between runs.
pub fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
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
    let request = post_init::CheckRequest {
        dir: args.dir.clone(),
        scrypt: args.compute.scrypt(),
        coverage,
        tuning: args.compute.tuning(),
    };
    let labeller = args.compute.labeller()?;
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

/// The human-readable report: one line per problem, then a verdict.
pub fn text(report: &DataReport, seed: Option<u64>) -> String {
    let mut out = String::new();
    for f in report.incomplete_files() {
        out += &format!(
            "file {}: {} ({} of {} bytes)\n",
            f.path.display(),
            f.state.name(),
            f.len_on_disk(),
            f.expected_len
        );
    }
    for path in &report.stray_files {
        out += &format!("file {}: not part of the data (stray)\n", path.display());
    }
    for r in &report.bad {
        let what = if report.repaired { "repaired" } else { "bad" };
        out += &format!(
            "{what}: {} byte offset {} labels {}..{} ({} label(s))\n",
            r.path.display(),
            r.offset,
            r.labels.start,
            r.labels.end,
            r.labels.end - r.labels.start
        );
    }
    match &report.nonce {
        NonceCheck::Valid(c) => out += &format!("VRF nonce {}: valid\n", c.index.0),
        NonceCheck::Missing => out += "VRF nonce: none recorded (run `post init` to finish the data)\n",
        NonceCheck::Invalid { nonce, reason } => out += &format!("VRF nonce {nonce}: INVALID: {reason}\n"),
    }
    let bad: u64 = report.bad.iter().map(|r| r.labels.end - r.labels.start).sum();
    let sampled = seed.map_or_else(String::new, |s| format!(" (sampled with seed {})", seed_text(s)));
    out += &format!("checked {} labels{sampled}: {bad} bad in {} range(s)\n", report.labels_checked, report.bad.len());
    if report.cancelled {
        out += "interrupted before the end\n";
    }
    out += match Verdict::of(report) {
        Verdict::Clean => "clean\n",
        Verdict::Incomplete => {
            "incomplete: no label checked is wrong, but the data is not finished — run `post init --dir <dir>` \
             to finish it\n"
        }
        Verdict::Corrupt => "NOT clean: the data is damaged — `post repair` rewrites bad labels\n",
        Verdict::Interrupted => "interrupted: nothing wrong found so far\n",
    };
    out
}

/// The report as one JSON object.
pub fn json(report: &DataReport, seed: Option<u64>) -> serde_json::Value {
    let files: Vec<_> = report
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                "file": f.path, "index": f.index, "state": f.state.name(),
                "len": f.len_on_disk(), "expected_len": f.expected_len,
            })
        })
        .collect();
    let bad: Vec<_> = report
        .bad
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.path, "index": r.file, "offset": r.offset,
                "labels": [r.labels.start, r.labels.end],
            })
        })
        .collect();
    let nonce = match &report.nonce {
        NonceCheck::Valid(c) => serde_json::json!({"state": "valid", "nonce": c.index.0}),
        NonceCheck::Missing => serde_json::json!({"state": "missing"}),
        NonceCheck::Invalid { nonce, reason } => {
            serde_json::json!({"state": "invalid", "nonce": nonce, "reason": reason})
        }
    };
    serde_json::json!({
        "dir": report.dir, "clean": report.is_clean(), "state": Verdict::of(report).name(),
        "seed": seed.map(seed_text),
        "labels_checked": report.labels_checked, "files": files, "stray_files": report.stray_files,
        "bad": bad, "repaired": report.repaired, "cancelled": report.cancelled, "nonce": nonce,
    })
}
