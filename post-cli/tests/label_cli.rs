//! `post label` against the shared label vectors (N = 2 and N = 16, plus one mainnet label through
//! the default N), and its usage errors: exit code 2 and a first stderr line naming the argument.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::{Command, Output};

fn post_label(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_post")).arg("label").args(args).output().unwrap()
}

/// (commitment, N) → index → full label hex.
fn vectors() -> BTreeMap<(String, u64), BTreeMap<u64, String>> {
    let file: serde_json::Value = serde_json::from_str(include_str!("data/labels.json")).unwrap();
    let mut groups: BTreeMap<(String, u64), BTreeMap<u64, String>> = BTreeMap::new();
    for v in file["vectors"].as_array().unwrap() {
        let key = (v["commitment"].as_str().unwrap().to_owned(), v["scrypt_n"].as_u64().unwrap());
        let full = v["scrypt_out32"].as_str().unwrap().to_owned();
        groups.entry(key).or_default().insert(v["index"].as_u64().unwrap(), full);
    }
    groups
}

#[test]
fn prints_the_shared_vectors() {
    let mut checked = 0;
    for ((commitment, n), labels) in vectors() {
        if n == 8192 {
            continue;
        }
        // Runs of consecutive indices (0..3, 255..257, 2^32, 2^40 + 7) in one call each.
        for (start, count) in [(0u64, 3u64), (255, 2), (1 << 32, 1), ((1 << 40) + 7, 1)] {
            let out = post_label(&[
                "--commitment",
                &commitment,
                "--index",
                &start.to_string(),
                "--count",
                &count.to_string(),
                "--scrypt-n",
                &n.to_string(),
            ]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let expected: String = (start..start + count).map(|i| format!("{i} {}\n", labels[&i])).collect();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
            checked += count;
        }
    }
    assert_eq!(checked, 56);
}

#[test]
fn default_n_is_the_mainnet_value() {
    let zero = "0".repeat(64);
    let out = post_label(&["--commitment", &zero, "--index", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = &vectors()[&(zero.clone(), 8192)][&0];
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("0 {expected}\n"));
}

#[test]
fn bad_input_exits_2_naming_the_argument() {
    let good = "ab".repeat(32);
    let cases: [(&[&str], &[&str]); 10] = [
        (&["--commitment", "abc", "--index", "0"], &["--commitment"]),
        (&["--commitment", &"ab".repeat(31), "--index", "0"], &["--commitment"]),
        (&["--commitment", &"zz".repeat(32), "--index", "0"], &["--commitment"]),
        (&["--commitment", &good, "--index", "0", "--scrypt-n", "1000"], &["--scrypt-n"]),
        (&["--commitment", &good, "--index", "0", "--scrypt-n", "1"], &["--scrypt-n"]),
        (&["--commitment", &good, "--index", "-1"], &["--index"]),
        (&["--commitment", &good, "--index", "18446744073709551616"], &["--index"]),
        (&["--commitment", &good, "--index", "0", "--count", "0"], &["--count"]),
        (&["--commitment", &good, "--index", "0", "--count", "-3"], &["--count"]),
        (&["--commitment", &good, "--index", "18446744073709551615", "--count", "2"], &["--index", "--count"]),
    ];
    for (args, names) in cases {
        let out = post_label(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error:"), "{args:?}: {stderr}");
        for name in names {
            assert!(first.contains(name), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn the_last_index_is_allowed() {
    let out = post_label(&["--commitment", &"00".repeat(32), "--index", &u64::MAX.to_string(), "--scrypt-n", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with(&format!("{} ", u64::MAX)) && stdout.len() == 20 + 1 + 64 + 1, "{stdout}");
}

#[test]
fn help_describes_the_flags() {
    let out = post_label(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--commitment", "--index", "--count", "--scrypt-n"] {
        assert!(help.contains(flag), "{help}");
    }
}
