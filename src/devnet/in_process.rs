//! The devnet inside the calling process, without sockets: the same ledger, natives,
//! checkpoints and `sui.rpc.v2` services as [`super::Devnet`], reached by a [`ChainClient`]
//! whose requests go straight to the services in memory (through `sui-rpc`'s request layer).
//!
//! It exists so that the rules of the node, the proxy and the gas pool are tested in
//! milliseconds against the real execution of the contract and the real client code (request
//! building, error mapping, decoding), with no second, hand-written chain to keep in step with
//! Sui. It has no faucet endpoint: [`InProcess::fund`] calls the faucet's function directly.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sui_sdk_types::Address;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Chain, DevnetError, form_checkpoints, local_chain::FAUCET_AMOUNT, package_id, routes, service};
use crate::chain::ChainClient;

/// A devnet served to this process only.
pub struct InProcess {
    chain: Arc<Chain>,
    routes: tonic::service::Routes,
    shutdown: watch::Sender<bool>,
    checkpoints: JoinHandle<Result<(), DevnetError>>,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess").finish_non_exhaustive()
    }
}

impl InProcess {
    /// Opens the ledger in `data_dir` (replaying it, or creating genesis) and starts forming
    /// checkpoints at most every `checkpoint_interval`, with no finality delay.
    pub async fn open(data_dir: &Path, checkpoint_interval: Duration) -> Result<InProcess, DevnetError> {
        let chain = Chain::open(data_dir).await?;
        let (shutdown, stop) = watch::channel(false);
        let routes = routes(service::Services::new(chain.clone(), stop.clone()));
        let checkpoints = tokio::spawn(form_checkpoints(chain.clone(), stop, checkpoint_interval, Duration::ZERO));
        Ok(InProcess { chain, routes, shutdown, checkpoints })
    }

    /// A client of this devnet for the contract package.
    pub fn client(&self) -> ChainClient {
        ChainClient::in_process(self.routes.clone(), package_id())
    }

    /// Sends `owner` one faucet coin ([`FAUCET_AMOUNT`] MIST), as the faucet endpoint does.
    pub async fn fund(&self, owner: Address) -> Result<(), super::execute::Rejection> {
        self.chain.faucet(owner, FAUCET_AMOUNT).await.map(|_| ())
    }

    /// Its services, for a client that stands a misbehaving full node in front of them.
    pub fn routes(&self) -> tonic::service::Routes {
        self.routes.clone()
    }

    /// The chain, for inspection.
    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.checkpoints.abort();
    }
}
