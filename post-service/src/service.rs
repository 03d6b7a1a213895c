//! The proving service put together: start-up checks, the shared state, the prover thread, the operator
//! API and the node client.
//!
//! ```text
//! Service::start (blocking, before any network):
//!   1. check the node address and read the TLS files
//!   2. open and check the data directory (startup_checks), keep it open under the shared lock
//!   3. start the prover thread (its pool, pinned or not)
//! Service::run (async):
//!   4. bind the operator API, when asked
//!   5. serve the node until `stop` resolves (signal, watched process gone) or the client gives up
//! Service::shutdown (blocking):
//!   6. cancel the running proof (its progress stays on disk) and join the prover thread
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::answer::Answerer;
use crate::node_client::{self, ClientConfig};
use crate::prover_thread::{ProverThread, ProvingConfig};
use crate::service_state::ServiceState;
use crate::startup_checks::{self, DataLimits};
use crate::{Error, Stopped};

/// Everything `post serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The data directory.
    pub dir: PathBuf,
    /// The node and how to dial it.
    pub client: ClientConfig,
    /// Where the operator API listens, if anywhere.
    pub operator_address: Option<SocketAddr>,
    /// What the data must satisfy.
    pub limits: DataLimits,
    /// How to prove.
    pub proving: ProvingConfig,
}

/// A started service.
#[derive(Debug)]
pub struct Service {
    config: ServiceConfig,
    answerer: Answerer,
    state: Arc<ServiceState>,
}

impl Service {
    /// Steps 1-3 of the module doc.
    ///
    /// # Errors
    /// A refusal of the start-up checks ([`Error::Data`], [`Error::NoVrfNonce`],
    /// [`Error::UnitsOutOfRange`], [`Error::ScryptMismatch`]), a bad address or TLS file, a nonce
    /// count that is not a positive multiple of 16 up to 4096, or a prover thread that cannot start.
    pub fn start(config: ServiceConfig) -> Result<Self, Error> {
        let nonces = config.proving.nonces;
        if nonces == 0 || !nonces.is_multiple_of(16) || nonces > 4096 {
            return Err(Error::Param {
                name: "--nonces",
                reason: format!("{nonces} is not a positive multiple of 16 up to 4096"),
            });
        }
        // Step 1.
        node_client::endpoint(&config.client)?;
        // Step 2.
        let data = startup_checks::open_checked(&config.dir, &config.limits)?;
        let meta = data.metadata().clone();
        tracing::info!(
            "serving {} to the node at {}: node id {}, {} units of {} labels, VRF nonce {:?}, {} nonces per pass, \
             k2pow by {:?}",
            config.dir.display(),
            config.client.address,
            hex::encode(meta.node_id.as_bytes()),
            meta.num_units,
            meta.labels_per_unit,
            meta.nonce,
            nonces,
            config.proving.pow,
        );
        // Step 3.
        let state = Arc::new(ServiceState::new());
        let prover = ProverThread::spawn(data, config.proving.clone(), state.clone())?;
        let answerer = Answerer::new(&meta, state.clone(), prover)?;
        Ok(Service { config, answerer, state })
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<ServiceState> {
        &self.state
    }

    /// Steps 4-5: serves until `stop` resolves (`Ok(how)`) or the client gives up (`Err`).
    ///
    /// # Errors
    /// [`Error::OperatorBind`] for the operator API; [`Error::GaveUp`] after `--max-retries`.
    pub async fn run(&self, stop: impl Future<Output = Stopped>) -> Result<Stopped, Error> {
        // Step 4.
        let api = match self.config.operator_address {
            Some(address) => {
                let (bound, server) =
                    crate::operator_api::bind(address, self.state.clone(), self.config.proving.nonces).await?;
                tracing::info!("operator API listening on http://{bound} (/status, /status/detail, /metrics)");
                Some(tokio::spawn(server))
            }
            None => None,
        };
        // Step 5.
        let result = tokio::select! {
            how = stop => Ok(how),
            result = node_client::serve_node(&self.config.client, &self.answerer) => result.map(|()| Stopped::Signal),
        };
        if let Some(api) = api {
            api.abort();
        }
        result
    }

    /// Step 6.
    pub fn shutdown(mut self) {
        self.answerer.shutdown();
    }
}
