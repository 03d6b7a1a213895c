//! `post serve` when things break (spec §3-4, §6): the stream dropped mid-proof (the service reconnects,
//! the proof continues and is the same), the service SIGKILLed mid-proof and started again (the proof
//! continues, no k2pow group is computed twice), a node without a coinbase and a duplicate registration
//! (refusals never count against --max-retries; the service keeps retrying), and --max-retries 2 with
//! nothing listening (exits non-zero naming the address).

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
