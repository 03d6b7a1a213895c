//! `post prove` checks before it spends hours, and stops when asked, with the real binary on real files:
//!
//! - metadata with an edited `NodeId` or `Nonce` is refused before RandomX starts (exit code 2, the
//!   field named, nothing written to `--out`, no job started);
//! - without `--preset` the preset is inferred from the metadata's `LabelsPerUnit` (dev here: no mainnet
//!   parameters, no 2 GiB dataset), and a `--preset` that disagrees with the data is warned about;
//! - an `--out` that cannot be written (a missing folder, a parent that is a file, a path under /proc, a
//!   read-only folder when not root) is refused before any work; if it becomes unwritable during the run,
//!   the verified proof goes to stdout with an error and exit code 4;
//! - Ctrl-C (SIGINT) during k2pow and during the RandomX fast dataset build stops the run within seconds
//!   with exit code 130 and "resume" in the message (the latency is printed);
//! - `-q` leaves errors only.
//!
//! Data: one unit of the dev preset's 16,384 labels (256 KiB, so `LabelsPerUnit` says dev) at scrypt
//! N = 2, made once per test binary.

#![allow(clippy::unwrap_used)]

#[path = "fault/common.rs"]
mod common;
#[path = "prove_support/live.rs"]
mod live;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use live::Live;

fn challenge() -> String {
    "d4".repeat(32)
}

/// A proof of work of about 16 RandomX hashes per nonce group: with 256 nonces and light mode on one
/// thread, k2pow lasts seconds, long enough to act while it runs.
fn slow_pow() -> String {
    format!("0f{}", "ff".repeat(31))
}

/// A complete dev-shaped data set in a fresh directory `<tmp>/<name>` (copied from one made once).
fn dev_dir(tmp: &Path, name: &str) -> PathBuf {
    static MADE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, source) = MADE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let (node, atx) = ("6b".repeat(32), "b6".repeat(32));
        let args = ["init", "--dir", dir.to_str().unwrap(), "--node-id", &node, "--atx-id", &atx, "--units", "1"];
        let out = common::run(&[&args[..], &["--preset", "dev", "--scrypt-n", "2"]].concat());
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

/// `post prove` on a dev-shaped directory on one thread, with no `--preset` (it is inferred), and `extra`.
fn prove_cmd(dir: &Path, out: &Path, extra: &[&str]) -> Command {
    prove_cmd_threads(dir, out, 1, extra)
}

fn prove_cmd_threads(dir: &Path, out: &Path, threads: u32, extra: &[&str]) -> Command {
    let (c, t) = (challenge(), threads.to_string());
    let mut cmd = common::post();
    cmd.args(["prove", "--dir", dir.to_str().unwrap(), "--challenge", &c, "--scrypt-n", "2"]);
    cmd.args(["--threads", &t, "--out", out.to_str().unwrap()]);
    cmd.args(extra);
    cmd
}

/// `post prove` that spends seconds in k2pow (light RandomX).
fn slow_prove_cmd(dir: &Path, out: &Path, extra: &[&str]) -> Command {
    let pow = slow_pow();
    let mut cmd = prove_cmd(dir, out, &["--randomx", "light", "--nonces", "256", "--pow-difficulty", &pow]);
    cmd.args(extra);
    cmd
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join(".post-proof").join(format!("{}.json", challenge()))
}

/// `post verify --all` of a proof file with the dev preset's parameters and `extra`.
fn verify(proof: &Path, extra: &[&str]) -> std::process::Output {
    let args = ["verify", "--proof", proof.to_str().unwrap(), "--preset", "dev", "--scrypt-n", "2", "--all"];
    common::run(&[&args[..], extra].concat())
}

/// Rewrites the metadata of `dir` as JSON.
fn edit_metadata(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("postdata_metadata.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut meta);
    std::fs::write(&path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
}

/// Asserts a refusal before any proving work: exit code 2, every needle in the message, no RandomX, no
/// job started, nothing at `out`.
fn assert_refused_early(out: &std::process::Output, needles: &[&str], dir: &Path, proof: &Path) {
    let text = common::text(out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in: {text}");
    }
    assert!(!text.contains("RandomX"), "RandomX was started: {text}");
    assert!(!dir.join(".post-proof").exists(), "a proof job was started: {text}");
    assert!(!proof.exists(), "something was written to --out: {text}");
}

#[test]
fn an_edited_node_id_or_nonce_is_refused_before_randomx_starts() {
    let tmp = tempfile::tempdir().unwrap();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &[&str]); 2] = [
        (
            "node_id",
            |m| {
                use base64::Engine as _;
                let engine = base64::engine::general_purpose::STANDARD;
                let mut id = engine.decode(m["NodeId"].as_str().unwrap()).unwrap();
                id[0] ^= 1;
                m["NodeId"] = engine.encode(id).into();
            },
            &["NodeId", "postdata_0.bin", "does not match"],
        ),
        (
            "nonce",
            |m| m["Nonce"] = (m["Nonce"].as_u64().unwrap() + 1).into(),
            &["VRF nonce (Nonce)", "postdata_metadata.json", "not valid"],
        ),
    ];
    for (name, edit, needles) in cases {
        let dir = dev_dir(tmp.path(), name);
        edit_metadata(&dir, edit);
        let proof = tmp.path().join(format!("{name}.json"));
        let started = Instant::now();
        let out = common::output(&mut prove_cmd(&dir, &proof, &["--randomx", "light"]));
        eprintln!("{name}: refused in {:.2} s", started.elapsed().as_secs_f64());
        assert_refused_early(&out, needles, &dir, &proof);
    }
}

#[test]
fn the_preset_is_inferred_from_labels_per_unit_and_a_mismatch_is_warned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dev_dir(tmp.path(), "infer");
    let proof = tmp.path().join("proof.json");
    // No --preset, no --randomx: everything from the data's dev shape.
    let out = common::output(&mut prove_cmd(&dir, &proof, &[]));
    let text = common::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("preset dev inferred from the metadata's LabelsPerUnit 16384"), "{text}");
    assert!(text.contains("preset dev, k1 48 k2 32, 16 nonces per pass"), "{text}");
    assert!(text.contains("RandomX light"), "the dev proof of work needs no fast dataset: {text}");
    assert!(!text.contains("mainnet") && !text.contains("RandomX dataset"), "{text}");
    // The proof is one of the dev preset's parameters.
    let check = verify(&proof, &[]);
    assert!(check.status.success(), "{}", common::text(&check));

    // A --preset the data disagrees with is used, with a warning (here the run then stops at an --out
    // that cannot be written, before any work).
    let missing = tmp.path().join("missing").join("proof.json");
    let out = common::output(&mut prove_cmd(&dir, &missing, &["--preset", "mainnet"]));
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let warning = "warning: prove: the data has 16384 labels per unit, which is the dev preset's, but --preset \
                   mainnet was given";
    assert!(text.contains(warning), "{text}");
    assert!(!text.contains("inferred"), "{text}");
}

#[test]
fn an_unwritable_out_is_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let mut cases = vec![
        ("missing folder", tmp.path().join("missing").join("proof.json")),
        ("parent is a file", file.join("proof.json")),
        ("under /proc", PathBuf::from("/proc/post-prove-test-proof.json")),
    ];
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        eprintln!("running as root: a read-only folder (mode 0555) does not stop root; /proc stands for it");
    } else {
        use std::os::unix::fs::PermissionsExt as _;
        let read_only = tmp.path().join("read-only");
        std::fs::create_dir(&read_only).unwrap();
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
        cases.push(("read-only folder", read_only.join("proof.json")));
    }
    for (name, out_path) in cases {
        let dir = dev_dir(tmp.path(), &name.replace(' ', "_").replace('/', ""));
        let started = Instant::now();
        let out = common::output(&mut slow_prove_cmd(&dir, &out_path, &[]));
        let took = started.elapsed();
        eprintln!("{name}: refused in {:.2} s", took.as_secs_f64());
        let shown = format!("--out {} cannot be written", out_path.display());
        assert_refused_early(&out, &[&shown], &dir, &out_path);
        assert!(took < Duration::from_secs(30), "{name}: refusing took {took:?}");
    }
}

/// The folder of `--out` is removed while k2pow runs (after the check at the start): the proof, found and
/// verified, is printed on stdout with an error naming the path, exit code 4, and it stays in the job's
/// state. (Exit code 2 stays for failures that leave no proof.)
#[test]
fn a_proof_that_cannot_be_written_at_the_end_goes_to_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dev_dir(tmp.path(), "vanishing");
    let folder = tmp.path().join("proofs");
    std::fs::create_dir(&folder).unwrap();
    let out_path = folder.join("proof.json");
    let mut run = Live::start(&mut slow_prove_cmd(&dir, &out_path, &[]));
    run.wait_for_line("k2pow (nonces 0..256)", Duration::from_secs(120));
    std::fs::remove_dir_all(&folder).unwrap();
    let (ended, _) = run.wait(Duration::from_secs(300));
    let text = ended.text();
    assert_eq!(ended.status.code(), Some(4), "{text}");
    assert!(
        ended.stderr.contains(&format!("error: could not write the proof to {}", out_path.display()))
            && ended.stderr.contains("printed on stdout"),
        "{text}"
    );
    assert!(!out_path.exists());
    // stdout is exactly the proof record, and it verifies.
    let record: serde_json::Value = serde_json::from_str(&ended.stdout).unwrap();
    assert!(record["proof"]["indices"].is_string() && record["metadata"]["node_id"].is_string(), "{record}");
    let saved = tmp.path().join("from-stdout.json");
    std::fs::write(&saved, &ended.stdout).unwrap();
    let check = verify(&saved, &["--pow-difficulty", &slow_pow()]);
    assert!(check.status.success(), "{}", common::text(&check));
    // And the job's state keeps it.
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state_file(&dir)).unwrap()).unwrap();
    assert_eq!(state["proof"]["nonce"], record["proof"]["nonce"], "{state}");
}

/// SIGINT after `ready` appeared, then the time until the process is gone; exit 130 and "resume".
fn interrupt_at(mut run: Live, ready: &str, after: Duration) -> (live::Ended, Duration) {
    run.wait_for_line(ready, Duration::from_secs(120));
    std::thread::sleep(after);
    let sent = Instant::now();
    run.signal(libc::SIGINT);
    let (ended, gone) = run.wait(Duration::from_secs(120));
    let latency = gone - sent;
    let text = ended.text();
    assert_eq!(ended.status.code(), Some(130), "{text}");
    assert!(text.contains("run the same command again to resume"), "{text}");
    (ended, latency)
}

#[test]
fn ctrl_c_during_k2pow_stops_within_seconds_and_saves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dev_dir(tmp.path(), "k2pow");
    let out_path = tmp.path().join("proof.json");
    let run = Live::start(&mut slow_prove_cmd(&dir, &out_path, &[]));
    let (ended, latency) = interrupt_at(run, "k2pow (nonces 0..256)", Duration::from_millis(300));
    eprintln!("SIGINT during k2pow: exited {:.3} s after the signal", latency.as_secs_f64());
    assert!(latency < Duration::from_secs(5), "Ctrl-C took {latency:?}:\n{}", ended.text());
    assert!(ended.stderr.contains("the job is saved in"), "{}", ended.text());
    assert!(state_file(&dir).exists(), "no state saved:\n{}", ended.text());
    assert!(!out_path.exists());
    // The next run resumes it.
    let mut again = Live::start(&mut slow_prove_cmd(&dir, &out_path, &[]));
    again.wait_for_line("prove: resuming after 1 earlier run(s)", Duration::from_secs(60));
    let _ = again.kill();
}

fn mem_available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = text.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?.trim().trim_end_matches("kB").trim();
    Some(kib.parse::<u64>().ok()? * 1024)
}

/// Fast mode builds a 2 GiB dataset (tens of seconds on two threads): Ctrl-C inside it stops the build.
/// Needs 4 GiB available; skips loudly otherwise (`POST_REQUIRE_RANDOMX_FAST=1` makes that a failure).
#[test]
fn ctrl_c_during_the_randomx_dataset_build_stops_within_seconds() {
    const NEEDED: u64 = 4 << 30;
    if mem_available_bytes().is_none_or(|b| b < NEEDED) {
        let message = format!(
            "SKIPPED ctrl_c_during_the_randomx_dataset_build_stops_within_seconds: needs {} GiB available, has {:?} \
             bytes",
            NEEDED >> 30,
            mem_available_bytes()
        );
        let required = std::env::var_os("POST_REQUIRE_RANDOMX_FAST").is_some_and(|v| v == "1");
        assert!(!required, "{message} (POST_REQUIRE_RANDOMX_FAST=1)");
        use std::io::Write as _;
        let _ = std::io::stderr().write_all(format!("{message}\n").as_bytes());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = dev_dir(tmp.path(), "dataset");
    let out_path = tmp.path().join("proof.json");
    let run = Live::start(&mut prove_cmd_threads(&dir, &out_path, 2, &["--randomx", "fast"]));
    let (ended, latency) = interrupt_at(run, "building the RandomX dataset", Duration::from_secs(1));
    eprintln!("SIGINT during the RandomX dataset build: exited {:.3} s after the signal", latency.as_secs_f64());
    assert!(latency < Duration::from_secs(5), "Ctrl-C took {latency:?}:\n{}", ended.text());
    assert!(!ended.stderr.contains("RandomX fast ready"), "the build had finished:\n{}", ended.text());
    assert!(!out_path.exists());
}

#[test]
fn quiet_prove_prints_errors_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dev_dir(tmp.path(), "quiet");
    let proof = tmp.path().join("proof.json");
    let mut cmd = prove_cmd(&dir, &proof, &["--randomx", "light"]);
    cmd.arg("-q");
    let out = common::output(&mut cmd);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "-q: errors only");
    assert!(out.stdout.is_empty(), "the proof went to --out");
    assert!(verify(&proof, &[]).status.success());

    // An error still shows, with its prefix.
    let missing = tmp.path().join("missing").join("proof.json");
    let out = common::output(&mut prove_cmd(&dir, &missing, &["-q"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("cannot be written"), "{stderr}");
}
