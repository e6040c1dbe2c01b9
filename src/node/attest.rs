//! The node's attestation: a document from the AWS Nitro Security Module naming the node's
//! signing key (`public_key`), its sealing key (`user_data`) and the cluster (`nonce`), then
//! `cluster::register_attested_node` with it, signed and paid by the node itself.
//!
//! Only [`Nsm::attest`] needs an enclave; it is behind the [`Attester`] trait, and everything
//! else (what is asked, what a document must say before it is sent, the outcome) is tested with
//! other attesters. This module does not verify the document's signature: the chain does.

use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;

use super::keys::NodeKeys;
use crate::chain::{ChainClient, ChainError, DEFAULT_GAS_BUDGET};
use crate::contract::Contract;
use crate::contract::objects::Cluster;

/// What the node asks the Nitro Security Module to attest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The node's Ed25519 public key: its address on chain.
    pub public_key: [u8; 32],
    /// The node's X25519 sealing key, so that the chain binds it to the enclave.
    pub user_data: [u8; 32],
    /// The cluster's id: the document registers on that cluster only.
    pub nonce: [u8; 32],
}

impl Challenge {
    /// The challenge of `keys` for `cluster`.
    pub fn new(keys: &NodeKeys, cluster: Address) -> Challenge {
        Challenge {
            public_key: *keys.signing.public_key().inner(),
            user_data: keys.sealing.public_key().to_bytes(),
            nonce: cluster.into_inner(),
        }
    }
}

/// What can go wrong attesting.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// No Nitro Security Module here.
    #[error("not inside an AWS Nitro enclave ({0})")]
    NotInEnclave(String),
    /// The Nitro Security Module refused or answered otherwise.
    #[error("the Nitro Security Module: {0}")]
    Nsm(String),
    /// The document does not say what was asked.
    #[error("the attestation document does not carry what the node asked for: {0}")]
    Mismatch(&'static str),
    /// The chain failed or refused.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Obtains attestation documents.
pub trait Attester {
    /// A signed document (COSE_Sign1) carrying `challenge`.
    fn attest(&self, challenge: &Challenge) -> Result<Vec<u8>, AttestError>;
}

/// The Nitro Security Module of the enclave this runs in (`/dev/nsm`).
#[derive(Debug, Default)]
pub struct Nsm;

impl Attester for Nsm {
    fn attest(&self, challenge: &Challenge) -> Result<Vec<u8>, AttestError> {
        use aws_nitro_enclaves_nsm_api::api::{Request, Response};
        use aws_nitro_enclaves_nsm_api::driver;
        if !std::path::Path::new("/dev/nsm").exists() {
            return Err(AttestError::NotInEnclave("no /dev/nsm".into()));
        }
        let fd = driver::nsm_init();
        if fd < 0 {
            return Err(AttestError::NotInEnclave("/dev/nsm cannot be opened".into()));
        }
        let request = Request::Attestation {
            user_data: Some(challenge.user_data.to_vec().into()),
            nonce: Some(challenge.nonce.to_vec().into()),
            public_key: Some(challenge.public_key.to_vec().into()),
        };
        let response = driver::nsm_process_request(fd, request);
        driver::nsm_exit(fd);
        match response {
            Response::Attestation { document } => Ok(document),
            Response::Error(code) => Err(AttestError::Nsm(format!("{code:?}"))),
            other => Err(AttestError::Nsm(format!("unexpected answer {other:?}"))),
        }
    }
}

/// Checks that `document` carries `challenge` (key, sealing key, cluster) before it is sent:
/// the chain would register whatever key a valid document names.
pub fn check(document: &[u8], challenge: &Challenge) -> Result<(), AttestError> {
    let (_, _, doc) = fastcrypto::nitro_attestation::parse_nitro_attestation(document, true, true, true)
        .map_err(|e| AttestError::Nsm(format!("its document does not parse: {e}")))?;
    if doc.public_key.as_deref() != Some(&challenge.public_key[..]) {
        return Err(AttestError::Mismatch("its public_key is not the node's signing key"));
    }
    if doc.user_data.as_deref() != Some(&challenge.user_data[..]) {
        return Err(AttestError::Mismatch("its user_data is not the node's sealing key"));
    }
    if doc.nonce.as_deref() != Some(&challenge.nonce[..]) {
        return Err(AttestError::Mismatch("its nonce is not the cluster's id"));
    }
    Ok(())
}

/// The outcome of [`attest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The node's address.
    pub node: Address,
    /// The PCRs of the measurement it matched.
    pub pcrs: Vec<crate::contract::objects::Pcr>,
}

/// Obtains a document from `attester` and registers the node with it on `cluster`.
pub async fn attest(
    client: &mut ChainClient,
    keys: &NodeKeys,
    cluster: Address,
    attester: &dyn Attester,
) -> Result<Attested, AttestError> {
    let challenge = Challenge::new(keys, cluster);
    let document = attester.attest(&challenge)?;
    check(&document, &challenge)?;
    let owner = keys.address();
    let mut tx = TransactionBuilder::new();
    let cluster_arg = client.object_arg(cluster).await?;
    Contract::new(client.package())
        .register_attested_node(&mut tx, cluster_arg, &document)
        .map_err(|e| AttestError::Nsm(format!("its document cannot be sent: {e}")))?;
    client.execute_settled_with_own_coin(tx, &keys.signing, DEFAULT_GAS_BUDGET).await?;
    let object: Cluster = client.move_object(cluster).await?;
    let pcrs = object.node(&owner).map(|n| n.enclave.clone()).unwrap_or_default();
    Ok(Attested { node: owner, pcrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorded(Vec<u8>);

    impl Attester for Recorded {
        fn attest(&self, _: &Challenge) -> Result<Vec<u8>, AttestError> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn outside_an_enclave_the_nsm_says_so() {
        if std::path::Path::new("/dev/nsm").exists() {
            return; // inside an enclave: nothing to show here
        }
        let keys = NodeKeys::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        let err = Nsm.attest(&Challenge::new(&keys, Address::ZERO)).unwrap_err();
        assert!(matches!(err, AttestError::NotInEnclave(_)), "{err}");
    }

    #[test]
    fn a_document_for_another_key_is_not_sent() {
        let keys = NodeKeys::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        let challenge = Challenge::new(&keys, Address::ZERO);
        assert!(matches!(check(b"not a document", &challenge), Err(AttestError::Nsm(_))));
        // A real document (../shared/nitro), made for another enclave's key.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/nitro/weather_att.hex");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("SKIPPED the recorded half: no {}", path.display());
            return;
        };
        let document: Vec<u8> = (0..text.trim().len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text.trim()[i..i + 2], 16).unwrap())
            .collect();
        let err = Recorded(document.clone()).attest(&challenge).and_then(|d| check(&d, &challenge)).unwrap_err();
        assert!(matches!(err, AttestError::Mismatch(m) if m.contains("public_key")), "{err}");
    }
}
