//! `post init --rebuild-metadata`: a lost `postdata_metadata.json` written again from the data and the
//! known parameters equals the original; wrong parameters are refused and nothing is written.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;

const METADATA: &str = "postdata_metadata.json";

/// The small setup's arguments with `--rebuild-metadata` and some values replaced.
fn rebuild_args(dir: &Path, replace: &[(&str, &str)]) -> Vec<String> {
    let mut args = common::small_args(dir);
    for (flag, value) in replace {
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1] = value.to_string();
    }
    args.push("--rebuild-metadata".into());
    args
}

fn rebuild(dir: &Path, replace: &[(&str, &str)]) -> std::process::Output {
    common::run_args(&rebuild_args(dir, replace))
}

#[test]
fn rebuilt_metadata_equals_the_lost_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = common::run_args(&common::small_args(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    let original = std::fs::read(dir.join(METADATA)).unwrap();
    std::fs::remove_file(dir.join(METADATA)).unwrap();

    let out = rebuild(&dir, &[]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(
        String::from_utf8(std::fs::read(dir.join(METADATA)).unwrap()).unwrap(),
        String::from_utf8(original).unwrap(),
        "byte for byte"
    );

    // Metadata there: nothing to rebuild, nothing changed.
    let before = common::snapshot(&dir);
    let out = rebuild(&dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(common::text(&out).contains("nothing to rebuild"), "{}", common::text(&out));
    assert_eq!(common::snapshot(&dir), before);
}

#[test]
fn rebuilt_metadata_of_the_reference_tools_directory_has_its_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_dir(&common::reference_dir(), &dir);
    std::fs::remove_file(dir.join(METADATA)).unwrap();
    let out = rebuild(&dir, &[]);
    assert!(out.status.success(), "{}", common::text(&out));
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn wrong_parameters_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = common::run_args(&common::small_args(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    std::fs::remove_file(dir.join(METADATA)).unwrap();
    let before = common::snapshot(&dir);

    let other = "12".repeat(32);
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("--atx-id", &other)], "not the label of these parameters"),
        (&[("--node-id", &other)], "not the label of these parameters"),
        (&[("--scrypt-n", "32")], "not the label of these parameters"),
        (&[("--max-file-size", "3200")], "the layout allows"),
        (&[("--units", "2")], "is not one of the data's files"),
    ];
    for (replace, why) in cases {
        let out = rebuild(&dir, replace);
        let message = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{replace:?}: {message}");
        assert!(message.contains(why), "{replace:?}: {message}");
        assert_eq!(common::snapshot(&dir), before, "{replace:?}: nothing written");
    }
}

#[test]
fn an_unfinished_init_is_rebuilt_and_then_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, whole) = (tmp.path().join("data"), tmp.path().join("whole"));
    let mut args = common::small_args(&dir);
    args.extend(["--from-file", "0", "--to-file", "1"].map(String::from));
    let out = common::run_args(&args);
    assert!(out.status.success(), "{}", common::text(&out));
    std::fs::remove_file(dir.join(METADATA)).unwrap();

    let out = rebuild(&dir, &[]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(common::text(&out).contains("not finished"), "{}", common::text(&out));
    let out = common::run_args(&common::small_args(&dir));
    assert!(out.status.success(), "{}", common::text(&out));

    let out = common::run_args(&common::small_args(&whole));
    assert!(out.status.success(), "{}", common::text(&out));
    common::assert_same_data(&dir, &whole);
}
