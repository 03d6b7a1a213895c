//! `post serve`: the PoST proving service of a Spacemesh node, with the network's `post-service`
//! command line (spec §5), so that the same arguments work for `post serve` and for the `post-service`
//! binary a supervising node starts.
//!
//! 1. Parse and check the flags (an `http://` address with TLS flags, a scheme other than http(s), and
//!    `--threads` with `--pinned-cores` are refused here).
//! 2. Start the service: the data directory is checked and held under a shared lock.
//! 3. Serve until SIGTERM/SIGINT, the `--watch-pid` process ending (exit 0), or `--max-retries` failed
//!    connects in a row (exit 2, naming the address). Logs go to stderr; stdout stays empty.
//!
//! This file is also compiled into the `post-service` binary (`src/bin/post-service.rs`), so it uses
//! nothing of the `post` binary's other modules.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use post_core::{ScryptParams, MAINNET_POW_DIFFICULTY};
use post_proof::{RandomXMode, CHECKPOINT_EVERY};
use post_service::{
    ClientConfig, DataLimits, NodeAddress, PowSource, ProvingConfig, ProvingThreads, RemoteK2Pow, RemoteK2PowConfig,
    Service, ServiceConfig, Stopped,
};

/// Serve proofs to a Spacemesh node: dial the node's PoST gRPC listener, register this identity and
/// answer its proof requests; reconnects forever. Accepts the network's `post-service` command line.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory (completely initialized, with a VRF nonce).
    #[arg(short = 'd', long)]
    dir: PathBuf,
    /// The node's PoST listener: http://host:port or https://host:port (no scheme: http).
    #[arg(short = 'a', long)]
    address: String,
    /// Seconds to wait after a failed connect and after each disconnect.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    reconnect_interval_s: u64,
    /// Give up after this many failed connects in a row (refusals by the node never count). Default:
    /// never.
    #[arg(long)]
    max_retries: Option<u32>,
    /// Exit (code 0) when this process is gone; checked every second (supervised mode).
    #[arg(long, value_name = "PID")]
    watch_pid: Option<u32>,
    /// Serve the operator API (/status, /status/detail, /metrics) on this address, e.g. 127.0.0.1:50051.
    #[arg(long, value_name = "ADDR")]
    operator_address: Option<SocketAddr>,
    /// Refuse to start with fewer units than this.
    #[arg(long, default_value_t = 4)]
    min_num_units: u32,
    /// Refuse to start with more units than this.
    #[arg(long, default_value_t = u32::MAX)]
    max_num_units: u32,
    /// Expected good labels per nonce.
    #[arg(long, default_value_t = 26)]
    k1: u32,
    /// Good labels in a proof.
    #[arg(long, default_value_t = 37)]
    k2: u32,
    /// The k2 proof-of-work difficulty for one unit, 64 hex digits (mainnet's by default).
    #[arg(long, value_parser = hex32, value_name = "HEX32", default_value = MAINNET_HEX)]
    pow_difficulty: [u8; 32],
    /// Scrypt N the data was initialized with.
    #[arg(short = 'n', long = "scrypt-n", default_value_t = 8192, value_name = "N")]
    n: u64,
    /// Scrypt r.
    #[arg(short = 'r', long = "scrypt-r", default_value_t = 1, value_name = "R")]
    r: u64,
    /// Scrypt p.
    #[arg(short = 'p', long = "scrypt-p", default_value_t = 1, value_name = "P")]
    p: u64,
    /// Proving threads (0: one per core).
    #[arg(long, default_value_t = 1, conflicts_with = "pinned_cores")]
    threads: usize,
    /// Prove with one thread pinned to each of these cores (comma list, e.g. 0,2,4).
    #[arg(long, value_delimiter = ',', value_name = "CORES")]
    pinned_cores: Option<Vec<usize>>,
    /// Nonces per pass over the data, a multiple of 16 up to 4096.
    #[arg(long, default_value_t = 128)]
    nonces: u32,
    /// RandomX mode for the k2 proof of work: fast (2 GiB dataset) or light (256 MiB, slower).
    #[arg(long, value_parser = randomx_mode, default_value = "fast", value_name = "fast|light")]
    randomx_mode: RandomXMode,
    /// The CA certificate that signed the node's certificate (PEM; https:// only).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// This service's client certificate (PEM; https:// only).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The key of the client certificate (PEM; https:// only).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// The name checked against the node's certificate (default: the host of --address).
    #[arg(long)]
    domain: Option<String>,
    /// Offload the k2 proof of work to a k2pow service at this URL (e.g. http://k2pow:3000).
    #[arg(long, value_name = "URL")]
    remote_k2pow: Option<String>,
    /// Nonce groups asked of the k2pow service at the same time.
    #[arg(long, default_value_t = 5)]
    remote_k2pow_parallelism: usize,
    /// Seconds between polls of a k2pow job that is not ready (201, 429) or failed.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    remote_k2pow_backoff: u64,
    /// Seconds between saves of the proof job's scan position (tests make it short).
    #[arg(long, default_value_t = CHECKPOINT_EVERY.as_secs_f64(), hide = true)]
    checkpoint_secs: f64,
}

const MAINNET_HEX: &str = "000dfb23b0979b4b000000000000000000000000000000000000000000000000";

fn hex32(text: &str) -> Result<[u8; 32], String> {
    post_core::parse_hex32("value", text).map_err(|e| match e {
        post_core::Error::InvalidParam { reason, .. } => reason,
        other => other.to_string(),
    })
}

fn randomx_mode(text: &str) -> Result<RandomXMode, String> {
    match text {
        "fast" => Ok(RandomXMode::Fast),
        "light" => Ok(RandomXMode::Light),
        other => Err(format!("{other:?} is not a RandomX mode; use fast or light")),
    }
}

/// Runs the service.
///
/// # Errors
/// A refused start-up (bad address or TLS flags, a data directory the node cannot use) or `--max-retries`
/// failed connects in a row.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Step 1.
    debug_assert_eq!(hex32(MAINNET_HEX).ok(), Some(MAINNET_POW_DIFFICULTY));
    let config = config(&args)?;
    // Step 2.
    let service = Service::start(config).context("post serve")?;
    // Step 3.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("serve-io")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let watch_pid = args.watch_pid;
    let result = runtime.block_on(service.run(async move {
        let watched = async {
            match watch_pid {
                Some(pid) => post_service::process_gone(pid).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown_signal() => Stopped::Signal,
            () = watched => Stopped::WatchedProcessGone,
        }
    }));
    match &result {
        Ok(Stopped::Signal) => tracing::info!("stopping: signal received"),
        Ok(Stopped::WatchedProcessGone) => {
            tracing::info!("stopping: the watched process {} is gone", args.watch_pid.unwrap_or_default())
        }
        Err(_) => {}
    }
    service.shutdown();
    runtime.shutdown_timeout(Duration::from_secs(1));
    result.context("post serve")?;
    Ok(ExitCode::SUCCESS)
}

fn config(args: &Args) -> anyhow::Result<ServiceConfig> {
    let address = NodeAddress::parse(
        &args.address,
        args.ca_cert.as_deref(),
        args.cert.as_deref(),
        args.key.as_deref(),
        args.domain.as_deref(),
    )?;
    let scrypt = ScryptParams::new(args.n, args.r, args.p).context("-n -r -p")?;
    anyhow::ensure!(
        args.checkpoint_secs.is_finite() && args.checkpoint_secs > 0.0,
        "--checkpoint-secs {} is not positive",
        args.checkpoint_secs
    );
    let threads = match &args.pinned_cores {
        Some(cores) if cores.is_empty() => anyhow::bail!("--pinned-cores: give at least one core"),
        Some(cores) => ProvingThreads::Pinned(cores.clone()),
        None => ProvingThreads::Count(args.threads),
    };
    let pow = match &args.remote_k2pow {
        Some(url) => {
            let mut remote = RemoteK2PowConfig::new(url.as_str());
            remote.parallelism = args.remote_k2pow_parallelism;
            remote.backoff = Duration::from_secs(args.remote_k2pow_backoff);
            PowSource::Given(Arc::new(RemoteK2Pow::new(remote).context("--remote-k2pow")?))
        }
        None => PowSource::Local(args.randomx_mode),
    };
    Ok(ServiceConfig {
        dir: args.dir.clone(),
        client: ClientConfig {
            address,
            reconnect_interval: Duration::from_secs(args.reconnect_interval_s),
            max_retries: args.max_retries,
        },
        operator_address: args.operator_address,
        limits: DataLimits { min_num_units: args.min_num_units, max_num_units: args.max_num_units, scrypt },
        proving: ProvingConfig {
            k1: args.k1,
            k2: args.k2,
            pow_difficulty: args.pow_difficulty,
            nonces: args.nonces,
            scrypt,
            threads,
            pow,
            checkpoint_every: Duration::from_secs_f64(args.checkpoint_secs),
        },
    })
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
