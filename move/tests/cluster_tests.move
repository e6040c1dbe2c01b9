#[test_only]
module kubectl_sui::cluster_tests;

use kubectl_sui::access;
use kubectl_sui::cluster::{Self, Cluster, ClusterAdminCap};
use kubectl_sui::test_helpers::{Self as h};
use sui::test_scenario as ts;

#[test]
fun create_shares_cluster_and_gives_cap_to_sender() {
    let (sc, clock) = h::setup();
    let c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    assert!(cap.cap_cluster_id() == object::id(&c));
    assert!(c.name() == b"dev".to_string());
    let p = c.policy();
    assert!(p.min_write_stake() == h::min_write_stake());
    assert!(p.token_lifetime_ms() == h::lifetime_ms());
    assert!(p.unstake_lock_ms() == h::lock_ms());
    assert!(p.allow_debug_nodes() && p.slashing_enabled());
    assert!(p.self_service_role() == access::role_edit());
    assert!(c.is_registered(h::node()) && c.is_active_node(h::node()));
    assert!(c.accepts_sealing_key(h::node(), &h::sealing_key()));
    assert!(!c.accepts_sealing_key(h::node(), &h::other_sealing_key()));
    ts::return_shared(c);
    sc.return_to_sender(cap);
    h::finish(sc, clock);
}

#[test]
fun set_policy_replaces_policy_and_can_deactivate_debug_nodes() {
    let (sc, clock) = h::setup_with(false, access::role_view());
    let c = sc.take_shared<Cluster>();
    assert!(!c.policy().allow_debug_nodes());
    assert!(c.policy().self_service_role() == access::role_view());
    assert!(c.is_registered(h::node()) && !c.is_active_node(h::node()));
    ts::return_shared(c);
    h::finish(sc, clock);
}

#[test]
fun rotation_keeps_previous_key_accepted() {
    let (mut sc, clock) = h::setup();
    sc.next_tx(h::node());
    let mut c = sc.take_shared<Cluster>();
    cluster::rotate_sealing_key(&mut c, h::other_sealing_key(), sc.ctx());
    assert!(c.accepts_sealing_key(h::node(), &h::other_sealing_key()));
    assert!(c.accepts_sealing_key(h::node(), &h::sealing_key()));
    cluster::rotate_sealing_key(&mut c, h::digest(), sc.ctx());
    assert!(!c.accepts_sealing_key(h::node(), &h::sealing_key()));
    ts::return_shared(c);
    h::finish(sc, clock);
}

#[test]
fun remove_node_unregisters_it() {
    let (sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::remove_node(&cap, &mut c, h::node());
    assert!(!c.is_registered(h::node()) && !c.is_active_node(h::node()));
    assert!(!c.accepts_sealing_key(h::node(), &h::sealing_key()));
    ts::return_shared(c);
    sc.return_to_sender(cap);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = cluster::EInvalidPolicy)]
fun zero_token_lifetime_is_invalid() {
    let mut sc = ts::begin(h::admin());
    cluster::create_cluster(b"x".to_string(), 0, 0, 0, true, 1, false, sc.ctx());
    sc.end();
}

#[test, expected_failure(abort_code = cluster::EInvalidPolicy)]
fun unknown_self_service_role_is_invalid() {
    let mut sc = ts::begin(h::admin());
    cluster::create_cluster(b"x".to_string(), 0, 1, 0, true, 4, false, sc.ctx());
    sc.end();
}

#[test, expected_failure(abort_code = cluster::ENotClusterAdmin)]
fun cap_of_another_cluster_is_refused() {
    let (mut sc, _clock) = h::setup();
    let first = ts::most_recent_id_shared<Cluster>().destroy_some();
    cluster::create_cluster(b"other".to_string(), 0, 1, 0, true, 1, false, sc.ctx());
    sc.next_tx(h::admin());
    let other_cap = sc.take_from_sender<ClusterAdminCap>();
    assert!(other_cap.cap_cluster_id() != first);
    let mut c = sc.take_shared_by_id<Cluster>(first);
    cluster::remove_node(&other_cap, &mut c, h::node());
    abort 0
}

#[test, expected_failure(abort_code = cluster::EDebugNodesForbidden)]
fun debug_node_refused_when_policy_forbids() {
    let (sc, clock) = h::setup_with(false, access::role_view());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let key = h::other_sealing_key();
    cluster::register_debug_node(&cap, &mut c, h::key_address(key), key, key, &clock);
    abort 0
}

#[test, expected_failure(abort_code = cluster::EInvalidKey)]
fun short_key_is_refused() {
    let (sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let key = x"0102";
    cluster::register_debug_node(&cap, &mut c, h::key_address(key), key, h::sealing_key(), &clock);
    abort 0
}

#[test, expected_failure(abort_code = cluster::ENodeKeyMismatch)]
fun node_address_must_match_signing_key() {
    let (sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::register_debug_node(&cap, &mut c, @0x1234, h::other_sealing_key(), h::sealing_key(), &clock);
    abort 0
}

#[test, expected_failure(abort_code = cluster::ENodeAlreadyRegistered)]
fun node_cannot_register_twice() {
    let (sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::register_debug_node(&cap, &mut c, h::node(), h::signing_key(), h::sealing_key(), &clock);
    abort 0
}

#[test, expected_failure(abort_code = cluster::ENodeNotRegistered)]
fun removing_unknown_node_fails() {
    let (sc, _clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::remove_node(&cap, &mut c, @0x1234);
    abort 0
}

#[test, expected_failure(abort_code = cluster::ENodeNotRegistered)]
fun only_a_node_rotates_its_key() {
    let (mut sc, _clock) = h::setup();
    sc.next_tx(h::stranger());
    let mut c = sc.take_shared<Cluster>();
    cluster::rotate_sealing_key(&mut c, h::other_sealing_key(), sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = cluster::EInvalidKey)]
fun rotated_key_must_be_32_bytes() {
    let (mut sc, _clock) = h::setup();
    sc.next_tx(h::node());
    let mut c = sc.take_shared<Cluster>();
    cluster::rotate_sealing_key(&mut c, x"01", sc.ctx());
    abort 0
}

#[test]
fun protected_namespaces_default_to_the_nodes_and_survive_a_policy_change() {
    let (sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    assert!(c.policy().protected_namespaces() == vector[b"nautilus".to_string()]);
    let both = vector[b"nautilus".to_string(), b"kube-system".to_string()];
    cluster::set_protected_namespaces(&cap, &mut c, both);
    cluster::set_policy(&cap, &mut c, 1, 1, 0, true, access::role_view(), false);
    assert!(c.policy().protected_namespaces() == both);
    cluster::set_protected_namespaces(&cap, &mut c, vector[]);
    assert!(c.policy().protected_namespaces().is_empty());
    ts::return_shared(c);
    sc.return_to_sender(cap);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = cluster::EInvalidPolicy)]
fun a_wildcard_cannot_be_protected() {
    let (sc, _clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::set_protected_namespaces(&cap, &mut c, vector[b"*".to_string()]);
    abort 0
}

#[test, expected_failure(abort_code = cluster::EInvalidPolicy)]
fun an_empty_name_cannot_be_protected() {
    let (sc, _clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::set_protected_namespaces(&cap, &mut c, vector[b"".to_string()]);
    abort 0
}

#[test]
fun a_new_cluster_is_at_this_package_version_and_cannot_be_migrated_again() {
    let (sc, clock) = h::setup();
    let c = sc.take_shared<Cluster>();
    assert!(c.version() == 1);
    c.assert_current();
    ts::return_shared(c);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = cluster::EWrongVersion)]
fun migrating_a_current_cluster_is_refused() {
    let (mut sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::migrate(&cap, &mut c);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::admin());
    h::finish(sc, clock);
}

/// A cluster migrated to a newer package: this (older) package refuses to act on it.
#[test, expected_failure(abort_code = cluster::EWrongVersion)]
fun an_older_package_refuses_a_migrated_cluster() {
    let (sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    c.set_version_for_testing(2);
    cluster::remove_node(&cap, &mut c, h::node());
    ts::return_shared(c);
    sc.return_to_sender(cap);
    h::finish(sc, clock);
}

/// A cluster still at an older version: this (newer) package migrates it, then serves it.
#[test]
fun a_newer_package_migrates_an_older_cluster_then_serves_it() {
    let (mut sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    c.set_version_for_testing(0);
    cluster::migrate(&cap, &mut c);
    assert!(c.version() == 1);
    cluster::remove_node(&cap, &mut c, h::node());
    ts::return_shared(c);
    sc.return_to_sender(cap);
    let effects = sc.next_tx(h::admin());
    // ClusterMigrated + NodeRemoved.
    assert!(effects.num_user_events() == 2);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = cluster::ENotClusterAdmin)]
fun only_the_admin_migrates() {
    let (mut sc, clock) = h::setup();
    let c = sc.take_shared<Cluster>();
    let dev = object::id(&c);
    ts::return_shared(c);
    sc.next_tx(h::stranger());
    cluster::create_cluster(b"other".to_string(), 0, 1, 0, true, 1, false, sc.ctx());
    sc.next_tx(h::stranger());
    let other_cap = sc.take_from_sender<ClusterAdminCap>();
    let mut c = sc.take_shared_by_id<Cluster>(dev);
    c.set_version_for_testing(0);
    cluster::migrate(&other_cap, &mut c);
    abort 0
}

fun pcr(byte: u8): vector<u8> {
    let mut v = vector[];
    48u64.do!(|_| v.push_back(byte));
    v
}

#[test]
fun enclaves_are_accepted_and_withdrawn_by_the_admin() {
    let (sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::add_enclave(&cap, &mut c, vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    cluster::add_enclave(&cap, &mut c, vector[0, 1, 2, 16], vector[pcr(1), pcr(2), pcr(4), pcr(5)]);
    assert!(c.policy().enclaves().length() == 2);
    // set_policy keeps the accepted enclaves.
    cluster::set_policy(&cap, &mut c, 1, 2, 3, true, 0, false);
    assert!(c.policy().enclaves().length() == 2);
    cluster::remove_enclave(&cap, &mut c, vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    assert!(c.policy().enclaves().length() == 1);
    assert!(c.policy().enclaves()[0].measurement_pcrs().length() == 4);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = cluster::EInvalidMeasurement)]
fun a_measurement_needs_pcr0_1_and_2() {
    let (sc, _clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::add_enclave(&cap, &mut c, vector[0, 1, 3], vector[pcr(1), pcr(2), pcr(3)]);
    abort 0
}

#[test, expected_failure(abort_code = cluster::EInvalidMeasurement)]
fun a_pcr_value_is_48_bytes() {
    let (sc, _clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::add_enclave(&cap, &mut c, vector[0, 1, 2], vector[pcr(1), pcr(2), x"00"]);
    abort 0
}

#[test, expected_failure(abort_code = cluster::EInvalidMeasurement)]
fun a_pcr_index_appears_once() {
    let (sc, _clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::add_enclave(&cap, &mut c, vector[0, 1, 2, 1], vector[pcr(1), pcr(2), pcr(3), pcr(4)]);
    abort 0
}

#[test, expected_failure(abort_code = cluster::EInvalidMeasurement)]
fun a_measurement_is_accepted_once() {
    let (sc, _clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::add_enclave(&cap, &mut c, vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    cluster::add_enclave(&cap, &mut c, vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    abort 0
}

#[test, expected_failure(abort_code = cluster::EMeasurementNotFound)]
fun withdrawing_an_unknown_measurement_aborts() {
    let (sc, _clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::remove_enclave(&cap, &mut c, vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    abort 0
}

#[test, expected_failure(abort_code = cluster::ENotClusterAdmin)]
fun only_the_admin_accepts_an_enclave() {
    let (mut sc, _clock) = h::setup();
    let first = ts::most_recent_id_shared<Cluster>().destroy_some();
    cluster::create_cluster(b"other".to_string(), 0, 1, 0, true, 1, false, sc.ctx());
    sc.next_tx(h::admin());
    let other_cap = sc.take_from_sender<ClusterAdminCap>();
    let mut c = sc.take_shared_by_id<Cluster>(first);
    cluster::add_enclave(&other_cap, &mut c, vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    abort 0
}

// What no recorded attestation document carries (a nonce, a sealing key in user_data), on a
// document's fields given directly; the recorded ones are in tests/move/ (rendered by
// tests/real_sui.rs).

fun attest_key(): vector<u8> { x"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c" }

fun accepting(): (ts::Scenario, sui::clock::Clock) {
    let (mut sc, clock) = h::setup();
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::add_enclave(&cap, &mut c, vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::stranger());
    (sc, clock)
}

#[test]
fun a_document_for_this_cluster_registers_its_sealing_key() {
    let (mut sc, clock) = accepting();
    let mut c = sc.take_shared<Cluster>();
    let id = object::id(&c).to_bytes();
    cluster::register_fields_for_testing(
        &mut c, option::some(attest_key()), h::start_ms(), vector[0, 1, 2, 3], vector[pcr(1), pcr(2), pcr(3), pcr(9)],
        option::some(h::sealing_key()), option::some(id), &clock,
    );
    let node = h::key_address(attest_key());
    assert!(c.is_active_node(node) && c.accepts_sealing_key(node, &h::sealing_key()));
    // Re-attesting with a new key in user_data rotates it; the previous one stays accepted.
    cluster::register_fields_for_testing(
        &mut c, option::some(attest_key()), h::start_ms(), vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)],
        option::some(h::other_sealing_key()), option::some(id), &clock,
    );
    assert!(c.accepts_sealing_key(node, &h::other_sealing_key()) && c.accepts_sealing_key(node, &h::sealing_key()));
    ts::return_shared(c);
    sc.next_tx(h::stranger());
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = cluster::EAttestationForOtherCluster)]
fun a_document_for_another_cluster_is_refused() {
    let (sc, clock) = accepting();
    let mut c = sc.take_shared<Cluster>();
    cluster::register_fields_for_testing(
        &mut c, option::some(attest_key()), h::start_ms(), vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)],
        option::none(), option::some(x"c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"), &clock,
    );
    abort 0
}

#[test, expected_failure(abort_code = cluster::EAttestationKey)]
fun a_document_with_a_short_key_is_refused() {
    let (sc, clock) = accepting();
    let mut c = sc.take_shared<Cluster>();
    cluster::register_fields_for_testing(
        &mut c, option::some(x"0102"), h::start_ms(), vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)],
        option::none(), option::none(), &clock,
    );
    abort 0
}

#[test, expected_failure(abort_code = cluster::EAttestationNonceMissing)]
fun a_document_without_the_challenge_is_refused_by_a_new_cluster() {
    let (sc, clock) = accepting();
    let mut c = sc.take_shared<Cluster>();
    assert!(c.policy().require_attestation_nonce());
    cluster::register_fields_for_testing(
        &mut c, option::some(attest_key()), h::start_ms(), vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)],
        option::some(h::sealing_key()), option::none(), &clock,
    );
    abort 0
}

#[test]
fun a_document_without_the_challenge_registers_once_the_admin_lifts_it_and_not_after() {
    let (mut sc, clock) = accepting();
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::set_attestation_nonce_required(&cap, &mut c, false);
    assert!(!c.policy().require_attestation_nonce());
    cluster::register_fields_for_testing(
        &mut c, option::some(attest_key()), h::start_ms(), vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)],
        option::some(h::sealing_key()), option::none(), &clock,
    );
    assert!(c.is_active_node(h::key_address(attest_key())));
    // set_policy keeps it; requiring it again leaves the registered node alone.
    cluster::set_policy(&cap, &mut c, 0, 3_600_000, 0, false, 1, false);
    assert!(!c.policy().require_attestation_nonce());
    cluster::set_attestation_nonce_required(&cap, &mut c, true);
    assert!(c.is_active_node(h::key_address(attest_key())));
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::stranger());
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = cluster::ENotClusterAdmin)]
fun only_the_admin_lifts_the_challenge() {
    let (mut sc, _clock) = h::setup();
    let first = ts::most_recent_id_shared<Cluster>().destroy_some();
    cluster::create_cluster(b"other".to_string(), 0, 1, 0, true, 1, false, sc.ctx());
    sc.next_tx(h::admin());
    let other_cap = sc.take_from_sender<ClusterAdminCap>();
    let mut c = sc.take_shared_by_id<Cluster>(first);
    cluster::set_attestation_nonce_required(&other_cap, &mut c, false);
    abort 0
}

fun auditor(byte: u8): vector<u8> {
    let mut key = vector[];
    32u64.do!(|_| key.push_back(byte));
    key
}

#[test]
fun the_admin_names_auditors_and_set_policy_keeps_them() {
    let (mut sc, clock) = h::setup();
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    assert!(c.policy().auditors().is_empty());
    cluster::set_auditors(&cap, &mut c, vector[auditor(1), auditor(2)]);
    assert!(c.policy().auditors() == vector[auditor(1), auditor(2)]);
    cluster::set_policy(&cap, &mut c, 0, 3_600_000, 0, true, 1, false);
    assert!(c.policy().auditors() == vector[auditor(1), auditor(2)]);
    cluster::set_auditors(&cap, &mut c, vector[]);
    assert!(c.policy().auditors().is_empty());
    ts::return_shared(c);
    sc.return_to_sender(cap);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = cluster::EInvalidAuditors)]
fun an_auditor_key_of_the_wrong_length_is_refused() {
    let (mut sc, _clock) = h::setup();
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::set_auditors(&cap, &mut c, vector[x"0102"]);
    abort 0
}

#[test, expected_failure(abort_code = cluster::EInvalidAuditors)]
fun the_same_auditor_twice_is_refused() {
    let (mut sc, _clock) = h::setup();
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::set_auditors(&cap, &mut c, vector[auditor(1), auditor(2), auditor(1)]);
    abort 0
}

#[test, expected_failure(abort_code = cluster::EInvalidAuditors)]
fun more_than_eight_auditors_are_refused() {
    let (mut sc, _clock) = h::setup();
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut keys = vector[];
    9u8.do!(|i| keys.push_back(auditor(i)));
    cluster::set_auditors(&cap, &mut c, keys);
    abort 0
}

#[test, expected_failure(abort_code = cluster::ENotClusterAdmin)]
fun only_the_admin_names_auditors() {
    let (mut sc, _clock) = h::setup();
    let first = ts::most_recent_id_shared<Cluster>().destroy_some();
    cluster::create_cluster(b"other".to_string(), 0, 1, 0, true, 1, false, sc.ctx());
    sc.next_tx(h::admin());
    let other_cap = sc.take_from_sender<ClusterAdminCap>();
    let mut c = sc.take_shared_by_id<Cluster>(first);
    cluster::set_auditors(&other_cap, &mut c, vector[auditor(1)]);
    abort 0
}
