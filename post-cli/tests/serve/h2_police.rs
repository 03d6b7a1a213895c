//! The node's HTTP/2 keepalive rules (post-service.md §4), enforced in front of the fake node's gRPC
//! server. tonic/hyper servers do not police a client's pings; the node (grpc-go) does. So every fake-node
//! connection goes through a proxy that reads both byte streams as HTTP/2 frames:
//!
//! ```text
//! client --TCP, or TLS terminated here--> police --in-memory pipe, h2c--> tonic server
//!
//! client -> server: the 24-byte preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", then frames
//!                   (9-byte header: 24-bit length, type, flags, 31-bit stream id; then the payload)
//!   PING (0x6), no ACK flag: two less than `min_ping_interval` apart -> GOAWAY (last stream id,
//!                   ENHANCE_YOUR_CALM 0xb, debug data "too_many_pings"), then the connection is closed
//!   PING with ACK (0x1) echoing the police's own ping: taken out (the server never sent that ping)
//!   any byte: the connection is not idle
//! server -> client: forwarded in whole frames, so that the police's own frames go in between
//! idle:             nothing read from the client for `idle` -> PING; no ACK within `timeout` -> closed
//! ```
//! The node allows a client one ping a minute, pings a connection idle for 10 minutes and drops it 10 s
//! after an unanswered ping ([`Keepalive::NODE`]). grpc-go forgives two early pings (and forgets them
//! whenever it sends data) before the GOAWAY; the police sends it at the first early ping, so a client
//! it accepts is accepted by the node.

#![allow(dead_code, clippy::unwrap_used)]

use std::future::pending;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, DuplexStream};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The client connection preface.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// A frame header's length.
pub const HEADER_LEN: usize = 9;
/// Frame types.
pub const HEADERS: u8 = 0x1;
/// See [`HEADERS`].
pub const SETTINGS: u8 = 0x4;
/// See [`HEADERS`].
pub const PING: u8 = 0x6;
/// See [`HEADERS`].
pub const GOAWAY: u8 = 0x7;
/// The ACK flag of SETTINGS and PING.
pub const ACK: u8 = 0x1;
/// The HTTP/2 error code of a GOAWAY for too many pings.
pub const ENHANCE_YOUR_CALM: u32 = 0xb;
/// grpc-go's debug data in that GOAWAY.
pub const TOO_MANY_PINGS: &[u8] = b"too_many_pings";
/// The opaque data of the police's own pings (a client echoes it in its ACK).
pub const NODE_PING: [u8; 8] = *b"fakenode";
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The in-memory pipe to the gRPC server, each way.
const PIPE_BYTES: usize = 256 << 10;
/// How long the police reads on after its GOAWAY, waiting for the client to close: closing a socket with
/// unread bytes resets the connection, and a reset can lose the GOAWAY before the client reads it.
const LINGER: Duration = Duration::from_secs(1);

/// The keepalive rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Two client pings closer than this: GOAWAY too_many_pings (the node: 1 minute).
    pub min_ping_interval: Duration,
    /// The node pings a connection it has read nothing from for this long (the node: 10 minutes)...
    pub idle: Duration,
    /// ...and closes it when the ping is not answered within this (the node: 10 s).
    pub timeout: Duration,
}

impl Keepalive {
    /// The node's rules.
    pub const NODE: Self = Keepalive {
        min_ping_interval: Duration::from_secs(60),
        idle: Duration::from_secs(600),
        timeout: Duration::from_secs(10),
    };
}

/// Why the police closed a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// GOAWAY too_many_pings sent: the client's last two pings came `apart`.
    TooManyPings { apart: Duration, last_stream: u32 },
    /// The police's idle ping was not answered within the timeout.
    PingUnanswered,
    /// The client did not start with the HTTP/2 preface.
    BadPreface,
}

/// What the police has seen so far, over all connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted (after the TLS handshake for TLS).
    pub connections: u64,
    /// PINGs without ACK from clients.
    pub client_pings: u64,
    /// GOAWAY too_many_pings frames sent.
    pub goaways: u64,
    /// The police's own idle PINGs sent.
    pub node_pings: u64,
    /// ...and answered (ACK with the same data) in time.
    pub node_pings_answered: u64,
    /// Connections closed for an unanswered idle ping.
    pub unanswered: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    client_pings: AtomicU64,
    goaways: AtomicU64,
    node_pings: AtomicU64,
    node_pings_answered: AtomicU64,
    unanswered: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::SeqCst);
}

/// One frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: &'a [u8],
}

/// The first complete frame of `buf` and the bytes it takes; `None` while it is incomplete.
pub fn next_frame(buf: &[u8]) -> Option<(Frame<'_>, usize)> {
    let header = buf.get(..HEADER_LEN)?;
    let total = HEADER_LEN + u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let payload = buf.get(HEADER_LEN..total)?;
    let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
    Some((Frame { kind: header[3], flags: header[4], stream, payload }, total))
}

/// One frame's bytes.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap();
    assert!(length < 1 << 24, "a frame of {length} bytes");
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A GOAWAY frame.
pub fn goaway(last_stream: u32, code: u32, debug: &[u8]) -> Vec<u8> {
    let mut payload = (last_stream & 0x7fff_ffff).to_be_bytes().to_vec();
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(debug);
    frame(GOAWAY, 0, 0, &payload)
}

/// The TLS side of the node's listener: `cert`/`key` (PEM) for the server, and a client certificate
/// signed by `client_ca` (PEM) required, as the node's TLS listener does; ALPN h2.
pub fn tls_acceptor(cert: &str, key: &str, client_ca: &str) -> TlsAcceptor {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(client_ca.as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// The police of one listener.
pub struct Police {
    keepalive: Keepalive,
    tls: Option<TlsAcceptor>,
    counters: Counters,
    report: Box<dyn Fn(Closed) + Send + Sync>,
}

/// How one direction of a connection ended.
enum End {
    ClientGone,
    ServerGone,
    Closed(Closed),
}

/// What the client→server side and the idle timer ask the server→client side (the only writer to the
/// client) to send.
enum Command {
    Ping,
    /// GOAWAY too_many_pings, then the client's side closed; `sent` hears when it is done.
    TooManyPings {
        last_stream: u32,
        sent: oneshot::Sender<()>,
    },
}

/// When the client was last heard from; its answers to the police's pings.
struct Activity {
    start: Instant,
    last_read_ns: AtomicU64,
    acked: Notify,
}

impl Activity {
    fn touch(&self) {
        self.last_read_ns.store(self.start.elapsed().as_nanos() as u64, Ordering::SeqCst);
    }

    fn last_read(&self) -> Instant {
        self.start + Duration::from_nanos(self.last_read_ns.load(Ordering::SeqCst))
    }
}

impl Police {
    /// The police with `keepalive` rules, TLS or not; `report` hears of every connection it closes.
    pub fn new(
        keepalive: Keepalive,
        tls: Option<TlsAcceptor>,
        report: impl Fn(Closed) + Send + Sync + 'static,
    ) -> Self {
        Police { keepalive, tls, counters: Counters::default(), report: Box::new(report) }
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Stats {
            connections: get(&c.connections),
            client_pings: get(&c.client_pings),
            goaways: get(&c.goaways),
            node_pings: get(&c.node_pings),
            node_pings_answered: get(&c.node_pings_answered),
            unanswered: get(&c.unanswered),
        }
    }

    /// Accepts connections on `listener` forever; hands the server's end of each to `server`.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, server: mpsc::Sender<DuplexStream>) {
        loop {
            let tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(err) => {
                    eprintln!("fake node: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let police = self.clone();
            let server = server.clone();
            tokio::spawn(async move {
                match &police.tls {
                    None => police.connection(tcp, server).await,
                    Some(acceptor) => {
                        // A failed handshake (a client that does not trust the node, or one without a
                        // certificate signed by the CA) is the client's to report.
                        if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            police.connection(tls, server).await;
                        }
                    }
                }
            });
        }
    }

    async fn connection<S>(&self, client: S, server: mpsc::Sender<DuplexStream>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
        if server.send(theirs).await.is_err() {
            return;
        }
        bump(&self.counters.connections);
        let (client_read, client_write) = tokio::io::split(client);
        let (server_read, server_write) = tokio::io::split(ours);
        let (commands, command_rx) = mpsc::channel(4);
        let activity = Activity { start: Instant::now(), last_read_ns: AtomicU64::new(0), acked: Notify::new() };
        let end = tokio::select! {
            end = self.client_to_server(client_read, server_write, &activity, &commands) => end,
            end = self.server_to_client(server_read, client_write, command_rx) => end,
            end = self.idle_pings(&activity, &commands) => end,
        };
        // Returning drops both ends: the client's socket closes, the server sees its connection end.
        if let End::Closed(closed) = end {
            (self.report)(closed);
        }
    }

    /// Reads the client's frames, polices its pings, forwards the rest to the server.
    async fn client_to_server<R, W>(
        &self,
        mut client: R,
        mut server: W,
        activity: &Activity,
        commands: &mpsc::Sender<Command>,
    ) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut preface = [0; PREFACE.len()];
        if client.read_exact(&mut preface).await.is_err() {
            return End::ClientGone;
        }
        activity.touch();
        if &preface != PREFACE {
            return End::Closed(Closed::BadPreface);
        }
        if server.write_all(&preface).await.is_err() {
            return End::ServerGone;
        }
        let mut buf = Vec::with_capacity(64 << 10);
        let mut last_ping: Option<Instant> = None;
        let mut last_stream = 0;
        loop {
            match client.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return End::ClientGone,
                Ok(_) => activity.touch(),
            }
            let mut forward = Vec::with_capacity(buf.len());
            let mut at = 0;
            let mut too_soon = None;
            while let Some((frame, len)) = next_frame(&buf[at..]) {
                let raw = &buf[at..at + len];
                at += len;
                match frame.kind {
                    PING if frame.flags & ACK != 0 && frame.payload == NODE_PING => {
                        activity.acked.notify_waiters();
                        continue;
                    }
                    PING if frame.flags & ACK == 0 => {
                        bump(&self.counters.client_pings);
                        let now = Instant::now();
                        if let Some(apart) = last_ping.map(|last| now - last) {
                            if apart < self.keepalive.min_ping_interval {
                                too_soon = Some(apart);
                                break;
                            }
                        }
                        last_ping = Some(now);
                    }
                    HEADERS => last_stream = last_stream.max(frame.stream),
                    _ => {}
                }
                forward.extend_from_slice(raw);
            }
            buf.drain(..at);
            if !forward.is_empty() && server.write_all(&forward).await.is_err() {
                return End::ServerGone;
            }
            if let Some(apart) = too_soon {
                // The server→client side sends the GOAWAY between two whole frames and closes its side;
                // this side reads what still comes until the client closes too (at most LINGER).
                let (sent, written) = oneshot::channel();
                if commands.send(Command::TooManyPings { last_stream, sent }).await.is_err() || written.await.is_err() {
                    return End::ClientGone;
                }
                let mut sink = [0; 4096];
                let drain = async { while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {} };
                let _ = tokio::time::timeout(LINGER, drain).await;
                return End::Closed(Closed::TooManyPings { apart, last_stream });
            }
        }
    }

    /// Forwards the server's frames whole, and writes the police's own frames between them.
    async fn server_to_client<R, W>(&self, mut server: R, mut client: W, mut commands: mpsc::Receiver<Command>) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut buf = Vec::with_capacity(64 << 10);
        loop {
            tokio::select! {
                read = server.read_buf(&mut buf) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        return End::ServerGone;
                    }
                    let mut whole = 0;
                    while let Some((_, len)) = next_frame(&buf[whole..]) {
                        whole += len;
                    }
                    if whole > 0 {
                        if write(&mut client, &buf[..whole]).await.is_err() {
                            return End::ClientGone;
                        }
                        buf.drain(..whole);
                    }
                }
                Some(command) = commands.recv() => match command {
                    Command::Ping => {
                        if write(&mut client, &frame(PING, 0, 0, &NODE_PING)).await.is_err() {
                            return End::ClientGone;
                        }
                        bump(&self.counters.node_pings);
                    }
                    Command::TooManyPings { last_stream, sent } => {
                        let goaway = goaway(last_stream, ENHANCE_YOUR_CALM, TOO_MANY_PINGS);
                        if write(&mut client, &goaway).await.is_ok() {
                            bump(&self.counters.goaways);
                        }
                        let _ = client.shutdown().await;
                        let _ = sent.send(());
                        // Nothing more goes to this client; the other side ends the connection.
                        return pending().await;
                    }
                },
            }
        }
    }

    /// Pings the client after `idle` without a byte from it; ends the connection when the ACK does not
    /// come within `timeout`.
    async fn idle_pings(&self, activity: &Activity, commands: &mpsc::Sender<Command>) -> End {
        loop {
            let due = activity.last_read() + self.keepalive.idle;
            if Instant::now() < due {
                tokio::time::sleep_until(due.into()).await;
                continue;
            }
            let acked = activity.acked.notified();
            tokio::pin!(acked);
            acked.as_mut().enable();
            if commands.send(Command::Ping).await.is_err() {
                return pending().await;
            }
            if tokio::time::timeout(self.keepalive.timeout, acked).await.is_err() {
                bump(&self.counters.unanswered);
                return End::Closed(Closed::PingUnanswered);
            }
            bump(&self.counters.node_pings_answered);
        }
    }
}

async fn write<W: AsyncWrite + Unpin>(to: &mut W, bytes: &[u8]) -> io::Result<()> {
    to.write_all(bytes).await?;
    to.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_back_as_written() {
        let goaway = goaway(7, ENHANCE_YOUR_CALM, TOO_MANY_PINGS);
        let mut bytes = frame(PING, ACK, 0, &NODE_PING);
        bytes.extend_from_slice(&goaway);
        let (ping, len) = next_frame(&bytes).unwrap();
        assert_eq!((ping.kind, ping.flags, ping.stream, ping.payload, len), (PING, ACK, 0, &NODE_PING[..], 17));
        let (away, rest) = next_frame(&bytes[len..]).unwrap();
        assert_eq!((away.kind, away.stream, rest), (GOAWAY, 0, 9 + 8 + TOO_MANY_PINGS.len()));
        assert_eq!(&away.payload[..8], &[0, 0, 0, 7, 0, 0, 0, 0xb]);
        assert_eq!(&away.payload[8..], TOO_MANY_PINGS);
        assert!(next_frame(&bytes[..len - 1]).is_none(), "an incomplete frame");
    }
}
