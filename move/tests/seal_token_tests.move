#[test_only]
module kubectl_sui::seal_token_tests;

use kubectl_sui::access;
use kubectl_sui::cluster::{Self, Cluster, ClusterAdminCap};
use kubectl_sui::seal_token::{Self, SealToken};
use kubectl_sui::test_helpers::{Self as h};
use std::string::String;
use sui::coin::{Self, Coin};
use sui::sui::SUI;
use sui::test_scenario as ts;

fun s(bytes: vector<u8>): String { bytes.to_string() }

fun authorize(sc: &ts::Scenario, clock_ms: u64, sender: address, verb: u8, ns: vector<u8>) {
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    t.assert_authorized(&c, sender, verb, &s(b""), &s(b"pods"), &s(ns), &s(b""), clock_ms);
    ts::return_shared(t);
    ts::return_shared(c);
}

#[test]
fun stake_issues_a_shared_token_bound_to_sender_and_cluster() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    assert!(t.owner() == h::user() && t.cluster_id() == object::id(&c));
    assert!(t.stake_value() == 5_000 && t.role() == access::role_view());
    assert!(t.expires_at_ms() == h::start_ms() + h::lifetime_ms());
    assert!(!t.is_revoked());
    assert!(t.rules() == access::role_rules(access::role_view()));
    ts::return_shared(t);
    ts::return_shared(c);
    h::finish(sc, clock);
}

#[test]
fun reads_need_no_stake_and_writes_need_the_minimum() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_edit());
    authorize(&sc, h::start_ms(), h::user(), 0, b"default");
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::add_stake(&mut t, &c, coin::mint_for_testing<SUI>(h::min_write_stake(), sc.ctx()), &clock, sc.ctx());
    ts::return_shared(t);
    ts::return_shared(c);
    sc.next_tx(h::user());
    authorize(&sc, h::start_ms(), h::user(), 6, b"default");
    h::finish(sc, clock);
}

#[test]
fun stake_with_rules_within_self_service_role() {
    let (mut sc, clock) = h::setup();
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    seal_token::stake_with_rules(
        &c,
        coin::mint_for_testing<SUI>(h::min_write_stake(), sc.ctx()),
        vector[0x40 | 0x01],
        vector[vector[s(b"")]],
        vector[vector[s(b"pods")]],
        vector[vector[s(b"team-a")]],
        vector[vector[]],
        &clock,
        sc.ctx(),
    );
    ts::return_shared(c);
    sc.next_tx(h::user());
    let t = sc.take_shared<SealToken>();
    assert!(t.role() == access::role_custom());
    ts::return_shared(t);
    sc.next_tx(h::user());
    authorize(&sc, h::start_ms(), h::user(), 6, b"team-a");
    h::finish(sc, clock);
}

#[test]
fun renew_extends_expiry_from_now() {
    let (mut sc, mut clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    clock.increment_for_testing(h::lifetime_ms() + 5);
    let c = sc.take_shared<Cluster>();
    let mut t = sc.take_shared<SealToken>();
    t.renew(&c, &clock, sc.ctx());
    assert!(t.expires_at_ms() == clock.timestamp_ms() + h::lifetime_ms());
    ts::return_shared(t);
    ts::return_shared(c);
    sc.next_tx(h::user());
    authorize(&sc, clock.timestamp_ms(), h::user(), 1, b"default");
    h::finish(sc, clock);
}

#[test]
fun admin_grants_role_and_rules() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_none());
    sc.next_tx(h::admin());
    let c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::grant_role(&cap, &c, &mut t, access::role_admin());
    assert!(t.role() == access::role_admin());
    seal_token::grant_rules(
        &cap,
        &c,
        &mut t,
        vector[0x01],
        vector[vector[s(b"")]],
        vector[vector[s(b"pods")]],
        vector[vector[s(b"ops")]],
        vector[vector[]],
    );
    assert!(t.role() == access::role_custom());
    ts::return_shared(t);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::user());
    authorize(&sc, h::start_ms(), h::user(), 0, b"ops");
    h::finish(sc, clock);
}

#[test]
fun slash_sends_part_of_the_stake_to_the_admin() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    sc.next_tx(h::admin());
    let c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::slash(&cap, &c, &mut t, 2_000, sc.ctx());
    assert!(t.stake_value() == 3_000);
    ts::return_shared(t);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::admin());
    let slashed = sc.take_from_sender<Coin<SUI>>();
    assert!(slashed.value() == 2_000);
    sc.return_to_sender(slashed);
    h::finish(sc, clock);
}

#[test]
fun unstake_after_lock_returns_stake_even_when_revoked() {
    let (mut sc, mut clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    sc.next_tx(h::admin());
    let c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::revoke(&cap, &c, &mut t);
    ts::return_shared(t);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    clock.increment_for_testing(h::lock_ms());
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    t.unstake(&c, &clock, sc.ctx());
    ts::return_shared(c);
    sc.next_tx(h::user());
    let back = sc.take_from_sender<Coin<SUI>>();
    assert!(back.value() == 5_000);
    assert!(!ts::has_most_recent_shared<SealToken>());
    sc.return_to_sender(back);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EWrongCluster)]
fun token_of_another_cluster_is_refused() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    cluster::create_cluster(b"other".to_string(), 0, 1, 0, true, 1, false, sc.ctx());
    sc.next_tx(h::user());
    authorize(&sc, h::start_ms(), h::user(), 0, b"default");
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ENotTokenOwner)]
fun token_of_another_user_is_refused() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    authorize(&sc, h::start_ms(), h::stranger(), 0, b"default");
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ETokenExpired)]
fun expired_token_is_refused() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    authorize(&sc, h::start_ms() + h::lifetime_ms(), h::user(), 0, b"default");
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ETokenRevoked)]
fun revoked_token_is_refused() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    sc.next_tx(h::admin());
    let c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::revoke(&cap, &c, &mut t);
    ts::return_shared(t);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::user());
    authorize(&sc, h::start_ms(), h::user(), 0, b"default");
    abort 0
}

#[test, expected_failure(abort_code = seal_token::EPermissionDenied)]
fun view_token_cannot_delete() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    authorize(&sc, h::start_ms(), h::user(), 6, b"default");
    abort 0
}

#[test, expected_failure(abort_code = seal_token::EInsufficientStake)]
fun write_below_minimum_stake_is_refused() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), h::min_write_stake() - 1, access::role_edit());
    authorize(&sc, h::start_ms(), h::user(), 3, b"default");
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ERoleNotSelfService)]
fun admin_role_is_not_self_service() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_admin());
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ERoleNotSelfService)]
fun explicit_rules_beyond_self_service_are_refused() {
    let (mut sc, clock) = h::setup_with(true, access::role_view());
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    seal_token::stake_with_rules(
        &c,
        coin::mint_for_testing<SUI>(0, sc.ctx()),
        vector[0x08],
        vector[vector[s(b"")]],
        vector[vector[s(b"pods")]],
        vector[vector[s(b"default")]],
        vector[vector[]],
        &clock,
        sc.ctx(),
    );
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ENotTokenOwner)]
fun only_owner_renews() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    sc.next_tx(h::stranger());
    let c = sc.take_shared<Cluster>();
    let mut t = sc.take_shared<SealToken>();
    t.renew(&c, &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ENotTokenOwner)]
fun only_owner_adds_stake() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    sc.next_tx(h::stranger());
    let c = sc.take_shared<Cluster>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::add_stake(&mut t, &c, coin::mint_for_testing<SUI>(1, sc.ctx()), &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ETokenRevoked)]
fun revoked_token_cannot_renew() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    sc.next_tx(h::admin());
    let c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::revoke(&cap, &c, &mut t);
    ts::return_shared(t);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    let mut t = sc.take_shared<SealToken>();
    t.renew(&c, &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = seal_token::EStakeLocked)]
fun unstake_inside_lock_period_is_refused() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    t.unstake(&c, &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ENotTokenOwner)]
fun only_owner_unstakes() {
    let (mut sc, mut clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    clock.increment_for_testing(h::lock_ms());
    sc.next_tx(h::stranger());
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    t.unstake(&c, &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ESlashingDisabled)]
fun slashing_needs_policy() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::set_policy(&cap, &mut c, 0, 1, 0, true, 1, false);
    let mut t = sc.take_shared<SealToken>();
    seal_token::slash(&cap, &c, &mut t, 1, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = seal_token::ESlashExceedsStake)]
fun slash_cannot_exceed_stake() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    sc.next_tx(h::admin());
    let c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::slash(&cap, &c, &mut t, 5_001, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = cluster::ENotClusterAdmin)]
fun revoke_needs_the_clusters_cap() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    let first = ts::most_recent_id_shared<Cluster>().destroy_some();
    sc.next_tx(h::admin());
    cluster::create_cluster(b"other".to_string(), 0, 1, 0, true, 1, false, sc.ctx());
    sc.next_tx(h::admin());
    let other_cap = sc.take_from_sender<ClusterAdminCap>();
    let c = sc.take_shared_by_id<Cluster>(first);
    let mut t = sc.take_shared<SealToken>();
    seal_token::revoke(&other_cap, &c, &mut t);
    abort 0
}

#[test, expected_failure(abort_code = seal_token::EPermissionDenied)]
fun admin_preset_does_not_reach_the_protected_namespace() {
    let (mut sc, clock) = h::setup_with(true, access::role_admin());
    h::stake(&mut sc, &clock, h::user(), h::min_write_stake(), access::role_admin());
    authorize(&sc, h::start_ms(), h::user(), 0, b"nautilus");
    abort 0
}

#[test]
fun a_rule_naming_the_protected_namespace_reaches_it() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_none());
    sc.next_tx(h::admin());
    let c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::grant_rules(
        &cap,
        &c,
        &mut t,
        vector[0x01],
        vector[vector[s(b"")]],
        vector[vector[s(b"pods")]],
        vector[vector[s(b"nautilus")]],
        vector[vector[]],
    );
    ts::return_shared(t);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::user());
    authorize(&sc, h::start_ms(), h::user(), 0, b"nautilus");
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::ERoleNotSelfService)]
fun self_service_rules_cannot_name_the_protected_namespace() {
    let (mut sc, clock) = h::setup_with(true, access::role_admin());
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    seal_token::stake_with_rules(
        &c,
        coin::mint_for_testing<SUI>(0, sc.ctx()),
        vector[0x01],
        vector[vector[s(b"")]],
        vector[vector[s(b"secrets")]],
        vector[vector[s(b"nautilus")]],
        vector[vector[]],
        &clock,
        sc.ctx(),
    );
    abort 0
}

#[test, expected_failure(abort_code = seal_token::EPermissionDenied)]
fun a_resource_rule_does_not_open_non_resource_paths() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 0, access::role_edit());
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    t.assert_authorized(&c, h::user(), 0, &s(b""), &s(b""), &s(b""), &s(b"/metrics"), h::start_ms());
    abort 0
}

#[test]
fun added_stake_relocks_and_a_shorter_policy_does_not_unlock() {
    let (mut sc, mut clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    let t = sc.take_shared<SealToken>();
    assert!(t.unlocks_at_ms() == h::start_ms() + h::lock_ms());
    ts::return_shared(t);
    // Later, more stake: locked again from now.
    clock.increment_for_testing(h::lock_ms() - 1);
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    let mut t = sc.take_shared<SealToken>();
    seal_token::add_stake(&mut t, &c, coin::mint_for_testing<SUI>(1, sc.ctx()), &clock, sc.ctx());
    assert!(t.unlocks_at_ms() == clock.timestamp_ms() + h::lock_ms());
    ts::return_shared(t);
    ts::return_shared(c);
    // The admin drops the lock to zero: the token's lock stands.
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::set_policy(&cap, &mut c, h::min_write_stake(), h::lifetime_ms(), 0, true, access::role_edit(), true);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    assert!(t.unlocks_at_ms() == clock.timestamp_ms() + h::lock_ms());
    ts::return_shared(t);
    ts::return_shared(c);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EStakeLocked)]
fun a_shorter_policy_does_not_let_an_existing_stake_out_early() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), 5_000, access::role_view());
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::set_policy(&cap, &mut c, h::min_write_stake(), h::lifetime_ms(), 0, true, access::role_edit(), true);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::user());
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    t.unstake(&c, &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(arithmetic_error, location = kubectl_sui::seal_token)]
fun a_lifetime_that_overflows_aborts() {
    let mut sc = ts::begin(h::admin());
    let mut clock = sui::clock::create_for_testing(sc.ctx());
    clock.set_for_testing(h::start_ms());
    cluster::create_cluster(b"x".to_string(), 0, 18446744073709551615, 0, true, access::role_view(), false, sc.ctx());
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    abort 0
}
