//! Where a member is found on the network: an announced address is believed only after a TLS
//! handshake there proves the member (its pinned certificate), and a member that moved (a
//! new address from DHCP) is followed there.

use std::sync::Arc;

use carebook_sync::identity::Keyring;
use carebook_sync::net::roster;
use carebook_sync::net::serve::{serve, Config, Running};
use carebook_sync::store::Store;
use carebook_tests::{eventually, Computer, Online};

fn address_of(on: &Online, of: &Online) -> String {
    roster::members(&on.node.store.writer())
        .unwrap()
        .into_iter()
        .find(|m| m.id == of.id())
        .map(|m| m.address)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_address_is_believed_only_after_the_member_proves_itself_there() {
    let (a, b) = (
        Computer::new().online("Front desk").await,
        Computer::new().online("Exam room").await,
    );
    let impostor = Computer::new().online("Someone else").await;
    a.trust(&b, "Exam room").await;
    b.trust(&a, "Front desk").await;
    let stored = b.addr.to_string();

    // Someone else answers for B: not B's certificate, so the address stays.
    assert!(a.node.found(b.id(), impostor.addr).await.is_err());
    assert_eq!(address_of(&a, &b), stored);
    // Nothing answers there at all.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(a.node.found(b.id(), dead).await.is_err());
    assert_eq!(address_of(&a, &b), stored);
    // B itself, at the address already known: nothing to change.
    assert!(!a.node.found(b.id(), b.addr).await.unwrap());
}

/// B served from its data folder on a free port of 127.0.0.1, on a runtime of its own.
fn serve_b(dir: &std::path::Path, store: Arc<Store>) -> Running {
    serve(Config {
        keyring: Keyring::Off,
        name: Some("Exam room".into()),
        listen: "127.0.0.1:0".parse().unwrap(),
        discovery: None,
        backups: false,
        ..Config::new(dir.to_path_buf(), store)
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_moved_is_followed_once_it_proves_itself_at_its_new_address() {
    let a = Computer::new().online("Front desk").await;
    let b = Computer::new();
    let (b_dir, b_store, b_id) = (b.dir, b.store, b.identity.id);
    let first = serve_b(b_dir.path(), b_store.clone());
    roster::add(
        &a.node.store.writer(),
        &b_id,
        "Exam room",
        &first.addr.to_string(),
    )
    .unwrap();
    // B trusts A but has no address for it: only A dials.
    roster::add(&b_store.writer(), &a.id(), "Front desk", "").unwrap();
    first.node.refresh_roster().await.unwrap();
    a.node.refresh_roster().await.unwrap();
    a.maintain();
    eventually("A connected to B at its first address", || {
        first.node.sessions_with(&a.id()) > 0
    })
    .await;

    // B moves: everything at its old address stops, and it listens somewhere else.
    first.stop();
    let moved = serve_b(b_dir.path(), b_store);
    assert!(
        a.node.found(b_id, moved.addr).await.unwrap(),
        "the move is noted"
    );
    assert_eq!(
        roster::members(&a.node.store.writer())
            .unwrap()
            .into_iter()
            .find(|m| m.id == b_id)
            .unwrap()
            .address,
        moved.addr.to_string()
    );
    eventually("A reconnected to B at its new address", || {
        moved.node.sessions_with(&a.id()) > 0
    })
    .await;
}
