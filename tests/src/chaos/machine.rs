//! A computer of the chaos suite: its data folder, and while it runs, its node on a tokio
//! runtime of its own, so it can be stopped abruptly (every task dropped where it stands, its
//! sockets closed under its peers) and started again on the same database and identity.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carebook_sync::identity::{DeviceId, Identity, Keyring};
use carebook_sync::net::node::Node;
use carebook_sync::store::{schema, Store};
use tokio::runtime::Runtime;

use crate::link::Target;

const DB_FILE: &str = "carebook.db";
/// How long the work of a stopped computer may take to finish (a large merge, in a debug build).
const GONE_WITHIN: Duration = Duration::from_secs(120);

/// A computer that may be running or stopped.
pub struct Machine {
    pub name: String,
    pub id: DeviceId,
    /// Where its node listens now (its links follow it across restarts).
    pub listen: Target,
    dir: tempfile::TempDir,
    live: Option<(Runtime, Arc<Node>)>,
}

impl Machine {
    /// A new computer, started.
    pub fn new(name: &str) -> Machine {
        let dir = tempfile::tempdir().expect("a data folder");
        let id = Identity::load_or_create_with(dir.path(), Keyring::Off)
            .expect("make an identity")
            .id;
        let mut m = Machine {
            name: name.to_string(),
            id,
            listen: Arc::new(Mutex::new(SocketAddr::from(([127, 0, 0, 1], 0)))),
            dir,
            live: None,
        };
        m.start();
        m
    }

    /// Its data folder.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join(DB_FILE)
    }

    /// Opens its database, loads its identity and starts its node (listening on a new port,
    /// keeping its roster current).
    pub fn start(&mut self) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let store = Store::open(&self.db_path(), schema::CLINIC).expect("open the database");
        let identity = Identity::load_or_create_with(self.dir.path(), Keyring::Off)
            .expect("load the identity");
        let node = Node::new(identity, Arc::new(store), &self.name).expect("start the node");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        *self.listen.lock().unwrap_or_else(|p| p.into_inner()) =
            listener.local_addr().expect("its address");
        {
            let _in = rt.enter();
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            rt.spawn(node.clone().listen(listener));
            rt.spawn(node.clone().maintain());
        }
        self.live = Some((rt, node));
    }

    /// Stops it abruptly: its tasks are dropped wherever they are, its connections close.
    /// Returns once nothing of it holds its database any more, as when a process dies: a merge
    /// already running on the blocking pool finishes or rolls back first (left running, it
    /// would hold the write lock while the suite writes to the file or starts it again, which
    /// then found the database locked).
    pub fn kill(&mut self) {
        if let Some((rt, node)) = self.live.take() {
            let store = Arc::downgrade(&node.store);
            drop(node);
            rt.shutdown_background();
            let since = Instant::now();
            while store.strong_count() > 0 {
                assert!(
                    since.elapsed() < GONE_WITHIN,
                    "{} still used its database {}s after it was stopped",
                    self.name,
                    GONE_WITHIN.as_secs()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    pub fn running(&self) -> bool {
        self.live.is_some()
    }

    /// Its node, while it runs.
    pub fn node(&self) -> Option<&Arc<Node>> {
        self.live.as_ref().map(|(_, n)| n)
    }

    /// Runs a task on its runtime (dropped when it is killed); nothing when it is stopped.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some((rt, _)) = &self.live {
            rt.spawn(task);
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.kill();
    }
}
