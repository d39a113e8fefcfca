//! Starting this computer on the clinic's network in one call, the same way for the window,
//! the headless `serve`, the tests and the benchmarks: this computer's identity, its node
//! over the store, the listener, the roster and connection upkeep, discovery, and (when asked)
//! the automatic backups, all on a runtime of their own that [`Running`] stops.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::discovery::Scope;
use super::node::{Node, NodeError};
use super::roster;
use crate::backup::schedule::{self, Checked};
use crate::identity::{Identity, IdentityError, Keyring};
use crate::store::Store;

/// The port Carebook listens on unless told otherwise.
pub const PORT: u16 = 7462;

/// Why the node could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("this computer's identity: {0}")]
    Identity(#[from] IdentityError),
    #[error("could not listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("could not start the network threads: {0}")]
    Runtime(std::io::Error),
    #[error("the listener failed: {0}")]
    Listener(std::io::Error),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("database: {0}")]
    Store(#[from] rusqlite::Error),
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data folder: this computer's identity and remembered backup passphrase.
    pub dir: PathBuf,
    pub store: Arc<Store>,
    /// Where the private key may be kept.
    pub keyring: Keyring,
    /// This computer's name for the others; None: the one it last served under, else the
    /// host's name.
    pub name: Option<String>,
    pub listen: SocketAddr,
    /// When `listen` is taken, listen on any free port instead (a second instance beside the
    /// first) rather than fail.
    pub any_port_if_taken: bool,
    /// Where to announce and look for the clinic's computers; None: not at all.
    pub discovery: Option<Scope>,
    /// Make this computer's automatic backups while running.
    pub backups: bool,
}

impl Config {
    /// Everything on: every interface on the usual port, the OS keyring, discovery on the
    /// LAN, automatic backups.
    pub fn new(dir: PathBuf, store: Arc<Store>) -> Config {
        Config {
            dir,
            store,
            keyring: Keyring::Use,
            name: None,
            listen: SocketAddr::from(([0, 0, 0, 0], PORT)),
            any_port_if_taken: false,
            discovery: Some(Scope::Lan),
            backups: true,
        }
    }
}

/// A running node. Dropping it (or [`Running::stop`]) ends every task it started: the
/// listener, the sessions, discovery, the upkeep and the automatic backups.
#[derive(Debug)]
pub struct Running {
    pub node: Arc<Node>,
    /// Where it listens (the port actually bound).
    pub addr: SocketAddr,
    backups: Option<watch::Receiver<Option<Checked>>>,
    listening: Option<JoinHandle<std::io::Result<()>>>,
    runtime: Option<Runtime>,
}

/// The host's name, for a computer that was never given one.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "Carebook computer".into())
}

/// Starts this computer's node as `config` says. Callable from inside another runtime (a
/// test's, the window's): the node runs on threads of its own.
pub fn serve(config: Config) -> Result<Running, ServeError> {
    let identity = Identity::load_or_create_with(&config.dir, config.keyring)?;
    tracing::info!("this computer's private key is kept {}", identity.storage);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("carebook-network")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let std_listener = match std::net::TcpListener::bind(config.listen) {
        Err(_) if config.any_port_if_taken => {
            std::net::TcpListener::bind(SocketAddr::new(config.listen.ip(), 0))
        }
        bound => bound,
    }
    .map_err(|e| ServeError::Listen(config.listen, e))?;
    let addr = std_listener
        .local_addr()
        .map_err(|e| ServeError::Listen(config.listen, e))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| ServeError::Listen(addr, e))?;
    let name = match config.name {
        Some(n) => n,
        None => roster::local(&config.store.writer())
            .0
            .unwrap_or_else(host_name),
    };
    roster::set_local(&config.store.writer(), &name, addr.port())?;
    let node = Node::new(identity, config.store.clone(), &name)?;
    let listener = {
        // Registering the socket needs the runtime's reactor.
        let _inside = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener)
    }
    .map_err(|e| ServeError::Listen(addr, e))?;
    let listening = runtime.spawn(node.clone().listen(listener));
    runtime.spawn(node.clone().maintain());
    if let Some(scope) = config.discovery {
        runtime.spawn(node.clone().discover(scope, addr.port()));
    }
    let backups = config.backups.then(|| {
        let (report, checked) = watch::channel(None);
        runtime.spawn(schedule::keep_making(
            config.store.clone(),
            config.dir.clone(),
            node.identity.clone(),
            report,
        ));
        checked
    });
    Ok(Running {
        node,
        addr,
        backups,
        listening: Some(listening),
        runtime: Some(runtime),
    })
}

impl Running {
    /// Each look at the backup schedule (None before the first; never, when backups were not
    /// asked for): what was made and whether backups are overdue.
    pub fn backups(&self) -> Option<watch::Receiver<Option<Checked>>> {
        self.backups.clone()
    }

    /// Serves until `until` completes (Ctrl+C, say) or the listener fails.
    pub fn run_until(&mut self, until: impl Future<Output = ()>) -> Result<(), ServeError> {
        let (Some(runtime), Some(listening)) = (&self.runtime, &mut self.listening) else {
            return Ok(());
        };
        runtime.block_on(async {
            tokio::select! {
                ended = listening => match ended {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(ServeError::Listener(e)),
                    Err(e) => Err(ServeError::Listener(std::io::Error::other(e))),
                },
                () = until => Ok(()),
            }
        })
    }

    /// Stops every task the node runs.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Without waiting: this may run inside another runtime (a test's, the window's).
            runtime.shutdown_background();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shut_down();
    }
}
