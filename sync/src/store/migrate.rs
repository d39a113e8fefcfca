//! Versioned schema migrations that keep tracked tables tracked: each migration runs in one
//! transaction, wraps changes to tracked tables in `crsql_begin_alter`/`crsql_commit_alter`,
//! makes new tables CRRs, and records its version in `PRAGMA user_version`.

use rusqlite::Connection;

use super::StoreError;

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1, 2, 3, ... in order.
    pub version: u32,
    /// The schema change itself.
    pub sql: &'static str,
    /// Tracked tables that `sql` alters.
    pub alters: &'static [&'static str],
    /// Tables that become CRRs after `sql` (new tables, usually).
    pub track: &'static [&'static str],
}

/// The schema version a database is at.
pub fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Applies the migrations newer than the database; returns the version reached.
pub fn apply(conn: &mut Connection, migrations: &[Migration]) -> Result<u32, StoreError> {
    let mut version = current_version(conn)?;
    for (i, m) in migrations.iter().enumerate() {
        if m.version != i as u32 + 1 {
            return Err(StoreError::Migration {
                version: m.version,
                reason: "migrations must be numbered 1, 2, 3, ... in order".into(),
            });
        }
    }
    if let Some(latest) = migrations.last() {
        if version > latest.version {
            return Err(StoreError::SchemaTooNew {
                found: version,
                known: latest.version,
            });
        }
    }
    let start = version;
    for m in migrations.iter().filter(|m| m.version > start) {
        let fail = |e: rusqlite::Error| StoreError::Migration {
            version: m.version,
            reason: e.to_string(),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for t in m.alters {
            tx.query_row("SELECT crsql_begin_alter(?1)", [t], |_| Ok(()))
                .map_err(fail)?;
        }
        tx.execute_batch(m.sql).map_err(fail)?;
        for t in m.alters {
            tx.query_row("SELECT crsql_commit_alter(?1)", [t], |_| Ok(()))
                .map_err(fail)?;
        }
        for t in m.track {
            tx.query_row("SELECT crsql_as_crr(?1)", [t], |_| Ok(()))
                .map_err(fail)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", m.version))
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        version = m.version;
    }
    Ok(version)
}
