/// Shared set-up for the unit tests: a cluster with one debug node, and staking.
#[test_only]
module kubectl_sui::test_helpers;

use kubectl_sui::access;
use kubectl_sui::cluster::{Self, Cluster, ClusterAdminCap};
use kubectl_sui::seal_token;
use sui::address;
use sui::clock::{Self, Clock};
use sui::coin;
use sui::hash;
use sui::sui::SUI;
use sui::test_scenario::{Self as ts, Scenario};

public fun admin(): address { @0xAD }

public fun user(): address { @0xB0B }

public fun stranger(): address { @0xE7E }

public fun min_write_stake(): u64 { 1_000 }

public fun lifetime_ms(): u64 { 3_600_000 }

public fun lock_ms(): u64 { 60_000 }

public fun start_ms(): u64 { 1_000_000 }

/// RFC 8032 test vector 1 public key.
public fun signing_key(): vector<u8> {
    x"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
}

public fun sealing_key(): vector<u8> {
    x"2222222222222222222222222222222222222222222222222222222222222222"
}

public fun other_sealing_key(): vector<u8> {
    x"3333333333333333333333333333333333333333333333333333333333333333"
}

public fun digest(): vector<u8> {
    x"4444444444444444444444444444444444444444444444444444444444444444"
}

public fun key_address(key: vector<u8>): address {
    let mut bytes = vector[0u8];
    bytes.append(key);
    address::from_bytes(hash::blake2b256(&bytes))
}

public fun node(): address { key_address(signing_key()) }

/// A cluster (debug nodes allowed, self-service up to edit, slashing on) with the node
/// registered; the scenario is left at a fresh transaction of the admin.
public fun setup(): (Scenario, Clock) {
    setup_with(true, access::role_edit())
}

public fun setup_with(allow_debug_nodes: bool, self_service_role: u8): (Scenario, Clock) {
    let mut sc = ts::begin(admin());
    let mut clock = clock::create_for_testing(sc.ctx());
    clock.set_for_testing(start_ms());
    cluster::create_cluster(
        b"dev".to_string(),
        min_write_stake(),
        lifetime_ms(),
        lock_ms(),
        true,
        self_service_role,
        true,
        sc.ctx(),
    );
    sc.next_tx(admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::register_debug_node(&cap, &mut c, node(), signing_key(), sealing_key(), &clock);
    if (!allow_debug_nodes) {
        cluster::set_policy(
            &cap,
            &mut c,
            min_write_stake(),
            lifetime_ms(),
            lock_ms(),
            false,
            self_service_role,
            true,
        );
    };
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(admin());
    (sc, clock)
}

/// `who` stakes `amount` for `role`; the scenario moves on to a fresh transaction of `who`.
public fun stake(sc: &mut Scenario, clock: &Clock, who: address, amount: u64, role: u8) {
    sc.next_tx(who);
    let c = sc.take_shared<Cluster>();
    let payment = coin::mint_for_testing<SUI>(amount, sc.ctx());
    seal_token::stake(&c, payment, role, clock, sc.ctx());
    ts::return_shared(c);
    sc.next_tx(who);
}

public fun finish(sc: Scenario, clock: Clock) {
    clock.destroy_for_testing();
    sc.end();
}
