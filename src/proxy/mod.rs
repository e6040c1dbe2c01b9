//! The proxy's chain round trip: a Kubernetes request sealed, submitted to the contract, and
//! its sealed response collected from the checkpoint stream and opened.
//!
//! This module owns the client side of the request path. The localhost HTTPS server that
//! feeds it from kubectl comes with the proxy issue; [`RoundTrip`] is what it calls for each
//! request, and what tests and benchmarks use as a client would.

use std::time::Duration;

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{Address, ObjectReference};
use sui_transaction_builder::TransactionBuilder;
use tokio::sync::{Mutex, mpsc};

use crate::chain::{ChainClient, ChainError};
use crate::contract::calls::{MAX_CHUNK_LEN, Submission};
use crate::contract::events::{RequestSubmitted, ResponseChunk, ResponseStored};
use crate::contract::objects::MoveType;
use crate::contract::{Contract, ObjectArg, Verb};
use crate::envelope::{
    Binding, EnvelopeError, PublicKey, Reassembly, RequestAttributes, RequestEnvelope, ResponseEnvelope, Sealed,
    SecretKey,
};

/// Chunks carried by the `submit` transaction itself; the rest go in `upload`s of 7.
const FIRST_CHUNKS: usize = 6;
const UPLOAD_CHUNKS: usize = 7;

/// Largest response accepted (decompressed): bigger than any object the API server returns.
pub const MAX_RESPONSE_BODY: usize = 256 * 1024 * 1024;

/// Why a round trip failed.
#[derive(Debug, thiserror::Error)]
pub enum RoundTripError {
    /// The request is not a resource request.
    #[error(transparent)]
    Attributes(#[from] crate::envelope::AttributesError),
    /// Sealing or opening failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// No node answered in time.
    #[error("no response from node {node} of cluster {cluster} within {waited:?}")]
    Timeout {
        /// The node.
        node: Address,
        /// The cluster.
        cluster: Address,
        /// How long.
        waited: Duration,
    },
}

/// One requester's way to one cluster's node.
#[derive(Debug)]
pub struct RoundTrip {
    /// Chain client.
    pub client: ChainClient,
    /// The requester's key.
    pub key: Ed25519PrivateKey,
    /// The cluster.
    pub cluster: Address,
    /// The cluster as a call argument.
    pub cluster_arg: ObjectArg,
    /// The requester's token as a call argument.
    pub token_arg: ObjectArg,
    /// The node addressed.
    pub node: Address,
    /// The node's sealing key.
    pub node_key: PublicKey,
    /// The requester's gas coin.
    pub gas: Mutex<ObjectReference>,
    /// How long to wait for a response.
    pub timeout: Duration,
}

impl RoundTrip {
    /// Seals `request`, submits it, and waits for the node's answer.
    pub async fn call(&self, request: &RequestEnvelope) -> Result<ResponseEnvelope, RoundTripError> {
        let attributes = RequestAttributes::from_http(&request.method, &request.path)?;
        self.call_with_attributes(request, attributes).await
    }

    /// As [`RoundTrip::call`], publishing `attributes` as the audit metadata. Only a client
    /// that lies about its request would pass others than the request's own; the node
    /// refuses those, and tests check it does.
    pub async fn call_with_attributes(
        &self,
        request: &RequestEnvelope,
        attributes: RequestAttributes,
    ) -> Result<ResponseEnvelope, RoundTripError> {
        let requester = self.key.public_key().derive_address();
        let reply = SecretKey::generate();
        let binding = Binding::Request { cluster: self.cluster, requester, audit: attributes.digest() };
        let sealed = Sealed::seal(request, &self.node_key, &binding)?;
        let chunks = sealed.chunks(MAX_CHUNK_LEN);
        let mut client = self.client.clone();
        let start = client.latest_checkpoint().await?;
        let contract = Contract::new(client.package());
        let submission = Submission {
            node: self.node,
            sealing_key: self.node_key.to_bytes().to_vec(),
            reply_key: reply.public_key().to_bytes().to_vec(),
            verb: Verb::from_code(attributes.verb).expect("attributes carry a verb"),
            group: attributes.group,
            resource: attributes.resource,
            namespace: attributes.namespace,
            name: attributes.name,
            body_len: sealed.0.len() as u64,
            body_digest: sealed.digest(),
            chunk_count: chunks.len() as u32,
            chunks: chunks.iter().take(FIRST_CHUNKS).cloned().collect(),
        };
        let mut tx = TransactionBuilder::new();
        contract.submit(&mut tx, self.cluster_arg, self.token_arg, &submission).expect("submit matches its signature");
        let submitted = self.execute(&mut client, tx).await?;
        let request_id = submitted.events_of::<RequestSubmitted>()[0].request_id;
        if chunks.len() > FIRST_CHUNKS {
            let request_arg = client.object_arg(request_id).await?;
            for batch in chunks[FIRST_CHUNKS..].chunks(UPLOAD_CHUNKS) {
                let mut tx = TransactionBuilder::new();
                contract.upload(&mut tx, request_arg, batch.to_vec()).expect("upload matches its signature");
                self.execute(&mut client, tx).await?;
            }
        }
        let sealed = tokio::time::timeout(self.timeout, self.response(client, start, request_id))
            .await
            .map_err(|_| RoundTripError::Timeout { node: self.node, cluster: self.cluster, waited: self.timeout })??;
        let binding = Binding::Response { cluster: self.cluster, request: request_id };
        Ok(sealed.open(&reply, &binding, MAX_RESPONSE_BODY)?)
    }

    async fn execute(
        &self,
        client: &mut ChainClient,
        tx: TransactionBuilder,
    ) -> Result<crate::chain::Executed, ChainError> {
        let mut gas = self.gas.lock().await;
        let id = *gas.object_id();
        let result = client.execute(tx, &self.key, gas.clone()).await;
        match &result {
            Ok(executed) => *gas = executed.written(id).expect("the gas coin is written"),
            Err(_) => {
                let o = client.object(id).await?;
                *gas = ObjectReference::new(id, o.version(), o.digest());
            }
        }
        result
    }

    /// Follows checkpoints from `start` until the response to `request` is complete.
    async fn response(&self, client: ChainClient, start: u64, request: Address) -> Result<Sealed, RoundTripError> {
        let (tx, mut rx) = mpsc::channel(64);
        let follower = tokio::spawn(crate::node::follow::follow(client.clone(), client.package(), start, tx));
        let mut chunks: Option<Reassembly> = None;
        let mut early: Vec<ResponseChunk> = Vec::new();
        let result = loop {
            let Some(checkpoint) = rx.recv().await else {
                break Err(RoundTripError::Chain(ChainError::Missing { what: "checkpoint stream" }));
            };
            for e in checkpoint.events {
                let name = e.type_.name().as_str();
                if name == ResponseStored::NAME {
                    let stored: ResponseStored = match bcs::from_bytes(&e.contents) {
                        Ok(s) => s,
                        Err(_) => continue,
                    };
                    if stored.request_id == request {
                        let digest = stored.body_digest.clone().try_into().unwrap_or([0; 32]);
                        chunks = Some(Reassembly::new(stored.chunk_count, stored.body_len, digest));
                    }
                } else if name == ResponseChunk::NAME
                    && let Ok(chunk) = bcs::from_bytes::<ResponseChunk>(&e.contents)
                    && chunk.request_id == request
                {
                    early.push(chunk);
                }
            }
            if let Some(r) = chunks.as_mut() {
                for c in early.drain(..) {
                    r.add(c.index, c.data)?;
                }
                if r.is_complete() {
                    break Ok(chunks.take().expect("set").finish()?);
                }
            }
        };
        follower.abort();
        result
    }
}
