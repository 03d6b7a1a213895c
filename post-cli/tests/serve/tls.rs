//! `post serve` over TLS (spec §4): the fake node's TLS listener requires a client certificate signed by
//! its CA, as the node's does. With the CA that signed the node's certificate the service registers; with
//! another CA it is refused with a clear log line and keeps retrying; `http://` with TLS flags is a
//! start-up error. Certificates are made in the test with rcgen.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use crate::fake_node;
use crate::fake_node::{FakeNode, ServerTls};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A CA: its certificate PEM and the issuer that signs with it.
pub(crate) fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

/// A leaf certificate for `names` signed by `issuer`: (certificate PEM, key PEM).
pub(crate) fn leaf(names: &[&str], issuer: &Issuer<'static, KeyPair>) -> (String, String) {
    let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn right_ca_registers_wrong_ca_is_refused_and_http_with_tls_flags_does_not_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "data");
    let (node_ca_pem, node_ca) = ca("node CA");
    let (server_cert, server_key) = leaf(&["localhost"], &node_ca);
    let (client_cert, client_key) = leaf(&["post-service"], &node_ca);
    let node = FakeNode::start_with(
        Some(ServerTls { cert: server_cert, key: server_key, client_ca: node_ca_pem.clone() }),
        true,
    );
    let port = node.address().port();
    let ca_file = write(tmp.path(), "ca.pem", &node_ca_pem);
    let cert_file = write(tmp.path(), "client.pem", &client_cert);
    let key_file = write(tmp.path(), "client.key", &client_key);
    let (other_ca_pem, _) = ca("another CA");
    let other_ca_file = write(tmp.path(), "other-ca.pem", &other_ca_pem);

    // The right CA: registers (the name checked is the address's host, localhost).
    let mut args = serve_args(&dir, &format!("https://localhost:{port}"));
    for (flag, value) in [("--ca-cert", &ca_file), ("--cert", &cert_file), ("--key", &key_file)] {
        set_flag(&mut args, flag, value);
    }
    let mut service = ServiceProcess::spawn(&args);
    let meta = node.wait_registered(1, Duration::from_secs(30));
    assert_eq!(meta.node_id, node_id());
    assert!(meta.nonce.is_some());
    assert_eq!(service.terminate(Duration::from_secs(10)), Some(0), "{}", service.log());
    node.wait_for(Duration::from_secs(10), "the stream to end", |e| e.contains(&fake_node::Event::StreamEnded));

    // A wrong CA: the node's certificate is not trusted; a clear line, no registration, no exit.
    let mut wrong = args.clone();
    set_flag(&mut wrong, "--ca-cert", &other_ca_file);
    let mut service = ServiceProcess::spawn(&wrong);
    let line = service.wait_line("connecting to the node at https://localhost", Duration::from_secs(30));
    eprintln!("wrong CA: {line}");
    assert!(line.contains("certificate"), "the log line does not say what is wrong: {line}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(service.child.try_wait().unwrap().is_none(), "the service must keep retrying:\n{}", service.log());
    assert_eq!(fake_node::registrations(&node.events()).len(), 1, "a service with a wrong CA registered");
    service.kill();

    // http:// with TLS flags: a start-up error, before anything is dialled.
    let mut plain = args.clone();
    set_flag(&mut plain, "--address", &format!("http://localhost:{port}"));
    let out = post().arg("serve").args(&plain).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("need an https:// address"), "{stderr}");
    assert!(out.stdout.is_empty());
}
