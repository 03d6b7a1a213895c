//! `cargo xtask test` and `cargo xtask ci`.

use anyhow::ensure;

use crate::tools;

fn run_cargo(args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let status = tools::cargo()?.args(args).status()?;
    ensure!(status.success(), "cargo {} failed ({status})", args.join(" "));
    Ok(())
}

/// Runs every test of the workspace; extra arguments go to `cargo test`.
///
/// # Errors
/// When a test fails.
pub fn test(extra: &[String]) -> anyhow::Result<()> {
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    let mut cargo = tools::cargo()?;
    cargo.args(&args);
    // The read-only and full-disk fault tests need a private mount namespace. Where this machine allows
    // one, a skip of theirs would hide a broken test, so it becomes a failure.
    if std::env::var_os("POST_REQUIRE_NAMESPACES").is_none() {
        let allowed = std::process::Command::new("unshare")
            .args(["--mount", "true"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if allowed {
            cargo.env("POST_REQUIRE_NAMESPACES", "1");
        }
        eprintln!(
            "xtask: mount namespaces {}: the namespace fault tests {}",
            if allowed { "work here" } else { "are not available here" },
            if allowed { "must run (POST_REQUIRE_NAMESPACES=1)" } else { "will skip, loudly" }
        );
    }
    // The cross-filesystem merge test needs a second filesystem (/dev/shm beside the temp directory);
    // where there is one, its skip would hide a broken test too.
    if std::env::var_os("POST_REQUIRE_CROSS_FS").is_none() {
        use std::os::unix::fs::MetadataExt as _;
        let dev = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.dev()).ok();
        let shm = dev(std::path::Path::new("/dev/shm"));
        let two = shm.is_some() && shm != dev(&std::env::temp_dir());
        if two {
            cargo.env("POST_REQUIRE_CROSS_FS", "1");
        }
        eprintln!(
            "xtask: {}: the cross-filesystem merge test {}",
            if two { "/dev/shm is another filesystem" } else { "no second filesystem at /dev/shm" },
            if two { "must run (POST_REQUIRE_CROSS_FS=1)" } else { "will skip, loudly" }
        );
    }
    // The README's HAProxy configuration is tested where a `haproxy` is installed; there, its skip would
    // hide a broken configuration.
    if std::env::var_os("POST_REQUIRE_HAPROXY").is_none() {
        let haproxy = std::process::Command::new("haproxy")
            .arg("-v")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if haproxy {
            cargo.env("POST_REQUIRE_HAPROXY", "1");
        }
        eprintln!(
            "xtask: {}: the HAProxy pool test {}",
            if haproxy { "haproxy is on PATH" } else { "no haproxy on PATH" },
            if haproxy { "must run (POST_REQUIRE_HAPROXY=1)" } else { "will skip, loudly" }
        );
    }
    // The test that compiles every CUDA kernel needs NVRTC (no GPU): xtask installs the pinned wheel, and
    // once it is there, the test must run. Without it (no network, not Linux) the test skips, loudly;
    // POST_REQUIRE_NVRTC=0 skips the download.
    if std::env::var_os("POST_REQUIRE_NVRTC").is_none_or(|v| v != "0") {
        match tools::nvrtc() {
            Ok(lib) => {
                let mut paths = vec![lib.clone()];
                paths.extend(std::env::var_os("LD_LIBRARY_PATH").iter().flat_map(std::env::split_paths));
                cargo.env("LD_LIBRARY_PATH", std::env::join_paths(paths)?);
                cargo.env("POST_REQUIRE_NVRTC", "1");
                eprintln!(
                    "xtask: NVRTC {} in {}: the kernel compile test must run (POST_REQUIRE_NVRTC=1)",
                    tools::NVRTC_VERSION,
                    lib.display()
                );
            }
            Err(e) => eprintln!("xtask: no NVRTC ({e:#}): the kernel compile test will skip, loudly"),
        }
    } else {
        eprintln!("xtask: POST_REQUIRE_NVRTC=0: NVRTC not provisioned, the kernel compile test will skip, loudly");
    }
    // The fast-mode RandomX tests build a 2 GiB dataset and skip below 3 GiB available; with room to
    // spare (8 GiB, as tests of other binaries may still hold memory), their skip would hide them.
    if std::env::var_os("POST_REQUIRE_RANDOMX_FAST").is_none() {
        let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
            let line = text.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
            line.trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|kib| kib << 10)
        });
        let room = available.is_some_and(|bytes| bytes >= 8 << 30);
        if room {
            cargo.env("POST_REQUIRE_RANDOMX_FAST", "1");
        }
        eprintln!(
            "xtask: {} GiB of memory available: the fast-mode RandomX tests {}",
            available.map_or_else(|| "unknown".to_string(), |b| (b >> 30).to_string()),
            if room { "must run (POST_REQUIRE_RANDOMX_FAST=1)" } else { "may skip, loudly" }
        );
    }
    eprintln!("$ cargo {}", args.join(" "));
    let status = cargo.status()?;
    ensure!(status.success(), "cargo {} failed ({status})", args.join(" "));
    Ok(())
}

/// fmt, clippy with warnings as errors, the tests, the benchmarks compiled, tidy, and the fuzz targets
/// built and run over their seeds (where the toolchain allows).
///
/// # Errors
/// When any step fails.
pub fn ci() -> anyhow::Result<()> {
    run_cargo(&["fmt", "--all", "--check"])?;
    run_cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    test(&[])?;
    run_cargo(&["bench", "--workspace", "--no-run"])?;
    crate::tidy::tidy()?;
    crate::fuzz::smoke()
}
