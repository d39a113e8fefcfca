//! The door: accepting connections, bounding those that have not proved who they are yet,
//! telling members from removed devices and strangers by the database, and recording a
//! stranger's request to join (no records flow to it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use super::{lock, Node, NodeError, HANDSHAKE};
use crate::identity::DeviceId;
use crate::net::gate::Pass;
use crate::net::roster::{self, Verdict};
use crate::net::{names, tls};
use crate::proto::{self, Msg};
use crate::replica::ReplicaError;

/// After the system refuses a new connection (out of file descriptors, say), the listener
/// waits this long at first before accepting again, doubling up to [`ACCEPT_PAUSE_MAX`].
const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(50);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

impl Node {
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
}
