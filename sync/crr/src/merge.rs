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

/// The row a merge is working on, with its clock not yet written back.
pub struct RowCache {
    table: Rc<Table>,
    pk: Vec<u8>,
    pk_vals: Vec<Value>,
    clock: RowClock,
    has_clock: bool,
    row_exists: bool,
    dirty: bool,
}

/// Writes back the clock of the row a merge was working on.
pub fn flush(conn: &Conn, inner: &mut Inner) -> Result<()> {
    if let Some(row) = inner.row.take() {
        if row.dirty {
            row.table.write_clock(conn.db, &row.pk, &row.clock)?;
        }
    }
    Ok(())
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

fn validate(ch: &Change) -> Result<()> {
    if ch.site_id.len() != 16 {
        return Err(Error::new("crsql_changes: site_id must be 16 bytes"));
    }
    if ch.cl < 1 || ch.col_version < 1 {
        return Err(Error::new(
            "crsql_changes: cl and col_version must be positive",
        ));
    }
    Ok(())
}

/// Merges one change.
pub fn merge(conn: &Conn, ch: &Change) -> Result<()> {
    validate(ch)?;
    let db = conn.db;
    let mut inner = conn.inner()?;
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
    let same_row = matches!(&inner.row, Some(r) if Rc::ptr_eq(&r.table, &table) && r.pk == ch.pk);
    let mut row = if same_row {
        inner.row.take().expect("checked above")
    } else {
        flush(conn, &mut inner)?;
        let pk_vals = unpack(ch.pk)?;
        if pk_vals.len() != table.pks.len() {
            return Err(Error(format!(
                "crsql_changes: the primary key has {} values, table \"{}\" has {} key columns",
                pk_vals.len(),
                table.name,
                table.pks.len()
            )));
        }
        let clock = table.read_clock(db, ch.pk)?;
        RowCache {
            table: table.clone(),
            pk: ch.pk.to_vec(),
            pk_vals,
            row_exists: clock.as_ref().is_some_and(|c| c.cl % 2 == 1),
            has_clock: clock.is_some(),
            clock: clock.unwrap_or_default(),
            dirty: false,
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
        if even {
            let mut s = t.stmts(db)?;
            bind_pk(&mut s.row_delete, 1, &row.pk_vals)?;
            s.row_delete.run()?;
            row.row_exists = false;
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
            return Ok(());
        }
    } else if col.is_none() {
        if row.clock.get(SENTINEL).is_none() {
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
        if ch.col_version == local.col_version && row.row_exists {
            let current = read_column(db, &t, &row.pk_vals, idx)?;
            if ch.val.total_cmp(current.as_ref()) != std::cmp::Ordering::Greater {
                return Ok(());
            }
        }
    }
    if let Err(e) = write_column(db, &t, row, idx, ch.val) {
        return quarantine(db, ch, &e.0);
    }
    let e = entry(inner, db, slot, ch)?;
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
        )?;
    }
    let mut inner = conn.inner()?;
    flush(conn, &mut inner)?;
    Ok(held.len())
}
