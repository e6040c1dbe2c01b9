//! Attested Nautilus nodes: the recorded AWS Nitro attestation documents of `../shared/nitro/`
//! (read from there, never copied into the repository; `$NITRO_DOCUMENTS` names another
//! directory) register on the devnet at their time and are refused otherwise.

use std::path::PathBuf;

use crate::util::repo_root;

/// One recorded document: its bytes, the time it verifies at, its key and PCRs.
pub struct Recorded {
    pub bytes: Vec<u8>,
    pub verify_at_ms: u64,
}

/// The three recorded documents, by the name the Move test template uses.
pub struct Documents {
    pub weather: Recorded,
    pub pcr16: Recorded,
    pub fixed: Recorded,
}

fn directory() -> PathBuf {
    std::env::var_os("NITRO_DOCUMENTS").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared/nitro"))
}

/// The recorded documents, or why they are not there.
pub fn recorded() -> Result<Documents, String> {
    let dir = directory();
    let read = |file: &str, verify_at_ms: u64| -> Result<Recorded, String> {
        let path = dir.join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("no recorded document {}: {e}", path.display()))?;
        let bytes = hex::decode(text.trim()).map_err(|e| format!("{} is not hex: {e}", path.display()))?;
        Ok(Recorded { bytes, verify_at_ms })
    };
    Ok(Documents {
        weather: read("weather_att.hex", 1_744_684_007_462)?,
        pcr16: read("valid_pcr16_attestation.hex", 1_762_795_380_000)?,
        fixed: read("fixed_valid_attestation.hex", 1_731_627_987_382)?,
    })
}

/// `tests/move/attestation_tests.move.in` with the recorded documents in place.
pub fn rendered_move_tests() -> Result<String, String> {
    let docs = recorded()?;
    let template = std::fs::read_to_string(repo_root().join("tests/move/attestation_tests.move.in"))
        .map_err(|e| format!("the template: {e}"))?;
    Ok(template
        .replace("@@WEATHER@@", &hex::encode(&docs.weather.bytes))
        .replace("@@PCR16@@", &hex::encode(&docs.pcr16.bytes))
        .replace("@@FIXED@@", &hex::encode(&docs.fixed.bytes)))
}

mod on_the_devnet {
    use std::time::Duration;

    use kubectl_sui::chain::{ChainClient, ChainError};
    use kubectl_sui::contract::objects::Cluster;
    use kubectl_sui::contract::{Abort, Contract, Role};
    use kubectl_sui::devnet::{Devnet, package_id};
    use sui_crypto::ed25519::Ed25519PrivateKey;
    use sui_sdk_types::Address;
    use sui_transaction_builder::TransactionBuilder;

    use super::{Documents, recorded};
    use crate::fixtures::{self, create_cluster, funded, policy};

    const WEATHER_KEY: &str = "e8e62201dbe293b703c759f653107acbc2c911fa1d2e66f2c747bec95971a2af";
    const WEATHER_PCRS: [&str; 3] = [
        "cbe1afb6ed0ff89f10295af0b802247ec5670da8f886e71a4226373b032c322f4e42c9c98288e7211682b258684505a2",
        "cbe1afb6ed0ff89f10295af0b802247ec5670da8f886e71a4226373b032c322f4e42c9c98288e7211682b258684505a2",
        "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a",
    ];

    struct World {
        devnet: Devnet,
        client: ChainClient,
        admin: Ed25519PrivateKey,
        stranger: Ed25519PrivateKey,
        cluster: Address,
        cap: Address,
        docs: Documents,
        _dir: tempfile::TempDir,
    }

    /// A devnet and a cluster accepting the weather enclave, requiring the challenge as a new
    /// cluster does; `None` (the test then skips, saying why) without the recorded documents.
    async fn world(allow_debug_nodes: bool) -> Option<World> {
        let docs = match recorded() {
            Ok(docs) => docs,
            Err(why) => {
                println!("SKIPPED attestation: {why}");
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let devnet = fixtures::start_devnet(dir.path(), Duration::from_millis(20)).await;
        let faucet = fixtures::faucet(&devnet);
        let (admin, stranger) = (funded(&faucet).await, funded(&faucet).await);
        let mut client = ChainClient::new(&devnet.grpc_url(), package_id()).unwrap();
        let mut p = policy(0, Role::View);
        p.allow_debug_nodes = allow_debug_nodes;
        let (cluster, cap) = create_cluster(&mut client, &admin, &p).await;
        let mut w = World { devnet, client, admin, stranger, cluster, cap, docs, _dir: dir };
        let pcrs = weather_pcrs();
        w.admin_call(|c, tx, cap, cluster| c.add_enclave(tx, cap, cluster, &pcrs)).await.unwrap();
        Some(w)
    }

    impl World {
        async fn admin_call(
            &mut self,
            build: impl FnOnce(
                &Contract,
                &mut TransactionBuilder,
                kubectl_sui::contract::ObjectArg,
                kubectl_sui::contract::ObjectArg,
            )
                -> Result<sui_transaction_builder::Argument, kubectl_sui::contract::ContractError>,
        ) -> Result<(), ChainError> {
            let mut tx = TransactionBuilder::new();
            let (cap, cluster) =
                (self.client.object_arg(self.cap).await.unwrap(), self.client.object_arg(self.cluster).await.unwrap());
            build(&Contract::new(package_id()), &mut tx, cap, cluster).unwrap();
            let gas = self.client.gas_coins(fixtures::address(&self.admin)).await.unwrap().remove(0);
            self.client.execute(tx, &self.admin, gas).await.map(|_| ())
        }

        /// Registers `document` at chain time `at`, sent by a stranger (anyone may).
        async fn register(&mut self, document: &[u8], at: u64) -> Result<(), ChainError> {
            self.devnet.chain().set_clock_for_testing(Some(at));
            let mut tx = TransactionBuilder::new();
            let cluster = self.client.object_arg(self.cluster).await.unwrap();
            Contract::new(package_id()).register_attested_node(&mut tx, cluster, document).unwrap();
            let gas = self.client.gas_coins(fixtures::address(&self.stranger)).await.unwrap().remove(0);
            let result = self.client.execute(tx, &self.stranger, gas).await.map(|_| ());
            self.devnet.chain().set_clock_for_testing(None);
            result
        }

        /// No recorded document carries the challenge (a nonce): the admin makes it optional.
        async fn challenge_optional(&mut self) {
            self.admin_call(|c, tx, cap, cluster| c.set_attestation_nonce_required(tx, cap, cluster, false))
                .await
                .unwrap();
        }

        async fn cluster(&mut self) -> Cluster {
            self.client.move_object(self.cluster).await.unwrap()
        }
    }

    /// The weather image's measurement, as the call builders take it.
    fn weather_pcrs() -> Vec<(u8, Vec<u8>)> {
        WEATHER_PCRS.iter().enumerate().map(|(i, v)| (i as u8, hex::decode(v).unwrap())).collect()
    }

    fn weather_node() -> Address {
        let key = sui_sdk_types::Ed25519PublicKey::new(hex::decode(WEATHER_KEY).unwrap().try_into().unwrap());
        key.derive_address()
    }

    fn abort_of(result: Result<(), ChainError>) -> Option<Abort> {
        match result {
            Err(ChainError::Abort { abort: Some(a), .. }) => Some(a.kind),
            _ => None,
        }
    }

    /// The framework's own abort (`sui::nitro_attestation`): 1 parse, 2 verify; its message
    /// says so.
    fn framework_abort(result: &Result<(), ChainError>) -> Option<u64> {
        match result {
            Err(e @ ChainError::Attestation { code, .. }) => {
                assert!(e.to_string().contains("the chain refused the attestation document"), "{e}");
                Some(*code)
            }
            _ => None,
        }
    }

    /// `document` (COSE_Sign1, tagged or not) with its payload's certificate bundle changed by
    /// `change`, re-encoded; the signature is left as it was.
    fn with_bundle(document: &[u8], change: impl FnOnce(&mut Vec<ciborium::Value>)) -> Vec<u8> {
        use ciborium::Value;
        let cose: Value = ciborium::from_reader(document).unwrap();
        let (tag, mut parts) = match cose {
            Value::Tag(tag, inner) => (Some(tag), inner.into_array().unwrap()),
            other => (None, other.into_array().unwrap()),
        };
        let mut payload: Value = ciborium::from_reader(parts[2].as_bytes().unwrap().as_slice()).unwrap();
        let fields = payload.as_map_mut().unwrap();
        let bundle = fields.iter_mut().find(|(k, _)| k.as_text() == Some("cabundle")).unwrap();
        let Value::Array(certificates) = &mut bundle.1 else { panic!("cabundle is not an array") };
        change(certificates);
        let mut bytes = Vec::new();
        ciborium::into_writer(&payload, &mut bytes).unwrap();
        parts[2] = Value::Bytes(bytes);
        let cose = match tag {
            Some(tag) => Value::Tag(tag, Box::new(Value::Array(parts))),
            None => Value::Array(parts),
        };
        let mut out = Vec::new();
        ciborium::into_writer(&cose, &mut out).unwrap();
        out
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn recorded_documents_register_at_their_time_and_are_refused_otherwise() {
        let Some(mut w) = world(true).await else { return };
        let weather = w.docs.weather.bytes.clone();
        let at = w.docs.weather.verify_at_ms;

        // Valid at its time, but without the challenge a new cluster requires.
        let bare = w.register(&weather, at).await;
        assert_eq!(abort_of(bare), Some(Abort::EAttestationNonceMissing));
        assert!(w.cluster().await.policy.require_attestation_nonce);
        w.challenge_optional().await;
        assert!(!w.cluster().await.policy.require_attestation_nonce);

        // Outside its certificates' validity (a day later), tampered, truncated: the framework
        // refuses it before the contract sees it.
        let late = w.register(&weather, at + 86_400_000).await;
        assert_eq!(framework_abort(&late), Some(2), "{late:?}");
        let mut tampered = weather.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let bad = w.register(&tampered, at).await;
        assert_eq!(framework_abort(&bad), Some(2), "{bad:?}");
        let cut = w.register(&weather[..weather.len() / 2], at).await;
        assert_eq!(framework_abort(&cut), Some(1), "{cut:?}");
        // Its certificate bundle truncated: without its last certificate (the one next to the
        // leaf), or with that certificate cut short. Re-encoding the payload alone is not the
        // change: the untouched document re-encoded still registers below.
        let unchanged = with_bundle(&weather, |_| {});
        let short = with_bundle(&weather, |certificates| {
            certificates.pop();
        });
        assert_eq!(framework_abort(&w.register(&short, at).await), Some(2), "a bundle one certificate short");
        let halved = with_bundle(&weather, |certificates| {
            let last = certificates.last_mut().unwrap();
            let bytes = last.as_bytes().unwrap().clone();
            *last = ciborium::Value::Bytes(bytes[..bytes.len() / 2].to_vec());
        });
        assert!(framework_abort(&w.register(&halved, at).await).is_some(), "a certificate cut short");
        // Valid, but older than ten minutes at the chain's clock, or from its future.
        let stamp = 1_744_683_923_696;
        assert_eq!(abort_of(w.register(&weather, stamp + 600_001).await), Some(Abort::EStaleAttestation));
        assert_eq!(abort_of(w.register(&weather, stamp - 60_001).await), Some(Abort::EStaleAttestation));
        // A document without a public key.
        let fixed = w.docs.fixed.bytes.clone();
        assert_eq!(abort_of(w.register(&fixed, w.docs.fixed.verify_at_ms).await), Some(Abort::EAttestationKey));
        // Another image than the one the cluster accepts.
        let pcr16 = w.docs.pcr16.bytes.clone();
        assert_eq!(abort_of(w.register(&pcr16, w.docs.pcr16.verify_at_ms).await), Some(Abort::EUnknownEnclave));
        assert!(w.cluster().await.node(&weather_node()).is_none(), "nothing registered so far");

        // At its time: the node of the attested key, attested, active, with no sealing key.
        w.register(&unchanged, at).await.unwrap();
        let cluster = w.cluster().await;
        let info = cluster.node(&weather_node()).expect("registered");
        assert!(info.attested && cluster.is_active_node(&weather_node()));
        assert_eq!(info.attested_at_ms, stamp);
        assert_eq!(info.enclave.len(), 3);
        assert!(info.sealing_key.is_empty(), "the weather document's user_data holds no key");

        // Withdrawn: still registered, no longer active.
        let pcrs = weather_pcrs();
        w.admin_call(|c, tx, cap, cluster| c.remove_enclave(tx, cap, cluster, &pcrs)).await.unwrap();
        let cluster = w.cluster().await;
        assert!(cluster.node(&weather_node()).is_some() && !cluster.is_active_node(&weather_node()));
        assert_eq!(abort_of(w.register(&weather, at).await), Some(Abort::EUnknownEnclave));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_debug_node_is_refused_where_the_policy_forbids_it_and_an_attested_one_is_not() {
        let Some(mut w) = world(false).await else { return };
        let node = fixtures::new_key();
        let result = w
            .admin_call(|c, tx, cap, cluster| {
                c.register_debug_node(tx, cap, cluster, fixtures::address(&node), node.public_key().inner(), &[1; 32])
            })
            .await;
        assert_eq!(abort_of(result), Some(Abort::EDebugNodesForbidden));
        w.challenge_optional().await;
        let weather = w.docs.weather.bytes.clone();
        w.register(&weather, w.docs.weather.verify_at_ms).await.unwrap();
        assert!(w.cluster().await.is_active_node(&weather_node()));
    }

    /// The admin's commands and the node's, as a user runs them: `cluster enclave add` and
    /// `remove`, the policy showing what is accepted, a recorded document registering, and
    /// `nautilus attest` outside an enclave saying what to do instead.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_admin_accepts_an_image_and_a_node_outside_an_enclave_is_told_what_to_do() {
        let Ok(docs) = recorded() else {
            println!("SKIPPED attestation commands: no recorded documents");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let devnet = fixtures::start_devnet(dir.path(), Duration::from_millis(20)).await;
        let user = crate::kubectl::User::new();
        let (rpc, faucet) = (devnet.grpc_url(), devnet.faucet_url());
        let sui = |args: &[&str]| {
            let out = user.sui(args);
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
            )
        };
        let (ok, said) =
            sui(&["cluster", "create", "prod", "--network", &rpc, "--faucet", &faucet, "--allow-debug-nodes", "false"]);
        assert!(ok, "{said}");
        assert!(said.contains("enclaves           none accepted"), "{said}");
        let cluster: Address =
            regex::Regex::new(r"Created cluster prod \((0x[0-9a-f]{64})\)").unwrap().captures(&said).unwrap()[1]
                .parse()
                .unwrap();
        let pcr = |i: usize| format!("{i}={}", WEATHER_PCRS[i]);
        let all = [pcr(0), pcr(1), pcr(2)];
        // `cluster enclave <verb>` of the weather image's three PCRs.
        let enclave = |verb: &str| {
            let mut args = vec!["cluster", "enclave", verb, "--cluster", "prod"];
            all.iter().for_each(|p| args.extend(["--pcr", p.as_str()]));
            sui(&args)
        };
        let (ok, said) = sui(&["cluster", "enclave", "add", "--cluster", "prod", "--pcr", &pcr(0), "--pcr", &pcr(1)]);
        assert!(!ok && said.contains("PCR0, PCR1 and PCR2"), "{said}");
        let (ok, said) = enclave("add");
        assert!(ok && said.contains("accepts the enclave image PCR0=cbe1afb6"), "{said}");
        let (ok, said) = enclave("add");
        assert!(!ok && said.contains("EInvalidMeasurement"), "accepted twice: {said}");
        let (ok, said) = sui(&["cluster", "policy", "--cluster", "prod"]);
        assert!(ok && said.contains(&format!("PCR2={}", WEATHER_PCRS[2])), "{said}");
        assert!(said.contains("challenge          required"), "{said}");
        // The recorded documents carry no challenge: the admin makes it optional.
        let (ok, said) = sui(&["cluster", "enclave", "challenge", "optional", "--cluster", "prod"]);
        assert!(ok && said.contains("accepts attestation documents without a challenge"), "{said}");
        let (ok, said) = sui(&["cluster", "policy", "--cluster", "prod"]);
        assert!(ok && said.contains("challenge          optional"), "{said}");

        // The recorded document registers at its time (anyone may send it).
        let mut client = ChainClient::new(&rpc, package_id()).unwrap();
        let relay = funded(&fixtures::faucet(&devnet)).await;
        devnet.chain().set_clock_for_testing(Some(docs.weather.verify_at_ms));
        let mut tx = TransactionBuilder::new();
        let arg = client.object_arg(cluster).await.unwrap();
        Contract::new(package_id()).register_attested_node(&mut tx, arg, &docs.weather.bytes).unwrap();
        fixtures::execute(&mut client, &relay, tx).await;
        devnet.chain().set_clock_for_testing(None);
        let object: Cluster = client.move_object(cluster).await.unwrap();
        assert!(object.is_active_node(&weather_node()));

        // A node here has no Nitro Security Module: it is told so, and what this cluster allows.
        let node_dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nautilus"))
            .args([
                "attest",
                "--chain-url",
                &rpc,
                "--package",
                &package_id().to_string(),
                "--cluster",
                &cluster.to_string(),
            ])
            .arg("--data-dir")
            .arg(node_dir.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{said}");
        assert!(said.contains("not inside an AWS Nitro enclave") && said.contains("forbids debug nodes"), "{said}");

        // Withdrawn: the attested node stops being active at once.
        let (ok, said) = enclave("remove");
        assert!(ok && said.contains("no longer accepts"), "{said}");
        let object: Cluster = client.move_object(cluster).await.unwrap();
        assert!(!object.is_active_node(&weather_node()) && object.node(&weather_node()).is_some());
    }
}
