//! The remote k2pow client against fake k2pow servers that answer what each test scripts (201, 429,
//! 200, 500, a garbage body, an unknown status, nothing at all because they went away) and against
//! the real k2pow service: it returns the pow, waits through 201 and 429, retries failures a bounded
//! number of times, stops on cancel, and never panics.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use post_core::{Challenge, NodeId, NonceGroup};
use post_proof::{CancelToken, PowJob, PowProver};
use post_service::{Error, RemoteK2Pow, RemoteK2PowConfig};

/// A fake k2pow server: answers its script in order, then repeats the last answer; counts requests.
struct Script {
    answers: Mutex<VecDeque<(u16, &'static str)>>,
    requests: AtomicUsize,
    last_path: Mutex<String>,
}

struct FakeServer {
    addr: SocketAddr,
    script: Arc<Script>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeServer {
    fn start(answers: &[(u16, &'static str)]) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), answers)
    }

    fn start_on(addr: SocketAddr, answers: &[(u16, &'static str)]) -> Self {
        let script = Arc::new(Script {
            answers: Mutex::new(answers.iter().copied().collect()),
            requests: AtomicUsize::new(0),
            last_path: Mutex::new(String::new()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/{*rest}", get(answer)).with_state(script.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self { addr, script, runtime: Some(runtime) }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> usize {
        self.script.requests.load(Ordering::SeqCst)
    }

    /// Stops listening and drops every connection: the server "goes away".
    fn go_away(mut self) {
        self.runtime.take().unwrap().shutdown_timeout(Duration::from_secs(1));
    }
}

async fn answer(State(script): State<Arc<Script>>, uri: axum::http::Uri) -> (StatusCode, &'static str) {
    script.requests.fetch_add(1, Ordering::SeqCst);
    *script.last_path.lock().unwrap() = uri.path().to_string();
    let mut answers = script.answers.lock().unwrap();
    let (status, body) = if answers.len() > 1 { answers.pop_front().unwrap() } else { answers[0] };
    (StatusCode::from_u16(status).unwrap(), body)
}

fn client(url: &str, max_failures: u32) -> RemoteK2Pow {
    RemoteK2Pow::new(RemoteK2PowConfig {
        backoff: Duration::from_millis(20),
        max_failures,
        request_timeout: Duration::from_secs(2),
        parallelism: 3,
        ..RemoteK2PowConfig::new(url)
    })
    .unwrap()
}

struct JobParts {
    challenge: Challenge,
    miner: NodeId,
    threshold: [u8; 32],
}

fn parts() -> JobParts {
    JobParts {
        challenge: Challenge(std::array::from_fn(|i| i as u8)),
        miner: NodeId([0xab; 32]),
        threshold: [0x7f; 32],
    }
}

fn job(parts: &JobParts, group: u8) -> PowJob<'_> {
    PowJob { group: NonceGroup(group), challenge: &parts.challenge, miner: &parts.miner, threshold: &parts.threshold }
}

#[test]
fn waits_through_201_and_429_and_retries_failures_until_the_pow() {
    let server = FakeServer::start(&[
        (201, ""),
        (429, ""),
        (500, "worker broke"),
        (200, "not a number"),
        (418, "teapot"),
        (503, ""),
        (201, ""),
        (200, "123456\n"),
    ]);
    let client = client(&server.url(), 10);
    let parts = parts();
    assert_eq!(client.prove(&job(&parts, 7), &CancelToken::new()).unwrap(), 123_456);
    assert_eq!(server.requests(), 8);
    let path = server.script.last_path.lock().unwrap().clone();
    assert_eq!(path, format!("/job/{}/7/0001020304050607/{}", "ab".repeat(32), "7f".repeat(32)));
    assert_eq!(client.parallel_groups(), 3);
}

#[test]
fn a_group_that_keeps_failing_is_a_typed_error_after_the_bound() {
    let server = FakeServer::start(&[(500, "the job failed: out of memory")]);
    let client = client(&server.url(), 4);
    let parts = parts();
    match client.prove_group(&job(&parts, 2), &CancelToken::new()) {
        Err(Error::RemoteK2Pow { group: 2, failures: 4, last, .. }) => {
            assert!(last.contains("out of memory"), "{last}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests(), 4);
    // Through the trait: a proof-of-work backend error naming the URL.
    match client.prove(&job(&parts, 2), &CancelToken::new()) {
        Err(post_proof::Error::PowBackend { message }) => assert!(message.contains(&server.url()), "{message}"),
        other => panic!("{other:?}"),
    }
    // Garbage bodies count as failures too.
    let garbage = FakeServer::start(&[(200, "\u{1f4a9}")]);
    let client = self::client(&garbage.url(), 4);
    assert!(matches!(client.prove_group(&job(&parts, 2), &CancelToken::new()), Err(Error::RemoteK2Pow { .. })));
    assert_eq!(garbage.requests(), 4);
}

#[test]
fn nothing_listening_is_a_bounded_failure_not_a_panic() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = client(&format!("http://{addr}"), 3);
    let parts = parts();
    match client.prove_group(&job(&parts, 1), &CancelToken::new()) {
        Err(Error::RemoteK2Pow { failures: 3, last, .. }) => assert!(!last.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_server_that_goes_away_and_comes_back_is_survived() {
    let server = FakeServer::start(&[(201, "")]);
    let addr = server.addr;
    let client = Arc::new(client(&server.url(), 50));
    let proving = std::thread::spawn({
        let client = client.clone();
        move || {
            let parts = parts();
            client.prove_group(&job(&parts, 9), &CancelToken::new())
        }
    });
    while server.requests() < 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.go_away();
    std::thread::sleep(Duration::from_millis(200));
    let back = FakeServer::start_on(addr, &[(201, ""), (200, "9")]);
    assert_eq!(proving.join().unwrap().unwrap(), 9);
    assert!(back.requests() >= 2);
}

#[test]
fn cancel_stops_polling_and_a_request_in_flight() {
    let server = FakeServer::start(&[(201, "")]);
    let client = Arc::new(client(&server.url(), 10));
    let cancel = CancelToken::new();
    let proving = std::thread::spawn({
        let (client, cancel) = (client.clone(), cancel.clone());
        move || {
            let parts = parts();
            client.prove_group(&job(&parts, 1), &cancel)
        }
    });
    std::thread::sleep(Duration::from_millis(150));
    let at = Instant::now();
    cancel.cancel();
    assert!(matches!(proving.join().unwrap(), Err(Error::Cancelled)));
    assert!(at.elapsed() < Duration::from_secs(1), "{:?}", at.elapsed());

    // A server that accepts the connection and never answers: cancel still returns promptly.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = RemoteK2Pow::new(RemoteK2PowConfig {
        request_timeout: Duration::from_secs(60),
        ..RemoteK2PowConfig::new(format!("http://{}", silent.local_addr().unwrap()))
    })
    .unwrap();
    let cancel = CancelToken::new();
    let stopper = std::thread::spawn({
        let cancel = cancel.clone();
        move || {
            std::thread::sleep(Duration::from_millis(200));
            cancel.cancel();
        }
    });
    let at = Instant::now();
    let parts = parts();
    assert!(matches!(client.prove(&job(&parts, 1), &cancel), Err(post_proof::Error::Cancelled)));
    assert!(at.elapsed() < Duration::from_secs(2), "{:?}", at.elapsed());
    stopper.join().unwrap();
}

#[test]
fn groups_in_parallel_from_several_threads_and_from_inside_a_runtime() {
    let server = FakeServer::start(&[(201, ""), (201, ""), (200, "42")]);
    let client = Arc::new(client(&server.url(), 10));
    let threads: Vec<_> = (0..3u8)
        .map(|group| {
            let client = client.clone();
            std::thread::spawn(move || {
                let parts = parts();
                client.prove(&job(&parts, group), &CancelToken::new())
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), 42);
    }
    // Called from a runtime's blocking thread, and dropped inside async code: no panic.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let pow = runtime.block_on(async move {
        let pow = tokio::task::spawn_blocking({
            let client = client.clone();
            move || {
                let parts = parts();
                client.prove(&job(&parts, 4), &CancelToken::new())
            }
        })
        .await
        .unwrap();
        drop(client);
        pow
    });
    assert_eq!(pow.unwrap(), 42);
}
