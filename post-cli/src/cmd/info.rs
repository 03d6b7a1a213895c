//! `post info`: what a data directory holds, without locking it.

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::HumanBytes;
use post_core::ScryptParams;
use post_init::DirStatus;
use post_oracle::ReferenceLabeller;

/// Show a data directory: identity, parameters (scrypt N detected from the stored labels), size, the
/// state of every file (complete, partial, missing, wrong size), the VRF nonce, and whether a process
/// holds its lock. Reads only, takes no lock.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory.
    #[arg(long)]
    dir: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
///
/// # Errors
/// When the metadata cannot be read.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let status = post_init::inspect(&args.dir)?;
    let scrypt = scrypt_n(&status);
    if args.json {
        let mut report = json(&status);
        report["scrypt_n"] = match &scrypt {
            ScryptN::Detected(n) => (*n).into(),
            ScryptN::Unknown(_) => serde_json::Value::Null,
        };
        println!("{report}");
    } else {
        let mut report = text(&status);
        let line = match &scrypt {
            ScryptN::Detected(n) => format!("scrypt N:          {n} (detected)\n"),
            ScryptN::Unknown(why) => format!("scrypt N:          unknown ({why})\n"),
        };
        // After the units line, with the other parameters.
        let at = report.find("size:").unwrap_or(report.len());
        report.insert_str(at, &line);
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The scrypt N the data was written with, as `post info` reports it.
enum ScryptN {
    Detected(u32),
    /// Why it is not known.
    Unknown(String),
}

/// Detects N from the stored labels (the metadata does not record it); the mainnet N is tried first.
fn scrypt_n(status: &DirStatus) -> ScryptN {
    let evidence = match post_init::ScryptEvidence::from_metadata(&status.dir, &status.metadata) {
        Ok(evidence) => evidence,
        Err(e) => return ScryptN::Unknown(e.to_string()),
    };
    match evidence.detect(ScryptParams::MAINNET, &ReferenceLabeller) {
        Ok(Some(params)) => ScryptN::Detected(params.n()),
        Ok(None) => ScryptN::Unknown("no stored label or NonceValue to detect it from yet".into()),
        Err(e) => ScryptN::Unknown(e.to_string()),
    }
}

fn text(s: &DirStatus) -> String {
    let m = &s.metadata;
    let mut out = format!("directory:         {}\n", s.dir.display());
    out += &format!("node id:           {}\n", m.node_id);
    out += &format!("commitment atx id: {}\n", m.commitment_atx_id);
    out += &format!("commitment:        {}\n", m.commitment());
    out += &format!("units:             {} × {} labels per unit\n", m.num_units, m.labels_per_unit);
    out += &format!(
        "size:              {} ({} labels) in {} file(s) of at most {}\n",
        HumanBytes(s.layout.total_bytes()),
        s.layout.num_labels(),
        s.layout.num_files(),
        HumanBytes(m.max_file_size)
    );
    out += &format!(
        "on disk:           {} of {} labels ({:.1}%)\n",
        s.labels_on_disk(),
        s.layout.num_labels(),
        100.0 * s.labels_on_disk() as f64 / s.layout.num_labels().max(1) as f64
    );
    let nonce = match (m.nonce, m.nonce_value) {
        (Some(n), Some(v)) => format!("{n} (label {}…)", hex::encode(v)),
        (Some(n), None) => n.to_string(),
        (None, _) => "none yet".into(),
    };
    out += &format!("VRF nonce:         {nonce}\n");
    if let Some(p) = m.last_position {
        out += &format!("nonce search at:   label {p} (beyond the data)\n");
    }
    out += &format!("lock:              {}\n", s.lock_holder.as_deref().unwrap_or("free"));
    out += "files:\n";
    for f in &s.files {
        let synced = match s.durable_marks.get(&f.index) {
            Some(mark) => format!(", synced up to byte {mark} (the next init rechecks the rest)"),
            None => String::new(),
        };
        out += &format!(
            "  {:<22} {:<10} {} of {} bytes{synced}\n",
            file_name(&f.path),
            f.state.name(),
            f.len_on_disk(),
            f.expected_len
        );
    }
    if let Some(reason) = &s.durable_marks_unusable {
        out += &format!("durable marks:     unusable ({reason}); the next init sets them aside\n");
    }
    for p in &s.stray_files {
        out += &format!("  {:<22} stray      not part of the data\n", file_name(p));
    }
    out += &format!("state:             {}\n", if s.is_complete() { "complete" } else { "incomplete" });
    out
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn json(s: &DirStatus) -> serde_json::Value {
    let m = &s.metadata;
    let files: Vec<_> = s
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                "index": f.index, "file": f.path, "state": f.state.name(),
                "len": f.len_on_disk(), "expected_len": f.expected_len,
                "durable": s.durable_marks.get(&f.index),
            })
        })
        .collect();
    serde_json::json!({
        "dir": s.dir,
        "node_id": m.node_id.to_string(),
        "commitment_atx_id": m.commitment_atx_id.to_string(),
        "commitment": m.commitment().to_string(),
        "labels_per_unit": m.labels_per_unit,
        "num_units": m.num_units,
        "max_file_size": m.max_file_size,
        "num_labels": s.layout.num_labels(),
        "total_bytes": s.layout.total_bytes(),
        "num_files": s.layout.num_files(),
        "labels_on_disk": s.labels_on_disk(),
        "complete": s.is_complete(),
        "nonce": m.nonce,
        "nonce_value": m.nonce_value.map(hex::encode),
        "last_position": m.last_position,
        "lock_holder": s.lock_holder,
        "files": files,
        "stray_files": s.stray_files,
        "durable_marks_unusable": s.durable_marks_unusable,
    })
}
