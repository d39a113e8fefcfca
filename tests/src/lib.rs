//! Helpers shared by Carebook's tests: databases with the CRR engine loaded, change exchange
//! between them, canonical dumps of rows and changes to compare replicas, a computer of the
//! clinic (with its node, once online), waiting for something to become true, a link that can
//! be cut or delayed, and the fault and attack suite.

pub mod chaos;
mod computer;
pub mod link;
mod wait;

pub use computer::{Computer, Online};
pub use wait::{eventually, eventually_blocking};

use carebook_sync::store::CrrConnection;
use rusqlite::types::Value;
use rusqlite::Connection;

/// One row of `crsql_changes`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub table: String,
    pub pk: Vec<u8>,
    pub cid: String,
    pub val: Value,
    pub col_version: i64,
    pub db_version: i64,
    pub site_id: Vec<u8>,
    pub cl: i64,
    pub seq: i64,
}

/// A fresh in-memory database with the engine loaded.
pub fn memory_db() -> CrrConnection {
    CrrConnection::open_in_memory().expect("open an in-memory database with the CRR engine")
}

/// Every change with db_version above `since`, in (db_version, seq) order.
pub fn changes_since(db: &Connection, since: i64) -> Vec<ChangeRow> {
    let mut st = db
        .prepare(
            "SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq \
             FROM crsql_changes WHERE db_version > ?1 ORDER BY db_version, seq",
        )
        .expect("prepare changes query");
    st.query_map([since], |r| {
        Ok(ChangeRow {
            table: r.get(0)?,
            pk: r.get(1)?,
            cid: r.get(2)?,
            val: r.get(3)?,
            col_version: r.get(4)?,
            db_version: r.get(5)?,
            site_id: r.get(6)?,
            cl: r.get(7)?,
            seq: r.get(8)?,
        })
    })
    .expect("query changes")
    .collect::<Result<_, _>>()
    .expect("read changes")
}

/// Merges changes into a database, in one transaction.
pub fn apply(db: &Connection, changes: &[ChangeRow]) {
    db.execute_batch("BEGIN").expect("begin");
    insert_changes(db, changes);
    db.execute_batch("COMMIT").expect("commit merge");
}

/// Merges changes through `INSERT INTO crsql_changes`, in the caller's transaction.
pub fn insert_changes(db: &Connection, changes: &[ChangeRow]) {
    let mut st = db
        .prepare_cached(
            "INSERT INTO crsql_changes(\"table\", pk, cid, val, col_version, db_version, site_id, cl, seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .expect("prepare merge");
    for c in changes {
        st.execute(rusqlite::params![
            c.table,
            c.pk,
            c.cid,
            c.val,
            c.col_version,
            c.db_version,
            c.site_id,
            c.cl,
            c.seq
        ])
        .expect("merge a change");
    }
}

/// Sends every change of `from` to `to`.
pub fn sync(from: &Connection, to: &Connection) {
    let all = changes_since(from, 0);
    apply(to, &all);
}

/// The database's logical clock.
pub fn db_version(db: &Connection) -> i64 {
    db.query_row("SELECT crsql_db_version()", [], |r| r.get(0))
        .expect("crsql_db_version")
}

/// A value rendered so that type and exact bits are part of the comparison.
pub fn exact(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => format!("i{i}"),
        Value::Real(f) => format!("r{:016x}", f.to_bits()),
        Value::Text(t) => format!("t{t:?}"),
        Value::Blob(b) => format!("b{b:02x?}"),
    }
}

/// All rows of a table, every column rendered exactly, ordered by the first column.
pub fn rows(db: &Connection, table: &str) -> Vec<Vec<String>> {
    let mut st = db
        .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY 1"))
        .expect("prepare rows");
    let n = st.column_count();
    st.query_map([], |r| {
        (0..n)
            .map(|i| r.get::<_, Value>(i).map(|v| exact(&v)))
            .collect::<Result<Vec<_>, _>>()
    })
    .expect("query rows")
    .collect::<Result<_, _>>()
    .expect("read rows")
}

/// The replica-independent part of a database's changes: (table, pk, cid, val, col_version,
/// cl), sorted.
pub fn change_set(db: &Connection) -> Vec<(String, Vec<u8>, String, String, i64, i64)> {
    let mut out: Vec<_> = changes_since(db, 0)
        .into_iter()
        .map(|c| (c.table, c.pk, c.cid, exact(&c.val), c.col_version, c.cl))
        .collect();
    out.sort();
    out
}

/// The engine's changeset of everything above `since` (see `crsql_export_changes`).
pub fn export(db: &Connection, since: i64) -> Vec<u8> {
    db.query_row("SELECT crsql_export_changes(?1)", [since], |r| r.get(0))
        .expect("crsql_export_changes")
}

/// Merges a changeset with the batch path (`crsql_merge_changes`); returns the change count.
pub fn merge_batch(db: &Connection, batch: &[u8]) -> i64 {
    db.query_row("SELECT crsql_merge_changes(?1)", [batch], |r| r.get(0))
        .expect("crsql_merge_changes")
}

/// Sends every change of `from` to `to` as one changeset, as pairing two databases does
/// (run it both ways for both to hold everything).
pub fn exchange(from: &Connection, to: &Connection) {
    merge_batch(to, &export(from, 0));
}

/// An in-memory database with the real cr-sqlite 0.16.3 loaded, when `CAREBOOK_REF_CRSQLITE`
/// names its library (CI builds it with the shared reference builder).
pub fn reference_db() -> Option<RefConnection> {
    let path = std::env::var_os("CAREBOOK_REF_CRSQLITE")?;
    let conn = Connection::open_in_memory().expect("open in-memory database");
    // SAFETY: the reference cr-sqlite build, loaded only by tests; no SQL runs meanwhile.
    unsafe {
        let _guard = rusqlite::LoadExtensionGuard::new(&conn).expect("enable extensions");
        conn.load_extension(&path, Some("sqlite3_crsqlite_init"))
            .expect("load the reference cr-sqlite");
    }
    Some(RefConnection(Some(conn)))
}

/// A connection with the reference cr-sqlite; finalizes it before closing, as cr-sqlite needs.
pub struct RefConnection(Option<Connection>);

impl std::ops::Deref for RefConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.0.as_ref().expect("present until drop")
    }
}

impl Drop for RefConnection {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            let _ = c.query_row("SELECT crsql_finalize()", [], |_| Ok(()));
        }
    }
}
