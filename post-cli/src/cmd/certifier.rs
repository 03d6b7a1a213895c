//! `post certifier`: the certifier of spec §9, a drop-in for the network's `certifier` (same YAML keys,
//! `CERTIFIER_*` environment overrides, `generate-keys` output), verifying with the strict verifier.
//!
//! 1. `generate-keys`: print a fresh ed25519 key pair as JSON and stop.
//! 2. Read `--config` (default `$CERTIFIER_CONFIG_PATH`, then `config.yml`); every `CERTIFIER_<KEY>`
//!    variable replaces a top-level key (`CERTIFIER_POST_CFG__K1` a nested one).
//! 3. Build the verifier (RandomX, light by default) before listening, so the first request is served
//!    at full speed; bind `listen` (and `metrics`), log the addresses and the public key.
//! 4. Serve until SIGTERM/SIGINT; requests in progress are finished; exit 0.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use post_service::{Certifier, CertifierConfig, CertifierKeys};

use crate::shutdown_signal::terminated;

/// Run the certifier: verify PoST proofs and sign certificates for PoETs (spec §9).
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// The YAML configuration (default: $CERTIFIER_CONFIG_PATH, then config.yml).
    #[arg(short, long)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Generate a key pair and print it as JSON ({"public_key", "secret_key"}, base64).
    GenerateKeys,
}

/// The environment variable naming the configuration file.
const CONFIG_PATH_VAR: &str = "CERTIFIER_CONFIG_PATH";
/// The prefix of configuration overrides.
const OVERRIDE_PREFIX: &str = "CERTIFIER_";

/// Runs the certifier until a signal, or prints keys.
///
/// # Errors
/// An unreadable or invalid configuration, RandomX set-up, an address that cannot be bound.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Step 1.
    if let Some(Sub::GenerateKeys) = args.command {
        println!("{}", CertifierKeys::generate().to_json_pretty());
        return Ok(ExitCode::SUCCESS);
    }
    // Step 2.
    let path = args
        .config
        .or_else(|| std::env::var_os(CONFIG_PATH_VAR).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("config.yml"));
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let overrides: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| name != CONFIG_PATH_VAR)
        .filter_map(|(name, value)| name.strip_prefix(OVERRIDE_PREFIX).map(|key| (key.to_ascii_lowercase(), value)))
        .collect();
    for (key, _) in &overrides {
        tracing::info!("configuration key {key} set from {OVERRIDE_PREFIX}{}", key.to_ascii_uppercase());
    }
    let config = CertifierConfig::from_yaml(&text, &overrides).with_context(|| format!("{}", path.display()))?;
    tracing::info!("{config:?}");
    // Step 3.
    let (listen, metrics) = (config.listen, config.metrics);
    let expiration = config.certificate_expiration;
    let certifier = Certifier::new(config).context("setting up the verifier")?;
    let public_key = certifier.public_key_base64();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let metrics_listener = match metrics {
            Some(address) => Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {address}"))?,
            ),
            None => None,
        };
        if let Some(l) = &metrics_listener {
            tracing::info!("certifier metrics on http://{}/metrics", l.local_addr()?);
        }
        match expiration {
            Some(valid) => tracing::info!("certificates expire {} s after they are issued", valid.as_secs()),
            None => tracing::info!("certificates do not expire"),
        }
        tracing::info!("certifier listening on {} with public key {public_key}", listener.local_addr()?);
        // Step 4.
        certifier.serve(listener, metrics_listener, terminated()).await.context("certifier")
    })?;
    tracing::info!("certifier stopped");
    Ok(ExitCode::SUCCESS)
}
