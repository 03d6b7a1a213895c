//! What `post serve` refuses at start, with a message naming the problem (and touching nothing): units
//! outside --min/--max-num-units, data written with another scrypt N than -n, no VRF nonce, an incomplete
//! directory, a directory held by a writer, a scheme other than http(s), --threads with --pinned-cores.
//! And the supervised mode's argv (spec §5) is accepted by the `post-service` binary, which registers and
//! exits 0 within 2 s of the watched process ending.

#![allow(clippy::unwrap_used)]

use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::fake_node::FakeNode;

fn serve(args: &[String]) -> Output {
    post().arg("serve").args(args).output().unwrap()
}

fn assert_refused(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "expected a refusal: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "the message lacks {needle:?}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "stdout must stay empty");
}

#[test]
fn bad_data_and_bad_flags_are_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    // Nothing listens there: every refusal must come before dialling.
    let args = serve_args(&dir, "http://127.0.0.1:9");

    let mut a = args.clone();
    set_flag(&mut a, "--min-num-units", "4");
    assert_refused(&serve(&a), &["2 units", "outside the allowed 4..="]);
    let mut a = args.clone();
    set_flag(&mut a, "--max-num-units", "1");
    assert_refused(&serve(&a), &["2 units", "1..=1"]);

    let mut a = args.clone();
    set_flag(&mut a, "-n", "512");
    assert_refused(&serve(&a), &["postdata_0.bin", "scrypt N=512"]);

    let mut a = args.clone();
    set_flag(&mut a, "--address", "ftp://127.0.0.1:9");
    assert_refused(&serve(&a), &["ftp://127.0.0.1:9", "\"ftp\" is not supported"]);

    let mut a = args.clone();
    a.extend(["--threads", "2", "--pinned-cores", "0,1"].map(String::from));
    assert_refused(&serve(&a), &["--threads", "--pinned-cores"]);

    let mut a = args.clone();
    set_flag(&mut a, "--nonces", "20");
    assert_refused(&serve(&a), &["--nonces", "20"]);

    // A directory held by a writer.
    let lock = post_core::DirLock::acquire(&dir, post_core::LockMode::Exclusive).unwrap();
    let out = serve(&args);
    drop(lock);
    assert_refused(&out, &[dir.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"), "{out:?}");

    // No VRF nonce.
    let no_nonce = data_dir(tmp.path(), "no-nonce");
    let path = no_nonce.join("postdata_metadata.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    meta.as_object_mut().unwrap().remove("Nonce");
    meta.as_object_mut().unwrap().remove("NonceValue");
    std::fs::write(&path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let mut a = args.clone();
    set_flag(&mut a, "--dir", no_nonce.to_str().unwrap());
    assert_refused(&serve(&a), &["no VRF nonce"]);

    // An incomplete directory: the last file is short.
    let short = data_dir(tmp.path(), "short");
    let last = short.join("postdata_4.bin");
    let len = std::fs::metadata(&last).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(len - 16).unwrap();
    let mut a = args.clone();
    set_flag(&mut a, "--dir", short.to_str().unwrap());
    assert_refused(&serve(&a), &["postdata_4.bin"]);
}

#[test]
fn supervised_argv_parses_registers_and_exits_when_the_node_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let node = FakeNode::start();
    // The node process the service watches.
    let mut watched = std::process::Command::new("sleep").arg("600").spawn().unwrap();
    // Exactly the node's argv (spec §5), values from its config.
    let argv: Vec<String> = vec![
        "--address".into(),
        format!("http://127.0.0.1:{}", node.address().port()),
        "--min-num-units".into(),
        "2".into(),
        "--max-num-units".into(),
        "2".into(),
        "--k1".into(),
        K1.to_string(),
        "--k2".into(),
        K2.to_string(),
        "--pow-difficulty".into(),
        EASY_POW.into(),
        "--dir".into(),
        dir.to_str().unwrap().into(),
        "-n".into(),
        SCRYPT_N.to_string(),
        "-r".into(),
        "1".into(),
        "-p".into(),
        "1".into(),
        "--threads".into(),
        "1".into(),
        "--nonces".into(),
        "16".into(),
        "--randomx-mode".into(),
        "light".into(),
        "--watch-pid".into(),
        watched.id().to_string(),
        "--max-retries".into(),
        "10".into(),
    ];
    let mut cmd = post_service_bin();
    cmd.args(&argv);
    let mut service = ServiceProcess::spawn_cmd(cmd);
    let meta = node.wait_registered(1, Duration::from_secs(30));
    assert_eq!(meta.node_id, node_id());
    assert!(meta.nonce.is_some());
    std::thread::sleep(Duration::from_millis(500));
    assert!(service.child.try_wait().unwrap().is_none(), "{}", service.log());

    // The node ends: the service exits 0 within 2 s (checked every second).
    watched.kill().unwrap();
    watched.wait().unwrap();
    let gone = Instant::now();
    let code = service.wait_exit(Duration::from_secs(5));
    let took = gone.elapsed();
    eprintln!("--watch-pid: exited {took:?} after the watched process ended");
    assert_eq!(code, Some(0), "{}", service.log());
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(service.stdout().is_empty(), "stdout must stay empty (the node ignores it)");
    assert!(service.log().contains("watched process"), "{}", service.log());
}
