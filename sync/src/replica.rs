//! One replication session with one peer over any byte stream: a hello each way, a pull from
//! each side's watermark, then change batches flowing both ways at once. The session is full
//! duplex: a reader and a writer run side by side and never wait on each other, so two
//! computers with large backlogs both send and both receive (a session that wrote a whole
//! batch before reading again could wedge with its peer for good).
//!
//! Flow control is by acknowledged windows: several frames may be in flight, up to a bound in
//! frames and in bytes ([`Limits`]). Batches larger than a frame travel in parts; the receiver
//! holds the parts and merges nothing until the last one arrives, then merges the whole batch
//! in one transaction (a connection cut in the middle leaves nothing half-applied, and the
//! batch is sent again from the watermark next time). Merges happen in order, and a batch is
//! acknowledged only after it is merged and committed; the acknowledgement advances the
//! sender's slot for that peer, as in Postgres logical replication. The silence check runs in
//! the reader, so it keeps running while the writer sends. Local commits go out as they
//! happen: the caller hands over a signal that moves after each commit (the store's change feed).
//!
//! Slots live in `crsql_tracked_peers`: event 0 is how far this database has merged the peer's
//! changes (in the peer's db_versions), event 1 is how far the peer has acknowledged ours.
//!
//! A computer restored from an older copy of its database (or one whose last commits vanished
//! in a power cut) has a db_version below what its peers already received from it. The pull
//! carries each side's db_version so both notice: the peer sends the restored computer its
//! own lost changes back, and the restored computer moves its clock past the numbers the peer
//! has seen (so its new changes are not skipped) and sends again from what the peer had
//! acknowledged.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};

use crate::proto::{self, Msg, ProtoError, PROTOCOL};
use crate::store::Store;
use db::{
    bind_site, db_version, lag, merge, next_batch, on_pull, set_slot, slot, Start, ACKED, RECEIVED,
};

mod db;

/// Changes per batch (a batch never splits one transaction, so it may be larger; a batch
/// larger than a frame travels in parts). Each export still reads the clocks of every row
/// changed after the watermark, so fewer, larger batches make an initial sync faster (200,000:
/// 5.8 s instead of 6.9 s for 100,000 patients); the larger batch waits until a failure once
/// seen at both sizes, a computer killed during a 12,000-patient catch-up that did not catch up
/// after its restart, is understood (it could not be reproduced since).
pub const BATCH_CHANGES: i64 = 20_000;
const HEARTBEAT: Duration = Duration::from_secs(5);
const SILENCE: Duration = Duration::from_secs(20);

/// How a session cuts and paces what it sends, and how much it takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Changes per batch (whole db_versions, so a batch may hold more).
    pub batch_changes: i64,
    /// The largest part of a batch sent in one frame (well under [`proto::MAX_FRAME`]).
    pub part_bytes: usize,
    /// Frames sent and not yet acknowledged, at most (one is always allowed).
    pub window_frames: usize,
    /// Bytes sent and not yet acknowledged, at most (one frame is always allowed).
    pub window_bytes: usize,
    /// The largest batch taken from the peer (its parts are held in memory until the last).
    pub max_batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            batch_changes: BATCH_CHANGES,
            part_bytes: 1 << 20,
            window_frames: 32,
            window_bytes: 32 << 20,
            max_batch_bytes: 1 << 30,
        }
    }
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(transparent)]
    Proto(#[from] ProtoError),
    #[error("the peer speaks protocol {0}; this computer speaks {PROTOCOL}")]
    Protocol(u32),
    #[error("the peer sent {0} out of turn")]
    OutOfTurn(&'static str),
    #[error("the peer was silent for {}s", SILENCE.as_secs())]
    Silent,
    #[error("the peer closed the session: {0}")]
    Bye(String),
    #[error("the peer sent a change batch larger than {0} bytes")]
    TooLarge(usize),
    #[error("the peer's hello was refused: {0}")]
    WrongSite(&'static str),
    #[error("database: {0}")]
    Store(String),
}

/// Runs database work on the blocking pool, with the single writer connection.
async fn with_db<R: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
) -> Result<R, ReplicaError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store.writer()))
        .await
        .map_err(|e| ReplicaError::Store(e.to_string()))?
        .map_err(|e| ReplicaError::Store(e.to_string()))
}

/// Runs a read on the blocking pool, on one of the store's readers (never the writer, so a
/// long count does not hold up merges and exports).
async fn with_reader<R: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
) -> Result<R, ReplicaError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        store.read(|c| f(c).map_err(|e| ReplicaError::Store(e.to_string())))
    })
    .await
    .map_err(|e| ReplicaError::Store(e.to_string()))?
}

impl From<crate::store::StoreError> for ReplicaError {
    fn from(e: crate::store::StoreError) -> Self {
        ReplicaError::Store(e.to_string())
    }
}

/// How this computer introduces itself in its hello.
#[derive(Debug, Clone, Default)]
pub struct Intro {
    pub name: String,
    pub port: u16,
    /// Where to report how far behind the peer is (for status screens).
    pub progress: Option<Arc<watch::Sender<Progress>>>,
    /// The peer's device ID (its certificate's), when the transport proved it: its site is
    /// bound to it on first contact, and a hello with another site is refused.
    pub peer: Option<String>,
}

/// How a session stands, as seen from this side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The peer's site id (from its hello).
    pub site: Vec<u8>,
    /// Our changes the peer has not yet acknowledged (counted at most every two seconds).
    pub lag: i64,
    /// Nothing left to send.
    pub caught_up: bool,
}

/// How far a peer (by site id) has acknowledged our changes (our db_version; 0 if never).
pub fn acknowledged(c: &Connection, site: &[u8]) -> rusqlite::Result<i64> {
    slot(c, site, ACKED)
}

/// What the reader tells the writer.
#[derive(Debug)]
enum Event {
    /// The peer's pull: how far it has our changes, and its db_version.
    Pulled(i64, i64),
    /// The peer acknowledged our oldest unacknowledged frame.
    Acked(i64),
    /// A frame of the peer's is held or merged: acknowledge it.
    Merged(i64),
}

/// Runs a session with the default [`Limits`] until the peer leaves or something goes wrong.
/// `local` moves after commits (the store's change feed), so they go out at once.
pub async fn run<T: AsyncRead + AsyncWrite>(
    io: T,
    store: Arc<Store>,
    intro: Intro,
    local: watch::Receiver<u64>,
) -> Result<(), ReplicaError> {
    run_with(io, store, intro, local, Limits::default()).await
}

/// [`run`] with the given limits.
pub async fn run_with<T: AsyncRead + AsyncWrite>(
    io: T,
    store: Arc<Store>,
    intro: Intro,
    local: watch::Receiver<u64>,
    limits: Limits,
) -> Result<(), ReplicaError> {
    let (mut rx, mut tx) = proto::split(io);
    let progress = intro.progress.clone();
    let (me, schema) = with_db(&store, |c| {
        let site: Vec<u8> = c.query_row("SELECT crsql_site_id()", [], |r| r.get(0))?;
        let schema: u32 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok((site, schema))
    })
    .await?;
    tx.send(Msg::Hello {
        protocol: PROTOCOL,
        schema,
        site_id: me,
        name: intro.name,
        port: intro.port,
    })
    .await?;
    let peer = match timeout(SILENCE, rx.recv()).await {
        Err(_) => return Err(ReplicaError::Silent),
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok(Msg::Hello {
            protocol, site_id, ..
        })) => {
            if protocol != PROTOCOL {
                let _ = tx
                    .send(Msg::Bye {
                        reason: format!("protocol {protocol} is not spoken here"),
                    })
                    .await;
                return Err(ReplicaError::Protocol(protocol));
            }
            if site_id.len() != 16 {
                return Err(ProtoError::Malformed("a site id must be 16 bytes".into()).into());
            }
            site_id
        }
        Ok(Ok(Msg::Bye { reason })) => return Err(ReplicaError::Bye(reason)),
        Ok(Ok(_)) => return Err(ReplicaError::OutOfTurn("a message before its hello")),
    };
    if let Some(device) = intro.peer {
        let p = peer.clone();
        if let Err(reason) = with_db(&store, move |c| bind_site(c, &device, &p)).await? {
            let _ = tx
                .send(Msg::Bye {
                    reason: format!("refused: {reason}"),
                })
                .await;
            return Err(ReplicaError::WrongSite(reason));
        }
    }
    let p = peer.clone();
    let (have, now) = with_db(&store, move |c| {
        Ok((slot(c, &p, RECEIVED)?, db_version(c)?))
    })
    .await?;
    tx.send(Msg::Pull {
        since: have,
        db_version: now,
    })
    .await?;

    let (events, inbox) = mpsc::unbounded_channel();
    let reading = read_loop(&mut rx, &store, &peer, limits, events);
    let mut outbox = Outbox {
        tx: &mut tx,
        store: &store,
        peer: &peer,
        limits,
        progress,
        start: None,
        queue: VecDeque::new(),
        flight: VecDeque::new(),
        flight_bytes: 0,
        counted: None,
    };
    let writing = outbox.run(inbox, local);
    tokio::try_join!(reading, writing).map(|_| ())
}

/// Reads the peer's messages: merges its batches in order (parts held until the last) and
/// tells the writer what to acknowledge; ends the session after `SILENCE` without a byte.
async fn read_loop<R: AsyncRead + Unpin>(
    rx: &mut proto::Reader<R>,
    store: &Arc<Store>,
    peer: &[u8],
    limits: Limits,
    events: mpsc::UnboundedSender<Event>,
) -> Result<(), ReplicaError> {
    let mut held: Vec<u8> = Vec::new();
    let mut held_upto: Option<i64> = None;
    let mut pulled = false;
    let mut check = interval(SILENCE / 8);
    check.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // A long merge is not the peer's silence: count from its end too.
    let mut busy_until = Instant::now();
    loop {
        let m = tokio::select! {
            m = rx.recv() => m?,
            _ = check.tick() => {
                if rx.idle().min(busy_until.elapsed()) > SILENCE {
                    return Err(ReplicaError::Silent);
                }
                continue;
            }
        };
        let event = match m {
            Msg::Pull { since, db_version } => {
                if pulled {
                    return Err(ReplicaError::OutOfTurn("a second pull"));
                }
                pulled = true;
                Event::Pulled(since, db_version)
            }
            Msg::Changes { batch, upto, more } => {
                if held_upto.is_some_and(|u| u != upto) {
                    return Err(ReplicaError::OutOfTurn("a part of another batch"));
                }
                if held.len() + batch.len() > limits.max_batch_bytes {
                    return Err(ReplicaError::TooLarge(limits.max_batch_bytes));
                }
                let whole = if held.is_empty() {
                    batch
                } else {
                    held.extend_from_slice(&batch);
                    std::mem::take(&mut held)
                };
                if more {
                    held = whole;
                    held_upto = Some(upto);
                } else {
                    held_upto = None;
                    let p = peer.to_vec();
                    with_db(store, move |c| merge(c, &whole, &p, upto)).await?;
                    busy_until = Instant::now();
                }
                Event::Merged(upto)
            }
            Msg::Ack { upto } => Event::Acked(upto),
            Msg::Heartbeat => continue,
            Msg::Bye { reason } => return Err(ReplicaError::Bye(reason)),
            Msg::Hello { .. } => return Err(ReplicaError::OutOfTurn("a second hello")),
        };
        if events.send(event).is_err() {
            return Ok(());
        }
    }
}

/// A frame sent and not yet acknowledged.
struct Sent {
    upto: i64,
    bytes: usize,
    /// The last part of its batch (its acknowledgement moves the slot).
    last: bool,
}

/// The sending side of a session.
struct Outbox<'a, W> {
    tx: &'a mut proto::Writer<W>,
    store: &'a Arc<Store>,
    peer: &'a [u8],
    limits: Limits,
    progress: Option<Arc<watch::Sender<Progress>>>,
    /// Set by the peer's pull; `from` then moves as batches are exported.
    start: Option<Start>,
    /// Frames exported and not yet sent.
    queue: VecDeque<(Vec<u8>, i64, bool)>,
    flight: VecDeque<Sent>,
    flight_bytes: usize,
    counted: Option<Instant>,
}

impl<W: AsyncWrite + Unpin> Outbox<'_, W> {
    async fn run(
        &mut self,
        mut inbox: mpsc::UnboundedReceiver<Event>,
        mut local: watch::Receiver<u64>,
    ) -> Result<(), ReplicaError> {
        let mut heartbeat = interval(HEARTBEAT);
        // Something may be waiting to be exported.
        let mut dirty = true;
        loop {
            while let Ok(e) = inbox.try_recv() {
                dirty |= self.handle(e).await?;
            }
            if self.room() {
                if self.queue.is_empty() && dirty && self.start.is_some() {
                    dirty = self.export().await?;
                }
                if let Some((batch, upto, more)) = self.queue.pop_front() {
                    self.flight.push_back(Sent {
                        upto,
                        bytes: batch.len(),
                        last: !more,
                    });
                    self.flight_bytes += batch.len();
                    self.tx.send(Msg::Changes { batch, upto, more }).await?;
                    continue;
                }
            }
            tokio::select! {
                biased;
                e = inbox.recv() => match e {
                    Some(e) => dirty |= self.handle(e).await?,
                    None => return Ok(()),
                },
                Ok(()) = local.changed() => dirty = true,
                _ = heartbeat.tick() => self.tx.send(Msg::Heartbeat).await?,
            }
        }
    }

    /// Whether another frame may be sent now.
    fn room(&self) -> bool {
        let next = self.queue.front().map_or(0, |f| f.0.len());
        self.flight.is_empty()
            || (self.flight.len() < self.limits.window_frames
                && self.flight_bytes + next <= self.limits.window_bytes)
    }

    /// Acts on what the reader saw; true when more may be ready to export.
    async fn handle(&mut self, e: Event) -> Result<bool, ReplicaError> {
        match e {
            Event::Merged(upto) => {
                self.tx.send(Msg::Ack { upto }).await?;
                Ok(false)
            }
            Event::Pulled(since, theirs) => {
                let p = self.peer.to_vec();
                let start = with_db(self.store, move |c| on_pull(c, &p, since, theirs)).await?;
                self.start = Some(start);
                Ok(true)
            }
            Event::Acked(upto) => {
                let Some(sent) = self.flight.pop_front().filter(|s| s.upto == upto) else {
                    return Err(ReplicaError::OutOfTurn("an acknowledgement"));
                };
                self.flight_bytes -= sent.bytes;
                if sent.last {
                    let p = self.peer.to_vec();
                    with_db(self.store, move |c| set_slot(c, &p, ACKED, upto)).await?;
                }
                Ok(true)
            }
        }
    }

    /// Exports the next batch into the queue (in parts when it is larger than a frame);
    /// false when there was nothing to send.
    async fn export(&mut self) -> Result<bool, ReplicaError> {
        let Some(start) = self.start else {
            return Ok(false);
        };
        let (p, limit) = (self.peer.to_vec(), self.limits.batch_changes);
        let echo = start.echo_until.is_some_and(|u| start.from < u);
        let from = start.from;
        match with_db(self.store, move |c| next_batch(c, from, &p, echo, limit)).await? {
            (Some(batch), upto) => {
                self.split(batch, upto);
                self.start = Some(Start {
                    from: upto,
                    ..start
                });
                if self.progress.is_some()
                    && self
                        .counted
                        .is_none_or(|t| t.elapsed() > Duration::from_secs(2))
                {
                    self.counted = Some(Instant::now());
                    let p = self.peer.to_vec();
                    let behind = with_reader(self.store, move |c| lag(c, from, &p)).await?;
                    self.report(behind, false);
                }
                Ok(true)
            }
            (None, now) => {
                self.start = Some(Start {
                    from: now.max(from),
                    echo_until: None,
                });
                if self.flight.is_empty() {
                    self.report(0, true);
                }
                Ok(false)
            }
        }
    }

    /// Queues a batch as frames of at most `part_bytes`.
    fn split(&mut self, batch: Vec<u8>, upto: i64) {
        let size = self.limits.part_bytes.max(1);
        if batch.len() <= size {
            self.queue.push_back((batch, upto, false));
            return;
        }
        let n = batch.len().div_ceil(size);
        for (i, part) in batch.chunks(size).enumerate() {
            self.queue.push_back((part.to_vec(), upto, i + 1 < n));
        }
    }

    fn report(&self, lag: i64, caught_up: bool) {
        if let Some(tx) = &self.progress {
            let p = Progress {
                site: self.peer.to_vec(),
                lag,
                caught_up,
            };
            tx.send_if_modified(|old| {
                let changed = *old != p;
                *old = p.clone();
                changed
            });
        }
    }
}
