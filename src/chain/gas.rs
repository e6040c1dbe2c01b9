//! A pool of gas coins, so one signer's transactions run in parallel instead of queueing
//! behind one owned coin (the node's answers, the proxy's requests).
//!
//! The pool owns the one cycle every transaction goes through: take a coin, execute, read the
//! coin's new version back, return it. It keeps each coin's balance (read when the coin joins,
//! then less what each transaction paid for gas: its transactions move no other value out of
//! the coin), takes the richest free coin, and never asks a
//! budget larger than that coin holds: coins that a long run has drained below the default
//! budget still pay for the cheap calls the contract makes. A coin that cannot be read back
//! leaves the pool; an empty pool looks for the owner's coins again (and splits one when it
//! finds a single coin), so losing coins never leaves a signer stuck while it still has SUI.

use std::collections::HashSet;
use std::time::Duration;

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{Address, ObjectReference};
use sui_transaction_builder::TransactionBuilder;
use tokio::sync::{Mutex, Semaphore};

use super::{ChainClient, ChainError, DEFAULT_GAS_BUDGET, Executed};

/// What each new pool coin is split off with (MIST), when the balance allows.
const COIN_VALUE: u64 = 2_000_000_000;
/// How long a transaction waits for a coin while all are in use.
pub const GAS_WAIT: Duration = Duration::from_secs(60);

/// Gas coins, each used by one transaction at a time.
#[derive(Debug)]
pub struct GasPool {
    owner: Address,
    target: usize,
    /// Free coins and their balances (MIST).
    coins: Mutex<Vec<(ObjectReference, u64)>>,
    in_use: std::sync::Mutex<HashSet<Address>>,
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
        let coins = discover(client, key, owner, size, &HashSet::new()).await?;
        if coins.is_empty() {
            return Err(ChainError::NoGas { owner });
        }
        Ok(GasPool {
            owner,
            target: size.max(1),
            available: Semaphore::new(coins.len()),
            coins: Mutex::new(coins),
            in_use: Default::default(),
        })
    }

    /// Coins in the pool, free or in use.
    pub async fn size(&self) -> usize {
        self.coins.lock().await.len() + self.in_use.lock().expect("lock").len()
    }

    /// Takes a coin, waiting up to [`GAS_WAIT`] while all are in use, and looking for the
    /// owner's coins again when the pool is empty.
    async fn take(
        &self,
        client: &mut ChainClient,
        key: &Ed25519PrivateKey,
    ) -> Result<(ObjectReference, u64), ChainError> {
        if self.size().await == 0 {
            self.heal(client, key).await?;
        }
        let permit = tokio::time::timeout(GAS_WAIT, self.available.acquire())
            .await
            .map_err(|_| ChainError::GasBusy { owner: self.owner, waited: GAS_WAIT })?
            .expect("the pool's semaphore is never closed");
        permit.forget();
        let coin = {
            let mut coins = self.coins.lock().await;
            let richest = (0..coins.len()).max_by_key(|i| coins[*i].1).expect("a permit means a coin");
            coins.swap_remove(richest)
        };
        self.in_use.lock().expect("lock").insert(*coin.0.object_id());
        Ok(coin)
    }

    async fn put(&self, coin: ObjectReference, balance: u64) {
        self.in_use.lock().expect("lock").remove(coin.object_id());
        self.coins.lock().await.push((coin, balance));
        self.available.add_permits(1);
    }

    /// Finds the owner's coins the pool does not hold and adds them, splitting one when
    /// that is all there is.
    pub async fn heal(&self, client: &mut ChainClient, key: &Ed25519PrivateKey) -> Result<(), ChainError> {
        let known: HashSet<Address> = {
            let free = self.coins.lock().await;
            free.iter().map(|(c, _)| *c.object_id()).chain(self.in_use.lock().expect("lock").iter().copied()).collect()
        };
        let found = discover(client, key, self.owner, self.target.saturating_sub(known.len()), &known).await?;
        if found.is_empty() && known.is_empty() {
            return Err(ChainError::NoGas { owner: self.owner });
        }
        for (coin, balance) in found {
            tracing::info!(coin = %coin.object_id(), balance, "gas coin added to the pool");
            self.put(coin, balance).await;
        }
        Ok(())
    }

    /// Executes `tx` paying with a pooled coin, and returns the coin at its new version; a
    /// coin that cannot be read back leaves the pool.
    pub async fn execute(
        &self,
        client: &mut ChainClient,
        key: &Ed25519PrivateKey,
        tx: TransactionBuilder,
    ) -> Result<Executed, ChainError> {
        let (coin, balance) = self.take(client, key).await?;
        let id = *coin.object_id();
        // Never more than the coin holds: a contract call costs a few thousandths of a SUI.
        let result = client.execute_with_budget(tx, key, coin, DEFAULT_GAS_BUDGET.min(balance)).await;
        let next = match &result {
            Ok(executed) => executed.written(id).map(|next| (next, balance.saturating_sub(executed.gas_paid()))),
            Err(_) => None,
        };
        let next = match next {
            Some(next) => Some(next),
            // After a failure, read the coin's current version and balance back, if it is
            // still ours.
            None => client
                .object(id)
                .await
                .ok()
                .filter(|o| *o.owner() == sui_sdk_types::Owner::Address(self.owner))
                .map(|o| (ObjectReference::new(id, o.version(), o.digest()), coin_balance(&o))),
        };
        match next {
            Some((next, balance)) => self.put(next, balance).await,
            None => {
                self.in_use.lock().expect("lock").remove(&id);
                tracing::warn!(coin = %id, "gas coin could not be read back; it leaves the pool");
            }
        }
        result
    }
}

/// The balance of a `Coin<SUI>` object: its contents are the id, then the balance.
fn coin_balance(object: &sui_sdk_types::Object) -> u64 {
    object
        .as_struct()
        .and_then(|s| s.contents().get(32..40))
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// Up to `wanted` of `owner`'s gas coins not in `known`, with their balances; when the owner
/// has fewer coins than it needs and nothing else uses them, it splits its first coin so it
/// has `wanted`.
async fn discover(
    client: &mut ChainClient,
    key: &Ed25519PrivateKey,
    owner: Address,
    wanted: usize,
    known: &HashSet<Address>,
) -> Result<Vec<(ObjectReference, u64)>, ChainError> {
    let mut coins: Vec<ObjectReference> =
        client.gas_coins(owner).await?.into_iter().filter(|c| !known.contains(c.object_id())).collect();
    if !coins.is_empty() && coins.len() < wanted && known.is_empty() {
        // Up to COIN_VALUE each, but never more than the balance can give every coin.
        let balance = client.balance(owner).await?;
        let value = COIN_VALUE.min(balance / (wanted as u64 + 1));
        let mut tx = TransactionBuilder::new();
        let amounts = (coins.len()..wanted).map(|_| tx.pure(&value)).collect();
        let gas_arg = tx.gas();
        let split = tx.split_coins(gas_arg, amounts);
        let me = tx.pure(&owner);
        tx.transfer_objects(split, me);
        client.execute_settled(tx, key, coins.remove(0), DEFAULT_GAS_BUDGET).await?;
        coins = client.gas_coins(owner).await?;
    }
    coins.truncate(wanted.max(1));
    let mut with_balances = Vec::with_capacity(coins.len());
    for coin in coins {
        let object = client.object(*coin.object_id()).await?;
        with_balances.push((coin, coin_balance(&object)));
    }
    Ok(with_balances)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Contract, Role};
    use crate::devnet::package_id;
    use crate::testkit::{self, address};

    /// A cheap transaction that moves no value out of the gas coin (as the node's and the
    /// proxy's do not): splits a zero coin off it and sends that to its owner.
    fn transfer_to_self(owner: Address) -> TransactionBuilder {
        let mut tx = TransactionBuilder::new();
        let one = tx.pure(&0u64);
        let gas = tx.gas();
        let coin = tx.split_coins(gas, vec![one]);
        let me = tx.pure(&owner);
        tx.transfer_objects(coin, me);
        tx
    }

    /// A transaction the contract refuses (a policy with no token lifetime).
    fn refused() -> TransactionBuilder {
        let mut tx = TransactionBuilder::new();
        let policy = crate::contract::objects::Policy { token_lifetime_ms: 0, ..testkit::policy(Role::View) };
        Contract::new(package_id()).create_cluster(&mut tx, "refused", &policy).unwrap();
        tx
    }

    #[tokio::test]
    async fn one_coin_is_split_into_the_pool_and_each_coin_comes_back_at_its_new_version() {
        let chain = testkit::Chain::new().await;
        let key = chain.funded().await;
        let mut client = chain.client();
        let pool = GasPool::prepare(&mut client, &key, address(&key), 4).await.unwrap();
        assert_eq!(pool.size().await, 4);
        // Three rounds of four at once: a coin put back at a stale version fails the next round.
        for _ in 0..3 {
            let runs = (0..4).map(|_| {
                let (pool, key, mut client) = (&pool, &key, chain.client());
                async move { pool.execute(&mut client, key, transfer_to_self(address(key))).await }
            });
            for result in futures::future::join_all(runs).await {
                result.unwrap();
            }
        }
        assert_eq!(pool.size().await, 4);
        // The balances the pool keeps are exactly what the chain holds.
        let kept: u64 = pool.coins.lock().await.iter().map(|(_, b)| b).sum();
        let pooled: HashSet<Address> = pool.coins.lock().await.iter().map(|(c, _)| *c.object_id()).collect();
        let mut on_chain = 0;
        for coin in client.gas_coins(address(&key)).await.unwrap() {
            if pooled.contains(coin.object_id()) {
                on_chain += coin_balance(&client.object(*coin.object_id()).await.unwrap());
            }
        }
        assert_eq!(kept, on_chain);
    }

    #[tokio::test]
    async fn a_refused_transaction_still_returns_its_coin_for_the_next_one() {
        let chain = testkit::Chain::new().await;
        let key = chain.funded().await;
        let mut client = chain.client();
        let pool = GasPool::prepare(&mut client, &key, address(&key), 1).await.unwrap();
        let refusal = pool.execute(&mut client, &key, refused()).await.unwrap_err();
        assert!(
            matches!(&refusal, ChainError::Abort { abort: Some(a), .. } if a.kind == crate::contract::Abort::EInvalidPolicy),
            "{refusal:?}"
        );
        assert_eq!(pool.size().await, 1);
        pool.execute(&mut client, &key, transfer_to_self(address(&key))).await.unwrap();
    }

    #[tokio::test]
    async fn a_coin_lost_behind_the_pools_back_leaves_it_and_the_pool_heals_from_the_owners_coins() {
        let chain = testkit::Chain::new().await;
        let key = chain.funded().await;
        let owner = address(&key);
        let mut client = chain.client();
        let pool = GasPool::prepare(&mut client, &key, owner, 1).await.unwrap();
        // The pool's only coin is given away by another transaction of the same key.
        let coin = client.gas_coins(owner).await.unwrap().remove(0);
        let mut give = TransactionBuilder::new();
        let gas = give.gas();
        let someone = give.pure(&Address::from([7u8; 32]));
        give.transfer_objects(vec![gas], someone);
        client.execute(give, &key, coin).await.unwrap();

        let lost = pool.execute(&mut client, &key, transfer_to_self(owner)).await.unwrap_err();
        assert!(!matches!(lost, ChainError::Abort { .. }), "{lost:?}");
        assert_eq!(pool.size().await, 0, "the coin another owner holds left the pool");
        // Nothing left: a clear refusal naming the owner, not a hang.
        let none = pool.execute(&mut client, &key, transfer_to_self(owner)).await.unwrap_err();
        assert!(matches!(none, ChainError::NoGas { owner: o } if o == owner), "{none:?}");
        // New SUI arrives: the pool finds it by itself.
        chain.devnet.fund(owner).await.unwrap();
        pool.execute(&mut client, &key, transfer_to_self(owner)).await.unwrap();
        assert_eq!(pool.size().await, 1);
    }

    #[tokio::test]
    async fn an_owner_without_coins_is_told_so() {
        let chain = testkit::Chain::new().await;
        let key = Ed25519PrivateKey::generate(rand_core::OsRng);
        let mut client = chain.client();
        let err = GasPool::prepare(&mut client, &key, address(&key), 2).await.unwrap_err();
        assert!(matches!(err, ChainError::NoGas { .. }), "{err:?}");
    }
}
