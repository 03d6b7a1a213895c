//! The k2pow service library over real sockets, with fake proof-of-work backends whose behaviour the
//! tests choose (slow, failing, panicking, deaf to cancellation): the status codes of spec §8, the
//! backend built once, the bounded result cache, a worker that survives a panic, and 503 while
//! shutting down.

#![allow(clippy::unwrap_used)]

#[path = "support/http.rs"]
mod http;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http::{get, metric, try_get};
use post_proof::{CancelToken, PowJob, PowProver};
use post_service::{serve_k2pow, Error, K2PowJobKey, K2PowServiceConfig, PowProverFactory};

/// A backend that answers `group * 1000 + 7` after `delay`, fails for group 13, panics for group 66,
/// and ignores cancellation for group 99.
#[derive(Debug)]
struct Fake {
    delay: Duration,
}

impl PowProver for Fake {
    fn name(&self) -> String {
        "fake".into()
    }

    fn prove(&self, job: &PowJob<'_>, cancel: &CancelToken) -> Result<u64, post_proof::Error> {
        match job.group.0 {
            13 => return Err(post_proof::Error::PowExhausted { group: 13 }),
            66 => panic!("fake backend panics for group 66"),
            99 => {
                std::thread::sleep(self.delay);
                return Ok(99);
            }
            _ => {}
        }
        let end = Instant::now() + self.delay;
        while Instant::now() < end {
            if cancel.is_cancelled() {
                return Err(post_proof::Error::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(u64::from(job.group.0) * 1000 + 7)
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), Error>>>,
    builds: Arc<AtomicUsize>,
}

impl Server {
    fn start(config: K2PowServiceConfig, delay: Duration) -> Self {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let factory: PowProverFactory = Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(Fake { delay }) as Arc<dyn PowProver>)
        });
        Self::with_factory(config, factory, builds)
    }

    fn with_factory(config: K2PowServiceConfig, factory: PowProverFactory, builds: Arc<AtomicUsize>) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                serve_k2pow(listener, config, factory, async move {
                    let _ = stop_rx.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().unwrap();
        Self { addr, stop: Some(stop), thread: Some(thread), builds }
    }

    fn stop(mut self) -> Result<(), Error> {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap()
    }
}

fn path(group: u8) -> String {
    K2PowJobKey { miner: [0x5a; 32], group, challenge: [1, 2, 3, 4, 5, 6, 7, 8], difficulty: [0xff; 32] }.path()
}

/// Polls a job until it is no longer 201 (or a deadline passes).
fn wait_for(addr: SocketAddr, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = get(addr, path);
        if answer.0 != 201 || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn config() -> K2PowServiceConfig {
    K2PowServiceConfig { threads: 2, ..Default::default() }
}

#[test]
fn status_codes_follow_the_spec_and_the_backend_is_built_once() {
    let server = Server::start(config(), Duration::from_millis(300));
    let addr = server.addr;
    assert_eq!(get(addr, "/").0, 200);

    // Accepted, then the same job again: 201; another job meanwhile: 429.
    assert_eq!(get(addr, &path(1)), (201, String::new()));
    assert_eq!(get(addr, &path(1)).0, 201);
    assert_eq!(get(addr, &path(2)).0, 429);
    assert_eq!(wait_for(addr, &path(1)), (200, "1007".into()));
    // The finished result is kept; upper-case hex names the same job.
    assert_eq!(get(addr, &path(1).to_uppercase().replace("/JOB/", "/job/")), (200, "1007".into()));

    // Paths that do not parse: 400 with a reason.
    for bad in [
        format!("/job/{}/256/0102030405060708/{}", "5a".repeat(32), "ff".repeat(32)),
        format!("/job/{}/1/01020304050607/{}", "5a".repeat(32), "ff".repeat(32)),
        format!("/job/{}/1/0102030405060708/{}", "zz".repeat(32), "ff".repeat(32)),
        "/job/1/2/3".to_string(),
    ] {
        let (status, body) = get(addr, &bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(!body.is_empty());
    }

    // More jobs: the backend is still the one built at start.
    for group in [2, 3, 4] {
        assert_eq!(get(addr, &path(group)).0, 201);
        assert_eq!(wait_for(addr, &path(group)), (200, format!("{}", u64::from(group) * 1000 + 7)));
    }
    let page = get(addr, "/metrics").1;
    assert_eq!(server.builds.load(Ordering::SeqCst), 1);
    assert_eq!(metric(&page, "k2pow_backend_builds_total"), 1.0);
    assert_eq!(metric(&page, "k2pow_jobs_started_total"), 4.0);
    assert_eq!(metric(&page, "k2pow_jobs_finished_total"), 4.0);
    assert_eq!(metric(&page, "k2pow_jobs_failed_total"), 0.0);
    assert_eq!(metric(&page, "k2pow_busy"), 0.0);
    assert_eq!(metric(&page, "k2pow_ready"), 1.0);
    assert!(metric(&page, "k2pow_hashes_per_second") > 0.0);
    assert!(page.contains("k2pow_requests_total{code=\"429\"} 1"), "{page}");
    server.stop().unwrap();
}

#[test]
fn failing_and_panicking_jobs_answer_500_and_the_worker_goes_on() {
    let server = Server::start(config(), Duration::from_millis(20));
    let addr = server.addr;
    assert_eq!(get(addr, &path(13)).0, 201);
    let (status, body) = wait_for(addr, &path(13));
    assert_eq!(status, 500);
    assert!(body.contains("nonce group 13"), "{body}");
    // Sticky for that job.
    assert_eq!(get(addr, &path(13)).0, 500);

    assert_eq!(get(addr, &path(66)).0, 201);
    let (status, body) = wait_for(addr, &path(66));
    assert_eq!(status, 500);
    assert!(body.contains("panicked") && body.contains("group 66"), "{body}");

    // The worker takes the next job.
    assert_eq!(get(addr, &path(5)).0, 201);
    assert_eq!(wait_for(addr, &path(5)), (200, "5007".into()));
    let page = get(addr, "/metrics").1;
    assert_eq!(metric(&page, "k2pow_jobs_failed_total"), 2.0);
    assert_eq!(metric(&page, "k2pow_jobs_panicked_total"), 1.0);
    server.stop().unwrap();
}

#[test]
fn the_result_cache_is_bounded_by_count_and_age() {
    let config = K2PowServiceConfig { result_cache_size: 1, result_cache_age: Duration::from_millis(600), ..config() };
    let server = Server::start(config, Duration::from_millis(10));
    let addr = server.addr;
    for group in [1, 2] {
        assert_eq!(get(addr, &path(group)).0, 201);
        assert_eq!(wait_for(addr, &path(group)).0, 200);
    }
    // Group 1 was pushed out by group 2: asking again starts it anew.
    assert_eq!(get(addr, &path(1)).0, 201);
    assert_eq!(wait_for(addr, &path(1)).0, 200);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(get(addr, &path(1)).0, 201, "an expired result is computed again");
    assert_eq!(metric(&get(addr, "/metrics").1, "k2pow_jobs_started_total"), 4.0);
    server.stop().unwrap();
}

#[test]
fn shutdown_cancels_the_search_and_answers_503_meanwhile() {
    // Group 99 ignores cancellation for a second, so shutdown waits for it and answers 503 meanwhile.
    let server = Server::start(config(), Duration::from_millis(1000));
    let addr = server.addr;
    assert_eq!(get(addr, &path(99)).0, 201);
    std::thread::sleep(Duration::from_millis(100));
    let stopper = std::thread::spawn(move || server.stop());
    let mut saw_503 = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match try_get(addr, &path(3)) {
            Some((503, _)) => {
                saw_503 = true;
                break;
            }
            Some(_) => std::thread::sleep(Duration::from_millis(5)),
            None => break,
        }
    }
    assert!(saw_503, "no 503 while shutting down");
    if let Some((status, _)) = try_get(addr, "/") {
        assert_eq!(status, 503, "the liveness probe must fail while shutting down");
    }
    stopper.join().unwrap().unwrap();
    assert!(try_get(addr, "/").is_none(), "the server still answers after shutdown");

    // A cancellable search stops at once.
    let server = Server::start(config(), Duration::from_secs(30));
    assert_eq!(get(server.addr, &path(4)).0, 201);
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.stop().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
}

#[test]
fn a_backend_that_cannot_be_built_stops_the_service_with_its_reason() {
    let factory: PowProverFactory =
        Box::new(|| Err(post_proof::Error::PowBackend { message: "no memory for the dataset".into() }));
    let server = Server::with_factory(config(), factory, Arc::new(AtomicUsize::new(0)));
    let thread = server.thread.as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !thread.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    match server.stop() {
        Err(Error::Backend { message }) => assert!(message.contains("no memory"), "{message}"),
        other => panic!("{other:?}"),
    }
}
