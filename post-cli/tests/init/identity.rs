//! Identities the node can use: `post identity new/show` and `post init` without `--node-id`.
//!
//! A key file is checked the way go-spacemesh loads `identities/*.key`: the whole file is hex, 64
//! bytes, and the public half is the public key of the seed half. The node id recorded in the
//! metadata must be that public key.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use base64::Engine as _;

/// RFC 8032, section 7.1, test 1: a seed and its public key.
const RFC_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// Loads a key file as the node does and returns the public key.
fn node_loads(path: &Path) -> [u8; 32] {
    let text = std::fs::read(path).unwrap();
    let bytes = hex::decode(&text).unwrap_or_else(|e| panic!("{}: not hex as a whole ({e})", path.display()));
    assert_eq!(bytes.len(), 64, "an ed25519 private key is 64 bytes");
    let seed: [u8; 32] = bytes[..32].try_into().unwrap();
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    assert_eq!(bytes[32..], public, "the public half is the seed's public key");
    public
}

/// The small dev setup of the other init tests, with `--node-id` only when given.
fn init_args(dir: &Path, node_id: Option<&str>) -> Vec<String> {
    let args = common::small_args(dir);
    let at = args.iter().position(|a| a == "--node-id").unwrap();
    let mut args: Vec<String> = args[..at].iter().chain(&args[at + 2..]).cloned().collect();
    if let Some(id) = node_id {
        args.extend(["--node-id".to_string(), id.to_string()]);
    }
    args
}

/// The node id `post info --json` reports, and the metadata's `NodeId` decoded from base64, as hex.
fn recorded_node_id(dir: &Path) -> String {
    let out = common::run(&["info", "--dir", &dir.display().to_string(), "--json"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let metadata = common::metadata(dir);
    let raw = base64::engine::general_purpose::STANDARD.decode(metadata["NodeId"].as_str().unwrap()).unwrap();
    assert_eq!(info["node_id"].as_str().unwrap(), hex::encode(&raw));
    hex::encode(raw)
}

#[test]
fn a_new_key_loads_as_the_node_loads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("local.key");
    let out = common::run(&["identity", "new", "--out", &key.display().to_string()]);
    assert!(out.status.success(), "{}", common::text(&out));
    let public = node_loads(&key);
    assert_eq!(common::stdout(&out).trim(), hex::encode(public));
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    let out = common::run(&["identity", "show", &key.display().to_string()]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(common::stdout(&out).trim(), hex::encode(public));

    // Never overwritten.
    let before = std::fs::read(&key).unwrap();
    let out = common::run(&["identity", "new", "--out", &key.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(common::text(&out).contains("already exists"), "{}", common::text(&out));
    assert_eq!(std::fs::read(&key).unwrap(), before);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "no temporary file left");
}

#[test]
fn show_reads_keys_written_elsewhere_and_refuses_broken_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("identity.key");
    std::fs::write(&key, format!("{RFC_SEED}{RFC_PUBLIC}")).unwrap();
    assert_eq!(node_loads(&key), <[u8; 32]>::try_from(hex::decode(RFC_PUBLIC).unwrap()).unwrap());
    let out = common::run(&["identity", "show", &key.display().to_string()]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(common::stdout(&out).trim(), RFC_PUBLIC);

    for (text, why) in [
        (format!("{RFC_SEED}{RFC_PUBLIC}\n"), "whitespace"),
        (format!("{RFC_SEED}{}", "00".repeat(32)), "public half"),
        (RFC_SEED.to_string(), "64"),
    ] {
        std::fs::write(&key, &text).unwrap();
        let out = common::run(&["identity", "show", &key.display().to_string()]);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {}", common::text(&out));
        let message = common::text(&out);
        assert!(message.contains(why) && message.contains("identity.key"), "{text:?}: {message}");
    }
}

#[test]
fn init_records_the_node_id_of_a_new_key() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("local.key");
    let out = common::run(&["identity", "new", "--out", &key.display().to_string()]);
    assert!(out.status.success(), "{}", common::text(&out));
    let node_id = common::stdout(&out).trim().to_string();

    let dir = tmp.path().join("data");
    let out = common::run_args(&init_args(&dir, Some(&node_id)));
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(recorded_node_id(&dir), hex::encode(node_loads(&key)));
    assert!(!dir.join("identity.key").exists(), "with --node-id the key stays with the node");
}

#[test]
fn init_without_node_id_makes_identity_key_as_postcli_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = common::run_args(&init_args(&dir, None));
    assert!(out.status.success(), "{}", common::text(&out));
    let key = dir.join("identity.key");
    let public = node_loads(&key);
    assert_eq!(recorded_node_id(&dir), hex::encode(public));
    assert!(common::text(&out).contains("identities/local.key"), "says where to copy it: {}", common::text(&out));

    // --json names the key it made.
    let json_dir = tmp.path().join("json");
    let mut args = init_args(&json_dir, None);
    args.push("--json".into());
    let out = common::run_args(&args);
    assert!(out.status.success(), "{}", common::text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["new_identity_key"], json_dir.join("identity.key").display().to_string());
    assert_eq!(report["node_id"], hex::encode(node_loads(&json_dir.join("identity.key"))));

    // Run again: the key there is used and kept.
    let before = std::fs::read(&key).unwrap();
    let out = common::run_args(&init_args(&dir, None));
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(std::fs::read(&key).unwrap(), before);

    // A fresh directory holding only a key: its node id is used.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("identity.key"), format!("{RFC_SEED}{RFC_PUBLIC}")).unwrap();
    let out = common::run_args(&init_args(&other, None));
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(recorded_node_id(&other), RFC_PUBLIC);
}

#[test]
fn init_refuses_a_key_of_another_node() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let node_id = "77".repeat(32);
    let out = common::run_args(&init_args(&dir, Some(&node_id)));
    assert!(out.status.success(), "{}", common::text(&out));
    std::fs::write(dir.join("identity.key"), format!("{RFC_SEED}{RFC_PUBLIC}")).unwrap();
    let before = common::snapshot(&dir);

    for args in [init_args(&dir, None), init_args(&dir, Some(&node_id))] {
        let out = common::run_args(&args);
        assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
        let message = common::text(&out);
        assert!(
            message.contains("identity.key") && message.contains(RFC_PUBLIC) && message.contains(&node_id),
            "{message}"
        );
        assert!(message.contains("identities/local.key"), "says where the right key is: {message}");
        assert_eq!(common::snapshot(&dir), before, "nothing changed");
    }

    // Before any data: a key that is not the --node-id's is refused too, and nothing is created.
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join("identity.key"), format!("{RFC_SEED}{RFC_PUBLIC}")).unwrap();
    let out = common::run_args(&init_args(&fresh, Some(&node_id)));
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert_eq!(common::snapshot(&fresh).len(), 1, "only the key");
}
