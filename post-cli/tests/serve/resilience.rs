//! `post serve` when things break (spec §3-4, §6): the stream dropped mid-proof (the service reconnects,
//! the proof continues and is the same), the service SIGKILLed mid-proof and started again (the proof
//! continues, no k2pow group is computed twice), both in the k2pow and in the scan (which resumes at its
//! saved position), a node without a coinbase and a duplicate registration (refusals never count against
//! --max-retries; the service keeps retrying), --max-retries 2 with nothing listening (exits non-zero
//! naming the address), and a node that goes away and comes back again and again (only consecutive
//! failed connects count).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::fake_node;
use crate::fake_node::{Event, FakeNode, ProofOutcome};

/// A proof of work of about 20 light RandomX hashes per group for 2 units (threshold = this / 2 ≈ 2^256 /
/// 20): with 128 nonces, 8 groups and several seconds of k2pow, a window to break things in.
const SLOW_POW: &str = "1999999999999999999999999999999999999999999999999999999999999999";
const GROUPS: u32 = 8;

fn slow_args(dir: &std::path::Path, node: &FakeNode) -> Vec<String> {
    let mut args = serve_args(dir, &format!("http://{}", node.address()));
    set_flag(&mut args, "--pow-difficulty", SLOW_POW);
    set_flag(&mut args, "--nonces", &(GROUPS * 16).to_string());
    set_flag(&mut args, "--operator-address", "127.0.0.1:0");
    args
}

/// `/status/detail`, parsed.
fn detail(api: SocketAddr) -> serde_json::Value {
    let (code, body) = http_get(api, "/status/detail");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The counts of the "proof ... ready" log line: (computed, reused).
fn pow_counts(service: &mut ServiceProcess) -> (u32, u32) {
    let line = service.wait_line("k2pow groups computed", Duration::from_secs(5));
    let numbers: Vec<u32> = line
        .split("k2pow groups computed ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn stream_dropped_and_service_killed_mid_proof_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let challenge = challenge(0x33);
    let node = FakeNode::start();

    // 1. The stream dropped in the middle of the k2pow: the service reconnects and the same job goes on.
    let dir = data_dir(tmp.path(), "dropped");
    let mut service = ServiceProcess::spawn(&slow_args(&dir, &node));
    let api = service.operator_address();
    let meta = node.wait_registered(1, Duration::from_secs(30));
    let clock = Instant::now();
    let mut dropped = false;
    let mut rss_proving = 0;
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(300), |_| {
        rss_proving = rss_proving.max(service.rss_kib());
        let d = detail(api);
        if !dropped && d["phase"] == "k2pow" && d["groups_done"].as_u64().unwrap_or(0) >= 1 {
            eprintln!("dropping the stream at {d}");
            node.drop_streams();
            dropped = true;
        }
    });
    let ProofOutcome::Proof(first) = outcome else { panic!("ERROR after a dropped stream:\n{}", service.log()) };
    eprintln!("proof with a dropped stream after {:?}", clock.elapsed());
    assert!(dropped, "the proof finished before the stream could be dropped:\n{}", service.log());
    verify(&first, &challenge);
    assert!(fake_node::registrations(&node.events()).len() >= 2, "the service did not register again");
    assert_eq!(service.count_lines("starting"), 1, "the job was started again:\n{}", service.log());
    assert_eq!(pow_counts(&mut service), (GROUPS, 0), "{}", service.log());
    service.kill();

    // 2. SIGKILL in the middle of the k2pow, then a new process: it resumes from the saved groups.
    let dir = data_dir(tmp.path(), "killed");
    // Counted before the start: a service that registers at once must not be waited for twice.
    let registered = fake_node::registrations(&node.events()).len();
    let mut service = ServiceProcess::spawn(&slow_args(&dir, &node));
    let api = service.operator_address();
    node.wait_registered(registered + 1, Duration::from_secs(30));
    let mut saved_at_kill = None;
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(300), |_| {
        if saved_at_kill.is_some() {
            return;
        }
        let d = detail(api);
        let done = d["groups_done"].as_u64().unwrap_or(0);
        if d["phase"] == "k2pow" && (2..u64::from(GROUPS)).contains(&done) {
            eprintln!("SIGKILL at {d}");
            service.kill();
            saved_at_kill = Some(done as u32);
            service = ServiceProcess::spawn(&slow_args(&dir, &node));
        }
    });
    let ProofOutcome::Proof(second) = outcome else { panic!("ERROR after a restart:\n{}", service.log()) };
    let saved = saved_at_kill.expect("the proof finished before the service could be killed");
    verify(&second, &challenge);
    assert_eq!(second, first, "the resumed proof differs from the uninterrupted one");
    let (computed, reused) = pow_counts(&mut service);
    eprintln!("after SIGKILL with {saved} groups saved: computed {computed}, reused {reused}");
    assert!(reused >= saved, "groups saved before the kill were computed again: {}", service.log());
    assert_eq!(computed + reused, GROUPS, "{}", service.log());
    assert!(service.log().contains("Resumed"), "{}", service.log());

    assert!(node.violations().is_empty(), "lock-step or keepalive violations: {:?}", node.violations());
    node.assert_latencies("serve_resilience (mid-proof)");
    eprintln!("service memory while proving (light RandomX, peak of the polls): {rss_proving} KiB resident");
}

/// Data for the mid-scan test: one unit of 2^21 labels (32 MiB: sixteen scan windows of one thread) at
/// scrypt N = 2, made once per test binary.
const SCAN_LABELS: u64 = 1 << 21;
const SCAN_N: u64 = 2;
/// k2 above k1 puts the winner late in the data (about 3/4 on), and 4096 nonces (256 groups) make every
/// label cost 256 AES blocks: the scan takes a second or more, in windows of [`WINDOW`] labels.
const SCAN_K1: u32 = 32;
const SCAN_K2: u32 = 40;
const SCAN_NONCES: u32 = 4096;
const SCAN_GROUPS: u32 = SCAN_NONCES / 16;
/// Labels of one scan window with one proving thread (sweep.rs: 8 chunks of 16384 labels); the job
/// saves its position only at the end of a window.
const WINDOW: u64 = 8 << 14;

fn scan_shape() -> ProofShape<'static> {
    ProofShape { labels_per_unit: SCAN_LABELS, scrypt_n: SCAN_N, k1: SCAN_K1, k2: SCAN_K2, pow_difficulty: EASY_POW }
}

/// A copy of the mid-scan test's data in `<tmp>/<name>`.
fn scan_data_dir(tmp: &std::path::Path, name: &str) -> std::path::PathBuf {
    static REFERENCE: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> = std::sync::OnceLock::new();
    let (_keep, reference) = REFERENCE.get_or_init(|| init_reference(1, SCAN_LABELS, 4 << 20, SCAN_N));
    copy_data(reference, &tmp.join(name))
}

/// The mid-scan test's service: its data and k, 4096 nonces, the k2pow of the instant server, the scan
/// position saved every 50 ms.
fn scan_args(dir: &std::path::Path, node: &FakeNode, k2pow: &InstantK2Pow) -> Vec<String> {
    let mut args = serve_args(dir, &format!("http://{}", node.address()));
    for (flag, value) in [
        ("-n", SCAN_N.to_string()),
        ("--k1", SCAN_K1.to_string()),
        ("--k2", SCAN_K2.to_string()),
        ("--nonces", SCAN_NONCES.to_string()),
        ("--threads", "1".to_string()),
        ("--operator-address", "127.0.0.1:0".to_string()),
        ("--remote-k2pow", format!("http://{}", k2pow.address)),
        ("--checkpoint-secs", "0.05".to_string()),
    ] {
        set_flag(&mut args, flag, &value);
    }
    args
}

/// A k2pow service that answers every group at once with the pow 0 (good for [`EASY_POW`]: any pow is)
/// and records the group of each request: 256 groups of k2pow in well under a second, and a count of
/// what the service asked for.
struct InstantK2Pow {
    address: SocketAddr,
    groups: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl InstantK2Pow {
    fn start() -> Self {
        use std::io::{BufRead as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let groups = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = groups.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                            break;
                        }
                        head.push(line);
                    }
                    // GET /job/{miner}/{group}/{challenge}/{difficulty} HTTP/1.1
                    let path = head.first().and_then(|l| l.split_whitespace().nth(1)).unwrap_or_default();
                    let group = path.split('/').nth(3).and_then(|g| g.parse().ok());
                    let Some(group) = group else { return };
                    sink.lock().unwrap().push(group);
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\n0");
                });
            }
        });
        InstantK2Pow { address, groups }
    }

    /// The group of every request so far, in order.
    fn requests(&self) -> Vec<u8> {
        self.groups.lock().unwrap().clone()
    }
}

/// The job's state file `.post-proof/<challenge>.json`, parsed; `None` before it exists.
fn job_state(dir: &std::path::Path, challenge: &[u8; 32]) -> Option<serde_json::Value> {
    let path = dir.join(".post-proof").join(format!("{}.json", hex::encode(challenge)));
    // Saved by rename, so a file that exists is whole.
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

/// The job's event trace `.post-proof/<challenge>.log`.
fn job_trace(dir: &std::path::Path, challenge: &[u8; 32]) -> String {
    std::fs::read_to_string(dir.join(".post-proof").join(format!("{}.log", hex::encode(challenge)))).unwrap()
}

/// The stream dropped and the service SIGKILLed in the middle of the SCAN (the test above interrupts the
/// k2pow): the dropped stream does not stop the job; the killed service's successor asks for no k2pow
/// group again, resumes the scan at the position the killed one saved (each label is scanned once over
/// both runs), and sends the same proof as the uninterrupted job.
#[test]
fn stream_dropped_and_service_killed_mid_scan_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let challenge = challenge(0x44);
    let mut node = FakeNode::start();
    // Polls every 10 ms, so that the test acts within a scan window or two.
    node.poll = Duration::from_millis(10);
    let k2pow = InstantK2Pow::start();

    // 1. The stream dropped in the middle of the scan: the job goes on in the same run.
    let dir = scan_data_dir(tmp.path(), "dropped");
    let mut service = ServiceProcess::spawn(&scan_args(&dir, &node, &k2pow));
    let api = service.operator_address();
    let meta = node.wait_registered(1, Duration::from_secs(60));
    let clock = Instant::now();
    let mut dropped_at = None;
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(300), |_| {
        if dropped_at.is_some() {
            return;
        }
        let d = detail(api);
        let scanned = d["bytes_scanned"].as_u64().unwrap_or(0);
        if d["phase"] == "scanning" && scanned > 0 {
            eprintln!("dropping the stream mid-scan at {d}");
            node.drop_streams();
            dropped_at = Some(scanned);
        }
    });
    let ProofOutcome::Proof(first) = outcome else { panic!("ERROR after a dropped stream:\n{}", service.log()) };
    let dropped_at = dropped_at.expect("the scan ended before the stream could be dropped");
    eprintln!("proof with the stream dropped mid-scan after {:?}", clock.elapsed());
    verify_shaped(&first, &challenge, &scan_shape());
    assert!(fake_node::registrations(&node.events()).len() >= 2, "the service did not register again");
    assert_eq!(service.count_lines("starting"), 1, "the job was started again:\n{}", service.log());
    assert_eq!(pow_counts(&mut service), (SCAN_GROUPS, 0), "{}", service.log());
    let reference = job_state(&dir, &challenge).unwrap();
    let end = reference["position"].as_u64().unwrap();
    eprintln!("uninterrupted job: the scan ended at label {end} of {SCAN_LABELS}; dropped at byte {dropped_at}");
    assert_eq!(reference["totals"]["runs"], 1, "the dropped stream stopped the job: {}", job_trace(&dir, &challenge));
    assert_eq!(reference["pass"], 0);
    assert_eq!(reference["totals"]["bytes_scanned"].as_u64(), Some(end * 16));
    assert!(dropped_at < end * 16, "the stream was dropped after the scan ({dropped_at} bytes of {})", end * 16);
    assert!(end > 3 * WINDOW, "the winner comes too early to kill the scan in its middle: label {end}");
    let mut asked = k2pow.requests();
    asked.sort_unstable();
    assert_eq!(asked, (0..=u8::MAX).collect::<Vec<_>>(), "each group asked once");
    service.kill();

    // 2. SIGKILL with a scan position saved and windows still to scan, then a new process.
    let dir = scan_data_dir(tmp.path(), "killed");
    let registered = fake_node::registrations(&node.events()).len();
    let mut service = ServiceProcess::spawn(&scan_args(&dir, &node, &k2pow));
    node.wait_registered(registered + 1, Duration::from_secs(60));
    let mut killed = None;
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(300), |_| {
        if killed.is_some() {
            return;
        }
        // The trace (small, unlike the state file with its 4096 lists) names each checkpoint once saved.
        let trace = std::fs::read_to_string(dir.join(".post-proof").join(format!("{}.log", hex::encode(challenge))));
        let checkpoints = trace.unwrap_or_default();
        let last = checkpoints.lines().filter_map(|l| l.split("scan saved at label ").nth(1)).next_back();
        let position = last.map_or(0, |p| p.trim().parse::<u64>().unwrap());
        if position > 0 && position + WINDOW < end {
            service.kill();
            // What the killed process left.
            let saved = job_state(&dir, &challenge).unwrap();
            eprintln!("SIGKILL mid-scan: saved at label {} (seen at {position})", saved["position"]);
            killed = Some((saved, k2pow.requests().len()));
            service = ServiceProcess::spawn(&scan_args(&dir, &node, &k2pow));
        }
    });
    let ProofOutcome::Proof(second) = outcome else { panic!("ERROR after a restart:\n{}", service.log()) };
    let (saved, asked_before) = killed.expect("the scan ended before the service could be killed");
    let trace = job_trace(&dir, &challenge);
    let position = saved["position"].as_u64().unwrap();
    assert_eq!(saved["phase"], "proving", "{trace}");
    assert!(0 < position && position < end, "killed at label {position}, the scan ends at {end}: {trace}");
    assert_eq!(saved["pows"].as_object().unwrap().len(), SCAN_GROUPS as usize, "{trace}");
    verify_shaped(&second, &challenge, &scan_shape());
    assert_eq!(second, first, "the resumed proof differs from the uninterrupted one");

    // No k2pow group asked for or computed again.
    assert_eq!(k2pow.requests().len(), asked_before, "the restarted service asked for k2pow groups again");
    assert_eq!(asked_before, 2 * SCAN_GROUPS as usize);
    assert_eq!(pow_counts(&mut service), (0, SCAN_GROUPS), "{}", service.log());
    // The scan went on from the saved position: the successor says so, its checkpoints are past it, and
    // over both runs each label before the winner was scanned once, as in the uninterrupted job.
    let resumed = format!("Resumed {{ pass: 0, pows_saved: {SCAN_GROUPS}, position: {position}, runs: 1 }}");
    assert!(service.log().contains(&resumed), "no {resumed:?} in\n{}", service.log());
    let second_run = trace.split("run 2 started").nth(1).unwrap_or_else(|| panic!("no second run: {trace}"));
    assert!(second_run.starts_with(&format!(": {resumed}")), "{trace}");
    for saved_at in second_run.lines().filter_map(|l| l.split("scan saved at label ").nth(1)) {
        assert!(saved_at.trim().parse::<u64>().unwrap() > position, "the second run scanned from 0: {trace}");
    }
    let last = job_state(&dir, &challenge).unwrap();
    assert_eq!(last["totals"]["runs"], 2, "{trace}");
    assert_eq!(last["position"].as_u64(), Some(end), "{trace}");
    assert_eq!(last["totals"]["bytes_scanned"], reference["totals"]["bytes_scanned"], "labels scanned twice: {trace}");
    eprintln!("after SIGKILL at label {position}: the successor scanned labels {position}..{end} and reused {SCAN_GROUPS} groups");

    assert!(node.violations().is_empty(), "lock-step or keepalive violations: {:?}", node.violations());
    node.assert_latencies("serve_resilience (mid-scan)");
}

#[test]
fn refusals_never_count_and_duplicates_wait_their_turn() {
    let tmp = tempfile::tempdir().unwrap();
    let node = FakeNode::start_with(None, false);

    // No coinbase: refused again and again, never counted against --max-retries 1.
    let dir = data_dir(tmp.path(), "first");
    let mut args = serve_args(&dir, &format!("http://{}", node.address()));
    set_flag(&mut args, "--max-retries", "1");
    let mut first = ServiceProcess::spawn(&args);
    node.wait_for(Duration::from_secs(30), "three no-coinbase refusals", |e| {
        e.iter().filter(|e| **e == Event::RefusedNoCoinbase).count() >= 3
    });
    assert!(first.child.try_wait().unwrap().is_none(), "the service gave up:\n{}", first.log());
    first.wait_line("no coinbase", Duration::from_secs(5));
    let idle_rss = first.rss_kib();
    eprintln!("service memory idle: {idle_rss} KiB resident");

    // The coinbase is set: it registers.
    node.set_coinbase(true);
    let meta = node.wait_registered(1, Duration::from_secs(30));

    // A second service for the same identity is refused while the first holds the stream, and keeps
    // retrying; when the first is gone, it takes over.
    let dir2 = data_dir(tmp.path(), "second");
    let mut second = ServiceProcess::spawn(&serve_args(&dir2, &format!("http://{}", node.address())));
    node.wait_for(Duration::from_secs(30), "two duplicate refusals", |e| {
        e.iter().filter(|e| **e == Event::RefusedDuplicate).count() >= 2
    });
    second.wait_line("already registered", Duration::from_secs(5));
    assert!(second.child.try_wait().unwrap().is_none(), "the duplicate gave up:\n{}", second.log());
    first.kill();
    let again = node.wait_registered(2, Duration::from_secs(30));
    assert_eq!(again.node_id, meta.node_id);
    assert!(node.is_registered(&meta.node_id));
    assert!(node.violations().is_empty(), "{:?}", node.violations());
    assert_eq!(second.terminate(Duration::from_secs(10)), Some(0), "{}", second.log());
}

#[test]
fn max_retries_with_nothing_listening_exits_naming_the_address() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let address = format!("http://127.0.0.1:{port}");
    let mut args = serve_args(&dir, &address);
    set_flag(&mut args, "--max-retries", "2");
    let clock = Instant::now();
    let out = post().arg("serve").args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--max-retries 2: exit {:?} after {:?}", out.status.code(), clock.elapsed());
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("gave up connecting to the node at {address} after 2 failed attempts")),
        "{stderr}"
    );
    assert_eq!(stderr.matches("failed (attempt").count(), 2, "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `--max-retries` counts consecutive failed connects only (spec §3, §5): the node goes away and comes
/// back on the same port after one failed connect, again and again, so the service fails more connects
/// than `--max-retries 2` in all but never twice in a row, and registers again each time; then the node is
/// gone for good and the service gives up after two failed connects in a row, naming the address.
#[test]
fn max_retries_counts_only_consecutive_failed_connects() {
    const OUTAGES: usize = 3;
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let mut node = FakeNode::start();
    let address = node.address();
    let url = format!("http://{address}");
    let mut args = serve_args(&dir, &url);
    set_flag(&mut args, "--max-retries", "2");
    // The node comes back within one interval of the failed connect: 2 s leaves room on a loaded machine.
    set_flag(&mut args, "--reconnect-interval-s", "2");
    let clock = Instant::now();
    let mut service = ServiceProcess::spawn(&args);
    let meta = node.wait_registered(1, Duration::from_secs(30));
    for outage in 1..=OUTAGES {
        // The node goes away: its listener and every connection are closed.
        drop(node);
        let failed = wait_lines(&mut service, "failed (attempt", outage, Duration::from_secs(30));
        // Back on the same port before the next attempt.
        node = FakeNode::start_at(address);
        assert!(
            failed[outage - 1].contains("attempt 1 of 2"),
            "outage {outage}: the count did not start again after the last connect: {}\n{}",
            failed[outage - 1],
            service.log()
        );
        let again = node.wait_registered(1, Duration::from_secs(30));
        assert_eq!(again.node_id, meta.node_id);
        // The new stream is served.
        assert_eq!(node.metadata_once(&meta.node_id).map(|m| m.node_id), Some(meta.node_id.clone()));
        assert!(service.child.try_wait().unwrap().is_none(), "the service gave up:\n{}", service.log());
        assert!(node.violations().is_empty(), "{:?}", node.violations());
        eprintln!("outage {outage}: registered again after {:?}", clock.elapsed());
    }
    const { assert!(OUTAGES > 2, "more failed connects in all than --max-retries") };
    assert_eq!(service.count_lines("failed (attempt"), OUTAGES, "{}", service.log());

    // Gone for good: two failed connects in a row, and the service exits 2 naming the address.
    drop(node);
    let code = service.wait_exit(Duration::from_secs(60));
    let log = service.log();
    eprintln!("--max-retries 2 after {OUTAGES} outages: exit {code:?} after {:?}", clock.elapsed());
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains(&format!("gave up connecting to the node at {url} after 2 failed attempts")), "{log}");
    let failed: Vec<_> = service.lines().into_iter().filter(|l| l.contains("failed (attempt")).collect();
    assert_eq!(failed.len(), OUTAGES + 2, "{log}");
    assert!(failed[OUTAGES].contains("attempt 1 of 2") && failed[OUTAGES + 1].contains("attempt 2 of 2"), "{log}");
    assert!(service.stdout().is_empty());
}

/// Waits until the service logged `n` lines containing `needle`; returns those lines.
fn wait_lines(service: &mut ServiceProcess, needle: &str, n: usize, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let lines: Vec<_> = service.lines().into_iter().filter(|l| l.contains(needle)).collect();
        if lines.len() >= n {
            return lines;
        }
        if let Some(status) = service.child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            panic!("the service exited ({status}) before {n} lines {needle:?}:\n{}", service.log());
        }
        assert!(Instant::now() < deadline, "{n} lines {needle:?} not seen in {limit:?}:\n{}", service.log());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The node gives up on a challenge and asks for another while the first is still being proved: the
/// first job is cancelled and its files removed, the second is proved. Then the service is restarted
/// after the proof was finished but before the node fetched it: the proof is answered from disk at once.
#[test]
fn new_challenge_replaces_a_running_one_and_a_finished_proof_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let node = FakeNode::start();
    let mut service = ServiceProcess::spawn(&slow_args(&dir, &node));
    let api = service.operator_address();
    let meta = node.wait_registered(1, Duration::from_secs(30));

    let abandoned = challenge(0x77);
    let first = node.gen_proof_once(&meta.node_id, &abandoned).unwrap();
    assert!(first.proof.is_none());
    let clock = Instant::now();
    while detail(api)["groups_done"].as_u64().unwrap_or(0) < 1 {
        assert!(clock.elapsed() < Duration::from_secs(60), "no k2pow progress:\n{}", service.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let wanted = challenge(0x88);
    let outcome = node.prove(&meta.node_id, &wanted, Duration::from_secs(300), |_| {});
    let ProofOutcome::Proof(answer) = outcome else { panic!("ERROR for the new challenge:\n{}", service.log()) };
    verify(&answer, &wanted);
    assert!(service.log().contains("instead of"), "{}", service.log());
    let files: Vec<String> = std::fs::read_dir(dir.join(".post-proof"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let abandoned_hex = hex::encode(abandoned);
    assert!(!files.iter().any(|f| f.starts_with(&abandoned_hex)), "the abandoned job was kept: {files:?}");

    // Restarted with the proof finished: the node's next request gets it from disk, without proving.
    service.kill();
    let mut service = ServiceProcess::spawn(&slow_args(&dir, &node));
    node.wait_registered(2, Duration::from_secs(30));
    let clock = Instant::now();
    let outcome = node.prove(&meta.node_id, &wanted, Duration::from_secs(30), |_| {});
    let ProofOutcome::Proof(again) = outcome else { panic!("ERROR after a restart:\n{}", service.log()) };
    eprintln!("finished proof answered after a restart in {:?}", clock.elapsed());
    assert_eq!(again, answer, "the kept proof differs");
    service.wait_line("was already finished", Duration::from_secs(5));
    assert!(node.violations().is_empty(), "{:?}", node.violations());
    node.assert_latencies("serve_resilience (replaced challenge, restart after the proof)");
}

/// SIGTERM in the middle of the k2pow: the service cancels the job (its progress saved), exits 0 within
/// a few seconds, and the next start resumes from the saved groups.
#[test]
fn sigterm_mid_proof_saves_the_job_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let node = FakeNode::start();
    let mut service = ServiceProcess::spawn(&slow_args(&dir, &node));
    let api = service.operator_address();
    let meta = node.wait_registered(1, Duration::from_secs(30));
    let challenge = challenge(0x99);
    assert!(node.gen_proof_once(&meta.node_id, &challenge).unwrap().proof.is_none());
    let clock = Instant::now();
    let mut done = 0;
    while done < 1 {
        assert!(clock.elapsed() < Duration::from_secs(60), "no k2pow progress:\n{}", service.log());
        std::thread::sleep(Duration::from_millis(50));
        done = detail(api)["groups_done"].as_u64().unwrap_or(0);
    }
    let stopping = Instant::now();
    assert_eq!(service.terminate(Duration::from_secs(30)), Some(0), "{}", service.log());
    eprintln!("SIGTERM mid-proof: exited after {:?} with {done} group(s) done", stopping.elapsed());
    assert!(service.log().contains("progress is kept"), "{}", service.log());

    let mut service = ServiceProcess::spawn(&slow_args(&dir, &node));
    node.wait_registered(2, Duration::from_secs(30));
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(300), |_| {});
    let ProofOutcome::Proof(answer) = outcome else { panic!("ERROR after SIGTERM:\n{}", service.log()) };
    verify(&answer, &challenge);
    let (computed, reused) = pow_counts(&mut service);
    assert!(reused >= done as u32, "reused {reused} of {done} saved groups:\n{}", service.log());
    assert_eq!(computed + reused, GROUPS);
    node.assert_latencies("serve_resilience (SIGTERM mid-proof)");
}
