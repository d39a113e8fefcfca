//! Merging one change (an `INSERT INTO crsql_changes`) by cr-sqlite 0.16's rules: causal
//! length first, then col_version, then the greater value.
//!
//! Consecutive changes of one row (the usual shape of a changeset) share one read of the row's
//! clock and one write of it: the clock stays in [`RowCache`] until the next row, a read of
//! `crsql_changes`, a local write, or the end of the transaction (the virtual table's xSync).
//! Changes for tables or columns this database does not have yet, and changes whose base-table
//! write fails (a CHECK constraint, say), are held back in `crr_quarantine`, never dropped.

use std::rc::Rc;

use crate::clocks::{Entry, RowClock, SENTINEL};
use crate::ffi::{Db, Error, Result, Step};
use crate::pack::unpack;
use crate::state::{Conn, Inner};
use crate::table::{bind_pk, Table};
use crate::value::{Value, ValueRef};

/// One incoming change, as the columns of `crsql_changes`.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub table: &'a str,
    pub pk: &'a [u8],
    pub cid: &'a str,
    pub val: ValueRef<'a>,
    pub col_version: i64,
    pub db_version: i64,
    pub site_id: &'a [u8],
    pub cl: i64,
    pub seq: i64,
}

/// A column value a batch merge decided to write, kept until the row is done.
struct PendingWrite {
    idx: usize,
    val: Value,
    /// The column's clock before this write (restored if the write fails).
    before: Option<Entry>,
    change: Entry,
    cl: i64,
    incoming_db_version: i64,
    incoming_seq: i64,
}

/// The row a merge is working on, with its clock (and, in a batch, its column values) not
/// yet written back.
pub struct RowCache {
    table: Rc<Table>,
    pk: Vec<u8>,
    pk_vals: Vec<Value>,
    clock: RowClock,
    has_clock: bool,
    /// The clock record is in the database already (write it back with an UPDATE).
    stored: bool,
    row_exists: bool,
    /// In a batch, a row that a change brought (back) to life is inserted once, with its
    /// column values, when the row is done (not first with its key alone, then updated); this
    /// is that sentinel change, kept to hold it back if the insert fails.
    create: Option<Sentinel>,
    dirty: bool,
    deferred: bool,
    pending: Vec<PendingWrite>,
}

/// The parts of a row's sentinel change that are not the row's own.
struct Sentinel {
    db_version: i64,
    site_id: Vec<u8>,
    cl: i64,
    seq: i64,
}

impl RowCache {
    /// Whether the row is there (or will be, once its deferred insert runs).
    fn exists(&self) -> bool {
        self.row_exists || self.create.is_some()
    }
}

/// Writes back the row a merge was working on.
pub fn flush(conn: &Conn, inner: &mut Inner) -> Result<()> {
    if let Some(mut row) = inner.row.take() {
        if !row.pending.is_empty() {
            conn.quietly(|| flush_values(inner, conn.db, &mut row))?;
        }
        if row.create.is_some() {
            conn.quietly(|| create_row(conn.db, &mut row))?;
        }
        if row.dirty {
            row.table
                .write_clock(conn.db, &row.pk, &row.clock, row.stored)?;
        }
    }
    Ok(())
}

/// Writes a batch's pending column values of one row in one statement; if that fails, writes
/// them one by one and holds back (with their clocks restored) those that still fail.
fn flush_values(inner: &mut Inner, db: Db, row: &mut RowCache) -> Result<()> {
    let t = row.table.clone();
    let pending = std::mem::take(&mut row.pending);
    let mut last: Vec<Option<&Value>> = vec![None; t.cols.len()];
    for p in &pending {
        last[p.idx] = Some(&p.val);
    }
    let together = {
        let mut s = t.stmts(db)?;
        let st = s.row_write(db, &t, !row.row_exists, &last)?;
        let mut i = 1;
        for v in last.iter().flatten() {
            st.bind(i, v.as_ref())?;
            i += 1;
        }
        bind_pk(st, i, &row.pk_vals)?;
        st.run()
    };
    if together.is_ok() {
        row.row_exists = true;
        row.create = None;
        return Ok(());
    }
    // One by one, into the row made first by its key alone (a no-op if it is there).
    create_row(db, row)?;
    for p in pending {
        if let Err(e) = write_column(db, &t, row, p.idx, p.val.as_ref()) {
            let slot = t.cols[p.idx].slot;
            match p.before {
                Some(b) => row.clock.set(b),
                None => row.clock.entries.retain(|x| x.slot != slot),
            }
            let site = inner.site_of(db, p.change.site)?;
            quarantine(
                db,
                &Change {
                    table: &t.name,
                    pk: &row.pk,
                    cid: &t.cols[p.idx].name,
                    val: p.val.as_ref(),
                    col_version: p.change.col_version,
                    db_version: p.incoming_db_version,
                    site_id: &site,
                    cl: p.cl,
                    seq: p.incoming_seq,
                },
                &e.0,
            )?;
        }
    }
    Ok(())
}

/// Inserts a row brought to life in a batch that got no column value of its own (or whose
/// values could not be written), by its key alone; holds its sentinel back if that fails.
fn create_row(db: Db, row: &mut RowCache) -> Result<()> {
    let Some(s) = row.create.take() else {
        return Ok(());
    };
    if row.row_exists {
        return Ok(());
    }
    let t = row.table.clone();
    let mut stmts = t.stmts(db)?;
    bind_pk(&mut stmts.row_insert_pk, 1, &row.pk_vals)?;
    match stmts.row_insert_pk.run() {
        Ok(()) => {
            row.row_exists = true;
            Ok(())
        }
        Err(e) => {
            drop(stmts);
            quarantine(
                db,
                &Change {
                    table: &t.name,
                    pk: &row.pk,
                    cid: "-1",
                    val: ValueRef::Null,
                    col_version: s.cl,
                    db_version: s.db_version,
                    site_id: &s.site_id,
                    cl: s.cl,
                    seq: s.seq,
                },
                &e.0,
            )
        }
    }
}

/// Holds a change back with the reason it could not be applied.
fn quarantine(db: Db, ch: &Change, reason: &str) -> Result<()> {
    let mut st = db.prepare(
        "INSERT OR REPLACE INTO crr_quarantine(\"table\", pk, cid, val, col_version, db_version, \
         site_id, cl, seq, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    st.bind_text(1, ch.table)?;
    st.bind_blob(2, ch.pk)?;
    st.bind_text(3, ch.cid)?;
    st.bind(4, ch.val)?;
    st.bind_i64(5, ch.col_version)?;
    st.bind_i64(6, ch.db_version)?;
    st.bind_blob(7, ch.site_id)?;
    st.bind_i64(8, ch.cl)?;
    st.bind_i64(9, ch.seq)?;
    st.bind_text(10, reason)?;
    st.run()
}

/// The highest clock a change may carry. Clocks count edits of one value (or deletions of one
/// row) and grow by one, so no real change comes near; one near i64::MAX would lock the value
/// for ever and make the next local edit's +1 wrap.
pub const MAX_CLOCK: i64 = 1 << 53;

/// Why a change can never be merged, if so. One in a batch (from a peer or a backup) is held
/// back with that reason rather than failing the whole batch, which would then be sent again
/// and again; one inserted on its own into `crsql_changes` is refused with it.
fn impossible(ch: &Change) -> Option<&'static str> {
    if ch.site_id.len() != 16 {
        return Some("site_id must be 16 bytes");
    }
    if ch.cl < 1 || ch.col_version < 1 {
        return Some("cl and col_version must be positive");
    }
    if ch.cl > MAX_CLOCK || ch.col_version > MAX_CLOCK {
        return Some("an impossible clock (far beyond any real count of edits)");
    }
    None
}

/// Merges one change. With `deferred`, column values wait in the row cache until the row is
/// done (the caller must [`flush`] before anyone else can read the table).
pub fn merge(conn: &Conn, ch: &Change, deferred: bool) -> Result<()> {
    let db = conn.db;
    let mut inner = conn.inner()?;
    if let Some(why) = impossible(ch) {
        if !deferred {
            return Err(Error(format!("crsql_changes: {why}")));
        }
        flush(conn, &mut inner)?;
        return quarantine(db, ch, why);
    }
    let Some(mut table) = inner.table(db, ch.table)? else {
        flush(conn, &mut inner)?;
        return quarantine(db, ch, "unknown table");
    };
    let col = if ch.cid == "-1" {
        None
    } else {
        if table.col_index(ch.cid).is_none() {
            // Perhaps the schema changed on another connection: look again once.
            flush(conn, &mut inner)?;
            inner.forget_tables();
            match inner.table(db, ch.table)? {
                Some(t) => table = t,
                None => return quarantine(db, ch, "unknown table"),
            }
        }
        match table.col_index(ch.cid) {
            Some(i) => Some(i),
            None => {
                flush(conn, &mut inner)?;
                return quarantine(db, ch, "unknown column");
            }
        }
    };
    if let Some(why) = table.protect.refuses(ch.cl, col.is_some(), ch.col_version) {
        flush(conn, &mut inner)?;
        return quarantine(db, ch, why);
    }
    let same_row = matches!(&inner.row, Some(r) if Rc::ptr_eq(&r.table, &table) && r.pk == ch.pk);
    let mut row = if same_row {
        inner.row.take().expect("checked above")
    } else {
        flush(conn, &mut inner)?;
        let keys = table.pks.len();
        let pk_vals = unpack(ch.pk).and_then(|v| match v.len() {
            n if n == keys => Ok(v),
            n => Err(Error(format!(
                "crsql_changes: the primary key has {n} values, table \"{}\" has {keys} key columns",
                table.name
            ))),
        });
        let pk_vals = match pk_vals {
            Ok(v) => v,
            // A peer's batch goes on without it (held back with the reason).
            Err(e) if deferred => return quarantine(db, ch, &e.0),
            Err(e) => return Err(e),
        };
        let clock = table.read_clock(db, ch.pk)?;
        RowCache {
            table: table.clone(),
            pk: ch.pk.to_vec(),
            pk_vals,
            row_exists: clock.as_ref().is_some_and(|c| c.cl % 2 == 1),
            create: None,
            has_clock: clock.is_some(),
            stored: clock.is_some(),
            clock: clock.unwrap_or_default(),
            dirty: false,
            deferred,
            pending: Vec::new(),
        }
    };
    let r = conn.quietly(|| apply(&mut inner, db, &mut row, col, ch));
    inner.row = Some(row);
    r
}

fn entry(inner: &mut Inner, db: Db, slot: u32, ch: &Change) -> Result<Entry> {
    Ok(Entry {
        slot,
        col_version: ch.col_version,
        db_version: inner.next_db_version(db)?,
        site: inner.site_ord(db, ch.site_id)?,
        seq: inner.next_seq(),
    })
}

/// Sets the row's sentinel from a change: its causal length is the sentinel's col_version.
fn stamp_sentinel(inner: &mut Inner, db: Db, row: &mut RowCache, ch: &Change) -> Result<()> {
    let e = entry(
        inner,
        db,
        SENTINEL,
        &Change {
            col_version: ch.cl,
            ..*ch
        },
    )?;
    row.clock.set(e);
    Ok(())
}

fn apply(
    inner: &mut Inner,
    db: Db,
    row: &mut RowCache,
    col: Option<usize>,
    ch: &Change,
) -> Result<()> {
    let local_cl = if row.has_clock { row.clock.cl } else { 0 };
    let t = row.table.clone();
    if ch.cl < local_cl {
        return Ok(());
    }
    if ch.cl > local_cl {
        // A newer generation of the row: older column clocks no longer count.
        let even = ch.cl % 2 == 0;
        if !row.pending.is_empty() {
            flush_values(inner, db, row)?;
        }
        create_row(db, row)?;
        if even {
            let mut s = t.stmts(db)?;
            bind_pk(&mut s.row_delete, 1, &row.pk_vals)?;
            // A delete the schema refuses (a grow-only table) is held back, as a write is.
            if let Err(e) = s.row_delete.run() {
                drop(s);
                return quarantine(db, ch, &e.0);
            }
            row.row_exists = false;
        } else if col.is_none() && !row.row_exists && row.deferred {
            row.create = Some(Sentinel {
                db_version: ch.db_version,
                site_id: ch.site_id.to_vec(),
                cl: ch.cl,
                seq: ch.seq,
            });
        } else if col.is_none() && !row.row_exists {
            let mut s = t.stmts(db)?;
            bind_pk(&mut s.row_insert_pk, 1, &row.pk_vals)?;
            if let Err(e) = s.row_insert_pk.run() {
                drop(s);
                return quarantine(db, ch, &e.0);
            }
            row.row_exists = true;
        }
        row.clock = RowClock {
            cl: ch.cl,
            entries: Vec::new(),
        };
        row.has_clock = true;
        row.dirty = true;
        if even || col.is_none() {
            stamp_sentinel(inner, db, row, ch)?;
            return Ok(());
        }
    } else if col.is_none() {
        if row.clock.get(SENTINEL).is_none() {
            stamp_sentinel(inner, db, row, ch)?;
            row.dirty = true;
        }
        return Ok(());
    } else if ch.cl % 2 == 0 {
        return Ok(());
    }
    let idx = col.expect("sentinels returned above");
    let slot = t.cols[idx].slot;
    if let Some(local) = row.clock.get(slot) {
        if ch.col_version < local.col_version {
            return Ok(());
        }
        if ch.col_version == local.col_version && row.exists() {
            let current = match row.pending.iter().rev().find(|p| p.idx == idx) {
                Some(p) => p.val.clone(),
                None => read_column(db, &t, &row.pk_vals, idx)?,
            };
            if ch.val.total_cmp(current.as_ref()) != std::cmp::Ordering::Greater {
                return Ok(());
            }
        }
    }
    let e = entry(inner, db, slot, ch)?;
    if row.deferred {
        row.pending.push(PendingWrite {
            idx,
            val: ch.val.to_value(),
            before: row.clock.get(slot).copied(),
            change: e,
            cl: ch.cl,
            incoming_db_version: ch.db_version,
            incoming_seq: ch.seq,
        });
    } else if let Err(err) = write_column(db, &t, row, idx, ch.val) {
        return quarantine(db, ch, &err.0);
    }
    row.clock.set(e);
    row.dirty = true;
    Ok(())
}

fn read_column(db: Db, t: &Table, pk: &[Value], idx: usize) -> Result<Value> {
    let mut s = t.stmts(db)?;
    let st = &mut s.row_get;
    bind_pk(st, 1, pk)?;
    let v = if st.step()? == Step::Row {
        st.column_value(idx as i32)
    } else {
        Value::Null
    };
    st.reset();
    Ok(v)
}

fn write_column(db: Db, t: &Table, row: &mut RowCache, idx: usize, val: ValueRef) -> Result<()> {
    let mut s = t.stmts(db)?;
    if row.row_exists {
        let st = &mut s.col_update[idx];
        st.bind(1, val)?;
        bind_pk(st, 2, &row.pk_vals)?;
        st.run()?;
        if db.changes() > 0 {
            return Ok(());
        }
    }
    let st = &mut s.col_insert[idx];
    st.bind(1, val)?;
    bind_pk(st, 2, &row.pk_vals)?;
    st.run()?;
    row.row_exists = true;
    Ok(())
}

/// Retries every held-back change (after the schema caught up); those that still cannot be
/// applied go back to quarantine.
pub fn retry_quarantine(conn: &Conn) -> Result<usize> {
    let db = conn.db;
    let mut held = Vec::new();
    {
        let mut st = db.prepare(
            "SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crr_quarantine",
        )?;
        while st.step()? == Step::Row {
            held.push((
                st.column_text(0),
                st.column_blob(1),
                st.column_text(2),
                st.column_value(3),
                st.column_i64(4),
                st.column_i64(5),
                st.column_blob(6),
                st.column_i64(7),
                st.column_i64(8),
            ));
        }
    }
    db.exec("DELETE FROM crr_quarantine")?;
    for (table, pk, cid, val, col_version, db_version, site_id, cl, seq) in &held {
        merge(
            conn,
            &Change {
                table,
                pk,
                cid,
                val: val.as_ref(),
                col_version: *col_version,
                db_version: *db_version,
                site_id,
                cl: *cl,
                seq: *seq,
            },
            true,
        )?;
    }
    let mut inner = conn.inner()?;
    flush(conn, &mut inner)?;
    Ok(held.len())
}

/// The `crr_meta` key of the statements run at the end of every batch merge.
pub const AFTER_BATCH: &str = "after_batch";

/// `crsql_merge_changes(batch)`: merges a whole changeset, writing each row once, then runs
/// the statements registered with `crsql_after_batch`, in the same transaction.
pub fn merge_batch(conn: &Conn, blob: &[u8]) -> Result<i64> {
    let before = conn.batch.replace(true);
    let merged = merge_rows(conn, blob);
    conn.batch.set(before);
    let n = merged?;
    let mut st = conn
        .db
        .prepare("SELECT value FROM crr_meta WHERE key = ?1")?;
    st.bind_text(1, AFTER_BATCH)?;
    let after = if st.step()? == Step::Row {
        st.column_text(0)
    } else {
        String::new()
    };
    drop(st);
    if !after.is_empty() {
        conn.db.exec(&after).map_err(|e| {
            Error(format!(
                "the statements run after a batch merge failed: {e}"
            ))
        })?;
    }
    Ok(n)
}

fn merge_rows(conn: &Conn, blob: &[u8]) -> Result<i64> {
    let mut d = crate::batch::Decoder::new(blob)?;
    let mut n = 0;
    let r = (|| {
        while let Some(c) = d.next_change()? {
            merge(
                conn,
                &Change {
                    table: &c.table,
                    pk: &c.pk,
                    cid: &c.cid,
                    val: c.val.as_ref(),
                    col_version: c.col_version,
                    db_version: c.db_version,
                    site_id: &c.site_id,
                    cl: c.cl,
                    seq: c.seq,
                },
                true,
            )?;
            n += 1;
        }
        Ok(())
    })();
    let mut inner = conn.inner()?;
    let flushed = flush(conn, &mut inner);
    r.and(flushed).map(|()| n)
}
