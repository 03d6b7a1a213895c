//! `post certifier` as a real process with real RandomX (light) and a real proof of a small dev data
//! directory: a valid proof is certified (the test decodes the SCALE certificate, checks the node id
//! and the expiry and verifies the signature with the returned key); forged proofs (a repeated index,
//! an index beyond the data, wrong units, a bad pow) get 403; a body of 1025 bytes 413; more requests
//! than the limits 429; `generate-keys` output loads as the signing key; configuration mistakes name
//! their key.

#![allow(clippy::unwrap_used)]

#[path = "service_support/http.rs"]
mod http;
#[path = "service_support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use http::post;
use post_core::{compress_indices, decompress_indices, required_bits};
use post_service::Certificate;
use process::Service;
use serde_json::{json, Value};

const NODE_ID: [u8; 32] = [0x5a; 32];
const LABELS_PER_UNIT: u64 = 2048;
const UNITS: u32 = 3;
/// The dev preset's pow difficulty, with which the proof is made.
const POW_DIFFICULTY: &str = "3fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn post_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_post"));
    cmd.env_remove("RUST_LOG");
    cmd
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// `{"proof", "metadata"}` as `post prove` writes it (a valid certify body).
    record: Value,
    public_key: [u8; 32],
    secret_key: String,
}

/// A 3-unit dev directory (6144 labels, 13-bit indices, so an index beyond the data can be encoded),
/// its proof, and a key pair from `post certifier generate-keys`; made once per test binary.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        let out = post_cmd()
            .args(["init", "--dir", data.to_str().unwrap(), "--node-id", &hex::encode(NODE_ID)])
            .args(["--atx-id", &"a5".repeat(32), "--units", "3", "--preset", "dev", "--labels-per-unit", "2048"])
            .args(["--scrypt-n", "256", "--threads", "1", "-q"])
            .output()
            .unwrap();
        assert!(out.status.success(), "post init: {}", String::from_utf8_lossy(&out.stderr));
        let proof = root.join("proof.json");
        let out = post_cmd()
            .args(["prove", "--dir", data.to_str().unwrap(), "--challenge", &"cc".repeat(32), "--preset", "dev"])
            .args(["--randomx", "light", "--threads", "1", "--scrypt-n", "256", "--out", proof.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        assert!(out.status.success(), "post prove: {}", String::from_utf8_lossy(&out.stderr));
        let record: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();

        let out = post_cmd().args(["certifier", "generate-keys"]).output().unwrap();
        assert!(out.status.success(), "generate-keys: {}", String::from_utf8_lossy(&out.stderr));
        let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
        let public_key: [u8; 32] = b64().decode(keys["public_key"].as_str().unwrap()).unwrap().try_into().unwrap();
        let secret_key = keys["secret_key"].as_str().unwrap().to_string();
        Fixture { _dir: dir, root, record, public_key, secret_key }
    })
}

/// A configuration file with the test's parameters and `extra` YAML lines.
fn config(name: &str, extra: &str) -> PathBuf {
    let f = fixture();
    let path = f.root.join(name);
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nsigning_key: \"{}\"\npost_cfg:\n  k1: 48\n  k2: 32\n  pow_difficulty: \"{POW_DIFFICULTY}\"\n\
         init_cfg:\n  min_num_units: 1\n  max_num_units: {UNITS}\n  labels_per_unit: {LABELS_PER_UNIT}\n  scrypt:\n    n: 256\n    \
         r: 1\n    p: 1\nrandomx_mode: Light\n{extra}",
        f.secret_key
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

fn certifier(config: &Path, envs: &[(&str, &str)]) -> Service {
    Service::spawn(&["certifier", "--config", config.to_str().unwrap()], envs, "certifier")
}

fn certify(service: &Service, body: &Value) -> (u16, String) {
    post(service.addr, "/certify", body.to_string().as_bytes())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn a_valid_proof_is_certified_with_the_spec_s_bytes_and_a_good_signature() {
    let f = fixture();
    // The expiry comes from the environment, overriding the file (which has none).
    let path = config("valid.yml", "metrics: \"127.0.0.1:0\"\n");
    let mut service = certifier(&path, &[("CERTIFIER_CERTIFICATE_EXPIRATION", "2w")]);
    let (status, body) = certify(&service, &f.record);
    assert_eq!(status, 200, "{body}\n{}", service.log());
    let answer: Value = serde_json::from_str(&body).unwrap();
    let bytes = b64().decode(answer["certificate"].as_str().unwrap()).unwrap();
    let signature: [u8; 64] = b64().decode(answer["signature"].as_str().unwrap()).unwrap().try_into().unwrap();
    let pub_key: [u8; 32] = b64().decode(answer["pub_key"].as_str().unwrap()).unwrap().try_into().unwrap();

    // The SCALE bytes, read by hand: compact length 32, the node id, Some, a compact u64 (4 bytes + prefix).
    assert_eq!(bytes[0], 0x80);
    assert_eq!(bytes[1..33], NODE_ID);
    assert_eq!(bytes[33], 0x01);
    assert_eq!(bytes[34], 0x03, "a 2026 unix time is a 4-byte big compact");
    let expiry = u64::from(u32::from_le_bytes(bytes[35..39].try_into().unwrap()));
    assert_eq!(bytes.len(), 39);
    let two_weeks = 14 * 24 * 3600;
    assert!(expiry.abs_diff(now() + two_weeks) < 120, "expiry {expiry}, now {}", now());
    assert_eq!(Certificate::from_scale(&bytes).unwrap(), Certificate { node_id: NODE_ID, expiration: Some(expiry) });

    // The signature, with the key the answer names, which is the configured one.
    assert_eq!(pub_key, f.public_key);
    let key = VerifyingKey::from_bytes(&pub_key).unwrap();
    key.verify(&bytes, &Signature::from_bytes(&signature)).unwrap();
    let mut other = bytes.clone();
    other[1] ^= 1;
    assert!(key.verify(&other, &Signature::from_bytes(&signature)).is_err());

    // A body of exactly the limit is fine; one byte more is 413.
    let text = f.record.to_string();
    assert!(text.len() < 1024);
    let exactly = format!("{text}{}", " ".repeat(1024 - text.len()));
    assert_eq!(post(service.addr, "/certify", exactly.as_bytes()).0, 200);
    let over = format!("{text}{}", " ".repeat(1025 - text.len()));
    assert_eq!(post(service.addr, "/certify", over.as_bytes()).0, 413);
    let (status, body) = post(service.addr, "/certify", b"{\"proof\": 1}");
    assert_eq!(status, 400, "{body}");

    // Metrics on their own address.
    let metrics_addr: std::net::SocketAddr = service
        .log()
        .split("certifier metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    let page = http::get(metrics_addr, "/metrics").1;
    assert!(page.contains("certifier_requests_total{outcome=\"certified\"} 2"), "{page}");
    assert!(page.contains("certifier_requests_total{outcome=\"too_large\"} 1"), "{page}");

    service.signal(libc::SIGTERM);
    let status = service.wait_exit(Duration::from_secs(20)).expect("no exit after SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn forged_proofs_get_403_with_the_reason() {
    let f = fixture();
    let service = certifier(&config("forged.yml", ""), &[]);
    let bits = required_bits(LABELS_PER_UNIT * u64::from(UNITS));
    assert_eq!(bits, 13);
    let packed = b64().decode(f.record["proof"]["indices"].as_str().unwrap()).unwrap();
    let indices: Vec<u64> = decompress_indices(&packed, bits).into_iter().take(32).collect();
    let with_indices = |indices: &[u64]| {
        let mut forged = f.record.clone();
        forged["proof"]["indices"] = json!(b64().encode(compress_indices(indices, bits)));
        forged
    };
    let mut repeated = indices.clone();
    repeated[5] = repeated[4];
    let mut beyond = indices.clone();
    beyond[7] = 7000;
    let mut more_units = f.record.clone();
    more_units["metadata"]["num_units"] = json!(UNITS + 1);
    // One unit: 2048 labels take 12 bits, so the 13-bit indices no longer fit. (Two units would verify:
    // this proof's indices all lie in the first 4096 labels, and 4096 labels also take 13 bits.)
    let mut fewer_units = f.record.clone();
    fewer_units["metadata"]["num_units"] = json!(1);
    let pow = f.record["proof"]["pow"].as_u64().unwrap();
    assert!(pow > 0, "the fixture's pow is the smallest valid one; it needs one below it to forge");
    let mut low_pow = f.record.clone();
    low_pow["proof"]["pow"] = json!(pow - 1);
    let mut wide_pow = f.record.clone();
    wide_pow["proof"]["pow"] = json!(pow + (1u64 << 56));

    for (forged, reason) in [
        (with_indices(&repeated), "appears twice"),
        (with_indices(&beyond), "index 7000 at position 7 is not below the number of labels 6144"),
        (more_units, "outside the allowed range"),
        (fewer_units, "number of index bytes"),
        (low_pow, "invalid proof of work"),
        (wide_pow, "not below 2^56"),
    ] {
        let (status, body) = certify(&service, &forged);
        assert_eq!(status, 403, "{reason}: {body}");
        assert!(body.contains(reason), "expected {reason:?} in {body:?}");
    }
    // The real proof still passes on the same process.
    assert_eq!(certify(&service, &f.record).0, 200);
}

#[test]
fn requests_beyond_the_limits_get_429() {
    let f = fixture();
    let path = config("limits.yml", "max_concurrent_requests: 1\nmax_pending_requests: 0\n");
    let service = certifier(&path, &[]);
    let barrier = Arc::new(Barrier::new(8));
    let addr = service.addr;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (barrier, body) = (barrier.clone(), f.record.to_string());
            std::thread::spawn(move || {
                barrier.wait();
                post(addr, "/certify", body.as_bytes()).0
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    assert!(statuses.contains(&429), "no request was refused: {statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    // Once the crowd is gone, requests are served again.
    assert_eq!(certify(&service, &f.record).0, 200);
}

#[test]
fn configuration_mistakes_name_their_key() {
    let f = fixture();
    let bad_key = config("bad.yml", "").to_str().unwrap().to_string();
    let out =
        post_cmd().args(["certifier", "--config", &bad_key]).env("CERTIFIER_SIGNING_KEY", "c2hvcnQ=").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("signing_key") && stderr.contains("5 bytes"), "{stderr}");

    let typo = f.root.join("typo.yml");
    std::fs::write(&typo, format!("{}lisen: x\n", std::fs::read_to_string(&bad_key).unwrap())).unwrap();
    let out = post_cmd().args(["certifier", "--config", typo.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));

    let out = post_cmd().args(["certifier"]).env("CERTIFIER_CONFIG_PATH", f.root.join("missing.yml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yml"));
}
