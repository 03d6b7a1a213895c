//! A write that fails for lack of space (here the file-size limit RLIMIT_FSIZE, with SIGXFSZ ignored so
//! that the write returns EFBIG) ends `post init` with a clear error; a later run resumes and completes.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::os::unix::process::CommandExt;

#[test]
fn a_full_disk_stops_with_a_clear_error_and_resume_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut cmd = common::post();
    cmd.args(common::small_args(&dir));
    // SAFETY: between fork and exec only async-signal-safe calls (signal, setrlimit) are made.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: 3000, rlim_max: 3000 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    let message = common::text(&out);
    assert!(message.contains("postdata_0.bin") && message.contains("no space left"), "{message}");
    assert!(message.contains("resume"), "{message}");
    let len = std::fs::metadata(dir.join("postdata_0.bin")).unwrap().len();
    assert!(len <= 3000, "{len}");

    let out = common::run_args(&common::small_args(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    common::assert_same_data(&dir, &common::reference_dir());
}
