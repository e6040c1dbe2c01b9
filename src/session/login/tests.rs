//! The login use case on the in-process devnet, its files in a temporary home: what it asks
//! for, when it reuses, renews or stakes a token, what it writes, and what logout removes.
//! `tests/credential.rs` and `tests/kubectl.rs` drive the same through the real binary.

use super::*;
use crate::contract::objects::Policy;
use crate::testkit::{self, address};

const SUI: u64 = 1_000_000_000;

fn policy(self_service: Role, min_write_stake: u64, token_lifetime_ms: u64) -> Policy {
    Policy { min_write_stake, token_lifetime_ms, ..testkit::policy(self_service) }
}

fn request(cluster: Address, requested: Requested) -> LoginRequest {
    LoginRequest { cluster, requested, stake: None, context: None }
}

#[tokio::test]
async fn the_plan_takes_the_self_service_role_and_its_write_stake_and_refuses_a_cluster_granting_none() {
    let chain = testkit::Chain::new().await;
    let admin = chain.funded().await;
    let (open, _) = chain.cluster(&admin, &policy(Role::Edit, 3 * SUI, 3_600_000)).await;
    let (closed, _) = chain.cluster(&admin, &policy(Role::None, 0, 3_600_000)).await;
    let (mut client, settings, me) = (chain.client(), Settings::default(), Address::from([1; 32]));

    let planned = plan(&mut client, &settings, me, request(open, Requested::SelfService)).await.unwrap();
    assert_eq!(
        (planned.ask.clone(), planned.stake, planned.context.as_str()),
        (Ask::Role(Role::Edit), 3 * SUI, "sui-unit")
    );
    let view = plan(&mut client, &settings, me, request(open, Requested::Role(Role::View))).await.unwrap();
    assert_eq!(view.stake, 0, "a read-only token stakes nothing by default");
    let chosen = LoginRequest { stake: Some(SUI / 2), ..request(open, Requested::Role(Role::Edit)) };
    assert_eq!(plan(&mut client, &settings, me, chosen).await.unwrap().stake, SUI / 2);

    let refused = plan(&mut client, &settings, me, request(closed, Requested::SelfService)).await.unwrap_err();
    assert!(refused.to_string().contains("kubectl sui cluster grant"), "{refused}");
    let missing = plan(&mut client, &settings, me, request(Address::from([9; 32]), Requested::SelfService)).await;
    assert!(missing.unwrap_err().to_string().contains("check the id with its admin"));
}

#[tokio::test]
async fn a_token_is_reused_while_it_serves_renewed_near_its_expiry_and_staked_anew_for_another_ask() {
    let chain = testkit::Chain::new().await;
    let admin = chain.funded().await;
    let (cluster, _) = chain.cluster(&admin, &policy(Role::Edit, 0, 3_600_000)).await;
    let (short, _) = chain.cluster(&admin, &policy(Role::Edit, 0, 30_000)).await;
    let key = chain.funded().await;
    let mut client = chain.client();
    let login_of = |cluster, token| Login {
        context: "c".into(),
        network: "devnet".into(),
        endpoints: NetworkEndpoints { rpc: "in-process".into(), faucet: None, package: None, upgrade_cap: None },
        package: crate::devnet::package_id(),
        cluster,
        cluster_name: "unit".into(),
        address: address(&key),
        token,
        token_expires_ms: 0,
        proxy_port: 1,
        kubeconfig: "/nonexistent".into(),
    };

    let edit = Ask::Role(Role::Edit);
    let (first, _) = obtain_token(&mut client, &key, cluster, &edit, SUI, None).await.unwrap();
    let previous = login_of(cluster, first);
    let (again, _) = obtain_token(&mut client, &key, cluster, &edit, SUI, Some(&previous)).await.unwrap();
    assert_eq!(again, first, "the same ask and stake reuse the token");
    let (more, token) = obtain_token(&mut client, &key, cluster, &edit, 2 * SUI, Some(&previous)).await.unwrap();
    assert_ne!(more, first, "a larger stake needs a new token");
    assert_eq!(token.stake.value, 2 * SUI);
    let (viewer, token) =
        obtain_token(&mut client, &key, cluster, &Ask::Role(Role::View), 0, Some(&previous)).await.unwrap();
    assert_ne!(viewer, first, "another role needs a new token");
    assert_eq!(token.role, Role::View.code());

    // A 30 s lifetime is always within a minute of its end: renewed, the same token.
    let (brief, token) = obtain_token(&mut client, &key, short, &edit, 0, None).await.unwrap();
    let (renewed, later) =
        obtain_token(&mut client, &key, short, &edit, 0, Some(&login_of(short, brief))).await.unwrap();
    assert_eq!(renewed, brief);
    assert!(later.expires_at_ms >= token.expires_at_ms, "{} < {}", later.expires_at_ms, token.expires_at_ms);
}

#[tokio::test]
async fn a_login_writes_its_key_kubeconfig_entry_and_record_and_logout_removes_them() {
    let chain = testkit::Chain::new().await;
    let admin = chain.funded().await;
    let (cluster, _) = chain.cluster(&admin, &policy(Role::Edit, 0, 3_600_000)).await;
    let home = tempfile::tempdir().unwrap();
    let paths = Paths::under(home.path());
    let kubeconfig = home.path().join("kubeconfig");
    let mut client = chain.client();
    let settings = Settings::default();
    let (key, new) = super::key(&paths, &settings, KeyChoice::Configured).unwrap();
    assert!(new, "no identity yet: a new key");
    chain.devnet.fund(address(&key)).await.unwrap();

    let planned = plan(&mut client, &settings, address(&key), request(cluster, Requested::SelfService)).await.unwrap();
    let completion = Completion {
        network: "devnet".into(),
        endpoints: NetworkEndpoints { rpc: "in-process".into(), faucet: None, package: None, upgrade_cap: None },
        package: crate::devnet::package_id(),
        key: &key,
        new_key: new,
        store: StorePreference::File,
        kubeconfig: kubeconfig.clone(),
        switch: true,
        exe: "/usr/local/bin/kubectl-sui".into(),
        env: vec![],
        port: 40123,
    };
    let done = complete(&mut client, &paths, &settings, planned, completion).await.unwrap();
    assert_eq!(done.stored_key.as_ref().map(|(s, _)| *s), Some(KeyStoreKind::File));
    assert_eq!(done.login.server(), "https://127.0.0.1:40123");

    let settings = Settings::load(&paths).unwrap();
    assert_eq!(settings.identity.as_ref().map(|i| i.address), Some(address(&key)));
    assert_eq!(settings.logins.get("sui-unit").map(|l| l.token), Some(done.login.token));
    let (again, new) = super::key(&paths, &settings, KeyChoice::Configured).unwrap();
    assert_eq!((address(&again), new), (address(&key), false), "the stored key is the identity's");
    let written = credential::read_kubeconfig(&kubeconfig).unwrap();
    assert_eq!(written.current_context.as_deref(), Some("sui-unit"));
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains("https://127.0.0.1:40123") && text.contains("credential"), "{text}");

    let out = crate::session::logout::logout(&paths, &settings, Some("sui-unit"), None).unwrap();
    assert!(out.removed_entry && !out.stopped_proxy);
    assert!(Settings::load(&paths).unwrap().logins.is_empty());
    assert!(!std::fs::read_to_string(&kubeconfig).unwrap().contains("40123"));
}
