//! One writer per directory: a second `post init` (or a reader) is refused with the directory and the
//! holder named, and nothing is touched; `post info` still works and shows the holder.

#![allow(clippy::unwrap_used)]

use crate::common;

#[test]
fn a_second_writer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();
    let mut first = common::spawn(&common::slow_args(&dir));
    assert!(common::wait_for_bytes(&mut first, &dir, 16), "the first writer finished too soon");
    let pid = format!("pid {}", first.id());

    let second = common::run_args(&common::slow_args(&dir));
    assert_eq!(second.status.code(), Some(2), "{}", common::text(&second));
    let message = common::text(&second);
    assert!(message.contains(d) && message.contains(&pid), "{message}");

    let reader = common::run(&["verify-data", "--dir", d, "--all", "--scrypt-n", "1024"]);
    assert_eq!(reader.status.code(), Some(2), "{}", common::text(&reader));
    assert!(common::text(&reader).contains(&pid), "{}", common::text(&reader));

    let info = common::run(&["info", "--dir", d]);
    assert!(info.status.success(), "{}", common::text(&info));
    assert!(common::stdout(&info).contains(&pid), "{}", common::text(&info));

    first.kill().unwrap();
    first.wait().unwrap();
    let reference = tmp.path().join("reference");
    assert!(common::run_args(&common::slow_args(&reference)).status.success());
    let out = common::run_args(&common::slow_args(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    common::assert_same_data(&dir, &reference);
}
