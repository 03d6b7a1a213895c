//! `cargo xtask`: project automation that is not plain cargo.
//!
//! ```text
//! cargo xtask demo    the README's first command: build, init, prove and verify on the dev preset
//! cargo xtask test    the README's test command: every test of the workspace
//! cargo xtask install install the `post` binary (cargo install --locked --path post-cli)
//! cargo xtask ci      fmt --check, clippy -D warnings, the tests, benches compiled
//! cargo xtask bench   the CLI benchmarks as one table (labels/s, proving GiB/s, verification ms)
//! cargo xtask dist    release binaries (LTO, stripped) as tar.gz with SHA-256 sums
//! cargo xtask tidy    dependency edges, file headers, no stubs
//! cargo xtask fuzz    build and run the fuzz targets (see fuzz/README.md)
//! ```
//! Every one runs cargo from the workspace root, where `.cargo/config.toml` provides CMake for RandomX
//! (see `tools.rs`).

mod bench;
mod ci;
mod demo;
mod dist;
mod fuzz;
mod install;
mod tidy;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("test") => ci::test(rest),
        Some("bench") => bench::bench(rest),
        Some("ci") => ci::ci(),
        Some("demo") => demo::demo(),
        Some("dist") => dist::dist(),
        Some("fuzz") => fuzz::fuzz(rest),
        Some("install") => install::install(rest),
        Some("tidy") => tidy::tidy(),
        _ => {
            eprintln!("usage: cargo xtask <demo|test|install|ci|bench|dist|tidy|fuzz> [args]\n\n  demo  build, init, prove and verify on the dev preset\n  test  run every test of the workspace\n  install [--root DIR]  install post (cargo install --locked --path post-cli)\n  ci    fmt, clippy, tests, benches compiled\n  bench [--seconds S]  the figures table\n  dist  release archive with SHA-256 sums\n  tidy  dependency edges, file headers, no stubs\n  fuzz  build | run [TARGET…] [--seconds N] | smoke | list");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
