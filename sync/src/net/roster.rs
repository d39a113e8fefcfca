//! The clinic's devices: a replicated table, so a computer accepted by one member is known to
//! all, and a removed (revoked) one is refused everywhere. Removals are also kept in a
//! grow-only table of their own (`revocations`), which no merge can delete from, so a removed
//! device that rewrites its roster row (or has it deleted) stays removed. The roster in memory is what the TLS
//! verifiers consult during a handshake.

use std::collections::HashMap;
use std::sync::RwLock;

use rusqlite::{params, Connection};

use crate::identity::DeviceId;

/// What the roster says about a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Trusted,
    Revoked,
    Unknown,
}

/// A member of the clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: DeviceId,
    pub name: String,
    pub address: String,
    pub revoked: bool,
}

/// Adds (or renames) a trusted device; never undoes a removal.
pub fn add(db: &Connection, id: &DeviceId, name: &str, address: &str) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO devices(id, name, address, added_at, revoked_at) VALUES (?1, ?2, ?3, unixepoch(), 0)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name,
             address = CASE WHEN excluded.address = '' THEN address ELSE excluded.address END",
        params![id.to_text(), name, address],
    )?;
    Ok(())
}

/// Notes where a trusted device was found (only when it moved, so nothing churns).
pub fn moved(db: &Connection, id: &DeviceId, address: &str) -> rusqlite::Result<bool> {
    Ok(db.execute(
        "UPDATE devices SET address = ?2 WHERE id = ?1 AND revoked_at = 0 AND address != ?2",
        params![id.to_text(), address],
    )? == 1)
}

/// Removes a device from the clinic (a stolen laptop): it is refused everywhere from now on.
/// True when it was not removed already.
pub fn revoke(db: &Connection, id: &DeviceId) -> rusqlite::Result<bool> {
    let added = db.execute(
        "INSERT OR IGNORE INTO revocations(id, revoked_at) VALUES (?1, unixepoch())",
        [id.to_text()],
    )?;
    let marked = db.execute(
        "UPDATE devices SET revoked_at = unixepoch() WHERE id = ?1 AND revoked_at = 0",
        [id.to_text()],
    )?;
    Ok(added + marked > 0)
}

/// Every device on record: the roster, with each removal applied (a removed device whose roster
/// row is gone is still listed, as removed).
pub fn members(db: &Connection) -> rusqlite::Result<Vec<Member>> {
    let mut st = db.prepare_cached(
        "SELECT d.id, d.name, d.address, d.revoked_at != 0 OR r.id IS NOT NULL
           FROM devices d LEFT JOIN revocations r ON r.id = d.id
         UNION ALL
         SELECT r.id, '', '', 1 FROM revocations r WHERE r.id NOT IN (SELECT id FROM devices)
         ORDER BY 2, 1",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, bool>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, address, revoked) = row?;
        // A malformed id (from a bad peer or a hand edit) trusts nobody.
        if let Ok(id) = DeviceId::parse(&id) {
            out.push(Member {
                id,
                name,
                address,
                revoked,
            });
        }
    }
    Ok(out)
}

/// What the database says about a device now (the in-memory [`Roster`] may be a moment old).
pub fn verdict(db: &Connection, id: &DeviceId) -> rusqlite::Result<Verdict> {
    use rusqlite::OptionalExtension;
    let revoked: Option<bool> = db
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM revocations WHERE id = ?1)
                 OR COALESCE((SELECT revoked_at != 0 FROM devices WHERE id = ?1), 0),
                    EXISTS(SELECT 1 FROM devices WHERE id = ?1)
                 OR EXISTS(SELECT 1 FROM revocations WHERE id = ?1)",
            [id.to_text()],
            |r| Ok(r.get::<_, bool>(1)?.then_some(r.get::<_, bool>(0)?)),
        )
        .optional()?
        .flatten();
    Ok(match revoked {
        Some(true) => Verdict::Revoked,
        Some(false) => Verdict::Trusted,
        None => Verdict::Unknown,
    })
}

/// The roster held in memory for handshakes.
#[derive(Debug, Default)]
pub struct Roster {
    members: RwLock<HashMap<DeviceId, Member>>,
}

impl Roster {
    /// Reloads from the database; returns the devices that were trusted and are now revoked.
    pub fn refresh(&self, db: &Connection) -> rusqlite::Result<Vec<DeviceId>> {
        let fresh: HashMap<DeviceId, Member> =
            members(db)?.into_iter().map(|m| (m.id, m)).collect();
        let mut members = self.members.write().unwrap_or_else(|p| p.into_inner());
        let newly_revoked = fresh
            .values()
            .filter(|m| m.revoked && members.get(&m.id).is_some_and(|old| !old.revoked))
            .map(|m| m.id)
            .collect();
        *members = fresh;
        Ok(newly_revoked)
    }

    pub fn verdict(&self, id: &DeviceId) -> Verdict {
        match self
            .members
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            Some(m) if m.revoked => Verdict::Revoked,
            Some(_) => Verdict::Trusted,
            None => Verdict::Unknown,
        }
    }

    /// Where a device listens, when the roster knows an address for it.
    pub fn address(&self, id: &DeviceId) -> Option<std::net::SocketAddr> {
        self.members
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .and_then(|m| m.address.parse().ok())
    }

    pub fn snapshot(&self) -> Vec<Member> {
        self.members
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// A device asking to join (recorded when it connects; shown for a person to accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: DeviceId,
    pub name: String,
    pub address: String,
    pub at: i64,
}

/// The most pending requests kept (the oldest go first), so strangers cannot fill the disk.
pub const MAX_REQUESTS: i64 = 20;

/// The most pending requests kept from one network address (its oldest go first), so one
/// machine making new certificates cannot push everyone else's requests off the list.
pub const MAX_REQUESTS_PER_ADDRESS: i64 = 3;

/// How a pairing request was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// It is listed under "Asking to join".
    Listed,
    /// The device is a member or was removed: nothing is listed.
    Member(Verdict),
}

/// Records (or refreshes) a pairing request from the device `id`, which connected from
/// `from` (its listening address is `address`, or empty). A member's or a removed device's
/// connection is never recorded: the check reads the database in the same transaction.
pub fn request(
    db: &Connection,
    id: &DeviceId,
    name: &str,
    address: &str,
    from: std::net::IpAddr,
) -> rusqlite::Result<Recorded> {
    // The write lock at once: a read then a write, while another program may write.
    let tx = rusqlite::Transaction::new_unchecked(db, rusqlite::TransactionBehavior::Immediate)?;
    let known = verdict(&tx, id)?;
    if known != Verdict::Unknown {
        return Ok(Recorded::Member(known));
    }
    tx.execute(
        "INSERT OR REPLACE INTO pair_requests(id, name, address, at) VALUES (?1, ?2, ?3, unixepoch())",
        params![id.to_text(), name, address],
    )?;
    // The source address is the part of `address` before its port; a request with no
    // listening port is stored with the bare source address, so the cap counts it too.
    tx.execute(
        "DELETE FROM pair_requests WHERE id IN (
             SELECT id FROM pair_requests WHERE address = ?1 OR address LIKE ?2
             ORDER BY at DESC, rowid DESC LIMIT -1 OFFSET ?3)",
        params![
            source_key(from),
            like_prefix(from),
            MAX_REQUESTS_PER_ADDRESS
        ],
    )?;
    tx.execute(
        "DELETE FROM pair_requests WHERE id NOT IN (SELECT id FROM pair_requests ORDER BY at DESC, rowid DESC LIMIT ?1)",
        [MAX_REQUESTS],
    )?;
    tx.commit()?;
    Ok(Recorded::Listed)
}

/// How a source address is written when a request has no listening port.
fn source_key(from: std::net::IpAddr) -> String {
    std::net::SocketAddr::new(from, 0).to_string()
}

/// A LIKE pattern matching every `ip:port` written for `from` (an address has no `%` or `_`).
fn like_prefix(from: std::net::IpAddr) -> String {
    let key = source_key(from);
    format!("{}%", key.strip_suffix('0').unwrap_or(&key))
}

/// Pending requests, newest first.
pub fn requests(db: &Connection) -> rusqlite::Result<Vec<Request>> {
    let mut st =
        db.prepare_cached("SELECT id, name, address, at FROM pair_requests ORDER BY at DESC")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, address, at) = row?;
        if let Ok(id) = DeviceId::parse(&id) {
            out.push(Request {
                id,
                name,
                address,
                at,
            });
        }
    }
    Ok(out)
}

/// Accepts a pending request: the device joins the clinic. False if there was no request,
/// or if the device was removed (removal is permanent; its stale request is dropped).
pub fn accept(db: &Connection, id: &DeviceId) -> rusqlite::Result<bool> {
    // The write lock at once: a read then a write, while another program may write.
    let tx = rusqlite::Transaction::new_unchecked(db, rusqlite::TransactionBehavior::Immediate)?;
    let found = requests(&tx)?.into_iter().find(|r| r.id == *id);
    let joined = match found {
        Some(r) if verdict(&tx, id)? != Verdict::Revoked => {
            // A request stored with no listening port has nothing to dial.
            let address = match r.address.parse::<std::net::SocketAddr>() {
                Ok(a) if a.port() != 0 => r.address,
                _ => String::new(),
            };
            add(&tx, id, &r.name, &address)?;
            true
        }
        _ => false,
    };
    tx.execute("DELETE FROM pair_requests WHERE id = ?1", [id.to_text()])?;
    tx.commit()?;
    Ok(joined)
}

/// How a peer's sessions go, as the node last noted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// connected, catching up, live, or offline.
    pub state: String,
    pub last_contact: i64,
    /// Why the last session ended.
    pub detail: String,
    /// Our changes it has not acknowledged yet.
    pub lag: i64,
}

pub fn status(db: &Connection, id: &DeviceId) -> rusqlite::Result<Option<PeerStatus>> {
    use rusqlite::OptionalExtension;
    db.query_row(
        "SELECT state, last_contact, detail, lag FROM peer_status WHERE id = ?1",
        [id.to_text()],
        |r| {
            Ok(PeerStatus {
                state: r.get(0)?,
                last_contact: r.get(1)?,
                detail: r.get(2)?,
                lag: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Changes held back for one table and column (schema names only, never values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub table: String,
    /// The column, or empty for whole-row changes (a row created or deleted).
    pub column: String,
    /// Why they wait ("unknown table", "unknown column", ...).
    pub reason: String,
    pub changes: i64,
}

/// Changes held back because this computer's schema does not have their table or column yet
/// (they apply after an update), by table, column and reason.
pub fn held_back(db: &Connection) -> rusqlite::Result<Vec<HeldBack>> {
    let mut st = db.prepare(
        "SELECT \"table\", cid, reason, count(*) FROM crr_quarantine GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )?;
    let rows = st.query_map([], |r| {
        let column: String = r.get(1)?;
        Ok(HeldBack {
            table: r.get(0)?,
            column: if column == "-1" {
                String::new()
            } else {
                column
            },
            reason: r.get(2)?,
            changes: r.get(3)?,
        })
    })?;
    rows.collect()
}

impl std::fmt::Display for HeldBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.column.is_empty() {
            format!("{} (whole rows)", self.table)
        } else {
            format!("{}.{}", self.table, self.column)
        };
        write!(f, "{what}: {} changes ({})", self.changes, self.reason)
    }
}

/// Days a trusted computer may stay away before people are warned about it.
pub const LONG_AWAY_DAYS: i64 = 14;

/// A trusted computer that has not connected for over [`LONG_AWAY_DAYS`] (or never has):
/// old deletions are kept for it, so it should come back or be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongAway {
    pub member: Member,
    /// Whole days since its last contact; None if it never connected.
    pub days: Option<i64>,
}

impl std::fmt::Display for LongAway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = if self.member.name.is_empty() {
            self.member.id.short()
        } else {
            self.member.name.clone()
        };
        match self.days {
            Some(d) => write!(f, "{name} was last seen {d} days ago")?,
            None => write!(f, "{name} has never connected")?,
        }
        write!(
            f,
            "; old deletions are kept for it until it catches up (or remove it if it is gone)"
        )
    }
}

/// The trusted computers away for long, as of `now` (Unix seconds).
pub fn long_away(db: &Connection, me: &DeviceId, now: i64) -> rusqlite::Result<Vec<LongAway>> {
    let mut away = Vec::new();
    for m in members(db)?
        .into_iter()
        .filter(|m| !m.revoked && m.id != *me)
    {
        let days = status(db, &m.id)?.map(|p| (now - p.last_contact) / 86_400);
        if days.is_none_or(|d| d > LONG_AWAY_DAYS) {
            away.push(LongAway { member: m, days });
        }
    }
    Ok(away)
}

/// Remembers how `serve` runs: its name and port (so `pair` can announce the same).
pub fn set_local(db: &Connection, name: &str, port: u16) -> rusqlite::Result<()> {
    db.execute(
        "INSERT OR REPLACE INTO local_settings(key, value) VALUES ('name', ?1), ('listen_port', ?2)",
        [name, &port.to_string()],
    )?;
    Ok(())
}

/// The name and port `serve` last ran with (None, 0 before the first run).
pub fn local(db: &Connection) -> (Option<String>, u16) {
    let get = |key: &str| {
        db.query_row(
            "SELECT value FROM local_settings WHERE key = ?1",
            [key],
            |r| r.get::<_, String>(0),
        )
        .ok()
    };
    (
        get("name"),
        get("listen_port").and_then(|p| p.parse().ok()).unwrap_or(0),
    )
}

/// How the clinic's other computers are connected, for a status line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Trusted members other than this one.
    pub others: usize,
    pub connected: usize,
    /// The latest contact with any of them (seconds since 1970), if ever.
    pub last_contact: Option<i64>,
}

/// The clinic at a glance, from the roster and the node's notes.
pub fn summary(db: &Connection, me: &DeviceId) -> rusqlite::Result<Summary> {
    let mut s = Summary::default();
    for m in members(db)?
        .into_iter()
        .filter(|m| !m.revoked && m.id != *me)
    {
        s.others += 1;
        if let Some(p) = status(db, &m.id)? {
            if p.state != "offline" {
                s.connected += 1;
            }
            s.last_contact = Some(
                s.last_contact
                    .map_or(p.last_contact, |l| l.max(p.last_contact)),
            );
        }
    }
    Ok(s)
}
