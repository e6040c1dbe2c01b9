//! A pool of gas coins, so one signer's transactions run in parallel instead of queueing
//! behind one owned coin (the node's answers, the proxy's requests).

use sui_sdk_types::{Address, ObjectReference};
use sui_transaction_builder::TransactionBuilder;
use tokio::sync::{Mutex, Semaphore};

use super::{ChainClient, ChainError};
use sui_crypto::ed25519::Ed25519PrivateKey;

/// What each new pool coin is split off with (MIST), when the balance allows.
const COIN_VALUE: u64 = 2_000_000_000;

/// Gas coins, each used by one transaction at a time.
#[derive(Debug)]
pub struct GasPool {
    coins: Mutex<Vec<ObjectReference>>,
    available: Semaphore,
}

impl GasPool {
    /// Makes sure `owner` has `size` gas coins (splitting its largest if needed) and pools them.
    pub async fn prepare(
        client: &mut ChainClient,
        key: &Ed25519PrivateKey,
        owner: Address,
        size: usize,
    ) -> Result<GasPool, ChainError> {
        let mut coins = client.gas_coins(owner).await?;
        if coins.is_empty() {
            return Err(ChainError::NoGas { owner });
        }
        if coins.len() < size {
            // Up to COIN_VALUE each, but never more than the balance can give every coin.
            let balance = client.balance(owner).await?;
            let value = COIN_VALUE.min(balance / (size as u64 + 1));
            let mut tx = TransactionBuilder::new();
            let amounts = (coins.len()..size).map(|_| tx.pure(&value)).collect();
            let gas_arg = tx.gas();
            let split = tx.split_coins(gas_arg, amounts);
            let me = tx.pure(&owner);
            tx.transfer_objects(split, me);
            client.execute(tx, key, coins.remove(0)).await?;
            coins = client.gas_coins(owner).await?;
        }
        coins.truncate(size.max(1));
        Ok(GasPool { available: Semaphore::new(coins.len()), coins: Mutex::new(coins) })
    }

    /// Takes a coin, waiting while all are in use.
    pub async fn take(&self) -> ObjectReference {
        self.available.acquire().await.expect("the pool's semaphore is never closed").forget();
        self.coins.lock().await.pop().expect("a permit means a coin")
    }

    /// Returns a coin at its new version.
    pub async fn put(&self, coin: ObjectReference) {
        self.coins.lock().await.push(coin);
        self.available.add_permits(1);
    }
}
