//! `cluster.move`: the cluster object, its policy, its nodes, its version.

use sui_sdk_types::{Address, ExecutionError, Owner};

use super::super::session::Document;
use super::Call;
use super::KEY_LENGTH;
use crate::contract::Abort;
use crate::contract::CONTRACT_VERSION;
use crate::contract::events::*;
use crate::contract::objects::*;
use crate::contract::{Role, access};

pub(super) fn policy_from(c: &Call<'_>, first: usize) -> Result<Policy, ExecutionError> {
    let policy = Policy {
        min_write_stake: c.pure(first)?,
        token_lifetime_ms: c.pure(first + 1)?,
        unstake_lock_ms: c.pure(first + 2)?,
        allow_debug_nodes: c.pure(first + 3)?,
        self_service_role: c.pure(first + 4)?,
        slashing_enabled: c.pure(first + 5)?,
        protected_namespaces: access::default_protected_namespaces(),
        enclaves: vec![],
        require_attestation_nonce: true,
        auditors: vec![],
    };
    c.ensure(policy.token_lifetime_ms > 0 && policy.self_service_role <= Role::Admin.code(), Abort::EInvalidPolicy)?;
    Ok(policy)
}

pub(super) fn policy_event(cluster: &Cluster) -> PolicyChanged {
    let p = &cluster.policy;
    PolicyChanged {
        cluster_id: cluster.id,
        min_write_stake: p.min_write_stake,
        token_lifetime_ms: p.token_lifetime_ms,
        unstake_lock_ms: p.unstake_lock_ms,
        allow_debug_nodes: p.allow_debug_nodes,
        self_service_role: p.self_service_role,
        slashing_enabled: p.slashing_enabled,
    }
}

pub(super) fn assert_admin(c: &Call<'_>, cap: &ClusterAdminCap, cluster: &Cluster) -> Result<(), ExecutionError> {
    c.ensure(cap.cluster_id == cluster.id, Abort::ENotClusterAdmin)
}

pub(super) fn create_cluster(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let name: String = c.pure(0)?;
    let policy = policy_from(c, 1)?;
    let cluster = Cluster {
        id: c.session.fresh_id(),
        name,
        policy,
        nodes: VecMap { contents: vec![] },
        version: CONTRACT_VERSION,
    };
    let cap = ClusterAdminCap { id: c.session.fresh_id(), cluster_id: cluster.id };
    c.emit(&ClusterCreated { cluster_id: cluster.id, name: cluster.name.clone(), admin: c.sender() });
    c.emit(&policy_event(&cluster));
    c.create(cap.id, &cap, Owner::Address(c.sender()));
    c.create(cluster.id, &cluster, Owner::Shared(0));
    Ok(())
}

pub(super) fn set_policy(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    assert_admin(c, &cap, &cluster)?;
    let kept = std::mem::replace(&mut cluster.policy, policy_from(c, 2)?);
    cluster.policy.protected_namespaces = kept.protected_namespaces;
    cluster.policy.enclaves = kept.enclaves;
    cluster.policy.require_attestation_nonce = kept.require_attestation_nonce;
    cluster.policy.auditors = kept.auditors;
    c.emit(&policy_event(&cluster));
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn set_protected_namespaces(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let namespaces: Vec<String> = c.pure(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(namespaces.iter().all(|n| !n.is_empty() && n != "*"), Abort::EInvalidPolicy)?;
    cluster.policy.protected_namespaces = namespaces.clone();
    c.emit(&ProtectedNamespacesChanged { cluster_id: cluster.id, namespaces });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn set_attestation_nonce_required(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let required: bool = c.pure(2)?;
    assert_admin(c, &cap, &cluster)?;
    cluster.policy.require_attestation_nonce = required;
    c.emit(&AttestationNonceChanged { cluster_id: cluster.id, required });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn set_auditors(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let auditors: Vec<Vec<u8>> = c.pure(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(auditors.len() <= crate::contract::MAX_AUDITORS, Abort::EInvalidAuditors)?;
    for (i, key) in auditors.iter().enumerate() {
        c.ensure(key.len() == KEY_LENGTH && !auditors[..i].contains(key), Abort::EInvalidAuditors)?;
    }
    cluster.policy.auditors = auditors.clone();
    c.emit(&AuditorsChanged { cluster_id: cluster.id, auditors });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn register_debug_node(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let node: Address = c.pure(2)?;
    let signing_key: Vec<u8> = c.pure(3)?;
    let sealing_key: Vec<u8> = c.pure(4)?;
    c.clock(5)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(cluster.policy.allow_debug_nodes, Abort::EDebugNodesForbidden)?;
    c.ensure(signing_key.len() == KEY_LENGTH && sealing_key.len() == KEY_LENGTH, Abort::EInvalidKey)?;
    c.ensure(node == ed25519_address(&signing_key), Abort::ENodeKeyMismatch)?;
    c.ensure(cluster.node(&node).is_none(), Abort::ENodeAlreadyRegistered)?;
    cluster.nodes.contents.push(crate::contract::objects::Entry {
        key: node,
        value: NodeInfo {
            signing_key: signing_key.clone(),
            sealing_key: sealing_key.clone(),
            previous_sealing_key: vec![],
            attested: false,
            registered_at_ms: c.now(),
            enclave: vec![],
            attested_at_ms: 0,
        },
    });
    c.emit(&NodeRegistered { cluster_id: cluster.id, node, signing_key, sealing_key, attested: false });
    c.store(cluster.id, &cluster);
    Ok(())
}

/// How old a document may be (`cluster::MAX_ATTESTATION_AGE_MS`), and how far ahead of the
/// clock (`MAX_CLOCK_SKEW_MS`).
pub const MAX_ATTESTATION_AGE_MS: u64 = 600_000;
/// See [`MAX_ATTESTATION_AGE_MS`].
pub const MAX_CLOCK_SKEW_MS: u64 = 60_000;
const PCR_LENGTH: usize = 48;

fn measurement(c: &Call<'_>, indices: Vec<u8>, values: Vec<Vec<u8>>) -> Result<Measurement, ExecutionError> {
    c.ensure(indices.len() == values.len() && indices.len() <= 32, Abort::EInvalidMeasurement)?;
    c.ensure([0, 1, 2].iter().all(|i| indices.contains(i)), Abort::EInvalidMeasurement)?;
    let mut pcrs: Vec<Pcr> = Vec::with_capacity(indices.len());
    for (index, value) in indices.into_iter().zip(values) {
        c.ensure(index <= 31 && !pcrs.iter().any(|p| p.index == index), Abort::EInvalidMeasurement)?;
        c.ensure(value.len() == PCR_LENGTH, Abort::EInvalidMeasurement)?;
        pcrs.push(Pcr { index, value });
    }
    Ok(Measurement { pcrs })
}

pub(super) fn add_enclave(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let (indices, values) = (c.pure(2)?, c.pure(3)?);
    assert_admin(c, &cap, &cluster)?;
    let m = measurement(c, indices, values)?;
    c.ensure(!cluster.policy.enclaves.contains(&m), Abort::EInvalidMeasurement)?;
    cluster.policy.enclaves.push(m.clone());
    c.emit(&EnclaveAccepted { cluster_id: cluster.id, pcrs: m.pcrs });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn remove_enclave(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let (indices, values) = (c.pure(2)?, c.pure(3)?);
    assert_admin(c, &cap, &cluster)?;
    let m = measurement(c, indices, values)?;
    let at = cluster.policy.enclaves.iter().position(|e| e == &m);
    c.ensure(at.is_some(), Abort::EMeasurementNotFound)?;
    cluster.policy.enclaves.remove(at.expect("found"));
    c.emit(&EnclaveWithdrawn { cluster_id: cluster.id, pcrs: m.pcrs });
    c.store(cluster.id, &cluster);
    Ok(())
}

/// What `register_attested_node` checks of a verified document, in the Move code's order: the
/// node's key, freshness against the clock, the challenge (a nonce naming the cluster, where the
/// policy requires one, and never one naming another), an accepted measurement. The key and the matched measurement when all hold.
pub(super) fn admit(cluster: &Cluster, document: &Document, now: u64) -> Result<(Vec<u8>, Vec<Pcr>), Abort> {
    let key = document.public_key.clone().filter(|k| k.len() == KEY_LENGTH).ok_or(Abort::EAttestationKey)?;
    let stamp = document.timestamp;
    // Move aborts on overflow; no u64 clock reaches it, and saturating keeps the order.
    if stamp > now.saturating_add(MAX_CLOCK_SKEW_MS) || now > stamp.saturating_add(MAX_ATTESTATION_AGE_MS) {
        return Err(Abort::EStaleAttestation);
    }
    if document.nonce.is_none() && cluster.policy.require_attestation_nonce {
        return Err(Abort::EAttestationNonceMissing);
    }
    if document.nonce.as_ref().is_some_and(|n| n.as_slice() != cluster.id.as_bytes()) {
        return Err(Abort::EAttestationForOtherCluster);
    }
    let matches = |m: &&Measurement| {
        m.pcrs.iter().all(|want| document.pcrs.iter().any(|(i, v)| *i == want.index && *v == want.value))
    };
    let enclave = cluster.policy.enclaves.iter().find(matches).ok_or(Abort::EUnknownEnclave)?;
    Ok((key, enclave.pcrs.clone()))
}

pub(super) fn register_attested_node(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut cluster = c.cluster(0)?;
    let document = c.attestation(1)?;
    c.clock(2)?;
    let (now, stamp) = (c.now(), document.timestamp);
    let (signing_key, enclave) = admit(&cluster, &document, now).map_err(|a| c.abort(a))?;
    let sealing_key = document.user_data.clone().filter(|d| d.len() == KEY_LENGTH).unwrap_or_default();
    let node = ed25519_address(&signing_key);
    match cluster.nodes.contents.iter_mut().find(|e| e.key == node) {
        Some(entry) => {
            c.ensure(entry.value.attested, Abort::ENodeAlreadyRegistered)?;
            let info = &mut entry.value;
            info.enclave = enclave.clone();
            info.attested_at_ms = stamp;
            if !sealing_key.is_empty() && sealing_key != info.sealing_key {
                info.previous_sealing_key = std::mem::replace(&mut info.sealing_key, sealing_key.clone());
            }
        }
        None => {
            cluster.nodes.contents.push(crate::contract::objects::Entry {
                key: node,
                value: NodeInfo {
                    signing_key: signing_key.clone(),
                    sealing_key: sealing_key.clone(),
                    previous_sealing_key: vec![],
                    attested: true,
                    registered_at_ms: now,
                    enclave: enclave.clone(),
                    attested_at_ms: stamp,
                },
            });
            c.emit(&NodeRegistered {
                cluster_id: cluster.id,
                node,
                signing_key,
                sealing_key: sealing_key.clone(),
                attested: true,
            });
        }
    }
    c.emit(&NodeAttested { cluster_id: cluster.id, node, sealing_key, pcrs: enclave, document_timestamp_ms: stamp });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn remove_node(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let node: Address = c.pure(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(cluster.node(&node).is_some(), Abort::ENodeNotRegistered)?;
    cluster.nodes.contents.retain(|e| e.key != node);
    c.emit(&NodeRemoved { cluster_id: cluster.id, node });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn rotate_sealing_key(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut cluster = c.cluster(0)?;
    let sealing_key: Vec<u8> = c.pure(1)?;
    let node = c.sender();
    c.ensure(cluster.node(&node).is_some(), Abort::ENodeNotRegistered)?;
    c.ensure(sealing_key.len() == KEY_LENGTH, Abort::EInvalidKey)?;
    let info = &mut cluster.nodes.contents.iter_mut().find(|e| e.key == node).expect("registered").value;
    info.previous_sealing_key = std::mem::replace(&mut info.sealing_key, sealing_key.clone());
    c.emit(&SealingKeyRotated { cluster_id: cluster.id, node, sealing_key });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn migrate(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster: Cluster = c.load(1)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(cluster.version < CONTRACT_VERSION, Abort::EWrongVersion)?;
    let from = cluster.version;
    cluster.version = CONTRACT_VERSION;
    c.emit(&ClusterMigrated { cluster_id: cluster.id, from, to: CONTRACT_VERSION });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn is_active_node(cluster: &Cluster, node: &Address) -> bool {
    cluster.is_active_node(node)
}

/// The Sui address of an Ed25519 key: Blake2b256(0x00 || key).
pub(super) fn ed25519_address(key: &[u8]) -> Address {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(key);
    Address::new(sui_sdk_types::hash::Hasher::digest(&bytes).into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_744_684_007_462;

    fn cluster(enclaves: Vec<Measurement>) -> Cluster {
        let policy = Policy {
            min_write_stake: 0,
            token_lifetime_ms: 1,
            unstake_lock_ms: 0,
            allow_debug_nodes: false,
            self_service_role: 0,
            slashing_enabled: false,
            protected_namespaces: vec![],
            enclaves,
            require_attestation_nonce: true,
            auditors: vec![],
        };
        Cluster {
            id: Address::from_static("0xc1"),
            name: "c".into(),
            policy,
            nodes: VecMap { contents: vec![] },
            version: CONTRACT_VERSION,
        }
    }

    fn measurement(value: u8) -> Measurement {
        Measurement { pcrs: (0..3).map(|index| Pcr { index, value: vec![value; PCR_LENGTH] }).collect() }
    }

    fn document(value: u8) -> Document {
        Document {
            module_id: b"i-0".to_vec(),
            timestamp: NOW,
            digest: b"SHA384".to_vec(),
            pcrs: (0..5).map(|i| (i, vec![if i < 3 { value } else { 9 }; PCR_LENGTH])).collect(),
            public_key: Some(vec![5; KEY_LENGTH]),
            user_data: None,
            nonce: Some(Address::from_static("0xc1").as_bytes().to_vec()),
        }
    }

    #[test]
    fn a_document_is_admitted_by_its_key_its_age_its_cluster_and_its_measurement() {
        let c = cluster(vec![measurement(1), measurement(2)]);
        assert_eq!(admit(&c, &document(2), NOW), Ok((vec![5; KEY_LENGTH], measurement(2).pcrs)));
        assert_eq!(admit(&c, &document(3), NOW), Err(Abort::EUnknownEnclave));
        let keyless = Document { public_key: None, ..document(1) };
        assert_eq!(admit(&c, &keyless, NOW), Err(Abort::EAttestationKey));
        let short = Document { public_key: Some(vec![5; 31]), ..document(1) };
        assert_eq!(admit(&c, &short, NOW), Err(Abort::EAttestationKey));
        assert_eq!(admit(&c, &document(1), NOW + MAX_ATTESTATION_AGE_MS).map(|_| ()), Ok(()));
        assert_eq!(admit(&c, &document(1), NOW + MAX_ATTESTATION_AGE_MS + 1), Err(Abort::EStaleAttestation));
        assert_eq!(admit(&c, &document(1), NOW - MAX_CLOCK_SKEW_MS).map(|_| ()), Ok(()));
        assert_eq!(admit(&c, &document(1), NOW - MAX_CLOCK_SKEW_MS - 1), Err(Abort::EStaleAttestation));
        // The nonce is the challenge a node puts there: the id of the cluster it registers on.
        let ours = Document { nonce: Some(c.id.as_bytes().to_vec()), ..document(1) };
        assert_eq!(admit(&c, &ours, NOW).map(|_| ()), Ok(()));
        let theirs = Document { nonce: Some(vec![0xc2; 32]), ..document(1) };
        assert_eq!(admit(&c, &theirs, NOW), Err(Abort::EAttestationForOtherCluster));
        // Without one: refused while the policy requires it, admitted once the admin lifts it.
        let bare = Document { nonce: None, ..document(1) };
        assert_eq!(admit(&c, &bare, NOW), Err(Abort::EAttestationNonceMissing));
        let mut lifted = c.clone();
        lifted.policy.require_attestation_nonce = false;
        assert_eq!(admit(&lifted, &bare, NOW).map(|_| ()), Ok(()));
        assert_eq!(admit(&lifted, &theirs, NOW), Err(Abort::EAttestationForOtherCluster));
        // An extra PCR in the measurement must be in the document too.
        let mut with_pcr16 = measurement(1);
        with_pcr16.pcrs.push(Pcr { index: 16, value: vec![1; PCR_LENGTH] });
        assert_eq!(admit(&cluster(vec![with_pcr16]), &document(1), NOW), Err(Abort::EUnknownEnclave));
        assert_eq!(admit(&cluster(vec![]), &document(1), NOW), Err(Abort::EUnknownEnclave));
    }
}
