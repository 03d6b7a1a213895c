//! `post serve` against the fake node: registration with the VRF nonce, a full proof that the strict
//! verifier accepts with the challenge echoed, the operator API through the proof (Idle -> Proving ->
//! DoneProving -> Idle), a reply lost after completion answered again, a second challenge replacing the
//! first, and ERROR for a 5-byte challenge and for a request without a kind (the stream stays open).
//! Every answer's latency is measured and must be under 100 ms.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::common::*;
use crate::fake_node::{FakeNode, ProofOutcome};
use post_service::proto::{GenProofStatus, NodeRequest};

#[test]
fn full_proof_with_operator_api_and_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let node = FakeNode::start();
    let mut args = serve_args(&dir, &format!("http://{}", node.address()));
    set_flag(&mut args, "--operator-address", "127.0.0.1:0");
    let mut service = ServiceProcess::spawn(&args);
    let api = service.operator_address();

    // Registration: the node speaks first and files the stream under the node id; the VRF nonce is there.
    let meta = node.wait_registered(1, Duration::from_secs(30));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("postdata_metadata.json")).unwrap()).unwrap();
    assert_eq!(meta.node_id, node_id());
    assert_eq!(meta.nonce, info["Nonce"].as_u64(), "the VRF nonce of postdata_metadata.json");
    assert_eq!(meta.num_units, UNITS);
    assert_eq!(meta.labels_per_unit, LABELS_PER_UNIT);
    assert_eq!(http_get(api, "/status"), (200, r#""Idle""#.to_string()));

    // A metadata request may come again at any time.
    assert_eq!(node.metadata_once(&meta.node_id).unwrap(), meta);

    // ERROR for a 5-byte challenge and for a request without a kind; the stream stays open.
    let bad = node.gen_proof_once(&meta.node_id, &[1, 2, 3, 4, 5]).unwrap();
    assert_eq!(bad.status, GenProofStatus::Error as i32);
    assert!(bad.proof.is_none());
    let none = node.request(&meta.node_id, NodeRequest { kind: None }).unwrap();
    match none.kind {
        Some(post_service::proto::service_response::Kind::GenProof(r)) => {
            assert_eq!(r.status, GenProofStatus::Error as i32)
        }
        other => panic!("{other:?}"),
    }
    assert!(node.is_registered(&meta.node_id), "the stream must stay open after ERROR");

    // A full proof. The node asks once, then the operator watches /status until the proof is done but
    // not fetched: Idle -> Proving -> DoneProving; the node fetches it: Idle.
    let challenge = challenge(0x11);
    let clock = Instant::now();
    let first = node.gen_proof_once(&meta.node_id, &challenge).unwrap();
    assert_eq!(first.status, GenProofStatus::Ok as i32);
    assert!(first.proof.is_none(), "a proof cannot be ready at once");
    let mut shapes = Vec::new();
    loop {
        let (code, body) = http_get(api, "/status");
        assert_eq!(code, 200);
        if body.starts_with(r#"{"Proving":"#) {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(v["Proving"]["position"].is_u64(), "{body}");
            assert!(v["Proving"]["nonces"]["start"].is_u64() && v["Proving"]["nonces"]["end"].is_u64(), "{body}");
            assert_eq!(v.as_object().unwrap().len(), 1, "{body}");
            assert_eq!(v["Proving"].as_object().unwrap().len(), 2, "{body}");
            assert_eq!(v["Proving"]["nonces"].as_object().unwrap().len(), 2, "{body}");
            if shapes.last() != Some(&"Proving") {
                shapes.push("Proving");
            }
        } else if body == r#""DoneProving""# {
            shapes.push("DoneProving");
            break;
        } else {
            panic!("unexpected /status while proving: {body}");
        }
        assert!(clock.elapsed() < Duration::from_secs(120), "no proof:\n{}", service.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(shapes, ["Proving", "DoneProving"]);
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(10), |_| {});
    let took = clock.elapsed();
    let ProofOutcome::Proof(answer) = outcome else { panic!("ERROR instead of a proof:\n{}", service.log()) };
    eprintln!("challenge-to-proof time: {took:?} (light RandomX, {} labels, N = {SCRYPT_N})", LABELS_PER_UNIT * 2);
    verify(&answer, &challenge);
    // Fetched: the reference goes back to Idle.
    assert_eq!(http_get(api, "/status"), (200, r#""Idle""#.to_string()));

    // The reply was lost (the node asks again): the same proof again, without proving anew.
    let again = node.gen_proof_once(&meta.node_id, &challenge).unwrap();
    assert_eq!(again, answer, "the proof answered again must be the same");

    // /status/detail and /metrics.
    let (code, detail) = http_get(api, "/status/detail");
    assert_eq!(code, 200);
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["connection"], "registered", "{detail}");
    assert_eq!(detail["challenge"], hex::encode(challenge), "{detail}");
    assert!(detail["last_node_request_unix"].as_f64().unwrap() > 0.0, "{detail}");
    let (code, metrics) = http_get(api, "/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("post_service_proofs_sent_total 2\n"), "{metrics}");
    assert!(metrics.contains("post_service_proof_ready 1\n"), "{metrics}");
    assert!(metrics.contains("post_service_error_answers_total 2\n"), "{metrics}");
    assert!(metrics.contains("# TYPE post_service_node_requests_total counter\n"), "{metrics}");

    // A second challenge replaces the first: proved, and the first one's job is removed from disk.
    let second = challenge_bytes(0x22);
    let outcome = node.prove(&meta.node_id, &second, Duration::from_secs(120), |_| {});
    let ProofOutcome::Proof(answer2) = outcome else { panic!("ERROR for the second challenge:\n{}", service.log()) };
    verify(&answer2, &second);
    let jobs: Vec<String> = std::fs::read_dir(dir.join(".post-proof"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(jobs, vec![format!("{}.json", hex::encode(second))], "only the second job is kept");

    assert!(node.violations().is_empty(), "lock-step or keepalive violations: {:?}", node.violations());
    node.assert_latencies("serve_proof");
    eprintln!("service memory after proving: {} KiB resident", service.rss_kib());
    assert_eq!(service.terminate(Duration::from_secs(10)), Some(0), "{}", service.log());
    assert!(service.stdout().is_empty(), "stdout must stay empty: {:?}", String::from_utf8_lossy(&service.stdout()));
}

fn challenge_bytes(byte: u8) -> [u8; 32] {
    challenge(byte)
}

/// The proving threads of process `pid` and the cores each may run on (`/proc/<pid>/task/*`).
fn pinned_prover_threads(pid: u32) -> Vec<(String, String)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default().trim().to_string();
        if name.starts_with("prove-") {
            let status = std::fs::read_to_string(task.join("status")).unwrap();
            let cores = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).unwrap().trim().to_string();
            threads.push((name, cores));
        }
    }
    threads
}

/// A job that fails (here: the data was damaged after the start-up check, so the proof found does not
/// verify) answers ERROR once, naming the bad labels in the log; the next request retries it, and once the
/// data is repaired the retry proves. The service runs with `--pinned-cores 0`: one proving thread, on core 0.
#[test]
fn failed_job_answers_error_once_then_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let node = FakeNode::start();
    let mut args = serve_args(&dir, &format!("http://{}", node.address()));
    set_flag(&mut args, "--pinned-cores", "0");
    let mut service = ServiceProcess::spawn(&args);
    let meta = node.wait_registered(1, Duration::from_secs(30));
    assert_eq!(pinned_prover_threads(service.child.id()), vec![("prove-0".to_string(), "0".to_string())]);

    // Damage every label but the first file's (which the start-up check reads).
    let originals: Vec<(std::path::PathBuf, Vec<u8>)> = (1..5)
        .map(|i| dir.join(format!("postdata_{i}.bin")))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    for (path, bytes) in &originals {
        let damaged: Vec<u8> = bytes.iter().map(|b| b ^ 0x5a).collect();
        std::fs::write(path, damaged).unwrap();
    }
    let challenge = challenge(0x44);
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(120), |_| {});
    assert!(matches!(outcome, ProofOutcome::Error), "a proof from damaged data: {outcome:?}");
    let line = service.wait_line("failed", Duration::from_secs(5));
    assert!(service.log().contains("postdata_"), "the log does not name the bad labels' files:\n{}", service.log());
    eprintln!("failed job: {line}");

    // Repaired: the next request for the same challenge retries, and proves.
    for (path, bytes) in &originals {
        std::fs::write(path, bytes).unwrap();
    }
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(120), |_| {});
    let ProofOutcome::Proof(answer) = outcome else { panic!("no retry after ERROR:\n{}", service.log()) };
    verify(&answer, &challenge);
    assert!(node.violations().is_empty(), "{:?}", node.violations());
    node.assert_latencies("serve_proof (failed job)");
    assert_eq!(service.terminate(Duration::from_secs(10)), Some(0), "{}", service.log());
}
