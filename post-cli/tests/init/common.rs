//! Helpers for the `post init` family of CLI tests: running the binary, the small reference setup, a
//! slow setup that gives time to interrupt it, and directory comparisons.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `post` binary under test.
pub fn post() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_post"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Runs `post` with arguments and returns its output.
pub fn run(args: &[&str]) -> Output {
    post().args(args).output().unwrap()
}

/// Text of stdout and stderr together, for messages.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The directory the reference tools wrote (shared vectors, copied into post-init's test data).
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../post-init/tests/data/datadir-small")
}

/// `post init` arguments reproducing the reference directory (N = 16, 4 × 256 labels, 4800-byte files).
pub fn small_args(dir: &Path) -> Vec<String> {
    let mut args = vec!["init".to_string(), "--dir".into(), dir.display().to_string()];
    args.extend(
        [
            "--node-id",
            &"77".repeat(32),
            "--atx-id",
            &"11".repeat(32),
            "--units",
            "4",
            "--preset",
            "dev",
            "--labels-per-unit",
            "256",
            "--max-file-size",
            "4800",
            "--scrypt-n",
            "16",
            "--provider",
            "reference",
        ]
        .map(String::from),
    );
    args
}

/// `post init` arguments for a run of about a second (4096 labels at N = 1024, one thread, small
/// batches), to interrupt it; 5 files of 1000 labels (the last 96).
pub fn slow_args(dir: &Path) -> Vec<String> {
    let mut args = vec!["init".to_string(), "--dir".into(), dir.display().to_string()];
    args.extend(
        [
            "--node-id",
            &"42".repeat(32),
            "--atx-id",
            &"24".repeat(32),
            "--units",
            "1",
            "--preset",
            "dev",
            "--labels-per-unit",
            "4096",
            "--max-file-size",
            "16000",
            "--scrypt-n",
            "1024",
            "--provider",
            "reference",
            "--threads",
            "1",
            "--batch",
            "8",
        ]
        .map(String::from),
    );
    args
}

/// Bytes of the slow setup's data.
pub const SLOW_BYTES: u64 = 4096 * 16;

pub fn run_args(args: &[String]) -> Output {
    post().args(args).output().unwrap()
}

pub fn spawn(args: &[String]) -> Child {
    post().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Total bytes of the `postdata_*.bin` files in `dir`.
pub fn data_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bin"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Waits until `dir` holds at least `bytes` of data or the child exits; true when the threshold was met
/// while the child still ran.
pub fn wait_for_bytes(child: &mut Child, dir: &Path, bytes: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if data_bytes(dir) >= bytes {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("post init wrote nothing for 60 s");
}

/// Every `postdata_*.bin` file by name.
pub fn data_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("postdata_") && name.ends_with(".bin")
        })
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// Every file but the lock, by name.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != ".post.lock")
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

pub fn metadata(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("postdata_metadata.json")).unwrap()).unwrap()
}

/// Equal data files and equal metadata fields (those both reference tools write).
pub fn assert_same_data(dir: &Path, reference: &Path) {
    assert_eq!(
        data_files(dir),
        data_files(reference),
        "data of {} differs from {}",
        dir.display(),
        reference.display()
    );
    let fields = |m: serde_json::Value| {
        ["NodeId", "CommitmentAtxId", "LabelsPerUnit", "NumUnits", "MaxFileSize", "Nonce"].map(|k| m[k].clone())
    };
    assert_eq!(fields(metadata(dir)), fields(metadata(reference)));
}

/// Copies a directory's files (writable) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for (name, bytes) in snapshot(from) {
        std::fs::write(to.join(name), bytes).unwrap();
    }
}

/// A seed from the clock, printed so that a failure can be reproduced by hand.
pub fn seed() -> u64 {
    let s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("random seed: {s}");
    s
}

/// xorshift64*: a few random numbers for test choices.
pub fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}
