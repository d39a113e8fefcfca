//! The database side of a replication session: the slots in `crsql_tracked_peers`, export
//! and merge of batches, and the repair of a computer put back to an older copy.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

pub(super) const RECEIVED: i64 = 0;
pub(super) const ACKED: i64 = 1;

/// A slot value for a peer (0 when there is none yet).
pub(super) fn slot(c: &Connection, peer: &[u8], event: i64) -> rusqlite::Result<i64> {
    Ok(c.query_row(
        "SELECT version FROM crsql_tracked_peers WHERE site_id = ?1 AND tag = 0 AND event = ?2",
        params![peer, event],
        |r| r.get(0),
    )
    .optional()?
    .unwrap_or(0))
}

pub(super) fn set_slot(
    c: &Connection,
    peer: &[u8],
    event: i64,
    version: i64,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO crsql_tracked_peers(site_id, version, seq, tag, event) VALUES (?1, ?2, 0, 0, ?3)",
        params![peer, version, event],
    )?;
    Ok(())
}

pub(super) fn db_version(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT crsql_db_version()", [], |r| r.get(0))
}

/// The next batch for the peer after our db_version `since`, and where it ends; `None` and our
/// current db_version when there is nothing to send. Changes that came from the peer itself
/// are left out unless `echo` (a peer that lost its own changes gets them back).
pub(super) fn next_batch(
    c: &Connection,
    since: i64,
    peer: &[u8],
    echo: bool,
    limit: i64,
) -> rusqlite::Result<(Option<Vec<u8>>, i64)> {
    let tx = c.unchecked_transaction()?;
    let not_site = (!echo).then_some(peer);
    let batch: Vec<u8> = tx.query_row(
        "SELECT crsql_export_changes(?1, ?2, ?3)",
        params![since, not_site, limit],
        |r| r.get(0),
    )?;
    let upto: i64 = tx.query_row("SELECT crsql_batch_db_version(?1)", [&batch], |r| r.get(0))?;
    let out = if upto == 0 {
        (None, db_version(&tx)?)
    } else {
        (Some(batch), upto)
    };
    tx.commit()?;
    Ok(out)
}

/// Merges a batch and advances the peer's slot in the same transaction.
pub(super) fn merge(c: &Connection, batch: &[u8], peer: &[u8], upto: i64) -> rusqlite::Result<()> {
    let tx = c.unchecked_transaction()?;
    tx.query_row("SELECT crsql_merge_changes(?1)", [batch], |_| Ok(()))?;
    set_slot(&tx, peer, RECEIVED, upto)?;
    tx.commit()
}

/// Moves this database's clock to at least `to`, so the next commit is numbered above it.
/// Written through a second connection on purpose: the engine keeps the clock of each
/// connection cached and reads it again when another connection has committed.
pub(super) fn raise_clock(c: &Connection, to: i64) -> rusqlite::Result<()> {
    let path = c
        .path()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| rusqlite::Error::InvalidPath("an in-memory database".into()))?;
    let other = Connection::open(path)?;
    other.busy_timeout(Duration::from_secs(5))?;
    other.pragma_update(None, "synchronous", "FULL")?;
    other.execute(
        "INSERT INTO crr_meta(key, value) VALUES ('db_version_floor', ?1)
         ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
        [to],
    )?;
    Ok(())
}

/// Where sending starts after the peer's pull.
#[derive(Debug, Clone, Copy)]
pub(super) struct Start {
    pub from: i64,
    /// Send the peer its own changes too, up to our db_version here (it lost some of them).
    pub echo_until: Option<i64>,
}

/// Answers the peer's pull: `since` is how far it has our changes, `theirs` its db_version.
pub(super) fn on_pull(
    c: &Connection,
    peer: &[u8],
    since: i64,
    theirs: i64,
) -> rusqlite::Result<Start> {
    let now = db_version(c)?;
    let acked = slot(c, peer, ACKED)?;
    let echo_until = (slot(c, peer, RECEIVED)? > theirs).then_some(now);
    if echo_until.is_some() {
        tracing::warn!(
            "the other computer has fewer of its own changes than this one received from it \
             (restored from an older copy?); sending them back"
        );
    }
    let from = if since > now {
        tracing::warn!(
            "the other computer has received changes of this one that are no longer here \
             (restored from an older copy?); moving the clock past them and sending again"
        );
        raise_clock(c, since)?;
        acked.min(now)
    } else {
        since
    };
    if from < acked {
        // What the peer really has is below what it once acknowledged: trust the lower one
        // (old deletions are forgotten only below acknowledged versions).
        set_slot(c, peer, ACKED, from)?;
    }
    Ok(Start { from, echo_until })
}

/// Our changes after our db_version `since` that the peer lacks (its own left out).
pub(super) fn lag(c: &Connection, since: i64, peer: &[u8]) -> rusqlite::Result<i64> {
    c.query_row(
        "SELECT count(*) FROM crsql_changes WHERE db_version > ?1 AND site_id IS NOT ?2",
        params![since, peer],
        |r| r.get(0),
    )
}

/// Binds a device (its certificate ID) to the site it first says hello with; afterwards it
/// must always use that site, and no other device may. `Err` says why a hello is refused.
pub(super) fn bind_site(
    c: &Connection,
    device: &str,
    site: &[u8],
) -> rusqlite::Result<Result<(), &'static str>> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS replica_sites(
           device TEXT PRIMARY KEY NOT NULL, site BLOB NOT NULL UNIQUE) STRICT",
    )?;
    let own: Vec<u8> = c.query_row("SELECT crsql_site_id()", [], |r| r.get(0))?;
    if own == site {
        return Ok(Err("it claims this computer's own site"));
    }
    let bound: Option<Vec<u8>> = c
        .query_row(
            "SELECT site FROM replica_sites WHERE device = ?1",
            [device],
            |r| r.get(0),
        )
        .optional()?;
    match bound {
        Some(s) if s == site => return Ok(Ok(())),
        Some(_) => {
            return Ok(Err(
                "it claims another site than the one it has always used",
            ))
        }
        None => {}
    }
    let taken: Option<String> = c
        .query_row(
            "SELECT device FROM replica_sites WHERE site = ?1",
            [site],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some() {
        return Ok(Err("it claims the site of another computer"));
    }
    c.execute(
        "INSERT INTO replica_sites(device, site) VALUES (?1, ?2)",
        params![device, site],
    )?;
    Ok(Ok(()))
}
