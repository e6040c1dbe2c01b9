//! `kubectl sui login` in two steps. [`plan`] reads the cluster and decides what to ask the
//! contract for (role or rules), the stake, the context, and the earlier login it may reuse;
//! the caller then funds the key and asks the user to confirm the stake. [`complete`] obtains
//! the token (reusing, renewing or staking), stores a new key, writes the kubeconfig entry and
//! the login record, and stops a proxy holding the previous token.

use std::path::PathBuf;

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;

use super::{SessionError, now_ms};
use crate::chain::{ChainClient, ChainError, DEFAULT_GAS_BUDGET};
use crate::config::{Identity, KeyStoreKind, Login, NetworkEndpoints, Paths, Settings, file_safe};
use crate::contract::events::TokenIssued;
use crate::contract::objects::{Cluster, Rule, SealToken};
use crate::contract::{CallArg, Contract, Role};
use crate::credential::{self, CredentialCache, KubeconfigEntry, StorePreference};
use crate::proxy::daemon;

/// A token this close to its expiry is renewed rather than reused as it is (ms).
const RENEW_WITHIN_MS: u64 = 60_000;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// A predefined role.
    Role(Role),
    /// Explicit rules.
    Rules(Vec<Rule>),
    /// Whatever the cluster grants without its admin.
    SelfService,
}

/// What the login asks the contract for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// A predefined role.
    Role(Role),
    /// Explicit rules (a custom token).
    Rules(Vec<Rule>),
}

impl Ask {
    /// Whether the token would allow writes (and so needs the cluster's write stake).
    pub fn writes(&self) -> bool {
        match self {
            Ask::Role(role) => matches!(role, Role::Edit | Role::Admin),
            Ask::Rules(rules) => rules.iter().any(|r| r.verbs & !0x07 != 0),
        }
    }

    /// Whether `token` grants exactly this.
    pub fn satisfied_by(&self, token: &SealToken) -> bool {
        match self {
            Ask::Role(role) => token.role == role.code(),
            Ask::Rules(rules) => token.role == Role::Custom.code() && &token.rules == rules,
        }
    }
}

/// The inputs of [`plan`].
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// The cluster object.
    pub cluster: Address,
    /// What to ask for.
    pub requested: Requested,
    /// The stake, in MIST [default: the cluster's write stake for a token that writes, else 0].
    pub stake: Option<u64>,
    /// The kubeconfig context [default: `sui-<cluster name>`].
    pub context: Option<String>,
}

/// What a login will do, for the caller to fund and confirm.
#[derive(Debug, Clone)]
pub struct LoginPlan {
    /// The cluster, as read (its object id is `cluster.id`).
    pub cluster: Cluster,
    /// What the contract is asked for.
    pub ask: Ask,
    /// The stake, in MIST.
    pub stake: u64,
    /// The kubeconfig context.
    pub context: String,
    /// The earlier login of the same key to the same cluster under this context.
    pub previous: Option<Login>,
}

/// Reads the cluster and decides what the login of `address` asks for.
pub async fn plan(
    client: &mut ChainClient,
    settings: &Settings,
    address: Address,
    request: LoginRequest,
) -> Result<LoginPlan, SessionError> {
    let cluster = request.cluster;
    let object: Cluster = client.move_object(cluster).await.map_err(|e| {
        SessionError::Refused(format!(
            "cluster {cluster} is not on {} ({e}); check the id with its admin, or --network",
            client.url()
        ))
    })?;
    let ask = match request.requested {
        Requested::Role(role) => Ask::Role(role),
        Requested::Rules(rules) => Ask::Rules(rules),
        Requested::SelfService => match Role::from_code(object.policy.self_service_role) {
            Some(Role::None) | None => {
                return Err(SessionError::Refused(format!(
                    "cluster {} grants no role without its admin; log in with --role view and ask the admin for more: kubectl sui cluster grant",
                    object.name
                )));
            }
            Some(role) => Ask::Role(role),
        },
    };
    let stake = match request.stake {
        Some(stake) => stake,
        None if ask.writes() => object.policy.min_write_stake,
        None => 0,
    };
    let context = request.context.unwrap_or_else(|| format!("sui-{}", file_safe(&object.name)));
    let previous = settings.logins.get(&context).filter(|l| l.cluster == cluster && l.address == address).cloned();
    Ok(LoginPlan { cluster: object, ask, stake, context, previous })
}

/// The key a login uses.
#[derive(Debug)]
pub enum KeyChoice {
    /// One the user imported (a Sui keystore, a `suiprivkey` export).
    Imported(Box<Ed25519PrivateKey>),
    /// A new one, even if one is configured.
    New,
    /// The configured identity's, or a new one when none is configured.
    Configured,
}

/// The key of `choice`, and whether it is new here (and so must be stored).
pub fn key(paths: &Paths, settings: &Settings, choice: KeyChoice) -> Result<(Ed25519PrivateKey, bool), SessionError> {
    match (choice, &settings.identity) {
        (KeyChoice::Imported(key), _) => Ok((*key, true)),
        (KeyChoice::Configured, Some(id)) => Ok((credential::load_key(paths, id.address, id.store)?, false)),
        (KeyChoice::Configured | KeyChoice::New, _) => Ok((Ed25519PrivateKey::generate(rand_core::OsRng), true)),
    }
}

/// The inputs of [`complete`] beyond the plan.
#[derive(Debug)]
pub struct Completion<'a> {
    /// The network as the user named it.
    pub network: String,
    /// Its endpoints.
    pub endpoints: NetworkEndpoints,
    /// The contract package.
    pub package: Address,
    /// The key.
    pub key: &'a Ed25519PrivateKey,
    /// Whether the key is new here and must be stored.
    pub new_key: bool,
    /// Where a new key goes.
    pub store: StorePreference,
    /// The kubeconfig file to write.
    pub kubeconfig: PathBuf,
    /// Whether to make the context current.
    pub switch: bool,
    /// The credential command: this `kubectl-sui`, by absolute path.
    pub exe: PathBuf,
    /// Environment the credential command needs.
    pub env: Vec<(String, String)>,
    /// The proxy's port: the previous login's (kubectl's discovery cache is keyed by the
    /// server URL), or a free one for a first login of this context.
    pub port: u16,
}

/// What a login did.
#[derive(Debug)]
pub struct LoginOutcome {
    /// The login recorded.
    pub login: Login,
    /// The seal token, as the chain has it.
    pub token: SealToken,
    /// Where a new key was stored, and why not the keyring if it fell back to the file.
    pub stored_key: Option<(KeyStoreKind, Option<String>)>,
    /// The kubeconfig's backup, when it existed.
    pub backup: Option<PathBuf>,
}

/// Obtains the token and writes the login.
pub async fn complete(
    client: &mut ChainClient,
    paths: &Paths,
    settings: &Settings,
    plan: LoginPlan,
    completion: Completion<'_>,
) -> Result<LoginOutcome, SessionError> {
    let key = completion.key;
    let address = key.public_key().derive_address();
    let (token, token_object) =
        obtain_token(client, key, plan.cluster.id, &plan.ask, plan.stake, plan.previous.as_ref()).await?;
    let (store, stored_key) = if completion.new_key {
        let (store, fallback) = credential::store_key(paths, key, completion.store)?;
        (store, Some((store, fallback)))
    } else {
        let identity = settings.identity.as_ref().ok_or_else(|| {
            SessionError::Refused("no identity is configured; log in with --new-key or import a key".into())
        })?;
        (identity.store, None)
    };
    let context = plan.context;
    let login = Login {
        context: context.clone(),
        network: completion.network,
        endpoints: completion.endpoints,
        package: completion.package,
        cluster: plan.cluster.id,
        cluster_name: plan.cluster.name.clone(),
        address,
        token,
        token_expires_ms: token_object.expires_at_ms,
        proxy_port: completion.port,
        kubeconfig: completion.kubeconfig.clone(),
    };
    let tls = crate::proxy::tls::ProxyTls::load_or_create(&paths.proxy_dir(&context))?;
    let entry = KubeconfigEntry {
        name: context.clone(),
        server: login.server(),
        ca_pem: tls.ca_pem.clone(),
        command: completion.exe,
        args: vec!["credential".into(), "--cluster".into(), context.clone()],
        env: completion.env,
    };
    let backup = credential::upsert_entry(&completion.kubeconfig, &entry, completion.switch)?;
    Settings::update(paths, |s| {
        s.identity = Some(Identity { address, store });
        s.logins.insert(context.clone(), login.clone());
    })?;
    CredentialCache::new(paths.credential_cache_dir()).forget(&address.to_string(), &context);
    // A running proxy holds the previous token; the next kubectl call starts a fresh one.
    daemon::stop(paths, &context);
    Ok(LoginOutcome { login, token: token_object, stored_key, backup })
}

/// Reuses the previous login's token when it still serves `ask` with at least `stake`
/// (renewing it when it is about to expire), else stakes for a new one.
pub async fn obtain_token(
    client: &mut ChainClient,
    key: &Ed25519PrivateKey,
    cluster: Address,
    ask: &Ask,
    stake: u64,
    previous: Option<&Login>,
) -> Result<(Address, SealToken), SessionError> {
    let contract = Contract::new(client.package());
    if let Some(previous) = previous
        && let Ok(token) = client.move_object::<SealToken>(previous.token).await
        && !token.revoked
        && ask.satisfied_by(&token)
        && token.stake.value >= stake
    {
        if token.expires_at_ms > now_ms() + RENEW_WITHIN_MS {
            return Ok((previous.token, token));
        }
        let mut tx = TransactionBuilder::new();
        let (token_arg, cluster_arg) = (client.object_arg(previous.token).await?, client.object_arg(cluster).await?);
        contract.renew(&mut tx, token_arg, cluster_arg)?;
        client.execute_settled_with_own_coin(tx, key, DEFAULT_GAS_BUDGET).await?;
        return Ok((previous.token, client.move_object(previous.token).await?));
    }
    let mut tx = TransactionBuilder::new();
    let amount = tx.pure(&stake);
    let gas = tx.gas();
    let coin = tx.split_coins(gas, vec![amount]).remove(0);
    let cluster_arg = client.object_arg(cluster).await?;
    match ask {
        Ask::Role(role) => contract.stake(&mut tx, cluster_arg, CallArg::Result(coin), *role)?,
        Ask::Rules(rules) => contract.stake_with_rules(&mut tx, cluster_arg, CallArg::Result(coin), rules)?,
    };
    let staked = client.execute_settled_with_own_coin(tx, key, DEFAULT_GAS_BUDGET).await?;
    let token = staked
        .events_of::<TokenIssued>()
        .first()
        .map(|e| e.token_id)
        .ok_or(ChainError::Missing { what: "TokenIssued event" })?;
    Ok((token, client.move_object(token).await?))
}

#[cfg(test)]
mod tests;
