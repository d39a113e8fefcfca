//! One replication session with one peer over any byte stream: a hello each way, a pull from
//! each side's watermark, then change batches flowing both ways. Each batch is acknowledged
//! only after it is merged and committed, and the acknowledgement advances the sender's slot
//! for that peer, as in Postgres logical replication. One batch is in flight at a time, so a
//! slow receiver slows the sender (backpressure). Local commits go out as they happen: the
//! caller hands over a signal that moves after each commit (the store's change feed).
//!
//! Slots live in `crsql_tracked_peers`: event 0 is how far this database has merged the peer's
//! changes (in the peer's db_versions), event 1 is how far the peer has acknowledged ours.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::{interval, timeout, Instant};

use crate::proto::{self, Msg, ProtoError, PROTOCOL};
use crate::store::Store;

/// Changes per batch (a batch never splits one transaction, so it may be a little larger).
pub const BATCH_CHANGES: i64 = 20_000;
const HEARTBEAT: Duration = Duration::from_secs(5);
const SILENCE: Duration = Duration::from_secs(20);
const RECEIVED: i64 = 0;
const ACKED: i64 = 1;

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

/// A slot value for a peer (0 when there is none yet).
fn slot(c: &Connection, peer: &[u8], event: i64) -> rusqlite::Result<i64> {
    Ok(c.query_row(
        "SELECT version FROM crsql_tracked_peers WHERE site_id = ?1 AND tag = 0 AND event = ?2",
        params![peer, event],
        |r| r.get(0),
    )
    .optional()?
    .unwrap_or(0))
}

fn set_slot(c: &Connection, peer: &[u8], event: i64, version: i64) -> rusqlite::Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO crsql_tracked_peers(site_id, version, seq, tag, event) VALUES (?1, ?2, 0, 0, ?3)",
        params![peer, version, event],
    )?;
    Ok(())
}

/// The next batch for the peer after our db_version `since`, and where it ends; `None` and our
/// current db_version when there is nothing to send (changes that came from the peer itself
/// are never sent back).
fn next_batch(c: &Connection, since: i64, peer: &[u8]) -> rusqlite::Result<(Option<Vec<u8>>, i64)> {
    let tx = c.unchecked_transaction()?;
    let batch: Vec<u8> = tx.query_row(
        "SELECT crsql_export_changes(?1, ?2, ?3)",
        params![since, peer, BATCH_CHANGES],
        |r| r.get(0),
    )?;
    let upto: i64 = tx.query_row("SELECT crsql_batch_db_version(?1)", [&batch], |r| r.get(0))?;
    let out = if upto == 0 {
        (
            None,
            tx.query_row("SELECT crsql_db_version()", [], |r| r.get(0))?,
        )
    } else {
        (Some(batch), upto)
    };
    tx.commit()?;
    Ok(out)
}

/// Merges a batch and advances the peer's slot in the same transaction.
fn merge(c: &Connection, batch: &[u8], peer: &[u8], upto: i64) -> rusqlite::Result<()> {
    let tx = c.unchecked_transaction()?;
    tx.query_row("SELECT crsql_merge_changes(?1)", [batch], |_| Ok(()))?;
    set_slot(&tx, peer, RECEIVED, upto)?;
    tx.commit()
}

/// How this computer introduces itself in its hello.
#[derive(Debug, Clone, Default)]
pub struct Intro {
    pub name: String,
    pub port: u16,
    /// Where to report how far behind the peer is (for status screens).
    pub progress: Option<Arc<watch::Sender<Progress>>>,
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

/// Our changes after our db_version `since` that the peer lacks (its own left out).
fn lag(c: &Connection, since: i64, peer: &[u8]) -> rusqlite::Result<i64> {
    c.query_row(
        "SELECT count(*) FROM crsql_changes WHERE db_version > ?1 AND site_id IS NOT ?2",
        params![since, peer],
        |r| r.get(0),
    )
}

/// Runs a session until the peer leaves or something goes wrong. `local` moves after local
/// commits (see `Store::changes`), so they go out at once.
pub async fn run<T: AsyncRead + AsyncWrite>(
    io: T,
    store: Arc<Store>,
    intro: Intro,
    mut local: watch::Receiver<u64>,
) -> Result<(), ReplicaError> {
    let (mut rx, mut tx) = proto::split(io);
    let intro_progress = intro.progress.clone();
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
    let p = peer.clone();
    let have = with_db(&store, move |c| slot(c, &p, RECEIVED)).await?;
    tx.send(Msg::Pull { since: have }).await?;

    let mut peer_has: Option<i64> = None;
    let mut in_flight: Option<i64> = None;
    let mut heartbeat = interval(HEARTBEAT);
    let mut heard = Instant::now();
    let mut counted: Option<Instant> = None;
    let report = |p: Progress| {
        if let Some(tx) = &intro_progress {
            tx.send_if_modified(|old| {
                let changed = *old != p;
                *old = p.clone();
                changed
            });
        }
    };
    loop {
        if let (Some(has), None) = (peer_has, in_flight) {
            let p = peer.clone();
            match with_db(&store, move |c| next_batch(c, has, &p)).await? {
                (Some(batch), upto) => {
                    tx.send(Msg::Changes { batch, upto }).await?;
                    in_flight = Some(upto);
                    if intro_progress.is_some()
                        && counted.is_none_or(|t| t.elapsed() > Duration::from_secs(2))
                    {
                        counted = Some(Instant::now());
                        let p = peer.clone();
                        let behind = with_db(&store, move |c| lag(c, has, &p)).await?;
                        report(Progress {
                            site: peer.clone(),
                            lag: behind,
                            caught_up: false,
                        });
                    }
                }
                (None, now) => {
                    peer_has = Some(now.max(has));
                    report(Progress {
                        site: peer.clone(),
                        lag: 0,
                        caught_up: true,
                    });
                }
            }
        }
        tokio::select! {
            m = rx.recv() => {
                heard = Instant::now();
                match m? {
                    Msg::Pull { since } => peer_has = Some(since),
                    Msg::Changes { batch, upto } => {
                        let p = peer.clone();
                        with_db(&store, move |c| merge(c, &batch, &p, upto)).await?;
                        tx.send(Msg::Ack { upto }).await?;
                    }
                    Msg::Ack { upto } => {
                        if in_flight != Some(upto) {
                            return Err(ReplicaError::OutOfTurn("an acknowledgement"));
                        }
                        in_flight = None;
                        peer_has = Some(upto);
                        let p = peer.clone();
                        with_db(&store, move |c| set_slot(c, &p, ACKED, upto)).await?;
                    }
                    Msg::Heartbeat => {}
                    Msg::Bye { reason } => return Err(ReplicaError::Bye(reason)),
                    Msg::Hello { .. } => return Err(ReplicaError::OutOfTurn("a second hello")),
                }
            }
            Ok(()) = local.changed() => {}
            _ = heartbeat.tick() => {
                if heard.elapsed() > SILENCE {
                    return Err(ReplicaError::Silent);
                }
                tx.send(Msg::Heartbeat).await?;
            }
        }
    }
}
