// The official TypeScript SDK drives the devnet as it would any Sui full node: chain id,
// faucet, a coin split and a contract call built with the SDK's own Transaction builder,
// waitForTransaction, objects and balances. Run by tests/sdk_peer.rs, which starts the
// devnet and passes its addresses in DEVNET_GRPC, DEVNET_FAUCET and DEVNET_PACKAGE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SuiGrpcClient } from '@mysten/sui/grpc';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Transaction } from '@mysten/sui/transactions';
import { requestSuiFromFaucetV2 } from '@mysten/sui/faucet';

const { DEVNET_GRPC, DEVNET_FAUCET, DEVNET_PACKAGE } = process.env;
assert.ok(DEVNET_GRPC && DEVNET_FAUCET && DEVNET_PACKAGE, 'run through tests/sdk_peer.rs');

const client = new SuiGrpcClient({ network: 'localnet', baseUrl: DEVNET_GRPC });
const SUI = 1_000_000_000n;

async function funded() {
  const keypair = new Ed25519Keypair();
  await requestSuiFromFaucetV2({ host: DEVNET_FAUCET, recipient: keypair.toSuiAddress() });
  return keypair;
}

async function execute(keypair, transaction) {
  const result = await client.signAndExecuteTransaction({
    transaction,
    signer: keypair,
    include: { effects: true, events: true },
  });
  assert.equal(result.$kind, 'Transaction', JSON.stringify(result.FailedTransaction?.effects?.status));
  await client.waitForTransaction({ digest: result.Transaction.digest });
  return result.Transaction;
}

test('the chain has an id', async () => {
  const { response } = await client.ledgerService.getServiceInfo({});
  assert.match(response.chainId, /^[1-9A-HJ-NP-Za-km-z]{32,44}$/);
});

test('faucet funds arrive as a balance', async () => {
  const keypair = await funded();
  const { balance } = await client.getBalance({ owner: keypair.toSuiAddress() });
  assert.equal(BigInt(balance.balance), 100n * SUI);
});

test('a coin split built, signed and executed by the SDK', async () => {
  const keypair = await funded();
  const owner = keypair.toSuiAddress();
  const tx = new Transaction();
  const [one, two] = tx.splitCoins(tx.gas, [SUI, 2n * SUI]);
  tx.transferObjects([one, two], owner);
  const executed = await execute(keypair, tx);
  assert.equal(executed.effects.status.success, true);
  const { objects } = await client.listCoins({ owner });
  const balances = objects.map((c) => BigInt(c.balance)).sort();
  assert.equal(objects.length, 3);
  assert.deepEqual(balances.slice(0, 2), [SUI, 2n * SUI]);
});

test('a call into the contract, and its objects read back', async () => {
  const keypair = await funded();
  const tx = new Transaction();
  tx.moveCall({
    target: `${DEVNET_PACKAGE}::cluster::create_cluster`,
    arguments: [
      tx.pure.string('from-the-typescript-sdk'),
      tx.pure.u64(SUI),
      tx.pure.u64(3_600_000),
      tx.pure.u64(0),
      tx.pure.bool(true),
      tx.pure.u8(1),
      tx.pure.bool(false),
    ],
  });
  const executed = await execute(keypair, tx);
  const types = executed.events.map((e) => e.eventType);
  assert.deepEqual(types, [
    `${DEVNET_PACKAGE}::cluster::ClusterCreated`,
    `${DEVNET_PACKAGE}::cluster::PolicyChanged`,
  ]);
  const created = executed.effects.changedObjects.filter((c) => c.idOperation === 'Created');
  assert.equal(created.length, 2);
  const { objects } = await client.getObjects({ objectIds: created.map((c) => c.objectId) });
  const typeNames = objects.map((o) => o.type).sort();
  assert.deepEqual(typeNames, [
    `${DEVNET_PACKAGE}::cluster::Cluster`,
    `${DEVNET_PACKAGE}::cluster::ClusterAdminCap`,
  ]);
});

test('a contract abort is reported with its module and code', async () => {
  const keypair = await funded();
  const tx = new Transaction();
  tx.moveCall({
    target: `${DEVNET_PACKAGE}::cluster::create_cluster`,
    arguments: [
      tx.pure.string('zero lifetime'),
      tx.pure.u64(0),
      tx.pure.u64(0),
      tx.pure.u64(0),
      tx.pure.bool(true),
      tx.pure.u8(1),
      tx.pure.bool(false),
    ],
  });
  // The SDK simulates while building, and reports the abort from there.
  await assert.rejects(client.signAndExecuteTransaction({ transaction: tx, signer: keypair }), (error) => {
    assert.equal(error.executionError?.$kind, 'MoveAbort', String(error));
    assert.equal(error.executionError.MoveAbort.abortCode, '2');
    assert.match(error.message, /::cluster::create_cluster/);
    return true;
  });
});
