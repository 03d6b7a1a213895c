//! A test-only HTTP/1.1 load balancer in front of a pool of `post k2pow-service` workers, so that the pool
//! tests need no HAProxy. It is a plain reverse proxy, one thread per client connection:
//!
//! ```text
//! client side:  HTTP/1.1 keep-alive (the k2pow client's hyper pool reuses connections); each request is
//!               read whole (head, then a Content-Length body if any) and answered with a Content-Length
//!               body; `Connection: close` from the client ends its connection after the answer
//! worker side:  one new connection per request, sent with `Connection: close` (hop-by-hop headers
//!               dropped), the answer read to EOF; a chunked or Content-Length body is decoded and sent
//!               on with a Content-Length; the status line, the other headers and the body go through as
//!               the worker sent them
//! balancing:    round-robin per request (not sticky: a job's polls may reach another worker than the one
//!               running it; the k2pow protocol survives that, that worker starts the job too or answers
//!               429), starting from the next worker in turn and trying each worker at most once:
//!                 connect refused / timed out -> the next worker (the request never reached this one)
//!                 429 (busy with another job) -> the next worker, like a pool with `retry-on 429`; when
//!                                                every worker said 429 the last 429 goes to the client,
//!                                                whose retry (the backoff) takes it from there
//!                 the worker's answer breaks off (it died while answering) -> 502 to the client, no retry
//!                                                (the client's failure retry takes it from there)
//!                 anything else               -> to the client
//!               no worker reachable -> 502
//! ```
//!
//! Every answer a worker gave is recorded (worker, path, status, time), so a test can count what each
//! worker received and did.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufReader, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One answer of a worker, as the balancer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Index of the worker in the balancer's list.
    pub worker: usize,
    /// The request's path.
    pub path: String,
    /// The worker's status code.
    pub status: u16,
    /// When the answer was read.
    pub at: Instant,
}

/// What the balancer saw, shared with its threads.
#[derive(Debug, Default)]
struct Record {
    exchanges: Vec<Exchange>,
    /// Per worker: connections refused or timed out.
    connect_failures: Vec<u64>,
    /// Per worker: answers that broke off (answered 502 to the client).
    broken: Vec<u64>,
    /// Answers sent to the client: status codes, in order.
    to_client: Vec<u16>,
}

struct Shared {
    workers: Vec<SocketAddr>,
    next: AtomicUsize,
    stop: AtomicBool,
    record: Mutex<Record>,
    clients: Mutex<Vec<TcpStream>>,
}

/// The running balancer; stops (closing every client connection) when dropped.
pub struct Balancer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<std::thread::JoinHandle<()>>,
}

/// How long the balancer waits for a worker to accept a connection, and then for its answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest request or answer head accepted.
const MAX_HEAD: usize = 16 * 1024;

impl Balancer {
    /// Listens on 127.0.0.1:0 in front of `workers`.
    pub fn start(workers: &[SocketAddr]) -> Self {
        assert!(!workers.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            workers: workers.to_vec(),
            next: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            record: Mutex::new(Record {
                connect_failures: vec![0; workers.len()],
                broken: vec![0; workers.len()],
                ..Record::default()
            }),
            clients: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("balancer-accept".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if shared.stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        if let Ok(clone) = stream.try_clone() {
                            shared.clients.lock().unwrap().push(clone);
                        }
                        let shared = shared.clone();
                        std::thread::spawn(move || serve_client(&shared, stream));
                    }
                })
                .unwrap()
        };
        Self { addr, shared, accept: Some(accept) }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every answer the workers gave so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.record.lock().unwrap().exchanges.clone()
    }

    /// Requests worker `i` answered.
    pub fn answered_by(&self, i: usize) -> usize {
        self.exchanges().iter().filter(|e| e.worker == i).count()
    }

    /// Connections to worker `i` that were refused or timed out.
    pub fn connect_failures(&self, i: usize) -> u64 {
        self.shared.record.lock().unwrap().connect_failures[i]
    }

    /// Answers of worker `i` that broke off.
    pub fn broken(&self, i: usize) -> u64 {
        self.shared.record.lock().unwrap().broken[i]
    }

    /// The status codes the client received, in order.
    pub fn to_client(&self) -> Vec<u16> {
        self.shared.record.lock().unwrap().to_client.clone()
    }

    /// One line per worker: requests answered, by status, and the failures.
    pub fn summary(&self) -> String {
        let record = self.shared.record.lock().unwrap();
        let mut out = String::new();
        for (i, w) in self.shared.workers.iter().enumerate() {
            let mut by_status = std::collections::BTreeMap::new();
            for e in record.exchanges.iter().filter(|e| e.worker == i) {
                *by_status.entry(e.status).or_insert(0u32) += 1;
            }
            out.push_str(&format!(
                "worker {i} ({w}): {} answers {by_status:?}, {} refused connections, {} broken answers\n",
                by_status.values().sum::<u32>(),
                record.connect_failures[i],
                record.broken[i]
            ));
        }
        out
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for client in self.shared.clients.lock().unwrap().drain(..) {
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

/// A request or answer head: the first line and the headers, as sent.
struct Head {
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// The headers that go on: every one but the hop-by-hop ones and the framing, which the balancer sets.
    fn end_to_end(&self) -> impl Iterator<Item = &(String, String)> {
        const HOP: [&str; 8] = [
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "content-length",
        ];
        self.headers.iter().filter(|(n, _)| !HOP.iter().any(|h| n.eq_ignore_ascii_case(h)))
    }
}

/// Reads a head; `Ok(None)` on a clean EOF before the first byte.
fn read_head(reader: &mut impl std::io::BufRead) -> std::io::Result<Option<Head>> {
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut size = first.len();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the head broke off"));
        }
        size += line.len();
        if size > MAX_HEAD {
            return Err(std::io::Error::other("head too long"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| std::io::Error::other("a header without ':'"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Some(Head { first: first.trim_end_matches(['\r', '\n']).to_string(), headers }))
}

/// Reads a body framed as `head` says; `until_eof` for an answer without framing.
fn read_body(reader: &mut impl std::io::BufRead, head: &Head, until_eof: bool) -> std::io::Result<Vec<u8>> {
    if head.has_token("transfer-encoding", "chunked") {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = size.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16).map_err(|_| std::io::Error::other("bad chunk size"))?;
            if size == 0 {
                // Trailers (none expected) up to the empty line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    }
    if let Some(length) = head.header("content-length") {
        let length: usize = length.parse().map_err(|_| std::io::Error::other("bad content-length"))?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if until_eof {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// Serves one client connection, request after request, until it closes.
fn serve_client(shared: &Shared, client: TcpStream) {
    let mut writer = match client.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(client);
    loop {
        let request = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) | Err(_) => return,
        };
        let Ok(body) = read_body(&mut reader, &request, false) else { return };
        let close = request.has_token("connection", "close") || request.first.ends_with("HTTP/1.0");
        let (status_line, headers, answer) = forward(shared, &request, &body);
        let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        shared.record.lock().unwrap().to_client.push(status);
        let mut out = format!("{status_line}\r\n");
        for (name, value) in &headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!(
            "content-length: {}\r\nconnection: {}\r\n\r\n",
            answer.len(),
            if close { "close" } else { "keep-alive" }
        ));
        if writer.write_all(out.as_bytes()).and_then(|()| writer.write_all(&answer)).is_err() || close {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// One request through the pool: (status line, end-to-end headers, body) for the client.
fn forward(shared: &Shared, request: &Head, body: &[u8]) -> (String, Vec<(String, String)>, Vec<u8>) {
    let path = request.first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let n = shared.workers.len();
    let start = shared.next.fetch_add(1, Ordering::SeqCst);
    let mut last_429 = None;
    for i in (0..n).map(|k| (start + k) % n) {
        let worker = shared.workers[i];
        let Ok(mut upstream) = TcpStream::connect_timeout(&worker, CONNECT_TIMEOUT) else {
            shared.record.lock().unwrap().connect_failures[i] += 1;
            continue;
        };
        let answer = (|| {
            upstream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
            let mut out = format!("{}\r\n", request.first);
            for (name, value) in request.end_to_end() {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            if !body.is_empty() || request.header("content-length").is_some() {
                out.push_str(&format!("content-length: {}\r\n", body.len()));
            }
            out.push_str("connection: close\r\n\r\n");
            upstream.write_all(out.as_bytes())?;
            upstream.write_all(body)?;
            let mut reader = BufReader::new(&upstream);
            let head = read_head(&mut reader)?
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no answer"))?;
            let answer = read_body(&mut reader, &head, true)?;
            Ok::<_, std::io::Error>((head, answer))
        })();
        let (head, answer) = match answer {
            Ok(a) => a,
            Err(e) => {
                shared.record.lock().unwrap().broken[i] += 1;
                let text = format!("worker {worker} broke off its answer: {e}");
                return ("HTTP/1.1 502 Bad Gateway".to_string(), Vec::new(), text.into_bytes());
            }
        };
        let status: u16 = head.first.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        shared.record.lock().unwrap().exchanges.push(Exchange {
            worker: i,
            path: path.clone(),
            status,
            at: Instant::now(),
        });
        let headers: Vec<(String, String)> = head.end_to_end().cloned().collect();
        if status == 429 {
            last_429 = Some((head.first, headers, answer));
            continue;
        }
        return (head.first, headers, answer);
    }
    last_429.unwrap_or_else(|| ("HTTP/1.1 502 Bad Gateway".to_string(), Vec::new(), b"no worker reachable".to_vec()))
}

/// The balancer itself, against scripted workers: a keep-alive client gets two answers on one connection,
/// each with a Content-Length; a chunked answer is passed on decoded; a 429 is tried on the next worker; a
/// closed port is skipped.
#[test]
fn balancer_keeps_alive_decodes_chunks_and_skips_busy_and_dead_workers() {
    use std::io::BufRead as _;
    /// A worker that answers every request with `answer` (and closes), counting nothing itself.
    fn scripted(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let head = read_head(&mut reader).unwrap().unwrap();
                assert!(head.has_token("connection", "close"), "{:?}", head.headers);
                stream.write_all(answer.as_bytes()).unwrap();
            }
        });
        addr
    }
    let busy = scripted("HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let chunked = scripted(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-worker: chunked\r\n\r\n4\r\n1234\r\n2\r\n56\r\n0\r\n\r\n",
    );
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed again at once
    let pool = Balancer::start(&[busy, dead, chunked]);

    let client = TcpStream::connect(pool.addr()).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = client.try_clone().unwrap();
    let mut reader = BufReader::new(client);
    for path in ["/job/a", "/job/b", "/job/c"] {
        write!(writer, "GET {path} HTTP/1.1\r\nhost: pool\r\n\r\n").unwrap();
        let head = read_head(&mut reader).unwrap().unwrap();
        let body = read_body(&mut reader, &head, false).unwrap();
        assert_eq!(head.first, "HTTP/1.1 200 OK");
        assert_eq!(head.header("content-length"), Some("6"));
        assert_eq!(head.header("x-worker"), Some("chunked"));
        assert_eq!(head.header("transfer-encoding"), None);
        assert!(head.has_token("connection", "keep-alive"));
        assert_eq!(body, b"123456");
    }
    // `Connection: close` from the client: answered, then the connection ends.
    write!(writer, "GET /job/d HTTP/1.1\r\nhost: pool\r\nconnection: close\r\n\r\n").unwrap();
    let head = read_head(&mut reader).unwrap().unwrap();
    let _ = read_body(&mut reader, &head, false).unwrap();
    assert!(head.has_token("connection", "close"));
    assert_eq!(reader.fill_buf().unwrap().len(), 0, "the connection must end");

    // Round-robin: the 4 requests started at worker 0, 1, 2, 0 and went on from there (0 -> 1 -> 2,
    // 1 -> 2, 2, 0 -> 1 -> 2); every one ended at the chunked worker.
    assert_eq!(pool.answered_by(2), 4, "{}", pool.summary());
    assert_eq!(pool.answered_by(0), 2, "{}", pool.summary());
    assert_eq!(pool.connect_failures(1), 3, "{}", pool.summary());
    assert_eq!(pool.to_client(), [200, 200, 200, 200]);
}
