//! `post k2pow-service`: the k2pow worker of spec §8, a drop-in for the network's `k2pow-service`
//! (same routes, status codes and flags) that proving services reach with `--remote-k2pow`.
//!
//! 1. Bind `--bind-address` (the bound address is logged, so port 0 works).
//! 2. Build RandomX once (`--randomx-mode`, on `--cores` threads) on the worker thread, while requests
//!    are already answered; every job then reuses it.
//! 3. Serve until SIGTERM/SIGINT: jobs then get 503, the running search is cancelled, exit 0.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use post_proof::{CancelToken, PowProver, RandomXMode, RandomXPow};
use post_service::{serve_k2pow, K2PowServiceConfig, PowProverFactory};

use crate::shutdown_signal::terminated;

/// Run the k2pow service: RandomX proof of work for remote proving services over HTTP (spec §8).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one; the bound address is logged).
    #[arg(short = 'b', long, default_value = "0.0.0.0:3000")]
    bind_address: SocketAddr,
    /// Threads for the search (0 = one per core).
    #[arg(long, default_value_t = 0)]
    cores: usize,
    /// RandomX mode: fast (2 GiB dataset, built once at start) or light (256 MiB, about 10x slower).
    #[arg(long, value_enum, default_value_t = Mode::Fast)]
    randomx_mode: Mode,
    /// Put RandomX's cache or dataset in large pages where the system has them reserved (faster hashing);
    /// falls back to normal pages with a warning.
    #[arg(long)]
    randomx_large_pages: bool,
    /// Finished results kept at most; the oldest go first.
    #[arg(long, default_value_t = 1024)]
    result_cache_size: usize,
    /// How long a finished result is kept (s, m, h, d, w: `30m`, `1h`).
    #[arg(long, default_value = "1h", value_parser = post_service::parse_duration)]
    result_cache_age: Duration,
}

/// `--randomx-mode`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Fast,
    Light,
}

/// Runs the service until a signal; exit code 0 after a clean shutdown.
///
/// # Errors
/// The address cannot be bound, RandomX cannot be set up, or the server fails.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mode = match args.randomx_mode {
        Mode::Fast => RandomXMode::Fast,
        Mode::Light => RandomXMode::Light,
    };
    let large_pages = args.randomx_large_pages;
    let config = K2PowServiceConfig {
        threads: args.cores,
        result_cache_size: args.result_cache_size,
        result_cache_age: args.result_cache_age,
        ..K2PowServiceConfig::default()
    };
    let factory: PowProverFactory = Box::new(move || {
        let pow = if large_pages {
            let pow = RandomXPow::new_with_large_pages(mode, &CancelToken::new(), &|_, _| {})?;
            if pow.large_pages() {
                tracing::info!("k2pow-service: RandomX {} memory in large pages", mode.name());
            } else {
                tracing::warn!(
                    "k2pow-service: --randomx-large-pages: the system gave no large pages (reserve them with \
                     `sysctl vm.nr_hugepages=1280` for fast mode, 160 for light); using normal pages"
                );
            }
            pow
        } else {
            RandomXPow::new(mode)?
        };
        Ok(Arc::new(pow) as Arc<dyn PowProver>)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind_address)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind_address))?;
        let address = listener.local_addr().context("reading the bound address")?;
        tracing::info!(
            "k2pow service listening on {address} (RandomX {}, {} search threads; building RandomX now)",
            mode.name(),
            if args.cores == 0 { "all".to_string() } else { args.cores.to_string() }
        );
        serve_k2pow(listener, config, factory, terminated()).await.context("k2pow service")
    })?;
    tracing::info!("k2pow service stopped");
    Ok(ExitCode::SUCCESS)
}
