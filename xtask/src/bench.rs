//! `cargo xtask bench`: run the CLI benchmarks and print one table of this machine's figures.
//!
//! 1. Build the release `post` binary.
//! 2. Labels per second at N = 8192 for every provider `post providers --json` lists (CPU backends on one
//!    thread, the fastest CPU backend on every core, each CUDA device).
//! 3. Proving scan GiB/s at 16, 64 and 288 nonces on one thread and on every core (1 GiB in memory).
//! 4. RandomX light-mode hashes per second and the time to verify one k3 = 37 proof at N = 8192.
//! 5. This CPU's ceilings (`post bench ceiling`): AES-128 blocks/s and ChaCha20/8 cores/s on one thread
//!    and on every core, and the scan's and the labeller's ceilings that follow. The label and scan rows
//!    of steps 2 and 3 show their share of the ceiling their own run measured.
//!
//! `--seconds S` sets how long each measurement runs (default 5). Ratios measured in one run are what to
//! compare: shared machines are noisy.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context};

use crate::tools;

struct Row {
    what: String,
    setting: String,
    figure: String,
}

fn post_json(bin: &Path, args: &[&str]) -> anyhow::Result<String> {
    eprintln!("$ post {}", args.join(" "));
    let out = Command::new(bin).args(args).output().with_context(|| format!("running {}", bin.display()))?;
    ensure!(out.status.success(), "post {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The value of `"key": value` in a flat JSON object (the CLI's own, well-formed output).
fn field(json: &str, key: &str) -> String {
    json.split(&format!("\"{key}\":"))
        .nth(1)
        .and_then(|rest| rest.trim_start().split([',', '}']).next())
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| "?".into())
}

/// `figure` with the run's `share_of_ceiling` as a percentage, when it has one.
fn with_share(figure: String, json: &str) -> String {
    match field(json, "share_of_ceiling").parse::<f64>() {
        Ok(share) => format!("{figure} ({:.0} % of ceiling)", 100.0 * share),
        Err(_) => figure,
    }
}

/// Names in the `"cpu": [...]` list and CUDA device ids of `post providers --json`.
fn providers(json: &str) -> (Vec<String>, usize) {
    let cpu = json
        .split("\"cpu\":")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .map(|list| list.split(',').map(|s| s.trim().trim_matches(['[', '"', ' ']).to_string()).collect())
        .unwrap_or_default();
    let devices = json.split("\"devices\":").nth(1).and_then(|rest| rest.split(']').next()).unwrap_or_default();
    (cpu, devices.matches('{').count())
}

fn release_binary() -> anyhow::Result<PathBuf> {
    let status = tools::cargo()?.args(["build", "--release", "--package", "post-cli"]).status()?;
    ensure!(status.success(), "release build failed ({status})");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| tools::root().join("target"), Into::into);
    Ok(Path::new(&target).join("release/post"))
}

/// Runs every benchmark and prints the table.
///
/// # Errors
/// When the build or a benchmark fails.
pub fn bench(args: &[String]) -> anyhow::Result<()> {
    let seconds = match args {
        [] => "5".to_string(),
        [flag, s] if flag == "--seconds" && s.parse::<f64>().is_ok_and(|v| v > 0.0) => s.clone(),
        _ => bail!("usage: cargo xtask bench [--seconds S]"),
    };
    let bin = release_binary()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from).to_string();
    let mut rows = Vec::new();

    let (cpu, gpus) = providers(&post_json(&bin, &["providers", "--json"])?);
    let mut label_runs: Vec<(String, String)> = Vec::new();
    for name in &cpu {
        let provider = if name == "reference" { name.clone() } else { format!("cpu:{name}") };
        label_runs.push((provider, "1".into()));
    }
    label_runs.push(("cpu".into(), cores.clone()));
    label_runs.extend((0..gpus).map(|i| (format!("cuda:{i}"), "1".into())));
    for (provider, threads) in label_runs {
        let json = post_json(
            &bin,
            &["bench", "label", "--provider", &provider, "--threads", &threads, "--seconds", &seconds, "--json"],
        )?;
        rows.push(Row {
            what: "labels/s, N = 8192".into(),
            setting: format!("{provider}, {threads} thread(s)"),
            figure: with_share(
                format!("{:.0}", field(&json, "labels_per_second").parse::<f64>().unwrap_or(f64::NAN)),
                &json,
            ),
        });
    }

    for nonces in ["16", "64", "288"] {
        for threads in ["1", cores.as_str()] {
            let json = post_json(
                &bin,
                &[
                    "bench",
                    "prove",
                    "--data-size",
                    "1",
                    "--nonces",
                    nonces,
                    "--threads",
                    threads,
                    "--seconds",
                    &seconds,
                    "--json",
                ],
            )?;
            rows.push(Row {
                what: "proving GiB/s".into(),
                setting: format!("{nonces} nonces, {threads} thread(s)"),
                figure: with_share(field(&json, "gib_per_second"), &json),
            });
        }
    }

    let json = post_json(&bin, &["bench", "pow", "--mode", "light", "--seconds", &seconds, "--json"])?;
    rows.push(Row {
        what: "RandomX hashes/s".into(),
        setting: format!("light mode, {} thread(s)", field(&json, "threads")),
        figure: field(&json, "hashes_per_second"),
    });
    let json = post_json(&bin, &["bench", "verify", "--seconds", &seconds, "--json"])?;
    rows.push(Row {
        what: "verification ms".into(),
        setting: "k3 = 37, N = 8192, one RandomX light hash".into(),
        figure: field(&json, "ms_per_proof"),
    });

    rows.extend(ceiling_rows(&bin, &cores, &seconds)?);

    println!("| measurement | setting | figure |\n| --- | --- | --- |");
    for row in rows {
        println!("| {} | {} | {} |", row.what, row.setting, row.figure);
    }
    Ok(())
}

/// Step 5: the rows of one `post bench ceiling` run on every core.
fn ceiling_rows(bin: &Path, cores: &str, seconds: &str) -> anyhow::Result<Vec<Row>> {
    let json = post_json(bin, &["bench", "ceiling", "--threads", cores, "--seconds", seconds, "--json"])?;
    let number = |key: &str| field(&json, key).parse::<f64>().unwrap_or(f64::NAN);
    let pair = |key: &str, scale: f64, decimals: usize| {
        format!("{:.decimals$} / {:.decimals$}", number(&format!("{key}_per_thread")) / scale, number(key) / scale)
    };
    let threads = format!("1 / {cores} thread(s)");
    let mut rows = vec![
        Row {
            what: "ceiling: AES-128 M blocks/s".into(),
            setting: format!("{}, {threads}", field(&json, "aes_backend")),
            figure: pair("aes_blocks_per_second", 1e6, 0),
        },
        Row {
            what: "ceiling: ChaCha20/8 M cores/s".into(),
            setting: format!("{}, {threads}", field(&json, "chacha_backend")),
            figure: pair("chacha_cores_per_second", 1e6, 0),
        },
    ];
    for nonces in ["16", "64", "288"] {
        rows.push(Row {
            what: "ceiling: proving GiB/s".into(),
            setting: format!("{nonces} nonces, {threads}"),
            figure: format!(
                "{} / {}",
                field(&json, &format!("scan_ceiling_gib_per_second_per_thread_{nonces}")),
                field(&json, &format!("scan_ceiling_gib_per_second_{nonces}"))
            ),
        });
    }
    rows.push(Row {
        what: "ceiling: labels/s, N = 8192".into(),
        setting: format!("{} ChaCha20/8 cores per label, {threads}", field(&json, "chacha_cores_per_label")),
        figure: pair("label_ceiling_per_second", 1.0, 0),
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cli_json() {
        let json = r#"{"cpu":["reference","avx2"],"cuda":{"devices":[{"id":0},{"id":1}],"driver":null}}"#;
        assert_eq!(providers(json), (vec!["reference".to_string(), "avx2".to_string()], 2));
        let none = r#"{"cpu":["reference"],"cuda":{"devices":[],"driver":null}}"#;
        assert_eq!(providers(none).1, 0);
        assert_eq!(field(r#"{"nonces": 16, "gib_per_second": 1.25}"#, "gib_per_second"), "1.25");
        assert_eq!(field(r#"{"mode": "light"}"#, "mode"), "light");
        let shared = r#"{"gib_per_second": 0.5, "ceiling_gib_per_second": 1.0, "share_of_ceiling": 0.5}"#;
        assert_eq!(with_share("0.5".into(), shared), "0.5 (50 % of ceiling)");
        assert_eq!(with_share("7".into(), r#"{"share_of_ceiling": null}"#), "7");
    }
}
