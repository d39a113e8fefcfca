//! Pairing, accepting and removing as the window and the command line do them, with their
//! typed outcomes: a request waits for acceptance, an accepted computer is a member, a wrong
//! ID or a dead address is told apart, and removing or accepting twice finds nothing. The
//! roster check at the door reads the database, a removed computer cannot be accepted, and
//! one address cannot flood the requests.

use std::net::SocketAddr;
use std::sync::Arc;

use carebook_sync::identity::{DeviceId, Keyring};
use carebook_sync::net::members::{self, Acceptance, Pairing, Removal};
use carebook_sync::net::roster;
use carebook_sync::net::serve::{serve, Config, Running};
use carebook_sync::store::{schema, Store};
use carebook_tests::{Computer as TestComputer, Online};

struct Computer {
    running: Running,
    _dir: tempfile::TempDir,
}

fn start(name: &str) -> Computer {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap());
    let running = serve(Config {
        keyring: Keyring::Off,
        name: Some(name.into()),
        listen: "127.0.0.1:0".parse().unwrap(),
        discovery: None,
        backups: false,
        ..Config::new(dir.path().to_path_buf(), store)
    })
    .unwrap();
    Computer { running, _dir: dir }
}

impl Computer {
    fn id(&self) -> DeviceId {
        self.running.node.identity.id
    }

    async fn pair_with(&self, other: &Computer) -> Pairing {
        self.pair_at(other.running.addr, other.id()).await
    }

    async fn pair_at(&self, address: SocketAddr, id: DeviceId) -> Pairing {
        members::pair(&self.running.node, address, id, "")
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_accepting_and_removing_say_what_happened() {
    let (a, b) = (start("Front desk"), start("New laptop"));
    let asked = b.pair_with(&a).await;
    assert!(
        matches!(&asked, Pairing::Requested { reply } if reply.contains("accept this computer")),
        "{asked:?}"
    );
    let store = a.running.node.store.clone();
    assert!(roster::requests(&store.writer())
        .unwrap()
        .iter()
        .any(|r| r.id == b.id()));

    assert_eq!(
        members::accept(&store, &b.id()).unwrap(),
        Acceptance::Accepted
    );
    assert_eq!(
        members::accept(&store, &b.id()).unwrap(),
        Acceptance::NotFound,
        "the request is gone once accepted"
    );
    a.running.node.refresh_roster().await.unwrap();
    assert_eq!(b.pair_with(&a).await, Pairing::AlreadyMember);

    // The address answers with another computer's certificate: refused, not unreachable.
    let stranger = DeviceId::of_certificate(b"not the computer at that address");
    let wrong = b.pair_at(a.running.addr, stranger).await;
    assert!(matches!(wrong, Pairing::Refused { .. }), "{wrong:?}");
    let kept = roster::members(&b.running.node.store.writer()).unwrap();
    assert!(
        kept.iter()
            .any(|m| m.id == stranger && m.address.is_empty()),
        "a refusing address is not dialled again: {kept:?}"
    );
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let nobody = b.pair_at(dead, a.id()).await;
    assert!(matches!(nobody, Pairing::Unreachable { .. }), "{nobody:?}");

    assert_eq!(members::remove(&store, &b.id()).unwrap(), Removal::Removed);
    assert_eq!(
        members::remove(&store, &b.id()).unwrap(),
        Removal::NotFound,
        "removed already"
    );
}

/// Two computers whose nodes listen but do not keep their rosters fresh by themselves, so the
/// roster in memory stays as stale as it can be.
async fn two_quiet() -> (Online, Online) {
    (
        TestComputer::new().online("Front desk").await,
        TestComputer::new().online("New laptop").await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_dial_right_after_accept_is_never_a_request() {
    let (a, b) = two_quiet().await;
    let asked = members::pair(&b.node, a.addr, a.id(), "").await.unwrap();
    assert!(matches!(asked, Pairing::Requested { .. }), "{asked:?}");
    assert_eq!(
        members::accept(&a.node.store, &b.id()).unwrap(),
        Acceptance::Accepted
    );
    // A's roster in memory still says B is a stranger; the database says member.
    let again = members::pair(&b.node, a.addr, a.id(), "").await.unwrap();
    assert_eq!(again, Pairing::AlreadyMember);
    assert!(
        roster::requests(&a.node.store.writer()).unwrap().is_empty(),
        "a member is not listed as asking to join"
    );
    // Nor recorded when it reaches the database by any other way.
    let recorded = roster::request(
        &a.node.store.writer(),
        &b.id(),
        "New laptop",
        "127.0.0.1:1",
        "127.0.0.1".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(recorded, roster::Recorded::Member(roster::Verdict::Trusted));
    assert!(roster::requests(&a.node.store.writer()).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_a_removed_computer_is_refused_and_says_so() {
    let (a, b) = two_quiet().await;
    let asked = members::pair(&b.node, a.addr, a.id(), "").await.unwrap();
    assert!(matches!(asked, Pairing::Requested { .. }), "{asked:?}");
    // Removed while its request is still listed (a stale row).
    assert_eq!(
        members::remove(&a.node.store, &b.id()).unwrap(),
        Removal::Removed
    );
    assert_eq!(
        members::accept(&a.node.store, &b.id()).unwrap(),
        Acceptance::Removed
    );
    assert!(roster::requests(&a.node.store.writer()).unwrap().is_empty());
    assert_eq!(
        roster::verdict(&a.node.store.writer(), &b.id()).unwrap(),
        roster::Verdict::Revoked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_flood_the_asking_to_join_list_and_names_are_cleaned() {
    let a = TestComputer::new().online("Front desk").await;
    let mut strangers = Vec::new();
    for n in 0..6 {
        let s = TestComputer::new()
            .online(&format!("Laptop \u{202E}{n}\u{202C}\n\u{1b}[2J"))
            .await;
        let asked = members::pair(&s.node, a.addr, a.id(), "").await.unwrap();
        assert!(matches!(asked, Pairing::Requested { .. }), "{asked:?}");
        strangers.push(s);
    }
    let listed = roster::requests(&a.node.store.writer()).unwrap();
    assert_eq!(
        listed.len() as i64,
        roster::MAX_REQUESTS_PER_ADDRESS,
        "{listed:?}"
    );
    let newest: Vec<_> = strangers.iter().rev().take(3).map(|s| s.id()).collect();
    assert!(
        listed.iter().all(|r| newest.contains(&r.id)),
        "the newest stay"
    );
    for r in &listed {
        assert!(r.name.starts_with("Laptop "), "{:?}", r.name);
        assert!(
            !r.name.chars().any(|c| c.is_control() || c == '\u{202E}'),
            "{:?}",
            r.name
        );
    }
    // Another address still gets listed, and the whole list stays bounded.
    let db = a.node.store.writer();
    for n in 0..40u8 {
        let id = DeviceId::of_certificate(&[n]);
        let from = std::net::IpAddr::from([10, 0, 0, n]);
        roster::request(&db, &id, "x", &format!("{from}:7462"), from).unwrap();
    }
    assert_eq!(
        roster::requests(&db).unwrap().len() as i64,
        roster::MAX_REQUESTS
    );
}

/// The rule for computers a removed one had admitted: they stay members (each was admitted
/// while its admitter was trusted, and holds a key of its own), and any of them can be
/// removed on its own. Removing one computer never removes another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn computers_a_removed_one_admitted_stay_members_until_removed_themselves() {
    let a = Online::start("Front desk").await;
    let b = Online::start("Old laptop").await;
    a.trust(&b, "Old laptop").await;
    b.trust(&a, "Front desk").await;
    // B admits C; A hears of C only through B.
    let c = Online::start("Exam room").await;
    b.trust(&c, "Exam room").await;
    c.trust(&b, "Old laptop").await;
    carebook_tests::eventually("A learns of C from B", || a.trusts(&c.id())).await;
    carebook_tests::eventually("C learns of A from B", || c.trusts(&a.id())).await;

    assert_eq!(
        members::remove(&a.node.store, &b.id()).unwrap(),
        Removal::Removed
    );
    a.node.refresh_roster().await.unwrap();
    assert!(!a.trusts(&b.id()) && a.trusts(&c.id()));
    c.write("p-after", "Written after the removal");
    carebook_tests::eventually("C's record reaches A directly", || {
        a.family("p-after").is_some()
    })
    .await;
    carebook_tests::eventually("C hears of B's removal", || !c.trusts(&b.id())).await;

    assert_eq!(
        members::remove(&a.node.store, &c.id()).unwrap(),
        Removal::Removed
    );
    assert!(!a.trusts(&c.id()));
}
