//! Pairing, accepting and removing as the window and the command line do them, with their
//! typed outcomes: a request waits for acceptance, an accepted computer is a member, a wrong
//! ID or a dead address is told apart, and removing or accepting twice finds nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use carebook_sync::identity::{DeviceId, Keyring};
use carebook_sync::net::members::{self, Acceptance, Pairing, Removal};
use carebook_sync::net::roster;
use carebook_sync::net::serve::{serve, Config, Running};
use carebook_sync::store::{schema, Store};

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
