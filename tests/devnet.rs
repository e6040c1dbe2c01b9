//! The devnet as a Sui endpoint: driven through the official `sui-rpc` client (and its
//! faucet client), with transactions built by `sui-transaction-builder` and signed by
//! `sui-crypto`.

use std::time::Duration;

use futures::StreamExt;
use kubectl_sui::chain::{ChainClient, ChainError, Executed};
use kubectl_sui::contract::calls::{ResponseRecord, Submission};
use kubectl_sui::contract::events::{RequestChunk, RequestSubmitted, ResponseStored};
use kubectl_sui::contract::objects::{Cluster, SealToken};
use kubectl_sui::contract::{Contract, Role, Verb};
use kubectl_sui::devnet::{Devnet, package_id};
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, ObjectReference};
use sui_transaction_builder::TransactionBuilder;

use crate::fixtures::{self, SUI, address, new_key, policy, start_devnet};

struct TestChain {
    devnet: Devnet,
    dir: tempfile::TempDir,
    client: ChainClient,
}

async fn start_in(dir: tempfile::TempDir) -> TestChain {
    let devnet = start_devnet(dir.path(), Duration::from_millis(20)).await;
    let client = ChainClient::new(&devnet.grpc_url(), package_id()).expect("client");
    TestChain { devnet, dir, client }
}

async fn start() -> TestChain {
    start_in(tempfile::tempdir().unwrap()).await
}

/// A new key funded by the faucet, through `sui-rpc`'s own faucet client.
async fn funded(chain: &TestChain) -> Ed25519PrivateKey {
    fixtures::funded(&fixtures::faucet(&chain.devnet)).await
}

async fn gas(client: &mut ChainClient, key: &Ed25519PrivateKey) -> ObjectReference {
    client.gas_coins(address(key)).await.expect("coins").into_iter().next().expect("a gas coin")
}

async fn run(
    client: &mut ChainClient,
    key: &Ed25519PrivateKey,
    tx: TransactionBuilder,
) -> Result<Executed, ChainError> {
    let gas = gas(client, key).await;
    client.execute(tx, key, gas).await
}

/// A cluster with a registered debug node and a token for `user` with `role` and `stake`.
struct World {
    contract: Contract,
    admin: Ed25519PrivateKey,
    node: Ed25519PrivateKey,
    user: Ed25519PrivateKey,
    cluster: Address,
    cap: Address,
    token: Address,
}

async fn world(chain: &mut TestChain, role: Role, stake: u64) -> World {
    let (admin, node, user) = (funded(chain).await, funded(chain).await, funded(chain).await);
    let client = &mut chain.client;
    let (cluster, cap) = fixtures::create_cluster(client, &admin, &policy(SUI, Role::Edit)).await;
    fixtures::register_node(client, &admin, (cluster, cap), &node, &[7; 32]).await;
    let cluster_arg = client.object_arg(cluster).await.unwrap();
    let (token, _) = fixtures::stake(client, &user, cluster_arg, role, stake).await;
    World { contract: Contract::new(package_id()), admin, node, user, cluster, cap, token }
}

fn submission(world: &World, verb: Verb, chunks: Vec<Vec<u8>>) -> Submission {
    Submission {
        node: address(&world.node),
        sealing_key: vec![7; 32],
        reply_key: vec![9; 32],
        verb,
        group: String::new(),
        resource: "pods".into(),
        namespace: "default".into(),
        name: "web-0".into(),
        body_len: chunks.iter().map(|c| c.len() as u64).sum(),
        body_digest: [1; 32],
        chunk_count: chunks.len() as u32,
        chunks,
    }
}

async fn submit(
    chain: &mut TestChain,
    world: &World,
    verb: Verb,
    chunks: Vec<Vec<u8>>,
) -> Result<Executed, ChainError> {
    let client = &mut chain.client;
    let (cluster, token) =
        (client.object_arg(world.cluster).await.unwrap(), client.object_arg(world.token).await.unwrap());
    let mut tx = TransactionBuilder::new();
    world.contract.submit(&mut tx, cluster, token, &submission(world, verb, chunks)).unwrap();
    run(client, &world.user, tx).await
}

#[tokio::test]
async fn faucet_coins_and_a_coin_split() {
    let mut chain = start().await;
    assert!(!chain.client.chain_id().await.unwrap().is_empty());
    let key = funded(&chain).await;
    assert_eq!(chain.client.balance(address(&key)).await.unwrap(), 100 * SUI);

    let mut tx = TransactionBuilder::new();
    let amounts = vec![tx.pure(&SUI), tx.pure(&(2 * SUI))];
    let gas_arg = tx.gas();
    let coins = tx.split_coins(gas_arg, amounts);
    let me = tx.pure(&address(&key));
    tx.transfer_objects(coins, me);
    let executed = run(&mut chain.client, &key, tx).await.expect("split");
    assert_eq!(executed.created().len(), 2);
    let coins = chain.client.gas_coins(address(&key)).await.unwrap();
    assert_eq!(coins.len(), 3);
    let fee = 100 * SUI - chain.client.balance(address(&key)).await.unwrap();
    assert!(fee > 0 && fee < SUI / 100, "gas charged: {fee}");

    // And merged back into the gas coin.
    let gas_ref = gas(&mut chain.client, &key).await;
    let others: Vec<_> = coins.iter().filter(|c| c.object_id() != gas_ref.object_id()).cloned().collect();
    let mut tx = TransactionBuilder::new();
    let sources = others
        .iter()
        .map(|c| tx.object(sui_transaction_builder::ObjectInput::owned(*c.object_id(), c.version(), *c.digest())))
        .collect();
    let gas_arg = tx.gas();
    tx.merge_coins(gas_arg, sources);
    let merged = chain.client.execute(tx, &key, gas_ref).await.expect("merge");
    assert_eq!(chain.client.gas_coins(address(&key)).await.unwrap().len(), 1);
    assert!(merged.created().is_empty());
}

#[tokio::test]
async fn request_and_response_through_the_contract() {
    let mut chain = start().await;
    let world = world(&mut chain, Role::Edit, 2 * SUI).await;
    let token: SealToken = chain.client.move_object(world.token).await.unwrap();
    assert_eq!((token.owner, token.stake.value, token.role), (address(&world.user), 2 * SUI, Role::Edit.code()));
    let cluster: Cluster = chain.client.move_object(world.cluster).await.unwrap();
    assert!(cluster.node(&address(&world.node)).is_some());

    let submitted =
        submit(&mut chain, &world, Verb::Create, vec![b"sealed-1".to_vec(), b"sealed-2".to_vec()]).await.unwrap();
    let events: Vec<RequestSubmitted> = submitted.events_of();
    let request = events[0].request_id;
    assert_eq!((events[0].verb, events[0].resource.as_str(), events[0].requester), (3, "pods", address(&world.user)));
    let chunks: Vec<RequestChunk> = submitted.events_of();
    assert_eq!(
        chunks.iter().map(|c| (c.index, c.data.as_slice())).collect::<Vec<_>>(),
        [(0, &b"sealed-1"[..]), (1, &b"sealed-2"[..])]
    );

    let client = &mut chain.client;
    let (request_arg, cluster_arg) =
        (client.object_arg(request).await.unwrap(), client.object_arg(world.cluster).await.unwrap());
    let mut tx = TransactionBuilder::new();
    let record = ResponseRecord {
        status: 201,
        body_len: 3,
        body_digest: [2; 32],
        chunk_count: 1,
        chunks: vec![b"ack".to_vec()],
    };
    world.contract.respond(&mut tx, request_arg, cluster_arg, &record).unwrap();
    world.contract.close(&mut tx, request_arg).unwrap();
    let answered = run(client, &world.node, tx).await.expect("respond + close");
    let stored: Vec<ResponseStored> = answered.events_of();
    assert_eq!((stored[0].request_id, stored[0].status), (request, 201));
    let gone = client.object(request).await.unwrap_err();
    assert_eq!(gone.code(), Some(&kubectl_sui::chain::RpcCode::NotFound), "{gone}");

    // Exactly once: the request object is gone, so a second answer cannot even be built.
    let mut tx = TransactionBuilder::new();
    world.contract.respond(&mut tx, request_arg, cluster_arg, &record).unwrap();
    let again = run(client, &world.node, tx).await.unwrap_err();
    assert_eq!(again.code(), Some(&kubectl_sui::chain::RpcCode::FailedPrecondition), "{again}");
}

#[tokio::test]
async fn contract_aborts_fail_with_their_code_and_still_charge_gas() {
    let mut chain = start().await;
    let world = world(&mut chain, Role::View, 0).await;
    let before = chain.client.balance(address(&world.user)).await.unwrap();
    let err = submit(&mut chain, &world, Verb::Delete, vec![]).await.unwrap_err();
    match &err {
        ChainError::Abort { module, code, abort: Some(a), .. } => {
            assert_eq!((module.as_str(), *code, a.name), ("seal_token", 24, "EPermissionDenied"));
        }
        other => panic!("expected an abort, got {other}"),
    }
    let after = chain.client.balance(address(&world.user)).await.unwrap();
    assert!(after < before, "a failed transaction still pays gas");

    // A write below the minimum stake.
    let mut tx = TransactionBuilder::new();
    let (cap, cluster, token) = (
        chain.client.object_arg(world.cap).await.unwrap(),
        chain.client.object_arg(world.cluster).await.unwrap(),
        chain.client.object_arg(world.token).await.unwrap(),
    );
    world.contract.grant_role(&mut tx, cap, cluster, token, Role::Edit).unwrap();
    run(&mut chain.client, &world.admin, tx).await.expect("grant");
    let err = submit(&mut chain, &world, Verb::Create, vec![]).await.unwrap_err();
    assert!(matches!(err, ChainError::Abort { code: 25, .. }), "{err}");
    // Reads need no stake.
    submit(&mut chain, &world, Verb::List, vec![]).await.expect("list with no stake");
}

#[tokio::test]
async fn a_stake_stays_locked_from_its_last_change_and_overflows_abort() {
    let mut chain = start().await;
    let (admin, user) = (funded(&chain).await, funded(&chain).await);
    let contract = Contract::new(package_id());
    let client = &mut chain.client;
    let mut locked = policy(SUI, Role::Edit);
    locked.unstake_lock_ms = 3_600_000;
    let (cluster, cap) = fixtures::create_cluster(client, &admin, &locked).await;
    let cluster_arg = client.object_arg(cluster).await.unwrap();
    let (token, _) = fixtures::stake(client, &user, cluster_arg, Role::View, SUI).await;
    async fn unstake(
        client: &mut ChainClient,
        user: &Ed25519PrivateKey,
        token: Address,
        cluster: Address,
    ) -> Result<Executed, ChainError> {
        let mut tx = TransactionBuilder::new();
        let (token, cluster) = (client.object_arg(token).await.unwrap(), client.object_arg(cluster).await.unwrap());
        Contract::new(package_id()).unstake(&mut tx, token, cluster).unwrap();
        run(client, user, tx).await
    }
    let err = unstake(client, &user, token, cluster).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Abort { abort: Some(a), .. } if a.kind == kubectl_sui::contract::Abort::EStakeLocked),
        "{err}"
    );
    // The admin drops the lock: the token keeps the one it was given.
    let mut none = locked.clone();
    none.unstake_lock_ms = 0;
    let mut tx = TransactionBuilder::new();
    let (cap_arg, cluster_arg) = (client.object_arg(cap).await.unwrap(), client.object_arg(cluster).await.unwrap());
    contract.set_policy(&mut tx, cap_arg, cluster_arg, &none).unwrap();
    run(client, &admin, tx).await.expect("policy");
    let err = unstake(client, &user, token, cluster).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Abort { abort: Some(a), .. } if a.kind == kubectl_sui::contract::Abort::EStakeLocked),
        "{err}"
    );
    let object: kubectl_sui::contract::objects::SealToken = client.move_object(token).await.unwrap();
    assert!(object.unlocks_at_ms > 3_000_000, "{}", object.unlocks_at_ms);

    // now + lifetime past u64::MAX aborts as Move's arithmetic does, and wraps nowhere.
    let mut forever = policy(SUI, Role::Edit);
    forever.token_lifetime_ms = u64::MAX;
    let (cluster, _) = fixtures::create_cluster(client, &admin, &forever).await;
    let cluster_arg = client.object_arg(cluster).await.unwrap();
    let mut tx = TransactionBuilder::new();
    let amount = tx.pure(&0u64);
    let gas_arg = tx.gas();
    let coin = tx.split_coins(gas_arg, vec![amount]).remove(0);
    contract.stake(&mut tx, cluster_arg, kubectl_sui::contract::CallArg::Result(coin), Role::View).unwrap();
    let err = run(client, &user, tx).await.unwrap_err();
    assert!(
        err.to_string().contains("MovePrimitiveRuntimeError") || err.to_string().to_lowercase().contains("arithmetic"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_transactions_are_rejected_with_the_status_a_full_node_gives() {
    let mut chain = start().await;
    let key = funded(&chain).await;
    let stale = gas(&mut chain.client, &key).await;
    let self_transfer = || {
        let mut tx = TransactionBuilder::new();
        let me = tx.pure(&address(&key));
        let gas_arg = tx.gas();
        tx.transfer_objects(vec![gas_arg], me);
        tx
    };
    let first = chain.client.execute(self_transfer(), &key, stale.clone()).await.expect("first use");
    // Submitting the very same transaction again returns its effects, as Sui does.
    let again = chain.client.execute(self_transfer(), &key, stale.clone()).await.expect("resubmission");
    assert_eq!(again.digest, first.digest);

    // Another transaction with the same gas object at its old version.
    let mut tx = TransactionBuilder::new();
    let one = tx.pure(&1u64);
    let gas_arg = tx.gas();
    let coins = tx.split_coins(gas_arg, vec![one]);
    let me = tx.pure(&address(&key));
    tx.transfer_objects(coins, me);
    let err = chain.client.execute(tx, &key, stale).await.unwrap_err();
    assert_eq!(err.code(), Some(&kubectl_sui::chain::RpcCode::FailedPrecondition), "{err}");

    // Signed by someone else than the sender: the other key owns no gas, so sign a
    // transaction naming the funded sender by hand.
    let other = new_key();
    let current = gas(&mut chain.client, &key).await;
    let mut tx = TransactionBuilder::new();
    tx.set_sender(address(&key));
    tx.set_gas_budget(10_000_000);
    tx.set_gas_price(1_000);
    tx.add_gas_objects([sui_transaction_builder::ObjectInput::owned(
        *current.object_id(),
        current.version(),
        *current.digest(),
    )]);
    let transaction = tx.try_build().unwrap();
    let signature = sui_crypto::SuiSigner::sign_transaction(&other, &transaction).unwrap();
    let mut request = proto::ExecuteTransactionRequest::default();
    request.transaction = Some(transaction.clone().into());
    request.signatures = vec![signature.into()];
    let err = chain.client.rpc().execution_client().execute_transaction(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // Malformed BCS.
    let mut request = proto::ExecuteTransactionRequest::default();
    let mut bad = proto::Transaction::default();
    bad.bcs = Some(sui_rpc::proto::sui::rpc::v2::Bcs::default());
    bad.bcs.as_mut().unwrap().value = Some(vec![1, 2, 3].into());
    request.transaction = Some(bad);
    let err = chain.client.rpc().execution_client().execute_transaction(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // A pure argument of exactly 16 KiB: Sui wants it strictly shorter (a vector of 16,381
    // bytes plus its two-byte length is the largest accepted; the node's chunks are that).
    let mut tx = TransactionBuilder::new();
    let big = tx.pure(&vec![0u8; 16 * 1024 - 2]);
    let gas_arg = tx.gas();
    let coins = tx.split_coins(gas_arg, vec![big]);
    let me = tx.pure(&address(&key));
    tx.transfer_objects(coins, me);
    let err = run(&mut chain.client, &key, tx).await.unwrap_err();
    assert_eq!(err.code(), Some(&kubectl_sui::chain::RpcCode::InvalidArgument), "{err}");

    // A call the devnet does not run.
    let mut tx = TransactionBuilder::new();
    let f = sui_transaction_builder::Function::new(
        Address::TWO,
        sui_sdk_types::Identifier::from_static("coin"),
        sui_sdk_types::Identifier::from_static("zero"),
    );
    tx.move_call(f, vec![]);
    let err = run(&mut chain.client, &key, tx).await.unwrap_err();
    assert_eq!(err.code(), Some(&kubectl_sui::chain::RpcCode::Unimplemented), "{err}");

    // An object that does not exist.
    let err = chain.client.object(Address::from_static("0x123456")).await.unwrap_err();
    assert_eq!(err.code(), Some(&kubectl_sui::chain::RpcCode::NotFound), "{err}");

    // The same gas coin twice: refused before execution, as a validator does.
    let coin = gas(&mut chain.client, &key).await;
    let mut tx = TransactionBuilder::new();
    tx.set_sender(address(&key));
    tx.set_gas_budget(10_000_000);
    tx.set_gas_price(1_000);
    let owned = || sui_transaction_builder::ObjectInput::owned(*coin.object_id(), coin.version(), *coin.digest());
    tx.add_gas_objects([owned(), owned()]);
    let transaction = tx.try_build().unwrap();
    let signature = sui_crypto::SuiSigner::sign_transaction(&key, &transaction).unwrap();
    let mut request = proto::ExecuteTransactionRequest::default();
    request.transaction = Some(transaction.into());
    request.signatures = vec![signature.into()];
    let err = chain.client.rpc().execution_client().execute_transaction(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // Transferring a coin merged away earlier in the same transaction: a failed
    // transaction, not a crashed devnet.
    let mut tx = TransactionBuilder::new();
    let amount = tx.pure(&1_000_000u64);
    let gas_arg = tx.gas();
    let split = tx.split_coins(gas_arg, vec![amount]);
    let me = tx.pure(&address(&key));
    tx.transfer_objects(split, me);
    run(&mut chain.client, &key, tx).await.expect("a second coin");
    let coins = chain.client.gas_coins(address(&key)).await.unwrap();
    let (payer, other) = (coins[0].clone(), coins[1].clone());
    let mut tx = TransactionBuilder::new();
    let other =
        tx.object(sui_transaction_builder::ObjectInput::owned(*other.object_id(), other.version(), *other.digest()));
    let gas_arg = tx.gas();
    tx.merge_coins(gas_arg, vec![other]);
    let me = tx.pure(&address(&key));
    tx.transfer_objects(vec![other], me);
    assert!(chain.client.execute(tx, &key, payer).await.is_err());
    assert!(chain.client.latest_checkpoint().await.is_ok(), "the devnet still serves");
    assert!(chain.client.gas_coins(address(&key)).await.is_ok_and(|c| c.len() >= 2), "and still has both coins");
}

#[tokio::test]
async fn checkpoints_close_on_demand_batch_under_load_and_wait_for_finality() {
    // (least interval, finality): how long after a commit its checkpoint appears, idle.
    for (interval, finality) in
        [(Duration::from_secs(1), Duration::ZERO), (Duration::from_millis(2), Duration::from_millis(400))]
    {
        let dir = tempfile::tempdir().unwrap();
        let devnet = kubectl_sui::devnet::Devnet::start(kubectl_sui::devnet::DevnetConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            faucet_listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            checkpoint_interval: interval,
            finality,
        })
        .await
        .unwrap();
        let mut feed = devnet.chain().subscribe();
        let faucet = fixtures::faucet(&devnet);
        let mut times = Vec::new();
        // A burst of checkpoints closes at once; the one past it waits for the interval.
        let commits = if finality.is_zero() { kubectl_sui::devnet::CHECKPOINT_BURST as usize + 1 } else { 2 };
        for _ in 0..commits {
            let committed = std::time::Instant::now();
            faucet.request(address(&new_key())).await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), feed.recv()).await.unwrap().unwrap();
            times.push(committed.elapsed());
        }
        if finality.is_zero() {
            // Idle, the first commits are checkpointed at once, not a second later; the one
            // past the burst waits out the interval.
            let (burst, paced) = times.split_at(commits - 1);
            assert!(burst.iter().all(|t| *t < Duration::from_millis(300)), "on demand: {times:?}");
            assert!(paced[0] >= Duration::from_millis(700), "the interval holds past the burst: {times:?}");
        } else {
            assert!(times.iter().all(|t| *t >= finality), "a commit waits for its finality: {times:?}");
            assert!(times.iter().all(|t| *t < finality * 3), "and not much longer: {times:?}");
        }
        devnet.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn checkpoints_stream_to_subscribers_and_backfill() {
    let mut chain = start().await;
    let mut request = proto::SubscribeCheckpointsRequest::default();
    request.read_mask =
        Some(prost_types::FieldMask { paths: vec!["sequence_number".into(), "transactions.digest".into()] });
    let mut stream =
        chain.client.rpc().subscription_client().subscribe_checkpoints(request).await.unwrap().into_inner();
    let key = funded(&chain).await;
    let digest = chain.client.gas_coins(address(&key)).await.unwrap();
    assert_eq!(digest.len(), 1);
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(item) = stream.next().await {
            let checkpoint = item.expect("checkpoint").checkpoint.expect("checkpoint body");
            if !checkpoint.transactions.is_empty() {
                return checkpoint.sequence_number.expect("sequence number");
            }
        }
        panic!("stream ended")
    })
    .await
    .expect("a checkpoint with the faucet transaction arrives");

    let mut request = proto::ListCheckpointsRequest::default();
    request.start_checkpoint = Some(0);
    request.read_mask = Some(prost_types::FieldMask { paths: vec!["sequence_number".into()] });
    let listed: Vec<u64> = chain
        .client
        .rpc()
        .ledger_client()
        .list_checkpoints(request)
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().checkpoint.unwrap().sequence_number.unwrap())
        .collect()
        .await;
    assert_eq!(listed, (0..=*listed.last().unwrap()).collect::<Vec<_>>());
    assert!(listed.contains(&seen));
}

#[tokio::test]
async fn a_restart_keeps_the_ledger() {
    let mut chain = start().await;
    let key = funded(&chain).await;
    let chain_id = chain.client.chain_id().await.unwrap();
    let coin = gas(&mut chain.client, &key).await;
    let TestChain { devnet, dir, .. } = chain;
    devnet.shutdown().await.unwrap();

    let mut chain = start_in(dir).await;
    assert_eq!(chain.client.chain_id().await.unwrap(), chain_id);
    assert_eq!(gas(&mut chain.client, &key).await, coin);
    assert_eq!(chain.client.balance(address(&key)).await.unwrap(), 100 * SUI);
    // The faucet keeps working from its replayed coin.
    funded(&chain).await;
}

/// A `kubectl sui devnet` process on a data directory, on free ports.
struct DevnetProcess {
    child: tokio::process::Child,
    grpc: String,
    faucet: String,
}

async fn spawn_devnet(data: &std::path::Path) -> DevnetProcess {
    let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (grpc_port, faucet_port) = (port(), port());
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-sui"))
        .args(["devnet", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{grpc_port}"), "--faucet-listen", &format!("127.0.0.1:{faucet_port}")])
        .args(["--checkpoint-interval", "20ms"])
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl-sui devnet starts");
    let grpc = format!("http://127.0.0.1:{grpc_port}");
    let mut client = ChainClient::new(&grpc, package_id()).unwrap();
    for _ in 0..200 {
        if client.chain_id().await.is_ok() {
            return DevnetProcess { child, grpc, faucet: format!("http://127.0.0.1:{faucet_port}/") };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("devnet process did not answer on {grpc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_load_loses_no_acknowledged_transaction() {
    let data = tempfile::tempdir().unwrap();
    let mut process = spawn_devnet(data.path()).await;
    let faucet = sui_rpc::faucet::FaucetClient::new(process.faucet.as_str()).unwrap();

    // Eight clients ask the faucet as fast as they can; each answer means "durable".
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut load = Vec::new();
    for _ in 0..8 {
        let (faucet, acknowledged) = (faucet.clone(), acknowledged.clone());
        load.push(tokio::spawn(async move {
            loop {
                match faucet.request(address(&new_key())).await {
                    Ok(coins) => acknowledged.lock().unwrap().push(coins[0].transfer_tx_digest),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    process.child.start_kill().expect("SIGKILL");
    process.child.wait().await.unwrap();
    for task in load {
        task.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 20, "too little load to prove anything: {}", acknowledged.len());

    let restarted = spawn_devnet(data.path()).await;
    let mut client = ChainClient::new(&restarted.grpc, package_id()).unwrap();
    for digest in &acknowledged {
        let mut request = proto::GetTransactionRequest::default();
        request.digest = Some(digest.to_string());
        let found = client.rpc().ledger_client().get_transaction(request).await;
        assert!(found.is_ok(), "acknowledged transaction {digest} was lost: {found:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_devnet_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let mut process = spawn_devnet(data.path()).await;
    let faucet = sui_rpc::faucet::FaucetClient::new(process.faucet.as_str()).unwrap();
    let sent = faucet.request(address(&new_key())).await.unwrap();
    let pid = nix::unistd::Pid::from_raw(process.child.id().expect("running") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM delivered");
    let status = tokio::time::timeout(Duration::from_secs(10), process.child.wait()).await.expect("exits").unwrap();
    assert!(status.success(), "{status}");

    // The last transaction was sealed into a checkpoint before the exit.
    let restarted = spawn_devnet(data.path()).await;
    let mut client = ChainClient::new(&restarted.grpc, package_id()).unwrap();
    let mut request = proto::GetTransactionRequest::default();
    request.digest = Some(sent[0].transfer_tx_digest.to_string());
    request.read_mask = Some(prost_types::FieldMask { paths: vec!["checkpoint".into()] });
    let found = client.rpc().ledger_client().get_transaction(request).await.unwrap().into_inner();
    assert!(found.transaction.unwrap().checkpoint.is_some());
}
