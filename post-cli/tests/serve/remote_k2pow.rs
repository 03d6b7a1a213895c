//! `post serve --remote-k2pow`: the proof of work of every nonce group is asked of a real
//! `post k2pow-service` over HTTP, and the proof the fake node receives verifies. (The client's behaviour
//! on 201, 429, 500, garbage and a worker that goes away is tested with the k2pow service's own tests.)

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common::*;
use crate::fake_node::{FakeNode, ProofOutcome};

#[test]
fn proof_with_the_k2pow_of_a_remote_service() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let mut k2pow = post();
    k2pow.args(["k2pow-service", "--bind-address", "127.0.0.1:0", "--randomx-mode", "light", "--cores", "1"]);
    let mut k2pow = ServiceProcess::spawn_cmd(k2pow);
    let line = k2pow.wait_line("k2pow service listening on ", Duration::from_secs(30));
    let address = line.split("listening on ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();

    let node = FakeNode::start();
    let mut args = serve_args(&dir, &format!("http://{}", node.address()));
    set_flag(&mut args, "--nonces", "32");
    set_flag(&mut args, "--remote-k2pow", &format!("http://{address}"));
    set_flag(&mut args, "--remote-k2pow-backoff", "1");
    set_flag(&mut args, "--remote-k2pow-parallelism", "2");
    let mut service = ServiceProcess::spawn(&args);
    let meta = node.wait_registered(1, Duration::from_secs(30));
    let challenge = challenge(0x66);
    let outcome = node.prove(&meta.node_id, &challenge, Duration::from_secs(120), |_| {});
    let ProofOutcome::Proof(answer) = outcome else { panic!("ERROR with a remote k2pow:\n{}", service.log()) };
    verify(&answer, &challenge);
    assert_eq!(k2pow.count_lines("k2pow job done"), 2, "two nonce groups, two jobs:\n{}", k2pow.log());
    assert!(service.log().contains("remote-k2pow"), "{}", service.log());
    node.assert_latencies("serve_remote_k2pow");
    assert_eq!(service.terminate(Duration::from_secs(10)), Some(0), "{}", service.log());
    assert_eq!(k2pow.terminate(Duration::from_secs(10)), Some(0), "{}", k2pow.log());
}
