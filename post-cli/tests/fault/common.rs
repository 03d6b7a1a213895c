//! Helpers for the fault tests: the `post` binary, a small data set that takes about half a second to
//! initialize (long enough to interrupt at random points, short enough to run a dozen times), snapshots
//! of a directory, and the two outcomes a fault may end in.
//!
//! Every fault must end in one of:
//!
//! ```text
//! refused:  exit code 2, a message naming the problem, and the directory byte for byte as before
//! correct:  exit code 0 and the directory byte for byte as an uninterrupted run leaves it
//! ```

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Labels of the fault data set: 2 units of 2048.
pub const NUM_LABELS: u64 = 4096;
/// Its files: four of 1000 labels and one of 96.
pub const FILE_SIZES: [u64; 5] = [16000, 16000, 16000, 16000, 1536];
/// Its bytes.
pub const DATA_BYTES: u64 = NUM_LABELS * 16;
/// Labels resume recomputes at the end of a file before trusting it (post-init's `TAIL_CHECK_LABELS`).
pub const TAIL_CHECK_LABELS: u64 = 8;

/// The `post` binary under test, with logging left at its default.
pub fn post() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_post"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// The shape and identity flags of the fault data set (N = 256, the reference labeller on one thread,
/// small batches so that there are many points to stop at).
pub fn shape_args() -> Vec<String> {
    [
        "--node-id",
        &"5a".repeat(32),
        "--atx-id",
        &"a5".repeat(32),
        "--units",
        "2",
        "--preset",
        "dev",
        "--labels-per-unit",
        "2048",
        "--max-file-size",
        "16000",
        "--scrypt-n",
        "256",
        "--provider",
        "reference",
        "--threads",
        "1",
        "--batch",
        "8",
    ]
    .map(String::from)
    .to_vec()
}

/// `post init` of the fault data set into `dir`.
pub fn init_cmd(dir: &Path) -> Command {
    let mut cmd = post();
    cmd.arg("init").arg("--dir").arg(dir).args(shape_args());
    cmd
}

/// `post init` into `dir` with some of the fault data set's flags given other values.
pub fn init_cmd_with(dir: &Path, overrides: &[(&str, &str)]) -> Command {
    let mut args = shape_args();
    for (flag, value) in overrides {
        let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("no flag {flag}"));
        args[at + 1] = (*value).to_string();
    }
    let mut cmd = post();
    cmd.arg("init").arg("--dir").arg(dir).args(args);
    cmd
}

/// Runs a command to completion.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// Runs `post` with arguments.
pub fn run(args: &[&str]) -> Output {
    output(post().args(args))
}

/// Spawns a command with captured output.
pub fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// stdout and stderr together, for assertion messages.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `post verify-data --all` with the fault data set's scrypt N.
pub fn verify_data(dir: &Path) -> Output {
    run(&["verify-data", "--dir", dir.to_str().unwrap(), "--all", "--scrypt-n", "256", "--provider", "reference"])
}

/// `post info --json`, parsed.
pub fn info(dir: &Path) -> serde_json::Value {
    let out = run(&["info", "--dir", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "post info failed: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every file of a directory except the lock file, by name. A file that disappears while the directory
/// is read (a temporary file renamed by a running `post`) is left out.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeMap::new() };
    entries
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != ".post.lock")
        .filter_map(|e| match std::fs::read(e.path()) {
            Ok(bytes) => Some((e.file_name().to_string_lossy().into_owned(), bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => panic!("reading {}: {err}", e.path().display()),
        })
        .collect()
}

/// Bytes of the `postdata_*.bin` files in `dir` (polled while `post init` writes them).
pub fn data_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bin"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// The directory an uninterrupted `post init` of the fault data set leaves, made once per test binary,
/// and how long that run took.
pub fn reference() -> &'static (BTreeMap<String, Vec<u8>>, Duration) {
    static REFERENCE: OnceLock<(BTreeMap<String, Vec<u8>>, Duration)> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reference");
        let start = Instant::now();
        let out = output(&mut init_cmd(&dir));
        let took = start.elapsed();
        assert!(out.status.success(), "the uninterrupted run failed: {}", text(&out));
        let files = snapshot(&dir);
        assert_eq!(files.len(), 6, "{:?}", files.keys().collect::<Vec<_>>());
        (files, took)
    })
}

/// A complete fault data set in a fresh directory `<tmp>/<name>`.
pub fn complete_dir(tmp: &Path, name: &str) -> PathBuf {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, bytes) in &reference().0 {
        std::fs::write(dir.join(file), bytes).unwrap();
    }
    dir
}

/// Asserts that `dir` holds exactly what the uninterrupted run wrote, metadata included.
pub fn assert_same_as_reference(dir: &Path) {
    let got = snapshot(dir);
    let want = &reference().0;
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&got), names(want), "files of {}", dir.display());
    for (name, bytes) in want {
        if got[name] != *bytes {
            let first = got[name].iter().zip(bytes).position(|(a, b)| a != b);
            panic!(
                "{name} differs from the uninterrupted run: {} bytes vs {}, first difference at {first:?}",
                got[name].len(),
                bytes.len()
            );
        }
    }
}

/// Asserts that every data file is a byte prefix of the uninterrupted run's (a killed writer may leave
/// files short, even mid-label, but never wrong), and that the metadata, when present, parses.
pub fn assert_prefix_of_reference(dir: &Path) {
    let want = &reference().0;
    for (name, bytes) in snapshot(dir) {
        if name.ends_with(".bin") {
            let full = want.get(&name).unwrap_or_else(|| panic!("unexpected file {name}"));
            assert!(bytes.len() <= full.len(), "{name} is longer than the uninterrupted run's");
            let first = bytes.iter().zip(full).position(|(a, b)| a != b);
            assert!(first.is_none(), "{name} differs at byte {first:?} from the uninterrupted run");
        } else if name == "postdata_metadata.json" {
            let text = String::from_utf8(bytes).unwrap();
            assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "torn metadata: {text:?}");
        }
    }
}

/// Asserts the "refused" outcome: exit code 2, every needle in the message, nothing changed.
pub fn assert_refused(out: &Output, needles: &[&str], dir: &Path, before: &BTreeMap<String, Vec<u8>>) {
    let message = text(out);
    assert_eq!(out.status.code(), Some(2), "expected a refusal (exit 2): {message}");
    for needle in needles {
        assert!(message.contains(needle), "the message lacks {needle:?}: {message}");
    }
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(snapshot(dir), *before, "a refused run changed {}", dir.display());
}

/// Sends `signal` to a child.
pub fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) with a valid pid and signal number touches no memory of ours.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({}, {signal})", child.id());
}

/// Freezes a child with SIGSTOP and returns once every one of its threads has stopped: `true`, or
/// `false` when the child had already exited.
///
/// kill(2) only queues the stop: each thread stops when it next leaves the kernel, so a thread in the
/// middle of a `write` finishes it after kill returns. A snapshot taken right after kill can therefore
/// miss bytes that land a moment later. The threads' states in `/proc/<pid>/task/*/stat` say when the
/// whole process has stopped.
pub fn freeze(child: &Child) -> bool {
    signal(child, libc::SIGSTOP);
    let tasks = PathBuf::from(format!("/proc/{}/task", child.id()));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let states: Vec<char> = std::fs::read_dir(&tasks)
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
            .filter_map(|stat| thread_state(&stat))
            .collect();
        if states.is_empty() || states.contains(&'Z') || states.contains(&'X') {
            return false;
        }
        if states.iter().all(|s| matches!(s, 'T' | 't')) {
            return true;
        }
        assert!(Instant::now() < deadline, "process {} did not stop: thread states {states:?}", child.id());
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The state letter of a `/proc/<pid>/task/<tid>/stat` line: the field after the parenthesised name
/// (which may itself hold spaces and parentheses).
fn thread_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// A seed from the clock, printed so that a failure can be replayed (set it in the test by hand).
pub fn seed() -> u64 {
    let s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("random seed: {s}");
    s | 1
}

/// xorshift64*: a few random choices per test.
pub fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Waits for a child at most `limit`; kills it and fails the test if it is still running then.
pub fn wait_at_most(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

/// Reports a test that needs a private mount namespace (a read-only bind mount, a tiny tmpfs) where the
/// machine allows none: printed past the test harness's capture so that it shows, and a failure instead
/// when `POST_REQUIRE_NAMESPACES=1` (which `cargo xtask test` sets where namespaces work).
pub fn skip_without_namespaces(test: &str, reason: &str) {
    use std::io::Write as _;
    let required = std::env::var("POST_REQUIRE_NAMESPACES").is_ok_and(|v| v == "1");
    assert!(!required, "{test}: POST_REQUIRE_NAMESPACES=1 but {reason}");
    let line = format!("SKIPPED {test}: {reason} (set POST_REQUIRE_NAMESPACES=1 to make this a failure)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}
