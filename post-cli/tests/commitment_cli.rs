//! `post commitment` reproduces every commitment of the shared vectors and refuses bad ids with exit
//! code 2 and a message naming the argument.

use std::process::Command;

fn post(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new(env!("CARGO_BIN_EXE_post")).args(args).output()
}

#[test]
fn reproduces_the_shared_vectors() -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/commitment.json"))?;
    let vectors: serde_json::Value = serde_json::from_str(&text)?;
    let vectors = vectors["vectors"].as_array().ok_or("no vectors")?;
    assert!(vectors.len() >= 5);
    for v in vectors {
        let (node, atx, want) = (v["node_id"].as_str(), v["commitment_atx_id"].as_str(), v["commitment"].as_str());
        let (Some(node), Some(atx), Some(want)) = (node, atx, want) else { return Err("bad vector".into()) };
        let out = post(&["commitment", "--node-id", node, "--atx-id", atx])?;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
    }
    Ok(())
}

#[test]
fn bad_ids_are_usage_errors_naming_the_argument() -> Result<(), Box<dyn std::error::Error>> {
    let good = "00".repeat(32);
    for (flag, value) in
        [("--node-id", "abc"), ("--node-id", "zz"), ("--atx-id", "00"), ("--atx-id", &*"11".repeat(33))]
    {
        let args = if flag == "--node-id" {
            ["commitment", "--node-id", value, "--atx-id", &good]
        } else {
            ["commitment", "--node-id", &good, "--atx-id", value]
        };
        let out = post(&args)?;
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {value}: {err}");
        assert!(out.stdout.is_empty());
    }
    Ok(())
}
