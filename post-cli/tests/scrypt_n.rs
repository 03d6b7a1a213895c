//! scrypt N is not recorded in the metadata: `post verify-data`, `repair`, `init` (resume), `merge` and
//! `info` detect it from the data when `--scrypt-n` is not given, refuse a given N that does not
//! reproduce the data before changing anything, and say so clearly when no N does. Real `post`
//! processes on tiny directories (dev preset, N = 32, 2 units of 64 labels in 4 files of 32 labels).

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Output};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const NODE: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const ATX: &str = "0202020202020202020202020202020202020202020202020202020202020202";

fn post(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_post")).args(args).output()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `post init` of the tiny directory with scrypt N = `n`, all files or only `files` (inclusive).
fn init(dir: &Path, n: &str, files: Option<(&str, &str)>) -> Result<Output> {
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
        n,
        "--labels-per-unit",
        "64",
        "--max-file-size",
        "512",
    ];
    if let Some((from, to)) = files {
        args.extend(["--from-file", from, "--to-file", to]);
    }
    let out = post(&args)?;
    if !out.status.success() {
        return Err(format!("init failed: {}", stderr(&out)).into());
    }
    Ok(out)
}

/// Every file of a directory (the lock file aside) by name.
fn snapshot(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("postdata_") {
            files.insert(name, std::fs::read(entry.path())?);
        }
    }
    Ok(files)
}

/// Overwrites label `label` of `postdata_<file>.bin` (at `at` bytes into it) with bytes it cannot hold.
fn corrupt(dir: &Path, file: u32, label: u64, at: u64) -> Result {
    let handle = std::fs::OpenOptions::new().read(true).write(true).open(dir.join(format!("postdata_{file}.bin")))?;
    let mut byte = [0u8; 1];
    handle.read_exact_at(&mut byte, label * 16 + at)?;
    handle.write_all_at(&[!byte[0], byte[0] ^ 0x5a], label * 16 + at)?;
    Ok(())
}

/// The bad ranges of a `verify-data --json` report as (file index, byte offset, [start, end)).
fn bad_ranges(out: &Output) -> Result<Vec<(u64, u64, u64, u64)>> {
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let bad = report["bad"].as_array().ok_or("no bad ranges")?;
    bad.iter()
        .map(|r| -> Result<(u64, u64, u64, u64)> {
            let n = |v: &serde_json::Value| -> Result<u64> { Ok(v.as_u64().ok_or(format!("not a number in {r}"))?) };
            Ok((n(&r["index"])?, n(&r["offset"])?, n(&r["labels"][0])?, n(&r["labels"][1])?))
        })
        .collect()
}

#[test]
fn verify_data_and_repair_detect_n_and_fix_exactly_the_bad_labels() -> Result {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    init(&dir, "32", None)?;
    let clean = snapshot(&dir)?;
    let d = dir.to_string_lossy();

    let out = post(&["verify-data", "--dir", &d, "--all"])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("verify-data: scrypt N = 32 (detected)"), "{}", stderr(&out));

    // Labels 35 and 42 (file 1) and 95, the last of file 2.
    corrupt(&dir, 1, 3, 0)?;
    corrupt(&dir, 1, 10, 14)?;
    corrupt(&dir, 2, 31, 7)?;
    let corrupted = snapshot(&dir)?;
    let out = post(&["verify-data", "--dir", &d, "--all", "--json"])?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("scrypt N = 32 (detected)"), "{}", stderr(&out));
    assert_eq!(bad_ranges(&out)?, vec![(1, 48, 35, 36), (1, 160, 42, 43), (2, 496, 95, 96)]);

    // A wrong N is refused, naming the file, and nothing changes.
    for command in ["verify-data", "repair"] {
        let out = post(&[command, "--dir", &d, "--scrypt-n", "64"])?;
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("postdata_0.bin") && text.contains("scrypt N = 64 does not reproduce"), "{text}");
        assert!(text.contains("written with N = 32"), "{text}");
        assert_eq!(snapshot(&dir)?, corrupted, "{command} --scrypt-n 64 changed the data");
    }

    let out = post(&["repair", "--dir", &d])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("repair: scrypt N = 32 (detected)"), "{}", stderr(&out));
    assert_eq!(snapshot(&dir)?, clean, "repair did not restore the labels byte for byte");

    // The right N, given, is accepted.
    let out = post(&["verify-data", "--dir", &d, "--all", "--scrypt-n", "32"])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    Ok(())
}

#[test]
fn no_n_reproduces_data_of_another_identity() -> Result {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    init(&dir, "32", None)?;
    // The metadata edited to another NodeId (base64 of 32 bytes 0x42).
    let path = dir.join("postdata_metadata.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    meta["NodeId"] = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=".into();
    std::fs::write(&path, meta.to_string())?;
    let before = snapshot(&dir)?;
    let d = dir.to_string_lossy();
    for command in ["verify-data", "repair"] {
        let out = post(&[command, "--dir", &d])?;
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("postdata_0.bin") && text.contains("no scrypt N from 2 to 2^20 reproduces"), "{text}");
        assert!(text.contains("NodeId"), "{text}");
    }
    assert_eq!(snapshot(&dir)?, before);

    let out = post(&["info", "--dir", &d])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("scrypt N:          unknown (")); // and no failure
    Ok(())
}

#[test]
fn info_reports_the_detected_n() -> Result {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    init(&dir, "32", None)?;
    let d = dir.to_string_lossy();
    let out = post(&["info", "--dir", &d])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("scrypt N:          32 (detected)"), "{text}");
    let out = post(&["info", "--dir", &d, "--json"])?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(report["scrypt_n"], 32, "{report}");
    Ok(())
}

#[test]
fn init_resumes_with_the_detected_n_and_refuses_a_wrong_one() -> Result {
    let tmp = tempfile::tempdir()?;
    let (whole, part) = (tmp.path().join("whole"), tmp.path().join("part"));
    init(&whole, "32", None)?;
    init(&part, "32", Some(("0", "1")))?;
    let p = part.to_string_lossy();

    let before = snapshot(&part)?;
    let out = post(&["init", "--dir", &p, "--scrypt-n", "64"])?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("scrypt N = 64 does not reproduce"), "{}", stderr(&out));
    assert_eq!(snapshot(&part)?, before, "a refused init changed the data");

    let out = post(&["init", "--dir", &p])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("init: scrypt N = 32 (detected)"), "{}", stderr(&out));
    let (a, b) = (snapshot(&part)?, snapshot(&whole)?);
    let data = |s: &BTreeMap<String, Vec<u8>>| s.iter().filter(|(k, _)| k.ends_with(".bin")).count();
    assert_eq!(data(&a), 4);
    for (name, bytes) in a.iter().filter(|(k, _)| k.ends_with(".bin")) {
        assert_eq!(Some(bytes), b.get(name), "{name} differs from one uninterrupted init");
    }
    Ok(())
}

#[test]
fn merge_detects_n_and_refuses_a_piece_written_with_another() -> Result {
    let tmp = tempfile::tempdir()?;
    let (a, b32, b64) = (tmp.path().join("a"), tmp.path().join("b32"), tmp.path().join("b64"));
    init(&a, "32", Some(("0", "1")))?;
    init(&b32, "32", Some(("2", "3")))?;
    init(&b64, "64", Some(("2", "3")))?;
    let (a_s, b32_s, b64_s) = (a.to_string_lossy(), b32.to_string_lossy(), b64.to_string_lossy());
    let (a_files, b64_files) = (snapshot(&a)?, snapshot(&b64)?);

    let into = tmp.path().join("merged");
    let into_s = into.to_string_lossy();
    let out = post(&["merge", "--into", &into_s, &a_s, &b64_s])?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("postdata_2.bin") && text.contains("N = 64") && text.contains("N = 32"), "{text}");
    assert_eq!((snapshot(&a)?, snapshot(&b64)?), (a_files.clone(), b64_files.clone()), "a refused merge moved data");
    assert!(snapshot(&into).unwrap_or_default().is_empty(), "the target got data");

    // Given, N = 32 is refused for the N = 64 piece too.
    let out = post(&["merge", "--into", &into_s, &a_s, &b64_s, "--scrypt-n", "32"])?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("postdata_2.bin"), "{}", stderr(&out));
    assert_eq!((snapshot(&a)?, snapshot(&b64)?), (a_files, b64_files));

    let out = post(&["merge", "--into", &into_s, &a_s, &b32_s])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("merge: scrypt N = 32 (detected)"), "{}", stderr(&out));
    let out = post(&["verify-data", "--dir", &into_s, "--all"])?;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    Ok(())
}

/// `shrink` finds N too, so the VRF nonce it searches for the smaller data is the one a direct init of
/// that size with N = 32 finds; a wrong given N is refused with nothing deleted.
#[test]
fn shrink_detects_n() -> Result {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    init(&dir, "32", None)?;
    let d = dir.to_string_lossy();
    let before = snapshot(&dir)?;
    let out = post(&["shrink", "--dir", &d, "--units", "1", "--yes", "--scrypt-n", "64"])?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(snapshot(&dir)?, before, "a refused shrink changed the data");
    let out = post(&["shrink", "--dir", &d, "--units", "1", "--yes"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("shrink: scrypt N = 32 (detected)"), "{}", stderr(&out));
    let out = post(&["verify-data", "--dir", &d, "--all"])?;
    assert_eq!(out.status.code(), Some(0), "the shrunk data does not verify: {}", stderr(&out));
    Ok(())
}
