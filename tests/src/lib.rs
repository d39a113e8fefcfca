//! Helpers shared by Carebook's end-to-end tests: databases with the CRR engine loaded, change
//! exchange between them, and canonical dumps of rows and changes to compare replicas.

use carebook_sync::store::CrrConnection;
use rusqlite::types::Value;

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
pub fn changes_since(db: &CrrConnection, since: i64) -> Vec<ChangeRow> {
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
pub fn apply(db: &mut CrrConnection, changes: &[ChangeRow]) {
    let tx = db.transaction().expect("begin");
    {
        let mut st = tx
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
    tx.commit().expect("commit merge");
}

/// Sends every change of `from` to `to`.
pub fn sync(from: &CrrConnection, to: &mut CrrConnection) {
    let all = changes_since(from, 0);
    apply(to, &all);
}

/// The database's logical clock.
pub fn db_version(db: &CrrConnection) -> i64 {
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
pub fn rows(db: &CrrConnection, table: &str) -> Vec<Vec<String>> {
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
pub fn change_set(db: &CrrConnection) -> Vec<(String, Vec<u8>, String, String, i64, i64)> {
    let mut out: Vec<_> = changes_since(db, 0)
        .into_iter()
        .map(|c| (c.table, c.pk, c.cid, exact(&c.val), c.col_version, c.cl))
        .collect();
    out.sort();
    out
}

/// The engine's changeset of everything above `since` (see `crsql_export_changes`).
pub fn export(db: &CrrConnection, since: i64) -> Vec<u8> {
    db.query_row("SELECT crsql_export_changes(?1)", [since], |r| r.get(0))
        .expect("crsql_export_changes")
}

/// Merges a changeset with the batch path (`crsql_merge_changes`); returns the change count.
pub fn merge_batch(db: &CrrConnection, batch: &[u8]) -> i64 {
    db.query_row("SELECT crsql_merge_changes(?1)", [batch], |r| r.get(0))
        .expect("crsql_merge_changes")
}
