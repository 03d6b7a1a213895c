//! `cargo xtask fuzz`: build and run the libFuzzer targets of `fuzz/` on stable Rust.
//!
//! cargo-fuzz needs nightly only for sanitizers; coverage-guided fuzzing itself needs just the
//! SanitizerCoverage pass and a few LLVM options, which stable rustc accepts as `-C` flags. So we build
//! the targets with plain `cargo build` and those flags (what cargo-fuzz passes with `--sanitizer none`),
//! and libfuzzer-sys compiles libFuzzer with the machine's C++ compiler. Nothing has to be installed.
//!
//! ```text
//! cargo xtask fuzz build                   build every target into fuzz/target
//! cargo xtask fuzz run [TARGET…] [--seconds N] [-- LIBFUZZER ARGS]
//!                                          fuzz each target for N seconds (default 60), seeded from
//!                                          fuzz/seeds/TARGET, growing fuzz/corpus/TARGET, and print a table
//! cargo xtask fuzz smoke                   run every target once over its seeds (what `ci` does)
//! cargo xtask fuzz list                    the targets
//! ```
//!
//! A crash leaves its input in `fuzz/artifacts/TARGET/`; replay it with
//! `fuzz/target/<host>/release/TARGET fuzz/artifacts/TARGET/crash-…`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context};

use crate::tools;

/// The LLVM SanitizerCoverage options cargo-fuzz uses; all are stable `-C` flags.
const COVERAGE_FLAGS: &[&str] = &[
    "--cfg",
    "fuzzing",
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
];

/// Seconds a target runs by default under `fuzz run`.
const DEFAULT_SECONDS: u64 = 60;

/// Targets whose inputs are JSON, which get the JSON dictionary.
const JSON_TARGETS: &[&str] = &["proof_json", "metadata_json"];

fn fuzz_dir() -> PathBuf {
    tools::root().join("fuzz")
}

/// Target names, from the `[[bin]]` entries of `fuzz/Cargo.toml`.
fn targets() -> anyhow::Result<Vec<String>> {
    let path = fuzz_dir().join("Cargo.toml");
    let manifest = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut in_bin = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(name) = line.strip_prefix("name").filter(|_| in_bin) {
            names.push(name.trim_start_matches([' ', '=']).trim_matches('"').to_string());
        }
    }
    ensure!(!names.is_empty(), "no [[bin]] targets in {}", path.display());
    Ok(names)
}

/// The host triple; the build names it so that RUSTFLAGS reach only the targets, not build scripts.
fn host() -> anyhow::Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_string).context("rustc -vV names no host")
}

/// Why the targets cannot be built here, or `None` when they can: libFuzzer runs on Linux and macOS
/// and needs a C++ compiler.
pub fn unsupported_reason() -> Option<String> {
    if !matches!(std::env::consts::OS, "linux" | "macos") {
        return Some(format!("libFuzzer targets are not built on {}", std::env::consts::OS));
    }
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    let works = Command::new(&cxx).arg("--version").output().is_ok_and(|o| o.status.success());
    (!works).then(|| format!("no C++ compiler ({cxx}) to build libFuzzer"))
}

/// Builds every fuzz target; returns the folder that holds the binaries.
///
/// # Errors
/// When the build fails.
pub fn build() -> anyhow::Result<PathBuf> {
    let host = host()?;
    let target_dir = fuzz_dir().join("target");
    let mut flags: Vec<String> = COVERAGE_FLAGS.iter().map(|f| f.to_string()).collect();
    if let Ok(extra) = std::env::var("RUSTFLAGS") {
        flags.extend(extra.split_whitespace().map(str::to_string));
    }
    eprintln!("$ (cd fuzz && cargo build --release --bins --target {host})  # with coverage flags");
    let status = tools::cargo()?
        .current_dir(fuzz_dir())
        .args(["build", "--release", "--bins", "--target", &host, "--target-dir"])
        .arg(&target_dir)
        .env("RUSTFLAGS", flags.join(" "))
        .env_remove("CARGO_TARGET_DIR")
        .status()?;
    ensure!(status.success(), "building the fuzz targets failed ({status})");
    Ok(target_dir.join(host).join("release"))
}

/// What one libFuzzer run reported.
struct RunReport {
    target: String,
    runs: u64,
    seconds: u64,
    corpus: usize,
    peak_rss_mb: u64,
    crashed: bool,
}

/// Runs `target` with libFuzzer; `args` are appended to the defaults.
fn run_one(bin_dir: &Path, target: &str, args: &[String]) -> anyhow::Result<RunReport> {
    let fuzz = fuzz_dir();
    let corpus = fuzz.join("corpus").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    fs::create_dir_all(&corpus)?;
    fs::create_dir_all(&artifacts)?;
    let mut cmd = Command::new(bin_dir.join(target));
    cmd.arg(&corpus);
    let seeds = fuzz.join("seeds").join(target);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    // A few seconds per input is a hang for parsers that take microseconds.
    cmd.arg(format!("-artifact_prefix={}/", artifacts.display())).args([
        "-timeout=5",
        "-rss_limit_mb=2048",
        "-malloc_limit_mb=1024",
        "-print_final_stats=1",
    ]);
    if JSON_TARGETS.contains(&target) {
        cmd.arg(format!("-dict={}", fuzz.join("dict/json.dict").display()));
    }
    cmd.args(args);
    eprintln!("$ {cmd:?}");
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("running {target}"))?;
    let seconds = start.elapsed().as_secs();
    let log = String::from_utf8_lossy(&out.stderr);
    let stat = |name: &str| -> u64 {
        log.lines()
            .rev()
            .filter_map(|l| l.strip_prefix(name))
            .find_map(|v| v.trim_start_matches(':').trim().parse().ok())
            .unwrap_or(0)
    };
    let crashed = !out.status.success();
    if crashed {
        eprintln!("{log}");
    }
    Ok(RunReport {
        target: target.to_string(),
        runs: stat("stat::number_of_executed_units"),
        seconds,
        peak_rss_mb: stat("stat::peak_rss_mb"),
        corpus: fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0),
        crashed,
    })
}

fn print_table(reports: &[RunReport]) {
    println!("{:<16} {:>14} {:>8} {:>10} {:>8}  result", "target", "executions", "seconds", "corpus", "rss MiB");
    for r in reports {
        let result = if r.crashed { "FAILED (input in fuzz/artifacts)" } else { "ok" };
        println!("{:<16} {:>14} {:>8} {:>10} {:>8}  {result}", r.target, r.runs, r.seconds, r.corpus, r.peak_rss_mb);
    }
}

/// `cargo xtask fuzz <build|run|smoke|list> …`.
///
/// # Errors
/// On a bad command line, a failed build, or a target that crashed.
pub fn fuzz(args: &[String]) -> anyhow::Result<()> {
    let all = targets()?;
    match args.first().map(String::as_str) {
        Some("list") => {
            all.iter().for_each(|t| println!("{t}"));
            Ok(())
        }
        Some("build") => build().map(|_| ()),
        Some("smoke") => smoke(),
        Some("run") => {
            let (ours, libfuzzer) = match args[1..].iter().position(|a| a == "--") {
                Some(i) => (&args[1..=i], &args[i + 2..]),
                None => (&args[1..], &[][..]),
            };
            let mut seconds = DEFAULT_SECONDS;
            let mut chosen = Vec::new();
            let mut it = ours.iter();
            while let Some(arg) = it.next() {
                if arg == "--seconds" {
                    let value = it.next().context("--seconds needs a number")?;
                    seconds = value.parse().with_context(|| format!("--seconds {value:?}"))?;
                } else if all.contains(arg) {
                    chosen.push(arg.clone());
                } else {
                    bail!("unknown fuzz target {arg:?}; the targets are: {}", all.join(", "));
                }
            }
            if chosen.is_empty() {
                chosen = all;
            }
            let bin_dir = build()?;
            let mut extra = vec![format!("-max_total_time={seconds}")];
            extra.extend(libfuzzer.iter().cloned());
            let reports = chosen.iter().map(|t| run_one(&bin_dir, t, &extra)).collect::<anyhow::Result<Vec<_>>>()?;
            print_table(&reports);
            ensure!(!reports.iter().any(|r| r.crashed), "a fuzz target failed");
            Ok(())
        }
        _ => bail!("usage: cargo xtask fuzz <build | run [TARGET…] [--seconds N] [-- LIBFUZZER ARGS] | smoke | list>"),
    }
}

/// What `cargo xtask ci` runs: where libFuzzer can be built, build every target and run it once over its
/// seeds; elsewhere say why it is skipped.
///
/// # Errors
/// When the build fails or a seed makes a target fail.
pub fn smoke() -> anyhow::Result<()> {
    if let Some(reason) = unsupported_reason() {
        eprintln!("xtask: skipping the fuzz targets: {reason}");
        return Ok(());
    }
    let bin_dir = build()?;
    let mut failed = Vec::new();
    for target in targets()? {
        let seeds = fuzz_dir().join("seeds").join(&target);
        ensure!(seeds.is_dir(), "{} is missing: every target needs seeds", seeds.display());
        let out = Command::new(bin_dir.join(&target))
            .arg("-runs=0")
            .arg(&seeds)
            .output()
            .with_context(|| format!("running {target}"))?;
        let count = fs::read_dir(&seeds).map(|d| d.count()).unwrap_or(0);
        if out.status.success() {
            eprintln!("fuzz smoke: {target}: {count} seeds ok");
        } else {
            eprintln!("{}\nfuzz smoke: {target}: FAILED", String::from_utf8_lossy(&out.stderr));
            failed.push(target);
        }
    }
    ensure!(failed.is_empty(), "fuzz targets failed on their seeds: {}", failed.join(", "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_source_and_seeds() {
        let names = targets().unwrap_or_default();
        assert!(names.len() >= 4, "{names:?}");
        for name in names {
            assert!(fuzz_dir().join("fuzz_targets").join(format!("{name}.rs")).is_file(), "{name}");
            assert!(fuzz_dir().join("seeds").join(&name).is_dir(), "{name} has no seeds");
        }
    }
}
