//! The README's k2pow pool behind a real HAProxy: two `post k2pow-service` workers, HAProxy with the
//! README's backend section (read from README.md, so the documented configuration is the tested one), and
//! the remote k2pow client asking for several nonce groups at once through it. Then one worker is killed
//! and the pool keeps answering through the other.
//!
//! HAProxy is not a build dependency: without a `haproxy` on PATH the test says so on stderr (past the
//! harness's capture, so the skip shows) and passes, unless `POST_REQUIRE_HAPROXY=1` turns that skip into a
//! failure (`cargo xtask test` sets it where a `haproxy` is on PATH). The same pool without HAProxy, with
//! `post serve` producing a verified proof through it, is tested in `tests/serve/remote_k2pow.rs`.

#![allow(clippy::unwrap_used)]

#[path = "service_support/http.rs"]
mod http;
#[path = "service_support/process.rs"]
mod process;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{metric, try_get};
use post_core::{Challenge, NodeId, NonceGroup};
use post_proof::{CancelToken, PowJob, PowVerifier, RandomXMode, RandomXPow};
use post_service::{RemoteK2Pow, RemoteK2PowConfig};
use process::Service;

fn haproxy_available() -> bool {
    Command::new("haproxy").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The ```haproxy block of README.md's "Offloading k2pow to a pool".
fn readme_config() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme.split("## Offloading k2pow to a pool").nth(1).expect("README section");
    let block = section.split("```haproxy\n").nth(1).expect("haproxy block");
    block.split("```").next().unwrap().to_string()
}

/// The README's configuration with the test's addresses and quicker health checks.
fn config(front: u16, workers: &[std::net::SocketAddr]) -> String {
    let mut out = String::new();
    let mut servers_done = false;
    for line in readme_config().lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("bind ") {
            out.push_str(&format!("    bind 127.0.0.1:{front}\n"));
        } else if trimmed.starts_with("server ") {
            if !servers_done {
                for (i, w) in workers.iter().enumerate() {
                    out.push_str(&format!("    server k2pow-{i} {w} check inter 200ms fall 1 rise 1\n"));
                }
                servers_done = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn job_parts(group: u8) -> (Challenge, NodeId, [u8; 32], NonceGroup) {
    let mut challenge = [0u8; 32];
    challenge[..8].copy_from_slice(&[9, 8, 7, 6, 5, 4, 3, 2]);
    let mut threshold = [0xff; 32];
    threshold[0] = 0x7f;
    (Challenge(challenge), NodeId([0x33; 32]), threshold, NonceGroup(group))
}

/// Asks for `groups` at once through the pool and checks every answer with RandomX.
fn prove_groups(client: &Arc<RemoteK2Pow>, rx: &RandomXPow, groups: std::ops::Range<u8>) {
    let threads: Vec<_> = groups
        .map(|group| {
            let client = client.clone();
            std::thread::spawn(move || {
                let (challenge, miner, threshold, group) = job_parts(group);
                let job = PowJob { group, challenge: &challenge, miner: &miner, threshold: &threshold };
                (group, client.prove_group(&job, &CancelToken::new()))
            })
        })
        .collect();
    for t in threads {
        let (group, result) = t.join().unwrap();
        let pow = result.unwrap_or_else(|e| panic!("group {}: {e}", group.0));
        let (challenge, miner, threshold, group) = job_parts(group.0);
        rx.verify(pow, &PowJob { group, challenge: &challenge, miner: &miner, threshold: &threshold }).unwrap();
    }
}

#[test]
fn a_pool_behind_haproxy_answers_and_survives_a_dead_worker() {
    if !haproxy_available() {
        use std::io::Write as _;
        assert!(
            std::env::var_os("POST_REQUIRE_HAPROXY").is_none(),
            "POST_REQUIRE_HAPROXY is set but there is no haproxy"
        );
        // Written to the process's stderr directly, past the test harness's capture, so that it shows even
        // when the test "passes".
        let line = "SKIPPED a_pool_behind_haproxy_answers_and_survives_a_dead_worker: no `haproxy` on PATH, the \
                    README's HAProxy configuration is untested here (set POST_REQUIRE_HAPROXY=1 to make this a \
                    failure; the two-worker pool itself is tested without HAProxy by `cargo test -p post-cli \
                    --test serve -- remote_k2pow`)\n";
        let _ = std::io::stderr().write_all(line.as_bytes());
        return;
    }
    let args = ["k2pow-service", "--bind-address", "127.0.0.1:0", "--randomx-mode", "light", "--cores", "1"];
    let workers = [Service::spawn(&args, &[], "k2pow service"), Service::spawn(&args, &[], "k2pow service")];
    let front = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("haproxy.cfg");
    std::fs::write(&cfg, config(front, &[workers[0].addr, workers[1].addr])).unwrap();
    let check = Command::new("haproxy").arg("-c").arg("-f").arg(&cfg).output().unwrap();
    assert!(check.status.success(), "haproxy -c:\n{}", String::from_utf8_lossy(&check.stderr));
    let haproxy =
        Haproxy(Command::new("haproxy").arg("-db").arg("-f").arg(&cfg).stdout(Stdio::null()).spawn().unwrap());
    let front_addr: std::net::SocketAddr = ([127, 0, 0, 1], front).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    while try_get(front_addr, "/").map(|a| a.0) != Some(200) {
        assert!(Instant::now() < deadline, "haproxy never answered on {front_addr}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let client = Arc::new(
        RemoteK2Pow::new(RemoteK2PowConfig {
            backoff: Duration::from_millis(50),
            max_failures: 50,
            request_timeout: Duration::from_secs(10),
            ..RemoteK2PowConfig::new(format!("http://{front_addr}"))
        })
        .unwrap(),
    );
    let rx = RandomXPow::new(RandomXMode::Light).unwrap();
    prove_groups(&client, &rx, 0..6);
    let finished = |w: &Service| try_get(w.addr, "/metrics").map_or(0.0, |p| metric(&p.1, "k2pow_jobs_finished_total"));
    let total = finished(&workers[0]) + finished(&workers[1]);
    eprintln!("jobs per worker: {} and {}", finished(&workers[0]), finished(&workers[1]));
    assert!(total >= 6.0, "{total}");

    // One worker dies; the pool answers through the other.
    let [first, second] = workers;
    first.signal(libc::SIGKILL);
    drop(first);
    let before = finished(&second);
    prove_groups(&client, &rx, 10..14);
    assert!(finished(&second) > before, "the surviving worker did no job");
    drop(haproxy);
}
