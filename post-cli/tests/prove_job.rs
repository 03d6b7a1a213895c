//! `post prove` as a resumable, self-checking job, with real processes: killed with SIGKILL at random
//! moments during k2pow and during the scan, then run again (with another thread count), it writes
//! exactly the proof of an uninterrupted run and never computes a saved k2pow group twice; Ctrl-C exits
//! 130 and resumes; a saved state of other parameters or a damaged one is set aside; a label that the
//! proof uses and that is wrong on disk stops the run with the file and offset named; the proof file
//! verifies with `post verify --proof` alone.
//!
//! Data: one unit of 2^20 labels (16 MiB in four files) at scrypt N = 2, made once per test binary. The
//! scan runs on the portable AES kernel with 256 nonces so that it takes long enough to be interrupted,
//! and RandomX runs in light mode with an easy proof of work (about four hashes a group).

#![allow(clippy::unwrap_used)]

#[path = "fault/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const LABELS_PER_UNIT: u64 = 1 << 22;
const FILE_SIZE: u64 = 4 << 20;
const NONCES: &str = "256";
const GROUPS: usize = 16;

fn challenge() -> String {
    "c3".repeat(32)
}

fn pow_difficulty() -> String {
    format!("3f{}", "ff".repeat(31))
}

/// A complete data set in a fresh directory `<tmp>/<name>` (copied from one made once).
fn data_dir(tmp: &Path, name: &str) -> PathBuf {
    static MADE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, source) = MADE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let units = LABELS_PER_UNIT.to_string();
        let file_size = FILE_SIZE.to_string();
        let (node, atx) = ("5a".repeat(32), "a5".repeat(32));
        let args = ["init", "--dir", dir.to_str().unwrap(), "--node-id", &node, "--atx-id", &atx, "--units", "1"];
        let shape = ["--preset", "dev", "--labels-per-unit", &units, "--max-file-size", &file_size, "--scrypt-n", "2"];
        let out = common::run(&args.iter().chain(&shape).copied().collect::<Vec<_>>());
        assert!(out.status.success(), "init failed: {}", common::text(&out));
        (tmp, dir)
    });
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() && entry.file_name() != ".post.lock" {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    dir
}

fn prove_cmd(dir: &Path, out: &Path, threads: u32, extra: &[&str]) -> std::process::Command {
    let (c, pow, t) = (challenge(), pow_difficulty(), threads.to_string());
    let mut cmd = common::post();
    cmd.args(["prove", "--dir", dir.to_str().unwrap(), "--challenge", &c, "--preset", "dev", "--scrypt-n", "2"]);
    cmd.args(["--randomx", "light", "--pow-difficulty", &pow, "--nonces", NONCES, "--aes", "portable"]);
    cmd.args(["--threads", &t, "--checkpoint-secs", "0.01", "--out", out.to_str().unwrap()]);
    cmd.args(extra);
    cmd
}

fn prove(dir: &Path, out: &Path, threads: u32) -> Output {
    common::output(&mut prove_cmd(dir, out, threads, &[]))
}

fn job_file(dir: &Path, ext: &str) -> PathBuf {
    dir.join(".post-proof").join(format!("{}.{ext}", challenge()))
}

/// The saved state, when there is one that parses.
fn state(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(job_file(dir, "json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs of the job that got as far as starting (after RandomX was set up), from the trace.
fn runs_started(dir: &Path) -> usize {
    let trace = std::fs::read_to_string(job_file(dir, "log")).unwrap_or_default();
    trace.lines().filter(|l| l.contains(" run ") && l.contains(" started")).count()
}

fn pows_saved(dir: &Path) -> usize {
    state(dir).map_or(0, |s| s["pows"].as_object().map_or(0, |m| m.len()))
}

/// How often each k2pow group was found, from the job's trace.
fn group_counts(dir: &Path) -> BTreeMap<u32, usize> {
    let trace = std::fs::read_to_string(job_file(dir, "log")).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in trace.lines() {
        if let Some(rest) = line.split_once("k2pow group ").map(|(_, r)| r) {
            let group: u32 = rest.split_whitespace().next().unwrap().parse().unwrap();
            *counts.entry(group).or_insert(0) += 1;
        }
    }
    counts
}

/// The proof's indices, from the job's trace.
fn proof_indices(dir: &Path) -> Vec<u64> {
    let trace = std::fs::read_to_string(job_file(dir, "log")).unwrap();
    let line = trace.lines().find(|l| l.contains("proof found")).unwrap();
    let list = line.split_once('[').unwrap().1.split_once(']').unwrap().0;
    list.split(", ").map(|n| n.parse().unwrap()).collect()
}

fn kill(mut child: Child) {
    common::signal(&child, libc::SIGKILL);
    let _ = child.wait();
}

/// Waits until `ready` or the child exits; true when `ready`.
fn wait_for(child: &mut Child, limit: Duration, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("nothing happened within {limit:?}");
}

/// The uninterrupted run's proof file, made once per test binary.
fn reference() -> &'static String {
    static PROOF: OnceLock<String> = OnceLock::new();
    PROOF.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = data_dir(tmp.path(), "reference");
        let out = tmp.path().join("proof.json");
        let run = prove(&dir, &out, 1);
        assert!(run.status.success(), "{}", common::text(&run));
        assert_eq!(group_counts(&dir).len(), GROUPS, "the reference run found a proof in its first pass");
        std::fs::read_to_string(out).unwrap()
    })
}

#[test]
fn killed_runs_resume_to_the_uninterrupted_proof() {
    let want = reference();
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "killed");
    let out = tmp.path().join("proof.json");
    let mut rng = common::seed();
    let (mut in_k2pow, mut in_scan, mut runs) = (0, 0, 0);
    // A run may finish on its own before the kill comes (the scan left after several kills is short):
    // then there is nothing more to interrupt.
    let mut finished_alone = false;
    while in_k2pow + in_scan < 12 {
        if in_scan >= 6 {
            break;
        }
        runs += 1;
        assert!(runs < 40, "no progress after {runs} runs");
        let threads = 1 + (runs % 2);
        let mut child = common::spawn(&mut prove_cmd(&dir, &out, threads, &[]));
        let saved = pows_saved(&dir);
        if saved < GROUPS && in_k2pow < 6 {
            // During k2pow: once one more group is saved, after a random further delay.
            if !wait_for(&mut child, Duration::from_secs(60), || pows_saved(&dir) > saved) {
                finished_alone = child.try_wait().unwrap().is_some();
                break;
            }
            std::thread::sleep(Duration::from_millis(common::next(&mut rng) % 150));
            if child.try_wait().unwrap().is_some() {
                finished_alone = true;
                break;
            }
            if pows_saved(&dir) < GROUPS {
                in_k2pow += 1;
            }
        } else {
            // During the scan: every proof of work is saved, so a run scans as soon as it starts (its
            // trace line); kill it a random moment after it saved its first checkpoint, so that each
            // run advances the scan only a little and several kills fit in it.
            let before = runs_started(&dir);
            let position = || state(&dir).and_then(|s| s["position"].as_u64()).unwrap_or(0);
            let start = position();
            let scanning = || pows_saved(&dir) == GROUPS && runs_started(&dir) > before && position() > start;
            if !wait_for(&mut child, Duration::from_secs(60), scanning) {
                finished_alone = child.try_wait().unwrap().is_some();
                break;
            }
            std::thread::sleep(Duration::from_millis(common::next(&mut rng) % 10));
            if child.try_wait().unwrap().is_some() {
                finished_alone = true;
                break;
            }
            in_scan += 1;
        }
        kill(child);
        assert!(!out.exists(), "a killed run wrote --out");
    }
    let last = prove(&dir, &out, 2);
    assert!(last.status.success(), "{}", common::text(&last));
    if !finished_alone {
        assert!(common::text(&last).contains("resuming"), "{}", common::text(&last));
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap(), *want, "after {in_k2pow} + {in_scan} kills");
    let counts = group_counts(&dir);
    assert_eq!(counts.len(), GROUPS, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "a saved k2pow group was computed again: {counts:?}");
    eprintln!("{in_k2pow} kills during k2pow, {in_scan} during the scan, over {runs} runs");
    assert!(in_k2pow >= 3 && in_scan >= 3, "{in_k2pow} kills during k2pow, {in_scan} during the scan");

    // Done: running again returns the saved proof without work.
    std::fs::remove_file(&out).unwrap();
    let again = prove(&dir, &out, 1);
    assert!(again.status.success() && common::text(&again).contains("already proven"), "{}", common::text(&again));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), *want);
}

#[test]
fn ctrl_c_saves_and_the_next_run_continues() {
    let want = reference();
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "interrupted");
    let out = tmp.path().join("proof.json");
    let mut child = common::spawn(&mut prove_cmd(&dir, &out, 1, &[]));
    assert!(wait_for(&mut child, Duration::from_secs(60), || pows_saved(&dir) >= 3), "the run ended early");
    common::signal(&child, libc::SIGINT);
    let stopped = common::wait_at_most(child, Duration::from_secs(30));
    assert_eq!(stopped.status.code(), Some(130), "{}", common::text(&stopped));
    assert!(common::text(&stopped).contains("run the same command again"), "{}", common::text(&stopped));
    let kept = pows_saved(&dir);
    assert!(kept >= 3, "{kept}");

    let resumed = prove(&dir, &out, 2);
    assert!(resumed.status.success(), "{}", common::text(&resumed));
    assert!(common::text(&resumed).contains(&format!("{kept} proof(s) of work kept")), "{}", common::text(&resumed));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), *want);
}

#[test]
fn states_of_other_parameters_or_damaged_ones_are_set_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "aside");
    let out = tmp.path().join("proof.json");
    let first = prove(&dir, &out, 2);
    assert!(first.status.success(), "{}", common::text(&first));

    // Another k2 for the same challenge: the saved (finished) job is not used.
    let other = common::output(&mut prove_cmd(&dir, &out, 2, &["--k2", "31"]));
    let text = common::text(&other);
    assert!(other.status.success(), "{text}");
    assert!(text.contains("set aside") && text.contains("another k2"), "{text}");
    assert!(!text.contains("already proven"), "{text}");
    assert!(verify(&out, &["--k2", "31"]).status.success(), "the proof is not one of k2 = 31");
    assert_eq!(verify(&out, &[]).status.code(), Some(1), "a proof of k2 = 31 passed as one of 32");

    // A torn state file: reported, renamed, and the job starts afresh.
    let state_file = job_file(&dir, "json");
    let bytes = std::fs::read(&state_file).unwrap();
    std::fs::write(&state_file, &bytes[..bytes.len() / 2]).unwrap();
    let torn = common::output(&mut prove_cmd(&dir, &out, 2, &["--k2", "31"]));
    let text = common::text(&torn);
    assert!(torn.status.success() && text.contains("set aside") && text.contains("does not parse"), "{text}");
    let aside: Vec<_> = std::fs::read_dir(dir.join(".post-proof"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".json.bad-"))
        .collect();
    assert_eq!(aside.len(), 2, "{aside:?}");

    // --clean removes every saved job.
    let clean = common::run(&["prove", "--dir", dir.to_str().unwrap(), "--clean"]);
    assert!(clean.status.success(), "{}", common::text(&clean));
    assert!(std::fs::read_dir(dir.join(".post-proof")).unwrap().next().is_none());
}

#[test]
fn a_wrong_label_under_the_proof_is_named_and_nothing_is_written() {
    reference();
    let tmp = tempfile::tempdir().unwrap();
    // The proof's indices, from a run on a clean copy.
    let clean = data_dir(tmp.path(), "clean");
    let first = prove(&clean, &tmp.path().join("clean.json"), 2);
    assert!(first.status.success(), "{}", common::text(&first));
    let indices = proof_indices(&clean);

    // Give a label before the proof's last one the bytes of a label the winning nonce accepts: the scan
    // now takes it into the proof, and recomputing it shows it is wrong.
    let dir = data_dir(tmp.path(), "damaged");
    let target = (indices[0] + 1..).find(|i| !indices.contains(i)).unwrap();
    assert!(target < *indices.last().unwrap());
    let read = |index: u64| {
        let (file, offset) = (index * 16 / FILE_SIZE, index * 16 % FILE_SIZE);
        let bytes = std::fs::read(dir.join(format!("postdata_{file}.bin"))).unwrap();
        (file, offset, bytes[offset as usize..offset as usize + 16].to_vec())
    };
    let (_, _, good) = read(indices[0]);
    let (file, offset, _) = read(target);
    let path = dir.join(format!("postdata_{file}.bin"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset as usize..offset as usize + 16].copy_from_slice(&good);
    std::fs::write(&path, bytes).unwrap();

    let out = tmp.path().join("proof.json");
    let run = prove(&dir, &out, 2);
    let text = common::text(&run);
    assert_eq!(run.status.code(), Some(1), "{text}");
    let named = format!("label {target} at byte {offset} of {}", path.display());
    assert!(text.contains(&named), "{named:?} not in {text}");
    assert!(text.contains("post repair"), "{text}");
    assert!(!out.exists(), "a proof that does not verify was written");
}

/// `post verify --proof <file> --all` with only the parameters of the data set (and `extra`).
fn verify(file: &Path, extra: &[&str]) -> Output {
    let (pow, units) = (pow_difficulty(), LABELS_PER_UNIT.to_string());
    let args = ["verify", "--proof", file.to_str().unwrap(), "--preset", "dev", "--scrypt-n", "2"];
    let more = ["--labels-per-unit", &units, "--pow-difficulty", &pow, "--all"];
    common::run(&args.iter().chain(&more).chain(extra).copied().collect::<Vec<_>>())
}

#[test]
fn the_proof_file_verifies_alone() {
    let want = reference();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("proof.json");
    std::fs::write(&file, want).unwrap();
    let out = verify(&file, &[]);
    assert!(out.status.success(), "{}", common::text(&out));

    // The same proof with its challenge changed is rejected.
    let mut record: serde_json::Value = serde_json::from_str(want).unwrap();
    record["metadata"]["challenge"] = base64_of(&[0x11; 32]).into();
    std::fs::write(&file, record.to_string()).unwrap();
    let out = verify(&file, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));

    // A file far larger than any proof is refused without being read whole.
    std::fs::write(&file, vec![b' '; 2 << 20]).unwrap();
    let out = verify(&file, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(common::text(&out).contains("not a proof file"), "{}", common::text(&out));
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn bench_plan_prints_a_table_and_a_recommendation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "plan");
    let d = dir.to_str().unwrap();
    let pow = pow_difficulty();
    let args = ["bench", "plan", "--dir", d, "--preset", "dev", "--pow-difficulty", &pow, "--nonces", "16,64"];
    let more = ["--threads", "1", "--seconds", "0.2", "--window", "1h"];
    let table = common::run(&args.iter().chain(&more).copied().collect::<Vec<_>>());
    let text = common::text(&table);
    assert!(table.status.success(), "{text}");
    assert!(text.contains("P(window)") && text.contains("recommended: --nonces"), "{text}");

    let json = common::run(&args.iter().chain(&more).chain(&["--json"]).copied().collect::<Vec<_>>());
    assert!(json.status.success(), "{}", common::text(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let candidates = report["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2, "{report}");
    for c in candidates {
        let (pass, k2pow, scan) = (c["pass_seconds"].as_f64(), c["k2pow_seconds"].as_f64(), c["scan_seconds"].as_f64());
        assert!((pass.unwrap() - k2pow.unwrap() - scan.unwrap()).abs() < 1e-6, "{c}");
        let p = c["pass_probability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "{c}");
    }
    // dev data: k1 = 48 expected good labels per nonce and k2 = 32 needed, so a nonce nearly always wins.
    assert!(report["nonce_success_probability"].as_f64().unwrap() > 0.99, "{report}");
    assert!(report["recommended"].is_object(), "{report}");
}
