//! Nothing secret on the public chain: after a Secret goes through the chain path and back,
//! every byte the devnet stored is searched for it; a control run without sealing shows the
//! search finds it when it is there.

use base64ct::Encoding;
use kubectl_sui::contract::Role;
use sui_transaction_builder::TransactionBuilder;

use crate::fixtures::SUI;
use crate::node::{request, setup};

/// Every file of the devnet's data directory, concatenated.
fn stored_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

/// The forms a leaked value could take: raw, base64 (as a Secret's `data` holds it), hex.
fn forms(secret: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("raw", secret.to_vec()),
        ("base64", base64ct::Base64::encode_string(secret).into_bytes()),
        ("base64 unpadded", base64ct::Base64Unpadded::encode_string(secret).into_bytes()),
        ("hex", hex.into_bytes()),
    ]
}

fn found(haystack: &[u8], secret: &[u8]) -> Vec<&'static str> {
    forms(secret)
        .into_iter()
        .filter(|(_, needle)| haystack.windows(needle.len()).any(|w| w == needle.as_slice()))
        .map(|(n, _)| n)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_through_the_chain_leaves_no_trace_on_it() {
    let setup = setup().await;
    let (_stop, _node) = setup.start_node();
    let user = setup.requester(Role::Edit, 2 * SUI).await;
    let mut secret = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
    let encoded = base64ct::Base64::encode_string(&secret);

    let body = format!(r#"{{"metadata":{{"name":"s3cret"}},"data":{{"value":"{encoded}"}}}}"#);
    let created = user.call(&request("POST", "/api/v1/namespaces/default/secrets", &body)).await.unwrap();
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let read = user.call(&request("GET", "/api/v1/namespaces/default/secrets/s3cret", "")).await.unwrap();
    assert_eq!(read.status, 200);
    assert!(String::from_utf8_lossy(&read.body).contains(&encoded), "the secret came back");

    let data = setup.chain_dir.path().to_path_buf();
    let journal = data.join(kubectl_sui::devnet::local_chain::JOURNAL_FILE);
    let stored = stored_bytes(&data);
    assert!(std::fs::metadata(&journal).unwrap().len() > 10_000, "the journal holds the run");
    assert_eq!(found(&stored, &secret), Vec::<&str>::new(), "the secret is on chain");

    // Control: the same body put on chain without sealing (as a raw chunk) is found.
    let mut tx = TransactionBuilder::new();
    let mut submission = kubectl_sui::contract::calls::Submission {
        node: user.node().await.unwrap().address,
        sealing_key: user.node().await.unwrap().sealing_key.to_bytes().to_vec(),
        reply_key: vec![1; 32],
        verb: kubectl_sui::contract::Verb::Create,
        group: String::new(),
        resource: "secrets".into(),
        namespace: "default".into(),
        name: String::new(),
        body_len: body.len() as u64,
        body_digest: [0; 32],
        chunk_count: 1,
        chunks: vec![body.clone().into_bytes()],
    };
    submission.body_digest = kubectl_sui::envelope::digest(body.as_bytes());
    let mut client = user.client().clone();
    let (cluster_arg, token_arg) =
        (client.object_arg(user.cluster()).await.unwrap(), client.object_arg(user.token).await.unwrap());
    kubectl_sui::contract::Contract::new(kubectl_sui::devnet::package_id())
        .submit(&mut tx, cluster_arg, token_arg, &submission)
        .unwrap();
    let gas = client.gas_coins(crate::fixtures::address(&user.key)).await.unwrap().remove(0);
    client.execute(tx, &user.key, gas).await.expect("an unsealed submission");
    let stored = stored_bytes(&data);
    assert!(found(&stored, &secret).contains(&"base64"), "the scan finds an unsealed secret");
}
