//! Truncated, oversized, missing and corrupted files are reported by `post info` and `post verify-data`;
//! `post repair` makes `post verify-data --all` clean again.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::os::unix::fs::FileExt;
use std::path::Path;

fn flip(path: &Path, offset: u64) {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap();
    file.write_all_at(&[byte[0] ^ 0x01], offset).unwrap();
}

fn verify(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["verify-data", "--dir", dir.to_str().unwrap(), "--scrypt-n", "16", "--provider", "reference"];
    args.extend_from_slice(extra);
    common::run(&args)
}

#[test]
fn bad_files_are_reported_by_info_and_verify_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_dir(&common::reference_dir(), &dir);
    let path = |i: u32| dir.join(format!("postdata_{i}.bin"));
    std::fs::OpenOptions::new().write(true).open(path(0)).unwrap().set_len(4000).unwrap();
    std::fs::OpenOptions::new().write(true).open(path(1)).unwrap().set_len(4832).unwrap();
    std::fs::remove_file(path(2)).unwrap();
    flip(&path(3), 16 * 10 + 7);

    let info = common::run(&["info", "--dir", dir.to_str().unwrap()]);
    assert!(info.status.success());
    let text = common::stdout(&info);
    for needle in [
        "postdata_0.bin         partial    4000 of 4800",
        "postdata_1.bin         oversized  4832 of 4800",
        "postdata_2.bin         missing",
        "incomplete",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }

    let out = verify(&dir, &["--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let text = common::stdout(&out);
    for needle in [
        "postdata_0.bin: partial (4000 of 4800 bytes)",
        "postdata_1.bin: oversized (4832 of 4800 bytes)",
        "postdata_2.bin: missing (0 of 4800 bytes)",
        "postdata_3.bin byte offset 160 labels 910..911 (1 label(s))",
        "NOT clean",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn repair_makes_verify_all_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_dir(&common::reference_dir(), &dir);
    for (file, offset) in [(0u32, 0u64), (0, 17), (1, 4799), (2, 2400), (3, 1000)] {
        flip(&dir.join(format!("postdata_{file}.bin")), offset);
    }
    let out = verify(&dir, &["--all", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<(u64, u64, u64, u64)> = report["bad"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["offset"].as_u64().unwrap(),
                r["labels"][0].as_u64().unwrap(),
                r["labels"][1].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(bad, [(0, 0, 0, 2), (1, 4784, 599, 600), (2, 2400, 750, 751), (3, 992, 962, 963)]);

    // A sampled check prints its seed, and the same seed checks the same labels.
    let a = verify(&dir, &["--fraction", "30", "--seed", "5", "--json"]);
    let b = verify(&dir, &["--fraction", "30", "--seed", "5", "--json"]);
    let parse = |o: &std::process::Output| serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
    assert_eq!(parse(&a), parse(&b));
    assert_eq!(parse(&a)["seed"], "0000000000000005", "seeds are hex, as `post verify` takes them");
    let c = verify(&dir, &["--fraction", "30", "--seed", "0x5", "--json"]);
    assert_eq!(parse(&c), parse(&a));
    let unseeded = verify(&dir, &["--fraction", "30"]);
    assert!(common::text(&unseeded).contains("with seed"), "{}", common::text(&unseeded));

    let repaired = common::run(&["repair", "--dir", dir.to_str().unwrap(), "--scrypt-n", "16"]);
    assert!(repaired.status.success(), "{}", common::text(&repaired));
    assert_eq!(common::stdout(&repaired).matches("repaired: ").count(), 4, "{}", common::text(&repaired));
    let clean = verify(&dir, &["--all"]);
    assert!(clean.status.success(), "{}", common::text(&clean));
    assert!(common::stdout(&clean).ends_with("clean\n"), "{}", common::text(&clean));
    common::assert_same_data(&dir, &common::reference_dir());

    // Repair with the wrong scrypt N refuses, naming the file it recomputed, and changes nothing.
    let before = common::snapshot(&dir);
    let wrong = common::run(&["repair", "--dir", dir.to_str().unwrap(), "--scrypt-n", "32"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", common::text(&wrong));
    let text = common::text(&wrong);
    assert!(text.contains("postdata_0.bin") && text.contains("scrypt N = 32 does not reproduce"), "{text}");
    assert_eq!(common::snapshot(&dir), before);
}
