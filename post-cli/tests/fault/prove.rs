//! `post prove` and `post verify` against faults: a data file missing, short, torn or too long before the
//! run; a file deleted or cut while the proof is computed; a writer holding the directory; proof files
//! missing, torn or tampered with. Each ends in a clear error (exit code 2, the file named, no proof
//! written, an earlier proof at `--out` left alone), a rejection (exit 1 from `post verify`), or a proof
//! that `post verify --all` accepts; never a crash, and never a proof that does not verify.
//!
//! The proof of work runs with difficulty ff…ff and RandomX light, so a proof costs RandomX's set-up
//! (about two seconds) and little else.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn challenge() -> String {
    "ab".repeat(32)
}

fn easy_pow() -> String {
    "ff".repeat(32)
}

fn prove_args(dir: &Path, out: &Path) -> Vec<String> {
    let (c, pow) = (challenge(), easy_pow());
    let args = ["prove", "--dir", dir.to_str().unwrap(), "--challenge", &c, "--preset", "dev", "--randomx", "light"];
    let args = [&args[..], &["--scrypt-n", "256"]].concat();
    let more = ["--threads", "1", "--pow-difficulty", &pow, "--out", out.to_str().unwrap()];
    args.iter().chain(&more).map(|s| s.to_string()).collect()
}

fn prove(dir: &Path, out: &Path) -> Output {
    common::output(common::post().args(prove_args(dir, out)))
}

/// `post verify --all` of `proof` against the metadata of `dir`, with the fault data set's parameters.
fn verify(proof: &Path, dir: &Path) -> Output {
    let (c, pow) = (challenge(), easy_pow());
    common::run(&[
        "verify",
        "--proof",
        proof.to_str().unwrap(),
        "--challenge",
        &c,
        "--dir",
        dir.to_str().unwrap(),
        "--preset",
        "dev",
        "--scrypt-n",
        "256",
        "--labels-per-unit",
        "2048",
        "--pow-difficulty",
        &pow,
        "--all",
    ])
}

/// A way to damage a data directory.
type Damage = fn(&Path);

fn file(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("postdata_{i}.bin"))
}

fn set_len(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

/// Damage before the run: refused at once, naming the file, with no proof written and an earlier proof
/// at `--out` untouched.
#[test]
fn damaged_data_is_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::complete_dir(tmp.path(), "base");
    let cases: [(&str, Damage, &str); 5] = [
        ("missing", |d| std::fs::remove_file(file(d, 2)).unwrap(), "postdata_2.bin"),
        ("short", |d| set_len(&file(d, 2), 8000), "postdata_2.bin"),
        ("torn", |d| set_len(&file(d, 4), 1535), "postdata_4.bin"),
        ("too_long", |d| set_len(&file(d, 0), 16016), "postdata_0.bin"),
        ("no_metadata", |d| std::fs::remove_file(d.join("postdata_metadata.json")).unwrap(), "postdata_metadata.json"),
    ];
    for (name, damage, named) in cases {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for (f, bytes) in common::snapshot(&base) {
            std::fs::write(dir.join(f), bytes).unwrap();
        }
        damage(&dir);
        let before = common::snapshot(&dir);
        let (fresh, earlier) = (tmp.path().join(format!("{name}.json")), tmp.path().join(format!("{name}-old.json")));
        std::fs::write(&earlier, b"an earlier proof").unwrap();
        for out_path in [&fresh, &earlier] {
            let start = Instant::now();
            let out = prove(&dir, out_path);
            common::assert_refused(&out, &[named], &dir, &before);
            assert!(start.elapsed() < Duration::from_secs(30), "{name}: refusing took {:?}", start.elapsed());
        }
        assert!(!fresh.exists(), "{name}: a failed run wrote a proof file");
        assert_eq!(std::fs::read(&earlier).unwrap(), b"an earlier proof", "{name}: a failed run clobbered --out");
    }
}

/// A file deleted, or cut to nothing, while the proof is computed (the run holds only a shared lock, which
/// nobody else has to honour): the run fails naming the file, or it proves from what it had read, and
/// then the proof must verify.
#[test]
fn a_file_deleted_or_cut_during_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let damages: [(&str, Damage); 2] =
        [("deleted", |d| std::fs::remove_file(file(d, 2)).unwrap()), ("cut", |d| set_len(&file(d, 2), 0))];
    for (name, damage) in damages {
        let dir = common::complete_dir(tmp.path(), name);
        let original = tmp.path().join(format!("{name}-original"));
        std::fs::create_dir(&original).unwrap();
        std::fs::copy(dir.join("postdata_metadata.json"), original.join("postdata_metadata.json")).unwrap();
        let proof = tmp.path().join(format!("{name}.json"));
        let mut child = common::spawn(common::post().args(prove_args(&dir, &proof)));
        let deadline = Instant::now() + Duration::from_secs(60);
        while common::info(&dir)["lock_holder"].is_null() && child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "post prove never took the directory");
            std::thread::sleep(Duration::from_millis(2));
        }
        damage(&dir);
        let out = common::wait_at_most(child, Duration::from_secs(300));
        let message = common::text(&out);
        assert!(!message.contains("panicked"), "{name}: {message}");
        match out.status.code() {
            Some(0) => {
                let check = verify(&proof, &original);
                assert!(check.status.success(), "{name}: the proof does not verify: {}", common::text(&check));
            }
            Some(2) => {
                assert!(message.contains("postdata_2.bin"), "{name}: the file is not named: {message}");
                assert!(!proof.exists(), "{name}: a failed run wrote a proof");
            }
            other => panic!("{name}: post prove ended with {other:?} ({:?}): {message}", out.status),
        }
    }
}

#[test]
fn prove_is_refused_while_init_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut init = common::spawn(&mut common::init_cmd(&dir));
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::data_bytes(&dir) < 16 && init.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "post init wrote nothing for 60 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(common::freeze(&init), "post init finished before it could be frozen");
    let pid = format!("pid {}", init.id());
    let before = common::snapshot(&dir);
    let proof = tmp.path().join("proof.json");
    let out = prove(&dir, &proof);
    common::assert_refused(&out, &[&dir.display().to_string(), &pid], &dir, &before);
    assert!(!proof.exists());
    common::signal(&init, libc::SIGCONT);
    let init = common::wait_at_most(init, Duration::from_secs(120));
    assert!(init.status.success(), "{}", common::text(&init));

    let out = prove(&dir, &proof);
    assert!(out.status.success(), "{}", common::text(&out));
    let check = verify(&proof, &dir);
    assert!(check.status.success(), "{}", common::text(&check));
}

/// Proof files that are missing, empty, torn or tampered with: exit 2 for what cannot be read, exit 1 for
/// a proof that is read and wrong.
#[test]
fn verify_faulty_proof_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    let good = tmp.path().join("good.json");
    let out = prove(&dir, &good);
    assert!(out.status.success(), "{}", common::text(&out));
    // `post prove` writes the proof with its metadata; the cases below are bare proofs, which `verify`
    // takes with --challenge and --dir.
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    let proof = record["proof"].clone();
    let text = proof.to_string();
    let with = |key: &str, value: serde_json::Value| {
        let mut p = proof.clone();
        p[key] = value;
        p.to_string()
    };
    let cases: Vec<(&str, Option<String>, i32)> = vec![
        ("missing", None, 2),
        ("empty", Some(String::new()), 2),
        ("torn", Some(text[..text.len() / 2].to_string()), 2),
        ("not_base64", Some(with("indices", "!!!!".into())), 2),
        ("nonce_too_big", Some(with("nonce", 4096.into())), 1),
        ("other_pow", Some(with("pow", (proof["pow"].as_u64().unwrap() + 1).into())), 1),
        ("short_indices", Some(with("indices", "AAAA".into())), 1),
    ];
    for (name, contents, code) in cases {
        let path = tmp.path().join(format!("{name}.json"));
        if let Some(contents) = contents {
            std::fs::write(&path, contents).unwrap();
        }
        let out = verify(&path, &dir);
        let message = common::text(&out);
        assert_eq!(out.status.code(), Some(code), "{name}: {message}");
        assert!(!message.contains("panicked"), "{name}: {message}");
        if code == 2 {
            assert!(message.contains(&format!("{name}.json")), "{name}: the file is not named: {message}");
        }
    }
    assert!(verify(&good, &dir).status.success());
}
