//! A fake Spacemesh node for the service tests: the gRPC server side of `spacemesh.v1.PostService`,
//! behaving as the network's node does (post-service.md §3-4):
//!
//! ```text
//! Register:  no coinbase            -> FAILED_PRECONDITION "connection not allowed: node has no coinbase set in config"
//!            else the node speaks first: metadata request; the answer must be metadata{meta} with the
//!            VRF nonce; a node id that already has a live stream -> the stream ends with "post service
//!            already registered"
//! then:      strict lock-step, driven by the test: one request, exactly one answer; an answer that comes
//!            unasked is recorded as a violation
//! proving:   gen_proof{challenge} every `poll` until OK with a proof, or ERROR; the §3.6 checks on the
//!            proof (metadata present, challenge echoed, meta present with the VRF nonce)
//! ```
//! Each answer's latency (request sent -> answer received) is recorded. A TLS variant requires a client
//! certificate signed by its CA, as the node's TLS listener does.
//!
//! Every connection, plaintext or TLS, goes through [`h2_police`](crate::h2_police), which enforces the
//! node's keepalive rules at the HTTP/2 frame level (§4): GOAWAY "too_many_pings" to a client that pings
//! more often than once a minute, and the node's own pings of an idle connection. A connection the police
//! closes is an [`Event`] and a [`violation`](FakeNode::violations); unless a test allows it
//! ([`FakeNode::allow_keepalive_closes`]), dropping the node fails the test.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use post_service::proto::post_service_server::{PostService, PostServiceServer};
use post_service::proto::{
    node_request, service_response, GenProofRequest, GenProofResponse, GenProofStatus, Metadata, MetadataRequest,
    NodeRequest, ServiceResponse,
};
use tokio::sync::{mpsc, Notify};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::transport::Server;
use tonic::{Request, Response, Status, Streaming};

use crate::h2_police::{self, Closed, Keepalive, Police};

/// The refusal of a node without a coinbase.
pub const NO_COINBASE: &str = "connection not allowed: node has no coinbase set in config";
/// The refusal of a second stream for a registered node id.
pub const ALREADY_REGISTERED: &str = "post service already registered";

/// The server's certificate and the CA that must have signed the client's.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// Server certificate PEM.
    pub cert: String,
    /// Server key PEM.
    pub key: String,
    /// CA PEM for client certificates.
    pub client_ca: String,
}

/// Something that happened on the node's side, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A Register call refused for lack of a coinbase.
    RefusedNoCoinbase,
    /// A stream refused because the node id already had one.
    RefusedDuplicate,
    /// A service registered with this metadata.
    Registered(Metadata),
    /// The first answer was not metadata with a VRF nonce.
    BadHandshake(String),
    /// A stream ended.
    StreamEnded,
    /// The service sent something that was not asked for.
    Unasked(String),
    /// The keepalive police closed a connection (GOAWAY too_many_pings, an unanswered idle ping, no
    /// HTTP/2 preface).
    KeepaliveClosed(Closed),
}

/// One live stream.
struct Conn {
    id: u64,
    node_id: Vec<u8>,
    requests: mpsc::Sender<Result<NodeRequest, Status>>,
    answers: tokio::sync::Mutex<mpsc::Receiver<ServiceResponse>>,
    pending: Arc<AtomicBool>,
}

#[derive(Default)]
struct Shared {
    coinbase: AtomicBool,
    conns: Mutex<HashMap<Vec<u8>, Arc<Conn>>>,
    events: Mutex<Vec<Event>>,
    latencies: Mutex<Vec<Duration>>,
    changed: Notify,
    next_id: Mutex<u64>,
    keepalive_closes_allowed: AtomicBool,
}

impl Shared {
    fn event(&self, e: Event) {
        self.events.lock().push(e);
        self.changed.notify_waiters();
    }
}

#[derive(Clone)]
struct Svc(Arc<Shared>);

type RequestStream = Pin<Box<dyn Stream<Item = Result<NodeRequest, Status>> + Send>>;

#[tonic::async_trait]
impl PostService for Svc {
    type RegisterStream = RequestStream;

    async fn register(
        &self,
        request: Request<Streaming<ServiceResponse>>,
    ) -> Result<Response<Self::RegisterStream>, Status> {
        let shared = self.0.clone();
        if !shared.coinbase.load(Ordering::SeqCst) {
            shared.event(Event::RefusedNoCoinbase);
            return Err(Status::failed_precondition(NO_COINBASE));
        }
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            // The node speaks first.
            let metadata = NodeRequest { kind: Some(node_request::Kind::Metadata(MetadataRequest {})) };
            if tx.send(Ok(metadata)).await.is_err() {
                return;
            }
            let meta = match inbound.message().await {
                Ok(Some(ServiceResponse { kind: Some(service_response::Kind::Metadata(m)) })) => match m.meta {
                    Some(meta) if meta.nonce.is_some() => meta,
                    other => {
                        shared.event(Event::BadHandshake(format!("metadata without VRF nonce: {other:?}")));
                        return;
                    }
                },
                other => {
                    shared.event(Event::BadHandshake(format!("{other:?}")));
                    return;
                }
            };
            let id = {
                let mut next = shared.next_id.lock();
                *next += 1;
                *next
            };
            let (answers_tx, answers_rx) = mpsc::channel(4);
            let pending = Arc::new(AtomicBool::new(false));
            let conn = Arc::new(Conn {
                id,
                node_id: meta.node_id.clone(),
                requests: tx.clone(),
                answers: tokio::sync::Mutex::new(answers_rx),
                pending: pending.clone(),
            });
            let duplicate = {
                let mut conns = shared.conns.lock();
                let duplicate = conns.contains_key(&meta.node_id);
                if !duplicate {
                    conns.insert(meta.node_id.clone(), conn);
                }
                duplicate
            };
            if duplicate {
                shared.event(Event::RefusedDuplicate);
                let _ = tx.send(Err(Status::unknown(ALREADY_REGISTERED))).await;
                return;
            }
            shared.event(Event::Registered(meta.clone()));
            drop(tx);
            // Read answers; anything that arrives while no request is pending is a lock-step violation.
            while let Ok(Some(answer)) = inbound.message().await {
                if !pending.swap(false, Ordering::SeqCst) {
                    shared.event(Event::Unasked(format!("{answer:?}")));
                }
                if answers_tx.send(answer).await.is_err() {
                    break;
                }
            }
            {
                let mut conns = shared.conns.lock();
                if conns.get(&meta.node_id).is_some_and(|c| c.id == id) {
                    conns.remove(&meta.node_id);
                }
            }
            shared.event(Event::StreamEnded);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// How a proof request ended.
#[derive(Debug, Clone)]
pub enum ProofOutcome {
    /// OK with a proof that passed the node's checks (§3.6).
    Proof(GenProofResponse),
    /// ERROR.
    Error,
}

/// The fake node, serving on 127.0.0.1 in its own runtime.
pub struct FakeNode {
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
    police: Arc<Police>,
    address: SocketAddr,
    server: Option<tokio::task::JoinHandle<()>>,
    proxy: Option<tokio::task::JoinHandle<()>>,
    /// The node's poll interval (2 s on the network).
    pub poll: Duration,
}

impl FakeNode {
    /// A plaintext node with a coinbase.
    pub fn start() -> Self {
        Self::start_with(None, true)
    }

    /// A node with TLS or not, with a coinbase or not, with the node's keepalive rules.
    pub fn start_with(tls: Option<ServerTls>, coinbase: bool) -> Self {
        Self::start_keepalive(tls, coinbase, Keepalive::NODE)
    }

    /// A plaintext node with a coinbase on `address`: a node that comes back on the port of one that was
    /// dropped (which closed its listener and every connection).
    pub fn start_at(address: SocketAddr) -> Self {
        Self::start_on(address, None, true, Keepalive::NODE)
    }

    /// A node with other keepalive rules than the node's (shorter, for the keepalive tests).
    pub fn start_keepalive(tls: Option<ServerTls>, coinbase: bool, keepalive: Keepalive) -> Self {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), tls, coinbase, keepalive)
    }

    fn start_on(bind: SocketAddr, tls: Option<ServerTls>, coinbase: bool, keepalive: Keepalive) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let shared = Arc::new(Shared::default());
        shared.coinbase.store(coinbase, Ordering::SeqCst);
        // tokio sets SO_REUSEADDR, so the port of a node dropped a moment ago can be bound again.
        let listener = runtime.block_on(tokio::net::TcpListener::bind(bind)).unwrap();
        let address = listener.local_addr().unwrap();
        // The gRPC server speaks h2c over in-memory pipes; the police in front of it owns the listener,
        // terminates TLS and does the node's keepalive (the server's own is off).
        let (pipes, incoming) = mpsc::channel(16);
        let incoming = ReceiverStream::new(incoming).map(Ok::<_, std::io::Error>);
        let router = Server::builder().add_service(PostServiceServer::new(Svc(shared.clone())));
        let server = runtime.spawn(async move {
            let _ = router.serve_with_incoming(incoming).await;
        });
        let tls = tls.map(|tls| h2_police::tls_acceptor(&tls.cert, &tls.key, &tls.client_ca));
        let reported = shared.clone();
        let police = Arc::new(Police::new(keepalive, tls, move |closed| {
            eprintln!("fake node: the keepalive police closed a connection: {closed:?}");
            reported.event(Event::KeepaliveClosed(closed));
        }));
        let proxy = runtime.spawn(police.clone().serve(listener, pipes));
        FakeNode {
            runtime,
            shared,
            police,
            address,
            server: Some(server),
            proxy: Some(proxy),
            poll: Duration::from_millis(100),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What the keepalive police has seen so far.
    pub fn keepalive(&self) -> h2_police::Stats {
        self.police.stats()
    }

    /// Waits until `pred` holds for the keepalive counts, at most `limit`; returns them.
    pub fn wait_keepalive(
        &self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&h2_police::Stats) -> bool,
    ) -> h2_police::Stats {
        let deadline = Instant::now() + limit;
        loop {
            let stats = self.keepalive();
            if pred(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "the fake node waited {limit:?} for {what}; keepalive {stats:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The test expects the police to close connections: dropping the node does not fail it.
    pub fn allow_keepalive_closes(&self) {
        self.shared.keepalive_closes_allowed.store(true, Ordering::SeqCst);
    }

    /// Switches the coinbase on or off.
    pub fn set_coinbase(&self, on: bool) {
        self.shared.coinbase.store(on, Ordering::SeqCst);
    }

    /// Everything that happened so far.
    pub fn events(&self) -> Vec<Event> {
        self.shared.events.lock().clone()
    }

    /// Every answer's latency so far.
    pub fn latencies(&self) -> Vec<Duration> {
        self.shared.latencies.lock().clone()
    }

    /// The longest answer latency so far.
    pub fn max_latency(&self) -> Duration {
        self.latencies().into_iter().max().unwrap_or_default()
    }

    /// Waits until `pred` holds for the events, at most `limit`.
    pub fn wait_for(&self, limit: Duration, what: &str, pred: impl Fn(&[Event]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if pred(&self.shared.events.lock()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the fake node waited {limit:?} for {what}; events: {:?}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the `n`-th registration and returns its metadata.
    pub fn wait_registered(&self, n: usize, limit: Duration) -> Metadata {
        self.wait_for(limit, &format!("registration #{n}"), |e| registrations(e).len() >= n);
        registrations(&self.events())[n - 1].clone()
    }

    /// Whether a service with `node_id` has a live stream.
    pub fn is_registered(&self, node_id: &[u8]) -> bool {
        self.shared.conns.lock().contains_key(node_id)
    }

    fn conn(&self, node_id: &[u8]) -> Option<Arc<Conn>> {
        self.shared.conns.lock().get(node_id).cloned()
    }

    /// Sends one request on `node_id`'s stream and waits for its answer (at most 10 s); `None` when there is
    /// no stream or it broke.
    pub fn request(&self, node_id: &[u8], request: NodeRequest) -> Option<ServiceResponse> {
        let conn = self.conn(node_id)?;
        let shared = self.shared.clone();
        self.runtime.block_on(async move {
            let mut answers = conn.answers.lock().await;
            conn.pending.store(true, Ordering::SeqCst);
            let sent = Instant::now();
            conn.requests.send(Ok(request)).await.ok()?;
            let answer = tokio::time::timeout(Duration::from_secs(10), answers.recv()).await.ok()??;
            shared.latencies.lock().push(sent.elapsed());
            Some(answer)
        })
    }

    /// One `gen_proof` request.
    pub fn gen_proof_once(&self, node_id: &[u8], challenge: &[u8]) -> Option<GenProofResponse> {
        let request =
            NodeRequest { kind: Some(node_request::Kind::GenProof(GenProofRequest { challenge: challenge.to_vec() })) };
        match self.request(node_id, request)?.kind {
            Some(service_response::Kind::GenProof(r)) => Some(r),
            other => panic!("a gen_proof request was answered with {other:?}"),
        }
    }

    /// One `metadata` request.
    pub fn metadata_once(&self, node_id: &[u8]) -> Option<Metadata> {
        let request = NodeRequest { kind: Some(node_request::Kind::Metadata(MetadataRequest {})) };
        match self.request(node_id, request)?.kind {
            Some(service_response::Kind::Metadata(m)) => Some(m.meta.expect("metadata answer without meta")),
            other => panic!("a metadata request was answered with {other:?}"),
        }
    }

    /// Proves as the node does: asks every `poll` until a proof or ERROR, at most `limit`, waiting for the
    /// service to register again whenever the stream is gone. `on_poll` sees each "still working" answer's
    /// number. Panics when a proof fails the node's checks (§3.6).
    pub fn prove(
        &self,
        node_id: &[u8],
        challenge: &[u8],
        limit: Duration,
        mut on_poll: impl FnMut(usize),
    ) -> ProofOutcome {
        let deadline = Instant::now() + limit;
        let mut polls = 0;
        loop {
            assert!(Instant::now() < deadline, "no proof after {limit:?} ({polls} polls); events {:?}", self.events());
            let Some(answer) = self.gen_proof_once(node_id, challenge) else {
                std::thread::sleep(self.poll);
                continue;
            };
            match GenProofStatus::try_from(answer.status) {
                Ok(GenProofStatus::Ok) if answer.proof.is_none() => {
                    polls += 1;
                    on_poll(polls);
                    std::thread::sleep(self.poll);
                }
                Ok(GenProofStatus::Ok) => {
                    let metadata = answer.metadata.as_ref().expect("§3.6: a proof without metadata");
                    assert_eq!(metadata.challenge, challenge, "§3.6: the challenge is not echoed");
                    let meta = metadata.meta.as_ref().expect("§3.6: proof metadata without meta");
                    assert!(meta.nonce.is_some(), "§3.6: proof metadata without the VRF nonce");
                    return ProofOutcome::Proof(answer);
                }
                Ok(GenProofStatus::Error) => return ProofOutcome::Error,
                other => panic!("the node treats status {other:?} as an error"),
            }
        }
    }

    /// Ends every live stream from the node's side (as a node restart or a network break does).
    pub fn drop_streams(&self) {
        let conns: Vec<_> = self.shared.conns.lock().drain().map(|(_, c)| c).collect();
        for conn in &conns {
            let requests = conn.requests.clone();
            self.runtime.block_on(async move {
                let _ = requests.send(Err(Status::unavailable("the fake node dropped the stream"))).await;
            });
        }
    }

    /// Lock-step and keepalive violations seen so far.
    pub fn violations(&self) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| matches!(e, Event::Unasked(_) | Event::BadHandshake(_) | Event::KeepaliveClosed(_)))
            .collect()
    }

    /// Prints the latency figures and asserts every answer came within 100 ms.
    pub fn assert_latencies(&self, label: &str) {
        let latencies = self.latencies();
        let max = self.max_latency();
        let mean = latencies.iter().sum::<Duration>().checked_div(latencies.len().max(1) as u32).unwrap_or_default();
        eprintln!("{label}: {} answers, max latency {max:?}, mean {mean:?}", latencies.len());
        assert!(max < Duration::from_millis(100), "{label}: an answer took {max:?} (limit 100 ms)");
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        for task in [self.proxy.take(), self.server.take()].into_iter().flatten() {
            task.abort();
        }
        // Every test that uses the fake node enforces the node's keepalive rules. (The counts go up at
        // once; the event of a GOAWAY comes when the client has closed its side.)
        let closed: Vec<_> = self.events().into_iter().filter(|e| matches!(e, Event::KeepaliveClosed(_))).collect();
        let stats = self.keepalive();
        if (!closed.is_empty() || stats.goaways + stats.unanswered > 0)
            && !self.shared.keepalive_closes_allowed.load(Ordering::SeqCst)
            && !std::thread::panicking()
        {
            panic!("the node would have cut the service off: {closed:?}; keepalive {stats:?}");
        }
    }
}

/// The metadata of every registration so far.
pub fn registrations(events: &[Event]) -> Vec<Metadata> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Registered(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}
