//! Helpers for the `post serve` tests: a small data directory made once per test binary with `post init`,
//! the service process with its stderr collected line by line, the operator API over plain HTTP/1.1, and
//! the strict verifier for the proofs the fake node receives.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use post_core::{AtxId, Challenge, InitConfig, NodeId, Preset, ProofConfig, ProofMetadata, ScryptParams};
use post_proof::{Mode, RandomXMode, RandomXPow, Verifier};
use post_service::proto::GenProofResponse;

/// Scrypt N of the test data.
pub const SCRYPT_N: u64 = 256;
/// Labels per unit of the test data.
pub const LABELS_PER_UNIT: u64 = 2048;
/// Units of the test data.
pub const UNITS: u32 = 2;
/// k1 and k2 of the tests (the dev preset's).
pub const K1: u32 = 48;
/// See [`K1`].
pub const K2: u32 = 32;
/// A proof of work of one hash per group.
pub const EASY_POW: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// The node id of the test data.
pub fn node_id() -> [u8; 32] {
    [0x5a; 32]
}

/// The `post` binary.
pub fn post() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_post"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// The `post-service` binary.
pub fn post_service_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_post-service"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// A complete data directory (2 units of 2048 labels, N = 256, with a VRF nonce), made once per test
/// binary and copied to `<tmp>/<name>`.
pub fn data_dir(tmp: &Path, name: &str) -> PathBuf {
    static REFERENCE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_keep, reference) = REFERENCE.get_or_init(|| init_reference(UNITS, LABELS_PER_UNIT, 16000, SCRYPT_N));
    copy_data(reference, &tmp.join(name))
}

/// `post init` of a data directory of the test identity in a fresh temporary folder.
pub fn init_reference(
    units: u32,
    labels_per_unit: u64,
    max_file_size: u64,
    scrypt_n: u64,
) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = post()
        .arg("init")
        .arg("--dir")
        .arg(&dir)
        .args(["--node-id", &hex::encode(node_id()), "--atx-id", &"a5".repeat(32)])
        .args(["--units", &units.to_string(), "--preset", "dev"])
        .args(["--labels-per-unit", &labels_per_unit.to_string(), "--max-file-size", &max_file_size.to_string()])
        .args(["--scrypt-n", &scrypt_n.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "post init failed: {}", String::from_utf8_lossy(&out.stderr));
    (tmp, dir)
}

/// Copies the files of the data directory `reference` (not its lock) to `dir`; returns `dir`.
pub fn copy_data(reference: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(reference).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() && entry.file_name() != ".post.lock" {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    dir.to_owned()
}

/// The flags every test service gets: the data's parameters, an easy proof of work in light mode, a
/// short reconnect interval.
pub fn serve_args(dir: &Path, address: &str) -> Vec<String> {
    [
        "--dir",
        dir.to_str().unwrap(),
        "--address",
        address,
        "--min-num-units",
        "1",
        "--k1",
        &K1.to_string(),
        "--k2",
        &K2.to_string(),
        "--pow-difficulty",
        EASY_POW,
        "-n",
        &SCRYPT_N.to_string(),
        "--nonces",
        "16",
        "--randomx-mode",
        "light",
        "--reconnect-interval-s",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

/// Replaces the value of `flag` in `args` (or appends both).
pub fn set_flag(args: &mut Vec<String>, flag: &str, value: &str) {
    match args.iter().position(|a| a == flag) {
        Some(at) => args[at + 1] = value.to_string(),
        None => args.extend([flag.to_string(), value.to_string()]),
    }
}

/// A running service with its stderr lines collected.
pub struct ServiceProcess {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<u8>>>,
    started: Instant,
}

impl ServiceProcess {
    /// Spawns `post serve <args>`.
    pub fn spawn(args: &[String]) -> Self {
        let mut cmd = post();
        cmd.arg("serve").args(args);
        Self::spawn_cmd(cmd)
    }

    /// Spawns any command, collecting its output.
    pub fn spawn_cmd(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let sink = stdout.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            sink.lock().unwrap().extend(buf);
        });
        ServiceProcess { child, lines, stdout, started: Instant::now() }
    }

    /// The stderr lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// All of stderr so far.
    pub fn log(&self) -> String {
        self.lines().join("\n")
    }

    /// What the process wrote to stdout (complete once it exited).
    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits for a stderr line containing `needle`, at most `limit`; returns it.
    pub fn wait_line(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("the service exited ({status}) before logging {needle:?}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "no line {needle:?} after {limit:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Counts the stderr lines containing `needle`.
    pub fn count_lines(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }

    /// The operator API's address from the log line that announces it.
    pub fn operator_address(&mut self) -> SocketAddr {
        let line = self.wait_line("operator API listening on http://", Duration::from_secs(30));
        let rest = line.split("http://").nth(1).unwrap();
        rest.split_whitespace().next().unwrap().parse().unwrap()
    }

    /// Waits for the process to exit, at most `limit`; returns the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100)); // let the readers drain
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running after {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit code.
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        // SAFETY: kill(2) with our child's pid touches no memory of ours.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.wait_exit(limit)
    }

    /// Resident memory of the process in KiB (`VmRSS` of /proc/<pid>/status).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Seconds since the process started.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on the operator API: (status code, body).
pub fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

/// Verifies a proof the fake node received with the strict verifier, over every index.
pub fn verify(answer: &GenProofResponse, challenge: &[u8; 32]) {
    verify_with_pow(answer, challenge, EASY_POW);
}

/// [`verify`] for a service run with `--pow-difficulty pow_difficulty` (hex).
pub fn verify_with_pow(answer: &GenProofResponse, challenge: &[u8; 32], pow_difficulty: &str) {
    let shape = ProofShape { labels_per_unit: LABELS_PER_UNIT, scrypt_n: SCRYPT_N, k1: K1, k2: K2, pow_difficulty };
    verify_shaped(answer, challenge, &shape);
}

/// The parameters a proof is verified with.
#[derive(Debug, Clone, Copy)]
pub struct ProofShape<'a> {
    /// Labels per unit of the data.
    pub labels_per_unit: u64,
    /// Scrypt N of the data.
    pub scrypt_n: u64,
    /// The service's `--k1`.
    pub k1: u32,
    /// The service's `--k2` (and k3: every index is verified).
    pub k2: u32,
    /// The service's `--pow-difficulty` (hex).
    pub pow_difficulty: &'a str,
}

/// [`verify`] for a service run on other data or with other parameters.
pub fn verify_shaped(answer: &GenProofResponse, challenge: &[u8; 32], shape: &ProofShape<'_>) {
    let proof = answer.proof.as_ref().unwrap();
    let meta = answer.metadata.as_ref().unwrap().meta.as_ref().unwrap();
    let proof = post_core::Proof { nonce: proof.nonce, indices: proof.indices.clone(), pow: proof.pow };
    let metadata = ProofMetadata {
        node_id: NodeId(meta.node_id.clone().try_into().unwrap()),
        commitment_atx_id: AtxId(meta.commitment_atx_id.clone().try_into().unwrap()),
        challenge: Challenge(*challenge),
        num_units: meta.num_units,
        labels_per_unit: Some(meta.labels_per_unit),
    };
    let pow_difficulty = {
        let mut bytes = [0xff; 32];
        hex::decode_to_slice(shape.pow_difficulty, &mut bytes).unwrap();
        bytes
    };
    let proof_config = ProofConfig { k1: shape.k1, k2: shape.k2, k3: shape.k2, pow_difficulty };
    let mut init_config: InitConfig = Preset::Dev.init_config();
    init_config.labels_per_unit = shape.labels_per_unit;
    init_config.scrypt = ScryptParams::with_n(shape.scrypt_n).unwrap();
    let verifier = Verifier::new(RandomXPow::new(RandomXMode::Light).unwrap(), proof_config, init_config).unwrap();
    verifier.verify(&proof, &metadata, &Mode::All).unwrap();
}

/// A challenge made of one repeated byte.
pub fn challenge(byte: u8) -> [u8; 32] {
    [byte; 32]
}
