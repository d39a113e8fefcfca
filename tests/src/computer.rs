//! A computer of the clinic in a test: its own data folder with the clinic's database and an
//! identity (its key in a file, never the keyring), and, once [`Computer::online`], its node
//! listening on 127.0.0.1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use carebook_sync::identity::{DeviceId, Identity, Keyring};
use carebook_sync::net::node::Node;
use carebook_sync::net::roster;
use carebook_sync::store::{schema, Store};
use tokio::net::TcpListener;

/// The database's name in a data folder, as the app names it.
const DB_FILE: &str = "carebook.db";

/// A computer with its data folder, store and identity; nothing listens yet.
pub struct Computer {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub identity: Identity,
}

impl Default for Computer {
    fn default() -> Computer {
        Computer::new()
    }
}

impl Computer {
    /// A fresh computer: an empty database with the clinic's schema, a new identity.
    pub fn new() -> Computer {
        let dir = tempfile::tempdir().expect("a data folder");
        let store = Store::open(&dir.path().join(DB_FILE), schema::CLINIC)
            .expect("open the clinic's database");
        let identity =
            Identity::load_or_create_with(dir.path(), Keyring::Off).expect("make an identity");
        Computer {
            dir,
            store: Arc::new(store),
            identity,
        }
    }

    /// A file in its data folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Its node, called `name` on the roster, listening on a free port of 127.0.0.1. It dials
    /// nobody until told to ([`Online::stay_connected`], [`Online::maintain`]).
    pub async fn online(self, name: &str) -> Online {
        let node = Node::new(self.identity, self.store, name).expect("start the node");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port on 127.0.0.1");
        let addr = listener.local_addr().expect("the port listened on");
        tokio::spawn(node.clone().listen(listener));
        Online {
            dir: self.dir,
            node,
            addr,
        }
    }
}

/// A computer whose node is listening.
pub struct Online {
    pub dir: tempfile::TempDir,
    pub node: Arc<Node>,
    pub addr: SocketAddr,
}

impl Online {
    /// A fresh computer online, keeping in touch with its roster by itself (see
    /// [`Online::maintain`]).
    pub async fn start(name: &str) -> Online {
        let online = Computer::new().online(name).await;
        online.maintain();
        online
    }

    pub fn id(&self) -> DeviceId {
        self.node.identity.id
    }

    /// Its database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join(DB_FILE)
    }

    /// Runs the node's maintenance loop: the roster kept current, every trusted member with
    /// a known address dialled.
    pub fn maintain(&self) {
        tokio::spawn(self.node.clone().maintain());
    }

    /// The local half of pairing: trust `other` under `name` (both sides must do it).
    pub async fn trust(&self, other: &Online, name: &str) {
        roster::add(
            &self.node.store.writer(),
            &other.id(),
            name,
            &other.addr.to_string(),
        )
        .expect("add to the roster");
        self.node
            .refresh_roster()
            .await
            .expect("refresh the roster");
    }

    /// Keeps a connection to `other` from now on.
    pub fn stay_connected(&self, other: &Online) {
        tokio::spawn(self.node.clone().keep_connected(other.addr, other.id()));
    }

    /// Writes a patient (or renames one); the store announces it to the node's sessions.
    pub fn write(&self, id: &str, family: &str) {
        self.node
            .store
            .writer()
            .execute(
                "INSERT INTO patients(id, family_name, date_of_birth) VALUES (?1, ?2, '1980-01-01')
                 ON CONFLICT(id) DO UPDATE SET family_name = excluded.family_name",
                [id, family],
            )
            .expect("write a patient");
    }

    /// A patient's family name, if the patient is here.
    pub fn family(&self, id: &str) -> Option<String> {
        self.node
            .store
            .writer()
            .query_row(
                "SELECT family_name FROM patients WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .ok()
    }

    /// Whether its roster trusts `id` (a member, not removed).
    pub fn trusts(&self, id: &DeviceId) -> bool {
        roster::members(&self.node.store.writer())
            .expect("read the roster")
            .iter()
            .any(|m| m.id == *id && !m.revoked)
    }
}
