//! A running node: listens for paired devices, keeps connections to every known member
//! (retrying with exponential backoff and jitter), runs a replication session on each,
//! refreshes the roster as it replicates, ends the sessions of devices that get removed, and
//! records the pairing requests of unknown devices (which carry no records). Connections that
//! have not proved who they are are bounded (in all and per address) and get a few seconds
//! for their handshake; refused connections are logged at most once per reason a minute; the
//! listener outlives running out of file descriptors. A bad peer never stops the node serving
//! the others.
//!
//! Here: the node, its errors and its status records. Who comes in is in `door`, who is
//! dialled and kept connected in `upkeep`, and one session per peer in `session`.

mod door;
mod session;
mod upkeep;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::AbortHandle;

use super::gate::Gate;
use super::refusals::Refusals;
use super::roster::{self, Roster};
use crate::identity::{DeviceId, Identity};
use crate::proto::ProtoError;
use crate::replica::{Intro, ReplicaError};
use crate::store::Store;

/// How long a connection has for its TLS handshake (and a stranger for its pairing hello).
pub const HANDSHAKE: Duration = Duration::from_secs(4);

/// Why a connection or session ended.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{0} took too long")]
    Timeout(&'static str),
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    #[error("the peer presented no certificate")]
    NoCertificate,
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("database: {0}")]
    Store(String),
    #[error("the session was ended: {0}")]
    Ended(&'static str),
    #[error("waiting for the other computer to accept this one")]
    AwaitingAcceptance,
}

impl NodeError {
    /// What kind of end this was, in a fixed phrase (for logging at most once per kind).
    pub(super) fn kind(&self) -> &'static str {
        match self {
            NodeError::Io(_) => "connection refused or ended: network",
            NodeError::Tls(_) | NodeError::Handshake(_) | NodeError::NoCertificate => {
                "connection refused or ended: TLS"
            }
            NodeError::Timeout(_) => "connection refused or ended: too slow",
            NodeError::Replica(ReplicaError::Proto(ProtoError::Oversized)) => {
                "connection refused or ended: frame too large"
            }
            NodeError::Replica(ReplicaError::Proto(ProtoError::Malformed(_))) => {
                "connection refused or ended: malformed frame"
            }
            NodeError::Replica(ReplicaError::Proto(ProtoError::Truncated)) => {
                "connection refused or ended: truncated frame"
            }
            NodeError::Replica(_) => "connection refused or ended",
            NodeError::Store(_) => "connection refused or ended: database",
            NodeError::Ended(_) => "connection refused or ended: ended here",
            NodeError::AwaitingAcceptance => "connection refused or ended: pairing request",
        }
    }
}

/// This computer on the clinic's network.
pub struct Node {
    pub identity: Arc<Identity>,
    pub store: Arc<Store>,
    pub roster: Arc<Roster>,
    intro: Mutex<Intro>,
    /// The sessions with each peer, with who dialled each (see [`Node::admit`]).
    sessions: Mutex<HashMap<DeviceId, Vec<(DeviceId, AbortHandle)>>>,
    dialling: Mutex<HashSet<DeviceId>>,
    /// How many progress reports each peer's sessions made (see [`Node::reports_from`]).
    reports: Mutex<HashMap<DeviceId, u64>>,
    /// Places for connections that have not proved who they are yet.
    gate: Gate,
    refusals: Refusals,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.identity.id)
            .finish()
    }
}

impl Node {
    /// A node for this identity and store; records this device in the roster under `name`.
    pub fn new(identity: Identity, store: Arc<Store>, name: &str) -> Result<Arc<Node>, NodeError> {
        let roster = Arc::new(Roster::default());
        {
            let db = store.writer();
            roster::add(&db, &identity.id, name, "")
                .map_err(|e| NodeError::Store(e.to_string()))?;
            roster
                .refresh(&db)
                .map_err(|e| NodeError::Store(e.to_string()))?;
        }
        Ok(Arc::new(Node {
            identity: Arc::new(identity),
            store,
            roster,
            intro: Mutex::new(Intro {
                name: name.to_string(),
                port: 0,
                progress: None,
                peer: None,
            }),
            sessions: Mutex::new(HashMap::new()),
            dialling: Mutex::new(HashSet::new()),
            reports: Mutex::new(HashMap::new()),
            gate: Gate::default(),
            refusals: Refusals::default(),
        }))
    }

    /// Runs database work on the blocking pool.
    pub(super) async fn with_db<R: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, NodeError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store.writer()))
            .await
            .map_err(|e| NodeError::Store(e.to_string()))?
            .map_err(|e| NodeError::Store(e.to_string()))
    }

    /// Notes how a peer's sessions go, for `carebook peers` and the Peers screen.
    pub(super) async fn status(&self, peer: DeviceId, state: &'static str, detail: String) {
        self.status_with_lag(peer, state, detail, 0).await;
    }

    pub(super) async fn status_with_lag(
        &self,
        peer: DeviceId,
        state: &'static str,
        detail: String,
        lag: i64,
    ) {
        let r = self
            .with_db(move |db| {
                db.execute(
                    "INSERT INTO peer_status(id, state, last_contact, detail, lag) VALUES (?1, ?2, unixepoch(), ?3, ?4)
                     ON CONFLICT(id) DO UPDATE SET state = excluded.state, last_contact = excluded.last_contact,
                         detail = excluded.detail, lag = excluded.lag",
                    rusqlite::params![peer.to_text(), state, detail, lag],
                )
            })
            .await;
        if let Err(e) = r {
            tracing::warn!("could not record peer status: {e}");
        }
    }

    /// The port this computer listens on, announced in hellos (set by `listen`, or by a
    /// command that runs beside a listening `serve`).
    pub fn set_port(&self, port: u16) {
        lock(&self.intro).port = port;
    }

    /// Re-reads the roster now (after a local pairing or removal) and ends sessions with
    /// removed devices.
    pub async fn refresh_roster(&self) -> Result<(), NodeError> {
        let (store, roster) = (self.store.clone(), self.roster.clone());
        let revoked = tokio::task::spawn_blocking(move || roster.refresh(&store.writer()))
            .await
            .map_err(|e| NodeError::Store(e.to_string()))?
            .map_err(|e| NodeError::Store(e.to_string()))?;
        for id in revoked {
            tracing::warn!(device = %id.short(), "device removed from the clinic; ending its sessions");
            if let Some(handles) = self
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id)
            {
                handles.iter().for_each(|(_, h)| h.abort());
            }
        }
        Ok(())
    }

    /// How many times sessions with `peer` reported how they stand. A session gets that far
    /// only when the peer trusts this computer: it answered the hello and asked for changes.
    /// Each report is written to the database next, so it moves the store's change feed.
    pub fn reports_from(&self, peer: &DeviceId) -> u64 {
        lock(&self.reports).get(peer).copied().unwrap_or(0)
    }

    /// The number of sessions running with `peer` (one, once simultaneous dials settle).
    pub fn sessions_with(&self, peer: &DeviceId) -> usize {
        lock(&self.sessions).get(peer).map_or(0, Vec::len)
    }
}
