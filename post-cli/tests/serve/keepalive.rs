//! The node's keepalive rules (spec §4), enforced by the fake node's HTTP/2 police (`h2_police.rs`):
//! a client that pings more often than the node allows gets GOAWAY "too_many_pings" (ENHANCE_YOUR_CALM)
//! and is cut off, over plaintext and over TLS; on the wire, pings far enough apart are answered and the
//! first early one gets the GOAWAY; the node pings an idle connection and drops it when the ping goes
//! unanswered; and `post serve`, with the node's real one-minute minimum and the node's idle pings
//! after 2 s instead of 10 minutes, proves, answers the pings and keeps its registration without a
//! single GOAWAY.

#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use post_service::proto::post_service_client::PostServiceClient;
use post_service::proto::{node_request, service_response, Metadata, MetadataResponse, ServiceResponse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::common::*;
use crate::fake_node::{self, Event, FakeNode, ProofOutcome, ServerTls};
use crate::h2_police::{
    frame, next_frame, Closed, Keepalive, ACK, ENHANCE_YOUR_CALM, GOAWAY, NODE_PING, PING, PREFACE, SETTINGS,
    TOO_MANY_PINGS,
};
use crate::tls;

/// How often the over-eager client pings.
const EAGER: Duration = Duration::from_millis(100);

/// Connects to `endpoint` as a client pinging every [`EAGER`] even while idle, calls `Register` and
/// answers the node's metadata request; returns the error that ended the stream and how long after the
/// connect it came.
fn over_eager_client(endpoint: Endpoint) -> (tonic::Status, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let clock = Instant::now();
        let channel = endpoint
            .http2_keep_alive_interval(EAGER)
            .keep_alive_timeout(Duration::from_secs(5))
            .keep_alive_while_idle(true)
            .connect()
            .await
            .unwrap();
        let (answers, outbound) = mpsc::channel(4);
        let mut requests =
            PostServiceClient::new(channel).register(ReceiverStream::new(outbound)).await.unwrap().into_inner();
        let end = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match requests.message().await {
                    Ok(Some(request)) => {
                        assert!(matches!(request.kind, Some(node_request::Kind::Metadata(_))), "{request:?}");
                        let meta = Metadata {
                            node_id: vec![0x7e; 32],
                            commitment_atx_id: vec![0xa5; 32],
                            nonce: Some(1),
                            num_units: 1,
                            labels_per_unit: 1,
                        };
                        let answer = MetadataResponse { meta: Some(meta) };
                        let answer = ServiceResponse { kind: Some(service_response::Kind::Metadata(answer)) };
                        answers.send(answer).await.unwrap();
                    }
                    Ok(None) => panic!("the node ended the stream cleanly; a GOAWAY was expected"),
                    Err(status) => return status,
                }
            }
        })
        .await
        .expect("a client pinging every 100 ms was still connected after 10 s");
        (end, clock.elapsed())
    })
}

/// What every over-eager client must have seen: one GOAWAY too_many_pings for pings closer than the
/// node's minute, after which the node forgot its stream.
fn assert_cut_off(node: &FakeNode, status: &tonic::Status, after: Duration) {
    eprintln!("over-eager client cut off after {after:?}: {status}; keepalive {:?}", node.keepalive());
    node.wait_for(Duration::from_secs(5), "the police's report and the stream's end", |e| {
        e.iter().any(|e| matches!(e, Event::KeepaliveClosed(_))) && e.contains(&Event::StreamEnded)
    });
    let closes: Vec<_> = node
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::KeepaliveClosed(closed) => Some(closed),
            _ => None,
        })
        .collect();
    match closes.as_slice() {
        [Closed::TooManyPings { apart, last_stream }] => {
            assert!(*apart < Keepalive::NODE.min_ping_interval, "{apart:?}");
            assert_eq!(*last_stream, 1, "the Register call is the client's first stream");
        }
        other => panic!("expected one GOAWAY too_many_pings, got {other:?}"),
    }
    let stats = node.keepalive();
    assert_eq!((stats.connections, stats.goaways, stats.client_pings), (1, 1, 2), "{stats:?}");
    assert_eq!(fake_node::registrations(&node.events()).len(), 1, "{:?}", node.events());
    assert!(!node.is_registered(&[0x7e; 32]), "the node still holds the cut-off client's registration");
    // About two ping intervals; far below the 600 s the node waits before its own first ping.
    assert!(after < Duration::from_secs(5), "cut off only after {after:?}");
}

#[test]
fn an_over_eager_client_is_sent_goaway_too_many_pings_and_cut_off() {
    let node = FakeNode::start();
    node.allow_keepalive_closes();
    let endpoint = Endpoint::from_shared(format!("http://{}", node.address())).unwrap();
    let (status, after) = over_eager_client(endpoint);
    assert_cut_off(&node, &status, after);
}

#[test]
fn an_over_eager_client_over_tls_is_cut_off_too() {
    let (ca_pem, ca) = tls::ca("node CA");
    let (server_cert, server_key) = tls::leaf(&["localhost"], &ca);
    let (client_cert, client_key) = tls::leaf(&["post-service"], &ca);
    let node =
        FakeNode::start_with(Some(ServerTls { cert: server_cert, key: server_key, client_ca: ca_pem.clone() }), true);
    node.allow_keepalive_closes();
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .identity(Identity::from_pem(client_cert, client_key))
        .domain_name("localhost");
    let endpoint = Endpoint::from_shared(format!("https://localhost:{}", node.address().port()))
        .unwrap()
        .tls_config(config)
        .unwrap();
    let (status, after) = over_eager_client(endpoint);
    assert_cut_off(&node, &status, after);
}

/// One frame as read by [`Raw`].
#[derive(Debug)]
struct Owned {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// A bare HTTP/2 client: the preface and an empty SETTINGS, then frames by hand.
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(address: SocketAddr) -> Self {
        let tcp = TcpStream::connect(address).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut raw = Raw { tcp, buf: Vec::new() };
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        raw.send(&hello);
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).unwrap();
    }

    fn ping(&mut self, data: &[u8; 8]) {
        self.send(&frame(PING, 0, 0, data));
    }

    /// The next frame; `None` when the node closed the connection.
    fn next(&mut self) -> Option<Owned> {
        loop {
            if let Some((f, len)) = next_frame(&self.buf) {
                let owned = Owned { kind: f.kind, flags: f.flags, stream: f.stream, payload: f.payload.to_vec() };
                self.buf.drain(..len);
                return Some(owned);
            }
            let mut chunk = [0; 4096];
            match self.tcp.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(err) => panic!("nothing from the node within 5 s: {err}"),
            }
        }
    }

    /// Skips frames until one satisfies `pred`; panics when the connection ends first.
    fn until(&mut self, what: &str, pred: impl Fn(&Owned) -> bool) -> Owned {
        loop {
            match self.next() {
                Some(f) if pred(&f) => return f,
                Some(_) => {}
                None => panic!("the node closed the connection before {what}"),
            }
        }
    }

    /// Reads until the node closes the connection; panics on a frame `forbidden` returns true for.
    fn until_closed(&mut self, forbidden: impl Fn(&Owned) -> bool) {
        while let Some(f) = self.next() {
            assert!(!forbidden(&f), "unexpected frame before the close: {f:?}");
        }
    }
}

fn is_ping(f: &Owned) -> bool {
    f.kind == PING && f.flags & ACK == 0
}

fn is_ack_of(data: &'static [u8; 8]) -> impl Fn(&Owned) -> bool {
    move |f| f.kind == PING && f.flags & ACK != 0 && f.payload == data
}

#[test]
fn on_the_wire_pings_far_enough_apart_are_answered_and_the_first_early_one_gets_goaway() {
    // Long enough that the early ping, sent after an ACK's round trip, is early even on a loaded machine.
    let min = Duration::from_secs(1);
    let node = FakeNode::start_keepalive(None, true, Keepalive { min_ping_interval: min, ..Keepalive::NODE });
    node.allow_keepalive_closes();
    let mut raw = Raw::connect(node.address());

    // Two pings `min` apart: forwarded, and answered by the gRPC server behind the police.
    raw.ping(b"slow-001");
    raw.until("the first ACK", is_ack_of(b"slow-001"));
    // The point of this test is the spacing of the pings: nothing to wait for but the clock.
    std::thread::sleep(min + Duration::from_millis(50));
    raw.ping(b"slow-002");
    raw.until("the second ACK", is_ack_of(b"slow-002"));
    assert_eq!(node.keepalive().goaways, 0, "{:?}", node.keepalive());

    // One more at once: never answered; GOAWAY with the last stream id (none opened), ENHANCE_YOUR_CALM
    // and "too_many_pings", then the connection is closed.
    raw.ping(b"fast-003");
    let away = raw.until("the GOAWAY", |f| {
        assert!(!is_ack_of(b"fast-003")(f), "the early ping was answered");
        f.kind == GOAWAY
    });
    assert_eq!((away.stream, away.flags), (0, 0));
    let mut expected = vec![0, 0, 0, 0];
    expected.extend(ENHANCE_YOUR_CALM.to_be_bytes());
    expected.extend(TOO_MANY_PINGS);
    assert_eq!(away.payload, expected, "GOAWAY payload: last stream id, error code, debug data");
    raw.until_closed(|_| true);

    let stats = node.keepalive();
    assert_eq!((stats.client_pings, stats.goaways), (3, 1), "{stats:?}");
    node.wait_for(Duration::from_secs(5), "the police's report", |e| {
        e.iter().any(
            |e| matches!(e, Event::KeepaliveClosed(Closed::TooManyPings { apart, last_stream: 0 }) if *apart < min),
        )
    });
}

#[test]
fn on_the_wire_the_node_pings_an_idle_connection_and_drops_it_when_unanswered() {
    // A timeout long enough for a loaded test thread to answer in time.
    let (idle, timeout) = (Duration::from_millis(100), Duration::from_secs(1));
    let node = FakeNode::start_keepalive(None, true, Keepalive { idle, timeout, ..Keepalive::NODE });
    node.allow_keepalive_closes();
    let mut raw = Raw::connect(node.address());

    // Answered pings keep the connection: the node pings again after the next idle period.
    for n in 1..=2 {
        let ping = raw.until(&format!("the node's idle ping #{n}"), is_ping);
        assert_eq!(ping.payload, NODE_PING);
        raw.send(&frame(PING, ACK, 0, &NODE_PING));
    }
    // The third goes unanswered: the node closes the connection after its timeout, with no GOAWAY.
    raw.until("the node's idle ping #3", is_ping);
    let unanswered = Instant::now();
    raw.until_closed(|f| f.kind == GOAWAY);
    let waited = unanswered.elapsed();
    eprintln!("an unanswered idle ping: closed {waited:?} after it (timeout {timeout:?})");
    assert!(waited >= timeout - Duration::from_millis(20), "closed {waited:?} after the ping");

    let stats = node.keepalive();
    assert_eq!(
        (stats.node_pings, stats.node_pings_answered, stats.unanswered, stats.goaways),
        (3, 2, 1, 0),
        "{stats:?}"
    );
    node.wait_for(Duration::from_secs(5), "the police's report", |e| {
        e.contains(&Event::KeepaliveClosed(Closed::PingUnanswered))
    });
}

#[test]
fn post_serve_keeps_within_the_node_s_ping_limit_and_answers_its_idle_pings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    // The node's one-minute minimum between client pings; its idle pings after 2 s instead of 10 minutes.
    // Any read restarts a client's keepalive timer, so the idle stretches must be long: a service pinging
    // more often than every 2 s pings before the node does, and then either gets GOAWAY (two pings in
    // a stretch) or keeps the node from ever seeing the connection idle (the wait below fails).
    let idle = Duration::from_secs(2);
    let keepalive = Keepalive { idle, timeout: Duration::from_secs(5), ..Keepalive::NODE };
    let node = FakeNode::start_keepalive(None, true, keepalive);
    let mut service = ServiceProcess::spawn(&serve_args(&dir, &format!("http://{}", node.address())));
    let meta = node.wait_registered(1, Duration::from_secs(30));

    let challenge = challenge(0x6b);
    let ProofOutcome::Proof(answer) = node.prove(&meta.node_id, &challenge, Duration::from_secs(120), |_| {}) else {
        panic!("ERROR for a good challenge:\n{}", service.log());
    };
    verify(&answer, &challenge);

    // Idle for two stretches: the node pings, the service answers, nothing else happens.
    let before = node.keepalive();
    let stats = node.wait_keepalive(Duration::from_secs(20), "two idle pings answered", |s| {
        s.goaways + s.unanswered > 0 || s.node_pings_answered >= before.node_pings_answered + 2
    });
    eprintln!("post serve through the keepalive police: {stats:?}");
    assert_eq!((stats.goaways, stats.unanswered), (0, 0), "{stats:?}\n{}", service.log());
    assert_eq!(stats.connections, 1, "the service reconnected: {stats:?}\n{}", service.log());
    assert!(node.is_registered(&meta.node_id), "{:?}", node.events());
    assert_eq!(fake_node::registrations(&node.events()).len(), 1);
    assert!(!node.events().contains(&Event::StreamEnded), "{:?}", node.events());
    assert_eq!(node.metadata_once(&meta.node_id).unwrap(), meta, "the same stream still answers");
    assert!(node.violations().is_empty(), "{:?}", node.violations());
    assert_eq!(service.terminate(Duration::from_secs(10)), Some(0), "{}", service.log());
}
