//! `cargo xtask demo`: from a fresh clone to a verified proof on the small `dev` preset.
//!
//! 1. Build the release `post` binary.
//! 2. Generate an identity (random node id and commitment ATX id), kept in `post-data/identity.txt`
//!    so that a second run resumes the same data instead of starting over.
//! 3. `post init` 4 units of the `dev` preset into `post-data/dev` (resumable: rerun after Ctrl-C).
//! 4. `post prove` a random challenge, then `post verify --all` the proof.
//! 5. Measure the proving scan on the (page-cached) data with `post bench prove`.
//! 6. Print a summary: sizes, labels/s, proving GiB/s, the proof, verification time.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{ensure, Context};

use crate::tools;

const UNITS: u64 = 4;
const LABELS_PER_UNIT: u64 = 16384;

fn random_hex32() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn identity(dir: &Path) -> anyhow::Result<(String, String)> {
    let path = dir.join("identity.txt");
    if let Ok(text) = fs::read_to_string(&path) {
        let mut words = text.split_whitespace();
        if let (Some(node), Some(atx)) = (words.next(), words.next()) {
            return Ok((node.to_string(), atx.to_string()));
        }
    }
    let (node, atx) = (random_hex32()?, random_hex32()?);
    fs::create_dir_all(dir)?;
    fs::write(&path, format!("{node} {atx}\n")).with_context(|| format!("writing {}", path.display()))?;
    Ok((node, atx))
}

fn post(bin: &Path, args: &[&str]) -> anyhow::Result<f64> {
    eprintln!("\n$ post {}", args.join(" "));
    let start = Instant::now();
    let status = Command::new(bin).args(args).status().with_context(|| format!("running {}", bin.display()))?;
    ensure!(status.success(), "post {} failed ({status})", args.first().copied().unwrap_or_default());
    Ok(start.elapsed().as_secs_f64())
}

/// Runs the whole first-run journey.
///
/// # Errors
/// When a step fails; the message says which.
pub fn demo() -> anyhow::Result<()> {
    let root = tools::root();
    eprintln!("demo: building the post binary (release)");
    let status = tools::cargo()?.args(["build", "--release", "--package", "post-cli"]).status()?;
    ensure!(status.success(), "release build failed ({status})");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), Into::into);
    let bin = Path::new(&target).join("release/post");

    let base = root.join("post-data");
    let (node, atx) = identity(&base)?;
    let dir = base.join("dev");
    let dir_s = dir.to_string_lossy().to_string();
    let proof = base.join("proof.json");
    let proof_s = proof.to_string_lossy().to_string();
    let challenge = random_hex32()?;
    let units = UNITS.to_string();

    let init_s = post(
        &bin,
        &["init", "--preset", "dev", "--dir", &dir_s, "--node-id", &node, "--atx-id", &atx, "--units", &units],
    )?;
    let prove_s = post(
        &bin,
        &[
            "prove",
            "--preset",
            "dev",
            "--dir",
            &dir_s,
            "--challenge",
            &challenge,
            "--randomx",
            "light",
            "--out",
            &proof_s,
        ],
    )?;
    let verify_s = post(
        &bin,
        &["verify", "--preset", "dev", "--dir", &dir_s, "--challenge", &challenge, "--proof", &proof_s, "--all"],
    )?;

    eprintln!("\n$ post bench prove --dir {dir_s} --nonces 16 --seconds 3 --json");
    let bench = Command::new(&bin)
        .args(["bench", "prove", "--dir", &dir_s, "--nonces", "16", "--seconds", "3", "--json"])
        .output()
        .context("running post bench prove")?;
    ensure!(bench.status.success(), "post bench prove failed: {}", String::from_utf8_lossy(&bench.stderr));
    let bench = String::from_utf8_lossy(&bench.stdout);
    let gib_s = bench
        .split("\"gib_per_second\":")
        .nth(1)
        .and_then(|rest| rest.trim_start().split([',', '}']).next())
        .unwrap_or("?")
        .trim()
        .to_string();

    let labels = UNITS * LABELS_PER_UNIT;
    let bytes = labels * 16;
    let proof_text = fs::read_to_string(&proof).with_context(|| format!("reading {}", proof.display()))?;
    println!("\n== post demo: a verified proof on the dev preset ==");
    println!("data dir     {dir_s}");
    println!("identity     node {node}\n             atx  {atx}");
    println!("size         {UNITS} units × {LABELS_PER_UNIT} labels = {labels} labels, {} KiB", bytes / 1024);
    println!(
        "init         {init_s:.2} s, {:.0} labels/s with process start-up (a rerun finds the data complete)",
        labels as f64 / init_s
    );
    println!("prove        {prove_s:.2} s end to end (RandomX light-mode setup and k2pow included)");
    println!("proving scan {gib_s} GiB/s with 16 nonces on all cores (post bench prove, page-cached data)");
    println!("proof        {}", proof_text.split_whitespace().collect::<Vec<_>>().join(" "));
    println!("verify       {:.0} ms, valid (process start and RandomX setup included)", verify_s * 1000.0);
    Ok(())
}
