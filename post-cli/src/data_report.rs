//! What `verify-data` and `repair` report about a data directory: the verdict with its exit code, the
//! report as text and as JSON, and the sampling seed as it is printed and taken.

use std::process::ExitCode;

use post_init::{DataReport, NonceCheck};

use crate::exit::{EXIT_INCOMPLETE, EXIT_INTERRUPTED};

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

/// A seed as it is printed and taken: 16 hex digits.
pub fn seed_text(seed: u64) -> String {
    format!("{seed:016x}")
}

/// A seed from the clock and the process id; only needs to differ between runs.
pub fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
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
