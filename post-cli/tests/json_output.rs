//! `--json` on the commands that report data: `post init`, `post prove` + `post verify`, end to end on a
//! tiny directory (dev preset, N = 2, 2 units of 64 labels).

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::process::{Command, Output};

fn post(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_post")).args(args).output()
}

fn json(out: &Output) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    Ok(serde_json::from_slice(&out.stdout)?)
}

const NODE: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const ATX: &str = "0202020202020202020202020202020202020202020202020202020202020202";
const CHALLENGE: &str = "0303030303030303030303030303030303030303030303030303030303030303";

/// `post init --json` of the tiny directory, all files or only `files` (inclusive).
fn init_files(dir: &Path, files: Option<(&str, &str)>) -> std::io::Result<Output> {
    let dir = dir.to_string_lossy();
    let mut args = vec![
        "init",
        "--dir",
        &*dir,
        "--node-id",
        NODE,
        "--atx-id",
        ATX,
        "--units",
        "2",
        "--preset",
        "dev",
        "--scrypt-n",
        "2",
        "--labels-per-unit",
        "64",
        "--max-file-size",
        "512",
        "--json",
    ];
    if let Some((from, to)) = files {
        args.extend(["--from-file", from, "--to-file", to]);
    }
    post(&args)
}

fn init(dir: &Path) -> std::io::Result<Output> {
    init_files(dir, None)
}

#[test]
fn init_prove_verify_report_json() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let out = init(&dir)?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out)?;
    assert_eq!(report["state"], "complete", "{report}");
    assert_eq!(report["labels_written"], 128, "{report}");
    assert!(report["labels_per_second"].as_f64().is_some_and(|v| v > 0.0), "{report}");

    // A second run finds the data complete and writes nothing.
    let again = json(&init(&dir)?)?;
    assert_eq!((again["state"].as_str(), again["labels_written"].as_u64()), (Some("complete"), Some(0)));
    assert_eq!(again["vrf_nonce"], report["vrf_nonce"]);

    let proof = tmp.path().join("proof.json");
    let (dir_s, proof_s) = (dir.to_string_lossy(), proof.to_string_lossy());
    let overrides = ["--preset", "dev", "--scrypt-n", "2", "--labels-per-unit", "64"];
    let out = post(
        &[
            &["prove", "--dir", &dir_s, "--challenge", CHALLENGE, "--randomx", "light", "--out", &proof_s][..],
            &overrides[..4],
        ]
        .concat(),
    )?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let verify = |proof_path: &str| {
        post(
            &[
                &["verify", "--proof", proof_path, "--challenge", CHALLENGE, "--dir", &dir_s, "--all", "--json"][..],
                &overrides[..],
            ]
            .concat(),
        )
    };
    let out = verify(&proof_s)?;
    let verdict = json(&out)?;
    assert_eq!(out.status.code(), Some(0), "{verdict}");
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["checked"], 32, "{verdict}");

    // Repeat the first index: the network's verifier accepts this, ours must not.
    let mut forged: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&proof)?)?;
    // 128 labels need 8 bits per index, so index i is byte i.
    let mut indices = STANDARD.decode(forged["proof"]["indices"].as_str().ok_or("indices")?)?;
    indices[1] = indices[0];
    forged["proof"]["indices"] = serde_json::Value::String(STANDARD.encode(&indices));
    let forged_path = tmp.path().join("forged.json");
    std::fs::write(&forged_path, forged.to_string())?;
    let out = verify(&forged_path.to_string_lossy())?;
    let verdict = json(&out)?;
    assert_eq!(out.status.code(), Some(1), "{verdict}");
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert!(
        verdict["reason"]
            .as_str()
            .is_some_and(|r| r.contains("twice") || r.contains("repeat") || r.contains("duplicate")),
        "{verdict}"
    );

    // A usage or I/O error still leaves a verdict on stdout, with exit code 2.
    let missing = tmp.path().join("missing.json");
    for (argv, names) in [
        (vec!["verify", "--proof", &*missing.to_string_lossy(), "--json"], "missing.json"),
        (vec!["verify", "--proof", &*proof_s, "--json", "--no-such-flag"], "--no-such-flag"),
    ] {
        let out = post(&argv)?;
        let verdict = json(&out)?;
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {verdict}");
        assert_eq!(verdict["valid"], false, "{verdict}");
        assert!(verdict["error"].as_str().is_some_and(|e| e.contains(names)), "{verdict}");
    }

    // Without --all, the report says that a sample was recomputed and how to repeat it.
    let out = post(&[&["verify", "--proof", &*proof_s], &overrides[..]].concat())?;
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("sampled with seed") && text.contains("--all"), "{text}");

    // The bare proof checked against another challenge: rejected, and the values it was checked against
    // are named.
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&proof)?)?;
    let bare = tmp.path().join("bare.json");
    std::fs::write(&bare, record["proof"].to_string())?;
    let other = "04".repeat(32);
    let out = post(
        &[
            &["verify", "--proof", &*bare.to_string_lossy(), "--challenge", &other, "--dir", &dir_s, "--all"][..],
            &overrides[..],
        ]
        .concat(),
    )?;
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("checked against challenge {other}")), "{text}");
    Ok(())
}

#[test]
fn label_commitment_merge_shrink_report_json() -> Result<(), Box<dyn std::error::Error>> {
    let out = post(&["commitment", "--node-id", NODE, "--atx-id", ATX, "--json"])?;
    let commitment = json(&out)?["commitment"].as_str().ok_or("commitment")?.to_string();
    assert_eq!(commitment.len(), 64);

    let out =
        post(&["label", "--commitment", &commitment, "--index", "5", "--count", "3", "--scrypt-n", "2", "--json"])?;
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout)?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(lines.iter().map(|l| l["index"].as_u64()).collect::<Vec<_>>(), [Some(5), Some(6), Some(7)]);
    assert!(lines.iter().all(|l| l["label"].as_str().is_some_and(|h| h.len() == 64)));

    // Two pieces of two files each (32 labels per file), merged into a third directory.
    let tmp = tempfile::tempdir()?;
    let (a, b, whole) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("whole"));
    for (dir, from, to) in [(&a, "0", "1"), (&b, "2", "3")] {
        let out = init_files(dir, Some((from, to)))?;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(json(&out)?["state"], "files_complete");
    }
    let out = post(&[
        "merge",
        "--into",
        &whole.to_string_lossy(),
        &a.to_string_lossy(),
        &b.to_string_lossy(),
        "--preset",
        "dev",
        "--scrypt-n",
        "2",
        "--json",
    ])?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged = json(&out)?;
    assert_eq!(merged["files"].as_array().map(Vec::len), Some(4), "{merged}");
    assert!(merged["vrf_nonce"].is_u64(), "{merged}");

    // Shrink to one unit: the plan alone changes nothing and is a success (exit 0); with --yes it is
    // applied.
    let shrink = |yes: bool| {
        let whole = whole.to_string_lossy();
        let mut args = vec!["shrink", "--dir", &*whole, "--units", "1", "--preset", "dev", "--scrypt-n", "2", "--json"];
        if yes {
            args.push("--yes");
        }
        post(&args)
    };
    let out = shrink(false)?;
    assert_eq!(out.status.code(), Some(0), "showing the plan is a success");
    let plan = json(&out)?;
    assert_eq!((plan["applied"].as_bool(), plan["to_units"].as_u64()), (Some(false), Some(1)), "{plan}");
    assert_eq!(plan["delete"].as_array().map(Vec::len), Some(2), "{plan}");
    assert!(whole.join("postdata_3.bin").exists());
    let out = shrink(true)?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)?["applied"], true);
    assert!(!whole.join("postdata_3.bin").exists());
    Ok(())
}
