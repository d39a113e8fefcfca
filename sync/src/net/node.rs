//! A running node: listens for paired devices, keeps connections to every known member
//! (retrying with exponential backoff and jitter), runs a replication session on each,
//! refreshes the roster as it replicates, ends the sessions of devices that get removed, and
//! records the pairing requests of unknown devices (which carry no records). Connections that
//! have not proved who they are are bounded (in all and per address) and get a few seconds
//! for their handshake; refused connections are logged at most once per reason a minute; the
//! listener outlives running out of file descriptors. A bad peer never stops the node serving
//! the others.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::gate::{Gate, Pass};
use super::refusals::Refusals;
use super::roster::{self, Roster, Verdict};
use super::{names, tls};
use crate::identity::{DeviceId, Identity};
use crate::proto::{self, Msg, ProtoError};
use crate::replica::{self, Intro, ReplicaError};
use crate::store::Store;

const CONNECT: Duration = Duration::from_secs(5);
/// How long a connection has for its TLS handshake (and a stranger for its pairing hello).
pub const HANDSHAKE: Duration = Duration::from_secs(4);
/// After the system refuses a new connection (out of file descriptors, say), the listener
/// waits this long at first before accepting again, doubling up to [`ACCEPT_PAUSE_MAX`].
const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(50);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);
const ROSTER_REFRESH: Duration = Duration::from_millis(400);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Compact old deletions every this many roster rounds (about ten minutes).
const COMPACT_EVERY: u64 = 1500;

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
    fn kind(&self) -> &'static str {
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
    async fn with_db<R: Send + 'static>(
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
    async fn status(&self, peer: DeviceId, state: &'static str, detail: String) {
        self.status_with_lag(peer, state, detail, 0).await;
    }

    async fn status_with_lag(&self, peer: DeviceId, state: &'static str, detail: String, lag: i64) {
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

    /// Forgets deletions every trusted computer has acknowledged. Nothing is compacted while a
    /// trusted computer has never connected (its site is unknown). Returns the rows forgotten.
    pub async fn compact(&self) -> Result<i64, NodeError> {
        let me = self.identity.id;
        self.with_db(move |db| {
            let mut lowest: Option<i64> = None;
            for m in roster::members(db)?
                .into_iter()
                .filter(|m| !m.revoked && m.id != me)
            {
                let site: Option<Vec<u8>> = db
                    .query_row(
                        "SELECT site_id FROM peer_status WHERE id = ?1",
                        [m.id.to_text()],
                        |r| r.get(0),
                    )
                    .unwrap_or(None);
                let Some(site) = site else {
                    return Ok(0);
                };
                let acked = replica::acknowledged(db, &site)?;
                lowest = Some(lowest.map_or(acked, |l: i64| l.min(acked)));
            }
            match lowest {
                // Acknowledged up to and including `acked`: deletions at or below it go.
                Some(acked) if acked > 0 => {
                    db.query_row("SELECT crsql_compact_tombstones(?1)", [acked + 1], |r| {
                        r.get(0)
                    })
                }
                _ => Ok(0),
            }
        })
        .await
    }

    /// Keeps the roster current while the node runs (it changes as the devices table merges),
    /// and keeps a connection to every trusted member whose address is known.
    pub async fn maintain(self: Arc<Self>) {
        let mut rounds: u64 = 0;
        loop {
            rounds += 1;
            if rounds.is_multiple_of(COMPACT_EVERY) {
                match self.compact().await {
                    Ok(n) if n > 0 => tracing::info!("forgot {n} old deletions every computer has"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("could not compact old deletions: {e}"),
                }
            }
            if let Err(e) = self.refresh_roster().await {
                tracing::warn!("could not refresh the device roster: {e}");
            }
            for m in self.roster.snapshot() {
                if m.revoked || m.id == self.identity.id || m.address.is_empty() {
                    continue;
                }
                let Ok(addr) = m.address.parse::<SocketAddr>() else {
                    continue;
                };
                if lock(&self.dialling).insert(m.id) {
                    let node = self.clone();
                    tokio::spawn(async move {
                        node.clone().keep_connected(addr, m.id).await;
                        lock(&node.dialling).remove(&m.id);
                    });
                }
            }
            tokio::time::sleep(ROSTER_REFRESH).await;
        }
    }

    /// Looks for the clinic's computers on the network every half minute and remembers where
    /// trusted ones are now, once a handshake there proves each (see [`Node::found`]; the
    /// connection upkeep then dials them there).
    pub async fn discover(self: Arc<Self>, scope: super::discovery::Scope, port: u16) {
        let id = self.identity.id;
        let discovery = match super::discovery::Discovery::start(id, port, scope) {
            Ok(d) => Arc::new(d),
            Err(e) => {
                tracing::warn!("{e}; type addresses by hand instead");
                return;
            }
        };
        loop {
            let d = discovery.clone();
            let found = tokio::task::spawn_blocking(move || d.browse(Duration::from_secs(3)))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            for f in found {
                let Some(addr) = f.addresses.first().copied() else {
                    continue;
                };
                if let Err(e) = self.found(f.id, addr).await {
                    self.refusals.log_from(
                        "an announced address did not prove to be its computer",
                        addr,
                        e,
                    );
                }
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }

    /// An announcement (from discovery) that the member `peer` is now at `addr`. It is
    /// remembered only after a TLS handshake there proves the device (its pinned certificate),
    /// so an answer from anyone else on the network cannot send the clinic's connections
    /// elsewhere; a computer that moved is then dialled at its new address. True when the
    /// stored address changed.
    pub async fn found(&self, peer: DeviceId, addr: SocketAddr) -> Result<bool, NodeError> {
        if self.roster.verdict(&peer) != Verdict::Trusted
            || self.roster.address(&peer) == Some(addr)
        {
            return Ok(false);
        }
        drop(self.connect(addr, peer).await?);
        let address = addr.to_string();
        let moved = self
            .with_db(move |db| roster::moved(db, &peer, &address))
            .await?;
        if moved {
            tracing::info!(device = %peer.short(), %addr, "a member moved; following it");
            self.refresh_roster().await?;
        }
        Ok(moved)
    }

    /// Accepts connections for as long as the node runs. When the system refuses one (out of
    /// file descriptors, say) it waits a moment and goes on accepting; it never stops.
    pub async fn listen(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        lock(&self.intro).port = listener.local_addr()?.port();
        let mut pause = ACCEPT_PAUSE_MIN;
        loop {
            let (tcp, addr) = match listener.accept().await {
                Ok(accepted) => {
                    pause = ACCEPT_PAUSE_MIN;
                    accepted
                }
                Err(e) => {
                    self.refusals
                        .log("could not accept a connection; trying again shortly", e);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(ACCEPT_PAUSE_MAX);
                    continue;
                }
            };
            let pass = match self.gate.enter(addr.ip()) {
                Ok(pass) => pass,
                Err(full) => {
                    self.refusals.log_from(full.reason(), addr, "refused");
                    continue;
                }
            };
            let node = self.clone();
            tokio::spawn(async move {
                match node.incoming(tcp, addr, pass).await {
                    Ok(()) => tracing::info!(%addr, "session ended"),
                    Err(e) => node.refusals.log_from(e.kind(), addr, e),
                }
            });
        }
    }

    async fn incoming(
        self: &Arc<Self>,
        tcp: TcpStream,
        from: SocketAddr,
        pass: Pass,
    ) -> Result<(), NodeError> {
        let acceptor = TlsAcceptor::from(tls::server(&self.identity, self.roster.clone())?);
        let stream = timeout(HANDSHAKE, acceptor.accept(tcp))
            .await
            .map_err(|_| NodeError::Timeout("the TLS handshake"))?
            .map_err(NodeError::Handshake)?;
        let peer =
            tls::peer_id(stream.get_ref().1.peer_certificates()).ok_or(NodeError::NoCertificate)?;
        // The database, not the roster in memory (which may be a moment old): a member's dial
        // right after it was accepted is a member's.
        match self.with_db(move |db| roster::verdict(db, &peer)).await? {
            Verdict::Unknown => self.pairing_request(peer, stream, from, pass).await,
            Verdict::Revoked => Err(NodeError::Ended("the device was removed from the clinic")),
            Verdict::Trusted => {
                drop(pass);
                if self.roster.verdict(&peer) != Verdict::Trusted {
                    self.refresh_roster().await?;
                }
                self.session(peer, peer, stream).await
            }
        }
    }

    /// An unknown device finished the handshake: record its request to join (its name and the
    /// address it listens on) and tell it to wait. No records flow. It keeps its place at the
    /// door (`_pass`) until its hello is read.
    async fn pairing_request<T: AsyncRead + AsyncWrite>(
        &self,
        peer: DeviceId,
        io: T,
        from: SocketAddr,
        _pass: Pass,
    ) -> Result<(), NodeError> {
        let (mut rx, mut tx) = proto::split(io);
        let hello = timeout(HANDSHAKE, rx.recv())
            .await
            .map_err(|_| NodeError::Timeout("the pairing request"))?
            .map_err(ReplicaError::from)?;
        let Msg::Hello { name, port, .. } = hello else {
            return Err(ReplicaError::OutOfTurn("a message before its hello").into());
        };
        let name = names::shown(&name);
        // With port 0 (it does not listen) the source address is kept, for the per-address cap.
        let address = SocketAddr::new(from.ip(), port).to_string();
        let recorded = self
            .with_db(move |db| roster::request(db, &peer, &name, &address, from.ip()))
            .await?;
        if let roster::Recorded::Member(_) = recorded {
            return Err(NodeError::Ended(
                "the device's roster changed during its handshake",
            ));
        }
        tracing::info!(device = %peer.short(), "pairing request recorded; waiting for someone to accept it");
        let me = lock(&self.intro).name.clone();
        let _ = tx
            .send(Msg::Bye {
                reason: format!("waiting for someone at {me} to accept this computer"),
            })
            .await;
        Err(NodeError::AwaitingAcceptance)
    }

    /// Connects to the device `expect` at `addr` and replicates until the session ends.
    pub async fn dial(
        self: &Arc<Self>,
        addr: SocketAddr,
        expect: DeviceId,
    ) -> Result<(), NodeError> {
        let stream = self.connect(addr, expect).await?;
        self.session(expect, self.identity.id, stream).await
    }

    /// A TLS connection to `addr` whose certificate is that of `expect` (pinned).
    async fn connect(
        &self,
        addr: SocketAddr,
        expect: DeviceId,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, NodeError> {
        let tcp = timeout(CONNECT, TcpStream::connect(addr))
            .await
            .map_err(|_| NodeError::Timeout("connecting"))??;
        let connector = TlsConnector::from(tls::client(&self.identity, expect)?);
        let name =
            rustls::pki_types::ServerName::try_from("carebook.device").expect("a valid name");
        timeout(HANDSHAKE, connector.connect(name, tcp))
            .await
            .map_err(|_| NodeError::Timeout("the TLS handshake"))?
            .map_err(NodeError::Handshake)
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

    /// Records a new session with `peer` that `dialer` opened, keeping one session per peer.
    /// When both computers dial each other at once, both keep the connection dialled by the
    /// lower device ID (each side decides alone and they agree); a redial by the same side
    /// replaces its older connection, which is probably half-open. Returns false when the new
    /// session should end at once.
    fn admit(&self, peer: DeviceId, dialer: DeviceId, handle: &AbortHandle) -> bool {
        let preferred = self.identity.id.min(peer);
        let mut sessions = lock(&self.sessions);
        let list = sessions.entry(peer).or_default();
        if list.iter().any(|(d, _)| *d != dialer && *d == preferred) {
            return false;
        }
        for (_, old) in list.drain(..) {
            old.abort();
        }
        list.push((dialer, handle.clone()));
        true
    }

    async fn session<T: AsyncRead + AsyncWrite + Send + 'static>(
        self: &Arc<Self>,
        peer: DeviceId,
        dialer: DeviceId,
        io: T,
    ) -> Result<(), NodeError> {
        if self.roster.verdict(&peer) != Verdict::Trusted {
            return Err(NodeError::Ended("the device is not trusted"));
        }
        let (progress, mut watch_progress) = watch::channel(replica::Progress::default());
        let mut intro = lock(&self.intro).clone();
        intro.progress = Some(Arc::new(progress));
        intro.peer = Some(peer.to_text());
        let node = self.clone();
        let reporter = tokio::spawn(async move {
            while watch_progress.changed().await.is_ok() {
                let p = watch_progress.borrow_and_update().clone();
                *lock(&node.reports).entry(peer).or_default() += 1;
                let (state, detail) = if p.caught_up {
                    ("live", String::new())
                } else {
                    ("catching up", format!("{} changes to send", p.lag))
                };
                node.status_with_lag(peer, state, detail, p.lag).await;
                let site = p.site.clone();
                let _ = node
                    .with_db(move |db| {
                        db.execute(
                            "UPDATE peer_status SET site_id = ?2 WHERE id = ?1",
                            rusqlite::params![peer.to_text(), site],
                        )
                    })
                    .await;
            }
        });
        let task = tokio::spawn(replica::run(
            io,
            self.store.clone(),
            intro,
            self.store.changes(),
        ));
        let handle = task.abort_handle();
        if !self.admit(peer, dialer, &handle) {
            task.abort();
            reporter.abort();
            return Err(NodeError::Ended(
                "the two computers dialled each other at once; the other connection stays",
            ));
        }
        self.status(peer, "connected", String::new()).await;
        let result = task.await;
        reporter.abort();
        if let Some(list) = lock(&self.sessions).get_mut(&peer) {
            list.retain(|(_, h)| h.id() != handle.id());
        }
        let result = match result {
            Ok(r) => r.map_err(NodeError::from),
            Err(_) if self.roster.verdict(&peer) == Verdict::Revoked => {
                Err(NodeError::Ended("the device was removed from the clinic"))
            }
            Err(_) => Err(NodeError::Ended("a newer connection to it took over")),
        };
        let still_connected = lock(&self.sessions)
            .get(&peer)
            .is_some_and(|l| !l.is_empty());
        if !still_connected {
            let detail = result
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default();
            self.status(peer, "offline", detail).await;
        }
        result
    }

    /// Keeps a connection to a peer, first at `addr` and then wherever the roster says it
    /// moved: redials after every end, waiting longer after quick failures (exponential
    /// backoff with jitter), never for a removed device.
    pub async fn keep_connected(self: Arc<Self>, mut addr: SocketAddr, peer: DeviceId) {
        let mut delay = BACKOFF_MIN;
        loop {
            if let Some(now) = self.roster.address(&peer) {
                addr = now;
            }
            if self.roster.verdict(&peer) == Verdict::Revoked {
                tracing::info!(device = %peer.short(), "not dialling a removed device");
                return;
            }
            if lock(&self.sessions)
                .get(&peer)
                .is_some_and(|l| !l.is_empty())
            {
                // It called us already; one session is enough.
                tokio::time::sleep(BACKOFF_MAX / 10).await;
                continue;
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

/// A random duration up to `max` (so that many computers do not redial in step), drawn from
/// the system's random source; none at all in the unheard-of case that it fails.
fn jitter(max: Duration) -> Duration {
    let rng = ring::rand::SystemRandom::new();
    match ring::rand::generate::<[u8; 8]>(&rng) {
        // The top 53 bits as a fraction in [0, 1): every value an f64 holds exactly.
        Ok(bytes) => {
            max.mul_f64((u64::from_be_bytes(bytes.expose()) >> 11) as f64 / (1u64 << 53) as f64)
        }
        Err(_) => Duration::ZERO,
    }
}
