//! Keeping connected: the roster refreshed and old deletions compacted as the node runs, a
//! connection kept to every trusted member (redialled with exponential backoff and jitter,
//! followed when it moves), and members found on the network believed only once a pinned
//! handshake proves them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::{lock, Node, NodeError, HANDSHAKE};
use crate::identity::DeviceId;
use crate::net::roster::{self, Verdict};
use crate::net::tls;
use crate::replica;

const CONNECT: Duration = Duration::from_secs(5);
const ROSTER_REFRESH: Duration = Duration::from_millis(400);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Compact old deletions every this many roster rounds (about ten minutes).
const COMPACT_EVERY: u64 = 1500;

impl Node {
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
    pub async fn discover(self: Arc<Self>, scope: crate::net::discovery::Scope, port: u16) {
        let id = self.identity.id;
        let discovery = match crate::net::discovery::Discovery::start(id, port, scope) {
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
