//! One replication session per peer: admitting a new connection (when two computers dial
//! each other at once, both keep the one dialled by the lower device ID), running the session
//! and reporting how it stands for the Computers screen and `carebook peers`.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::{lock, Node, NodeError};
use crate::identity::DeviceId;
use crate::net::roster::Verdict;
use crate::replica;

impl Node {
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

    pub(super) async fn session<T: AsyncRead + AsyncWrite + Send + 'static>(
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
}
