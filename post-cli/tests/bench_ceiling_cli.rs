//! `post bench ceiling` measures this CPU's AES and ChaCha20/8 throughput and derives the ceilings from
//! them; `post bench prove` and `post bench label` report their share of the ceiling.

use std::process::Command;

use serde_json::Value;

fn post_json(args: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
    let out = Command::new(env!("CARGO_BIN_EXE_post")).args(args).output()?;
    assert!(out.status.success(), "post {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn number(json: &Value, key: &str) -> f64 {
    json[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number in {json}"))
}

/// Equal up to the printed rounding.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-3 * a.abs().max(b.abs()) + 1e-4
}

#[test]
fn ceiling_reports_consistent_json() -> Result<(), Box<dyn std::error::Error>> {
    let json = post_json(&["bench", "ceiling", "--json", "--seconds", "0.2", "--threads", "2"])?;
    assert_eq!(json["threads"], 2);
    for key in [
        "aes_blocks_per_second_per_thread",
        "aes_blocks_per_second",
        "chacha_cores_per_second_per_thread",
        "chacha_cores_per_second",
        "label_ceiling_per_second",
    ] {
        assert!(number(&json, key) > 0.0, "{key}: {json}");
    }
    assert!(json["aes_backend"].is_string() && json["chacha_backend"].is_string(), "{json}");
    let aes = number(&json, "aes_blocks_per_second");
    for (nonces, blocks) in [(16, 1.0), (64, 4.0), (288, 18.0)] {
        let scan = number(&json, &format!("scan_ceiling_gib_per_second_{nonces}"));
        assert!(close(scan, aes * 16.0 / blocks / (1u64 << 30) as f64), "{nonces} nonces: {json}");
    }
    assert_eq!(json["scrypt_n"], 8192);
    assert_eq!(json["chacha_cores_per_label"], 32_768);
    let labels = number(&json, "label_ceiling_per_second");
    assert!(close(labels, number(&json, "chacha_cores_per_second") / 32_768.0), "{json}");
    Ok(())
}

#[test]
fn ceiling_refuses_a_bad_backend() -> Result<(), Box<dyn std::error::Error>> {
    for args in [&["--aes-backend", "aes9"][..], &["--label-backend", "avx1024"], &["--seconds", "0"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_post")).args(["bench", "ceiling"]).args(args).output()?;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    Ok(())
}

#[test]
fn prove_and_label_report_their_share() -> Result<(), Box<dyn std::error::Error>> {
    let prove = post_json(&[
        "bench",
        "prove",
        "--data-size",
        "0.01",
        "--nonces",
        "16",
        "--threads",
        "1",
        "--seconds",
        "0.2",
        "--json",
    ])?;
    let share = number(&prove, "share_of_ceiling");
    assert!(share > 0.0 && share < 2.0, "{prove}");
    assert!(close(share, number(&prove, "gib_per_second") / number(&prove, "ceiling_gib_per_second")));

    let label = post_json(&["bench", "label", "--scrypt-n", "1024", "--threads", "1", "--seconds", "0.2", "--json"])?;
    let share = number(&label, "share_of_ceiling");
    assert!(share > 0.0 && share < 2.0, "{label}");
    assert!(label["ceiling_backend"].is_string(), "{label}");

    let skipped = post_json(&["bench", "label", "--scrypt-n", "16", "--seconds", "0.05", "--no-ceiling", "--json"])?;
    assert!(skipped["share_of_ceiling"].is_null(), "{skipped}");
    Ok(())
}
