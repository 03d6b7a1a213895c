//! `post k2pow-service` as a real process with real RandomX (light mode): the routes and status codes of
//! spec §8, RandomX built once for many jobs (counted in the log and the metrics), a second job while
//! one runs answered 429, SIGTERM answered with a clean exit, and a worker killed in the middle of a
//! job survived by the remote k2pow client (a worker started again on the same address finishes it).

#![allow(clippy::unwrap_used)]

#[path = "service_support/http.rs"]
mod http;
#[path = "service_support/process.rs"]
mod process;

use std::time::{Duration, Instant};

use http::{get, metric};
use post_core::{Challenge, NodeId, NonceGroup};
use post_proof::{CancelToken, PowJob, PowVerifier, RandomXMode, RandomXPow};
use post_service::{K2PowJobKey, RemoteK2Pow, RemoteK2PowConfig};
use process::Service;

const MINER: [u8; 32] = [0x5a; 32];
const CHALLENGE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// The threshold `first ff…`: a hash meets it with a chance of about (first + 1) / 256.
fn threshold(first: u8) -> [u8; 32] {
    let mut t = [0xff; 32];
    t[0] = first;
    t
}

fn path(group: u8, threshold: [u8; 32]) -> String {
    K2PowJobKey { miner: MINER, group, challenge: CHALLENGE, difficulty: threshold }.path()
}

fn k2pow_service(extra: &[&str]) -> Service {
    let mut args = vec!["k2pow-service", "--bind-address", "127.0.0.1:0", "--randomx-mode", "light", "--cores", "1"];
    args.extend_from_slice(extra);
    Service::spawn(&args, &[], "k2pow service")
}

/// Polls a job until it is answered with something other than 201.
fn wait_job(service: &Service, path: &str, timeout: Duration) -> (u16, String) {
    let deadline = Instant::now() + timeout;
    loop {
        let answer = get(service.addr, path);
        if answer.0 != 201 || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_pow(rx: &RandomXPow, group: u8, threshold: &[u8; 32], pow: u64) {
    let mut challenge = [0u8; 32];
    challenge[..8].copy_from_slice(&CHALLENGE);
    let (challenge, miner) = (Challenge(challenge), NodeId(MINER));
    let job = PowJob { group: NonceGroup(group), challenge: &challenge, miner: &miner, threshold };
    rx.verify(pow, &job).unwrap_or_else(|e| panic!("pow {pow} of group {group}: {e}"));
}

/// (name, nice value) of every thread of a process (Linux /proc).
fn thread_niceness(pid: u32) -> Vec<(String, i64)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .filter_map(|t| {
            let dir = t.ok()?.path();
            let name = std::fs::read_to_string(dir.join("comm")).ok()?.trim().to_string();
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            // Fields after the command's closing parenthesis: state is field 3, nice field 19.
            let rest = &stat[stat.rfind(')')? + 2..];
            let nice = rest.split(' ').nth(16)?.parse().ok()?;
            Some((name, nice))
        })
        .collect()
}

#[test]
fn jobs_follow_the_spec_and_randomx_is_built_once() {
    let started = Instant::now();
    let mut service =
        k2pow_service(&["--randomx-large-pages", "--result-cache-size", "8", "--result-cache-age", "10m"]);
    let rx = RandomXPow::new(RandomXMode::Light).unwrap();
    assert_eq!(get(service.addr, "/").0, 200);
    let (status, body) =
        get(service.addr, &format!("/job/{}/300/0102030405060708/{}", "5a".repeat(32), "ff".repeat(32)));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("nonce group"), "{body}");
    assert_eq!(get(service.addr, "/job/zz/1/2/3").0, 400);

    // Several easy jobs: each answered with a pow RandomX accepts, all from one RandomX cache.
    let easy = threshold(0x7f);
    let mut first_job = None;
    for group in 0..4 {
        let (status, body) = wait_job(&service, &path(group, easy), Duration::from_secs(120));
        assert_eq!(status, 200, "group {group}: {body}\n{}", service.log());
        first_job.get_or_insert(started.elapsed());
        check_pow(&rx, group, &easy, body.parse().unwrap());
    }
    eprintln!("k2pow-service light: first job answered {:?} after start", first_job.unwrap());
    let page = get(service.addr, "/metrics").1;
    assert_eq!(metric(&page, "k2pow_backend_builds_total"), 1.0, "{page}");
    assert_eq!(metric(&page, "k2pow_jobs_finished_total"), 4.0, "{page}");
    assert_eq!(service.log().matches("k2pow backend ready").count(), 1, "{}", service.log());
    assert_eq!(service.log().matches("k2pow job done").count(), 4, "{}", service.log());
    assert!(service.log().contains("hashes/s"));
    // --randomx-large-pages: the start says whether the system gave large pages.
    let log = service.log();
    assert!(log.contains("memory in large pages") || log.contains("gave no large pages"), "{log}");

    // A long job (one hash in 4096 meets it) runs; a second job meanwhile gets 429, the same one 201.
    let hard = threshold(0x00);
    assert_eq!(get(service.addr, &path(9, hard)).0, 201);
    assert_eq!(get(service.addr, &path(10, easy)).0, 429);
    assert_eq!(get(service.addr, &path(9, hard)).0, 201);
    assert!(metric(&get(service.addr, "/metrics").1, "k2pow_busy") == 1.0 || service.log().contains("/9/"));
    // The search threads run niced, so the threads answering HTTP get the CPU while every core hashes.
    let nice = thread_niceness(service.pid());
    let main = nice.iter().find(|(name, _)| name == "post").map(|(_, n)| *n).unwrap();
    let search: Vec<_> = nice.iter().filter(|(name, _)| name.starts_with("k2pow-")).collect();
    assert!(search.len() >= 2, "the worker and its pool: {nice:?}");
    assert!(search.iter().all(|(_, n)| *n == (main + 10).min(19)), "{nice:?}");

    // SIGTERM: the search is cancelled and the process exits 0.
    service.signal(libc::SIGTERM);
    let status = service.wait_exit(Duration::from_secs(20)).expect("no exit within 20 s of SIGTERM");
    assert!(status.success(), "{status}\n{}", service.log());
    assert!(service.log().contains("cancelled"), "{}", service.log());
}

#[test]
fn a_worker_killed_mid_job_is_survived_by_the_client() {
    let first = k2pow_service(&[]);
    let addr = first.addr;
    assert!(first.wait_log("k2pow backend ready", 1, Duration::from_secs(60)), "{}", first.log());
    // One hash in 16 meets it: a job of tens of light hashes, long enough to be killed in.
    let medium = threshold(0x0f);
    let client = RemoteK2Pow::new(RemoteK2PowConfig {
        backoff: Duration::from_millis(50),
        max_failures: 200,
        request_timeout: Duration::from_secs(10),
        ..RemoteK2PowConfig::new(format!("http://{addr}"))
    })
    .unwrap();
    let proving = std::thread::spawn(move || {
        let mut challenge = [0u8; 32];
        challenge[..8].copy_from_slice(&CHALLENGE);
        let (challenge, miner) = (Challenge(challenge), NodeId(MINER));
        let job = PowJob { group: NonceGroup(1), challenge: &challenge, miner: &miner, threshold: &medium };
        client.prove_group(&job, &CancelToken::new())
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&get(addr, "/metrics").1, "k2pow_busy") != 1.0 {
        assert!(Instant::now() < deadline, "the job never started:\n{}", first.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    first.signal(libc::SIGKILL);
    drop(first);

    std::thread::sleep(Duration::from_millis(300));
    let second = Service::spawn(
        &["k2pow-service", "--bind-address", &addr.to_string(), "--randomx-mode", "light", "--cores", "1"],
        &[],
        "k2pow service",
    );
    let pow = proving.join().unwrap().unwrap_or_else(|e| panic!("{e}\n{}", second.log()));
    check_pow(&RandomXPow::new(RandomXMode::Light).unwrap(), 1, &medium, pow);
    assert_eq!(metric(&get(second.addr, "/metrics").1, "k2pow_jobs_finished_total"), 1.0, "{}", second.log());
}
