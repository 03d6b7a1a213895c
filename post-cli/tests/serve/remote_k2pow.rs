//! `post serve --remote-k2pow`: the proof of work of every nonce group is asked of a real
//! `post k2pow-service` over HTTP, and the proof the fake node receives verifies: with one worker, with a
//! pool of two behind a load balancer (`balancer.rs`, written for the tests, so no HAProxy is needed), and
//! with one of the two killed in the middle of a job. (The client's behaviour on 201, 429, 500, garbage
//! and a worker that goes away is tested with the k2pow service's own tests.)

#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::balancer::Balancer;
use crate::common::*;
use crate::fake_node::{FakeNode, ProofOutcome};

#[test]
fn proof_with_the_k2pow_of_a_remote_service() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let mut k2pow = post();
    k2pow.args(["k2pow-service", "--bind-address", "127.0.0.1:0", "--randomx-mode", "light", "--cores", "1"]);
    let mut k2pow = ServiceProcess::spawn_cmd(k2pow);
    let line = k2pow.wait_line("k2pow service listening on ", Duration::from_secs(30));
    let address = line.split("listening on ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();

    let node = FakeNode::start();
    let mut args = serve_args(&dir, &format!("http://{}", node.address()));
    set_flag(&mut args, "--nonces", "32");
    set_flag(&mut args, "--remote-k2pow", &format!("http://{address}"));
    set_flag(&mut args, "--remote-k2pow-backoff", "1");
    set_flag(&mut args, "--remote-k2pow-parallelism", "2");
    let mut service = ServiceProcess::spawn(&args);
    let meta = node.wait_registered(1, Duration::from_secs(30));
    let challenge = challenge(0x66);
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(120), |_| {});
    let ProofOutcome::Proof(answer) = outcome else { panic!("ERROR with a remote k2pow:\n{}", service.log()) };
    verify(&answer, &challenge);
    assert_eq!(k2pow.count_lines("k2pow job done"), 2, "two nonce groups, two jobs:\n{}", k2pow.log());
    assert!(service.log().contains("remote-k2pow"), "{}", service.log());
    node.assert_latencies("serve_remote_k2pow");
    assert_eq!(service.terminate(Duration::from_secs(10)), Some(0), "{}", service.log());
    assert_eq!(k2pow.terminate(Duration::from_secs(10)), Some(0), "{}", k2pow.log());
}

/// A proof of work of about 4 light RandomX hashes per group for 2 units (threshold = this / 2 = 2^254):
/// each job keeps its worker busy for a moment, so that jobs asked at the same time meet a busy worker (429).
const POOL_POW: &str = "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// A `post k2pow-service` worker in light mode on one core, and its address.
fn k2pow_worker() -> (ServiceProcess, SocketAddr) {
    let mut cmd = post();
    cmd.args(["k2pow-service", "--bind-address", "127.0.0.1:0", "--randomx-mode", "light", "--cores", "1"]);
    let mut worker = ServiceProcess::spawn_cmd(cmd);
    let line = worker.wait_line("k2pow service listening on ", Duration::from_secs(30));
    let address = line.split("listening on ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    (worker, address)
}

/// A metric of a worker's `/metrics`; `None` when the worker does not answer.
fn metric(worker: SocketAddr, name: &str) -> Option<f64> {
    let mut stream = std::net::TcpStream::connect_timeout(&worker, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {worker}\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let prefix = format!("{name} ");
    let value = text.lines().find_map(|l| l.strip_prefix(&prefix));
    Some(value.unwrap_or_else(|| panic!("no {name} in /metrics of {worker}:\n{text}")).trim().parse().unwrap())
}

/// Searches worker `w` finished.
fn finished(w: SocketAddr) -> f64 {
    metric(w, "k2pow_jobs_finished_total").unwrap_or(0.0)
}

/// Waits until `condition` holds, at most `limit`; false on timeout.
fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `post serve` arguments for the pool tests: 4 nonce groups of the pool's difficulty, k2pow through
/// `pool`, `parallelism` groups asked at a time.
fn pool_serve_args(dir: &std::path::Path, node: &FakeNode, pool: &Balancer, parallelism: u32) -> Vec<String> {
    let mut args = serve_args(dir, &format!("http://{}", node.address()));
    set_flag(&mut args, "--pow-difficulty", POOL_POW);
    set_flag(&mut args, "--nonces", "64");
    set_flag(&mut args, "--remote-k2pow", &pool.url());
    set_flag(&mut args, "--remote-k2pow-backoff", "1");
    set_flag(&mut args, "--remote-k2pow-parallelism", &parallelism.to_string());
    args
}

/// `post serve --remote-k2pow` pointed at two `post k2pow-service` workers behind a load balancer (the
/// test's own, `balancer.rs`: round-robin per request, a 429 tried on the other worker): 4 nonce groups
/// asked 4 at a time, so that jobs meet busy workers. The proof verifies with its real difficulty, and
/// both workers computed groups (their /metrics and the balancer's record).
#[test]
fn proof_with_two_k2pow_workers_behind_a_load_balancer() {
    let clock = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let (mut a, a_addr) = k2pow_worker();
    let (mut b, b_addr) = k2pow_worker();
    let pool = Balancer::start(&[a_addr, b_addr]);

    let node = FakeNode::start();
    let mut service = ServiceProcess::spawn(&pool_serve_args(&dir, &node, &pool, 4));
    let meta = node.wait_registered(1, Duration::from_secs(30));
    let challenge = challenge(0x77);
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(60), |_| {});
    let ProofOutcome::Proof(answer) = outcome else {
        panic!("ERROR through the pool:\n{}\n{}", pool.summary(), service.log())
    };
    verify_with_pow(&answer, &challenge, POOL_POW);
    eprintln!("through the pool in {:?}:\n{}", clock.elapsed(), pool.summary());

    // Every one of the 4 groups was answered with a pow, and both workers computed some.
    let answered: std::collections::BTreeSet<String> =
        pool.exchanges().into_iter().filter(|e| e.status == 200).map(|e| e.path).collect();
    assert_eq!(answered.len(), 4, "4 groups answered 200:\n{}", pool.summary());
    assert!(pool.answered_by(0) > 0 && pool.answered_by(1) > 0, "{}", pool.summary());
    // A worker asked for a job it is not running starts it too (round-robin is not sticky), so the
    // finished searches are at least the groups, maybe more; both did some.
    assert!(
        wait_for(Duration::from_secs(10), || finished(a_addr) >= 1.0 && finished(b_addr) >= 1.0),
        "both workers must have computed groups: {} and {}\n{}",
        finished(a_addr),
        finished(b_addr),
        pool.summary()
    );
    assert!(finished(a_addr) + finished(b_addr) >= 4.0, "{}", pool.summary());
    eprintln!("searches finished per worker: {} and {}", finished(a_addr), finished(b_addr));
    assert!(!service.log().contains("k2pow request failed"), "no failures with both workers up:\n{}", service.log());
    assert_eq!(service.terminate(Duration::from_secs(10)), Some(0), "{}", service.log());
    assert_eq!(a.terminate(Duration::from_secs(10)), Some(0), "{}", a.log());
    assert_eq!(b.terminate(Duration::from_secs(10)), Some(0), "{}", b.log());
}

/// The same pool, 4 nonce groups 2 at a time; once worker B is seen searching (`k2pow_busy 1` in its
/// /metrics), it is SIGKILLed. The balancer then finds B's
/// port closed and sends everything to A (the client's failure retry covers a request that was in flight
/// to B); the job that died with B is asked of A by the client's next poll and computed there; the proof
/// verifies.
#[test]
fn proof_survives_a_k2pow_worker_killed_mid_job() {
    let clock = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let (mut a, a_addr) = k2pow_worker();
    let (mut b, b_addr) = k2pow_worker();
    let pool = Balancer::start(&[a_addr, b_addr]);

    let node = FakeNode::start();
    let mut service = ServiceProcess::spawn(&pool_serve_args(&dir, &node, &pool, 2));
    let meta = node.wait_registered(1, Duration::from_secs(30));
    let challenge = challenge(0x78);
    let node = std::sync::Arc::new(node);
    let prover = {
        let node = node.clone();
        let id = meta.node_id;
        std::thread::spawn(move || node.prove(&id, &challenge, Duration::from_secs(60), |_| {}))
    };

    // B is searching for a job's pow: kill it there.
    let busy = wait_for(Duration::from_secs(30), || metric(b_addr, "k2pow_busy") == Some(1.0));
    assert!(busy, "B was never seen searching:\n{}\n{}", pool.summary(), service.log());
    b.kill();
    let killed = Instant::now();
    // The jobs that died with B: accepted by B (201), and not answered by anyone yet. B's first job is
    // one (its first request is a group's first), and so is whatever it was searching for.
    let exchanges = pool.exchanges();
    let lost: std::collections::BTreeSet<String> = exchanges
        .iter()
        .filter(|e| e.worker == 1 && e.status == 201)
        .map(|e| e.path.clone())
        .filter(|p| !exchanges.iter().any(|e| e.status == 200 && e.path == *p))
        .collect();
    assert!(!lost.is_empty(), "B died searching, so a job died with it:\n{}", pool.summary());
    let a_before = finished(a_addr);

    let outcome = prover.join().unwrap();
    let ProofOutcome::Proof(answer) = outcome else {
        panic!("ERROR after a worker died:\n{}\n{}", pool.summary(), service.log())
    };
    verify_with_pow(&answer, &challenge, POOL_POW);
    eprintln!(
        "proof {:?} after the start, {:?} after the kill:\n{}client saw {} failed requests",
        clock.elapsed(),
        killed.elapsed(),
        pool.summary(),
        service.count_lines("k2pow request failed")
    );

    // The jobs that died with B were answered by A after the kill.
    let exchanges = pool.exchanges();
    for path in &lost {
        assert!(
            exchanges.iter().any(|e| e.worker == 0 && e.status == 200 && e.path == *path && e.at > killed),
            "{path} died with B and was never answered by A:\n{}",
            pool.summary()
        );
    }
    assert!(pool.connect_failures(1) >= 1, "the balancer never found B gone:\n{}", pool.summary());
    assert!(finished(a_addr) > a_before, "A computed nothing after the kill:\n{}", pool.summary());
    let answered: std::collections::BTreeSet<&str> =
        exchanges.iter().filter(|e| e.status == 200).map(|e| e.path.as_str()).collect();
    assert_eq!(answered.len(), 4, "4 groups answered 200:\n{}", pool.summary());
    assert_eq!(service.terminate(Duration::from_secs(10)), Some(0), "{}", service.log());
    assert_eq!(a.terminate(Duration::from_secs(10)), Some(0), "{}", a.log());
}
