//! `post bench verify` makes a real proof, verifies it with RandomX in light mode, and reports JSON.

use std::process::Command;

#[test]
fn bench_verify_reports_json() -> Result<(), Box<dyn std::error::Error>> {
    let out = Command::new(env!("CARGO_BIN_EXE_post"))
        .args(["bench", "verify", "--k3", "4", "--scrypt-n", "2", "--seconds", "0.05", "--json"])
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(json["k3"], 4);
    assert_eq!(json["scrypt_n"], 2);
    let ms = json["ms_per_proof"].as_f64().ok_or("ms_per_proof is not a number")?;
    assert!(ms > 0.0, "{json}");
    Ok(())
}

#[test]
fn bench_verify_rejects_bad_arguments() -> Result<(), Box<dyn std::error::Error>> {
    for args in [&["--k3", "0"][..], &["--scrypt-n", "3"], &["--seconds=-1"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_post")).args(["bench", "verify"]).args(args).output()?;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let flag = args[0].split('=').next().unwrap_or_default();
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    Ok(())
}
