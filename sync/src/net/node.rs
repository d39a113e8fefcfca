//! A running node: listens for paired devices, keeps connections to known peers (retrying with
//! exponential backoff and jitter), runs a replication session on each, refreshes the roster as
//! it replicates, and ends the sessions of devices that get removed. Every refused connection
//! is logged with its reason; a bad peer never stops the node serving the others.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::roster::{self, Roster, Verdict};
use super::tls;
use crate::identity::{DeviceId, Identity};
use crate::replica::{self, ReplicaError};
use crate::store::Store;

const CONNECT: Duration = Duration::from_secs(5);
const HANDSHAKE: Duration = Duration::from_secs(10);
const ROSTER_REFRESH: Duration = Duration::from_millis(400);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Why a connection or session ended.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{0} took too long")]
    Timeout(&'static str),
    #[error("the peer presented no certificate")]
    NoCertificate,
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("database: {0}")]
    Store(String),
    #[error("the session was ended: {0}")]
    Ended(&'static str),
}

/// This computer on the clinic's network.
pub struct Node {
    pub identity: Arc<Identity>,
    pub store: Arc<Store>,
    pub roster: Arc<Roster>,
    changed: watch::Sender<()>,
    sessions: Mutex<HashMap<DeviceId, Vec<AbortHandle>>>,
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
            changed: watch::channel(()).0,
            sessions: Mutex::new(HashMap::new()),
        }))
    }

    /// Tells the sessions that local commits are waiting to go out.
    pub fn local_change(&self) {
        self.changed.send_replace(());
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
                handles.iter().for_each(AbortHandle::abort);
            }
        }
        Ok(())
    }

    /// Keeps the roster current while the node runs (it changes as the devices table merges).
    pub async fn maintain(self: Arc<Self>) {
        loop {
            if let Err(e) = self.refresh_roster().await {
                tracing::warn!("could not refresh the device roster: {e}");
            }
            tokio::time::sleep(ROSTER_REFRESH).await;
        }
    }

    /// Accepts connections until the listener fails.
    pub async fn listen(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (tcp, addr) = listener.accept().await?;
            let node = self.clone();
            tokio::spawn(async move {
                match node.incoming(tcp).await {
                    Ok(()) => tracing::info!(%addr, "session ended"),
                    Err(e) => tracing::warn!(%addr, "connection refused or ended: {e}"),
                }
            });
        }
    }

    async fn incoming(self: &Arc<Self>, tcp: TcpStream) -> Result<(), NodeError> {
        let acceptor = TlsAcceptor::from(tls::server(&self.identity, self.roster.clone())?);
        let stream = timeout(HANDSHAKE, acceptor.accept(tcp))
            .await
            .map_err(|_| NodeError::Timeout("the TLS handshake"))??;
        let peer =
            tls::peer_id(stream.get_ref().1.peer_certificates()).ok_or(NodeError::NoCertificate)?;
        self.session(peer, stream).await
    }

    /// Connects to the device `expect` at `addr` and replicates until the session ends.
    pub async fn dial(
        self: &Arc<Self>,
        addr: SocketAddr,
        expect: DeviceId,
    ) -> Result<(), NodeError> {
        let tcp = timeout(CONNECT, TcpStream::connect(addr))
            .await
            .map_err(|_| NodeError::Timeout("connecting"))??;
        let connector = TlsConnector::from(tls::client(&self.identity, expect)?);
        let name =
            rustls::pki_types::ServerName::try_from("carebook.device").expect("a valid name");
        let stream = timeout(HANDSHAKE, connector.connect(name, tcp))
            .await
            .map_err(|_| NodeError::Timeout("the TLS handshake"))??;
        self.session(expect, stream).await
    }

    async fn session<T: AsyncRead + AsyncWrite + Send + 'static>(
        self: &Arc<Self>,
        peer: DeviceId,
        io: T,
    ) -> Result<(), NodeError> {
        if self.roster.verdict(&peer) != Verdict::Trusted {
            return Err(NodeError::Ended("the device is not trusted"));
        }
        let task = tokio::spawn(replica::run(
            io,
            self.store.clone(),
            self.changed.subscribe(),
        ));
        let handle = task.abort_handle();
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(peer)
            .or_default()
            .push(handle.clone());
        let result = task.await;
        if let Some(list) = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&peer)
        {
            list.retain(|h| h.id() != handle.id());
        }
        match result {
            Ok(r) => r.map_err(NodeError::from),
            Err(_) => Err(NodeError::Ended("the device was removed from the clinic")),
        }
    }

    /// Keeps a connection to a peer: redials after every end, waiting longer after quick
    /// failures (exponential backoff with jitter), never for a removed device.
    pub async fn keep_connected(self: Arc<Self>, addr: SocketAddr, peer: DeviceId) {
        let mut delay = BACKOFF_MIN;
        loop {
            if self.roster.verdict(&peer) == Verdict::Revoked {
                tracing::info!(device = %peer.short(), "not dialling a removed device");
                return;
            }
            let started = tokio::time::Instant::now();
            if let Err(e) = self.dial(addr, peer).await {
                tracing::info!(device = %peer.short(), %addr, "connection ended: {e}");
            }
            delay = if started.elapsed() > Duration::from_secs(10) {
                BACKOFF_MIN
            } else {
                (delay * 2).min(BACKOFF_MAX)
            };
            tokio::time::sleep(delay + jitter(delay / 2)).await;
        }
    }
}

/// A random duration up to `max` (so that many computers do not redial in step).
fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    max.mul_f64(f64::from(nanos % 1000) / 1000.0)
}
