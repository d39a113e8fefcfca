//! Local writes: the functions the insert, update and delete triggers call. Each one stamps
//! the columns it touched with this site, the transaction's db_version and the next seq.

use std::cell::RefMut;
use std::rc::Rc;

use crate::clocks::{Entry, RowClock, SENTINEL};
use crate::ffi::{sqlite3_value, Db, Error, Result};
use crate::pack::pack;
use crate::state::{Conn, Inner};
use crate::table::Table;
use crate::value::ValueRef;

fn arg<'a>(args: &[*mut sqlite3_value], i: usize) -> ValueRef<'a> {
    // SAFETY: args are the live arguments of the current function call.
    unsafe { ValueRef::from_raw(args[i]) }
}

/// The table named by the first argument, reloaded once if the trigger passed a different
/// number of arguments than the cached layout expects (the schema changed under us).
fn table_for(
    inner: &mut Inner,
    db: Db,
    args: &[*mut sqlite3_value],
    expected: impl Fn(&Table) -> usize,
) -> Result<Rc<Table>> {
    let name = match arg(args, 0) {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        _ => return Err(Error::new("crr trigger called without a table name")),
    };
    for attempt in 0..2 {
        let t = inner
            .table(db, &name)?
            .ok_or_else(|| Error(format!("table \"{name}\" is not tracked")))?;
        if expected(&t) == args.len() {
            return Ok(t);
        }
        if attempt == 0 {
            inner.forget_tables();
        }
    }
    Err(Error(format!(
        "the triggers of \"{name}\" do not match its columns; run crsql_begin_alter/crsql_commit_alter around schema changes"
    )))
}

fn stamp(inner: &mut Inner, slot: u32, col_version: i64, db_version: i64) -> Entry {
    Entry {
        slot,
        col_version,
        db_version,
        site: 0,
        seq: inner.next_seq(),
    }
}

/// Records the insert of a row (a first insert, a resurrection, or an INSERT OR REPLACE).
fn record_insert(inner: &mut Inner, db: Db, t: &Table, pk: &[u8]) -> Result<()> {
    let dbv = inner.next_db_version(db)?;
    // The common case, a row never seen before, takes one statement.
    let seq_before = inner.seq_mark();
    let mut fresh = RowClock {
        cl: 1,
        entries: Vec::with_capacity(t.cols.len().max(1)),
    };
    if t.cols.is_empty() {
        fresh.entries.push(stamp(inner, SENTINEL, 1, dbv));
    }
    for col in &t.cols {
        fresh.entries.push(stamp(inner, col.slot, 1, dbv));
    }
    if t.insert_new_clock(db, pk, &fresh)? {
        return Ok(());
    }
    inner.seq_reset(seq_before);
    let clock = match t.read_clock(db, pk)? {
        None => return Err(Error::new("clock record vanished during an insert")),
        Some(old) if old.cl % 2 == 0 => {
            let cl = old.cl + 1;
            let mut c = RowClock {
                cl,
                entries: vec![stamp(inner, SENTINEL, cl, dbv)],
            };
            for col in &t.cols {
                c.entries.push(stamp(inner, col.slot, 1, dbv));
            }
            c
        }
        Some(mut c) => {
            // The row already had a live clock: INSERT OR REPLACE rewrote every column.
            for col in &t.cols {
                let cv = c.get(col.slot).map_or(1, |e| e.col_version + 1);
                let e = stamp(inner, col.slot, cv, dbv);
                c.set(e);
            }
            c
        }
    };
    t.write_clock(db, pk, &clock, true)
}

/// Records the delete of a row: the causal length becomes even and column clocks go.
fn record_delete(inner: &mut Inner, db: Db, t: &Table, pk: &[u8]) -> Result<()> {
    let dbv = inner.next_db_version(db)?;
    let old = t.read_clock(db, pk)?;
    let stored = old.is_some();
    let old_cl = old.map_or(1, |c| c.cl);
    let cl = if old_cl % 2 == 1 { old_cl + 1 } else { old_cl };
    let clock = RowClock {
        cl,
        entries: vec![stamp(inner, SENTINEL, cl, dbv)],
    };
    t.write_clock(db, pk, &clock, stored)
}

/// The packed key of trigger arguments.
fn pk_of(args: &[*mut sqlite3_value]) -> Vec<u8> {
    pack((0..args.len()).map(|i| arg(args, i)))
}

/// What every trigger function does first: nothing at all while changes are being merged
/// (`None`); otherwise the pending merge is flushed and the table of the call is looked up,
/// its arguments counted with `expected`.
fn begin<'c>(
    conn: &'c Conn,
    args: &[*mut sqlite3_value],
    expected: impl Fn(&Table) -> usize,
) -> Result<Option<(RefMut<'c, Inner>, Rc<Table>)>> {
    if conn.sync_bit.get() {
        return Ok(None);
    }
    let mut inner = conn.inner()?;
    crate::merge::flush(conn, &mut inner)?;
    let t = table_for(&mut inner, conn.db, args, expected)?;
    Ok(Some((inner, t)))
}

/// Arguments: table, then the row's keys.
pub fn insert(conn: &Conn, args: &[*mut sqlite3_value]) -> Result<()> {
    let Some((mut inner, t)) = begin(conn, args, |t| 1 + t.pks.len())? else {
        return Ok(());
    };
    record_insert(&mut inner, conn.db, &t, &pk_of(&args[1..]))
}

/// Arguments: table, then the row's keys.
pub fn delete(conn: &Conn, args: &[*mut sqlite3_value]) -> Result<()> {
    let Some((mut inner, t)) = begin(conn, args, |t| 1 + t.pks.len())? else {
        return Ok(());
    };
    record_delete(&mut inner, conn.db, &t, &pk_of(&args[1..]))
}

/// Arguments: table, OLD keys, NEW keys, then OLD and NEW of each column in turn.
pub fn update(conn: &Conn, args: &[*mut sqlite3_value]) -> Result<()> {
    let Some((mut inner, t)) = begin(conn, args, |t| 1 + 2 * t.pks.len() + 2 * t.cols.len())?
    else {
        return Ok(());
    };
    let db = conn.db;
    let n = t.pks.len();
    let old_pk = pk_of(&args[1..1 + n]);
    let new_pk = pk_of(&args[1 + n..1 + 2 * n]);
    if old_pk != new_pk {
        // A key change is the delete of the old row and the insert of a new one.
        record_delete(&mut inner, db, &t, &old_pk)?;
        return record_insert(&mut inner, db, &t, &new_pk);
    }
    let base = 1 + 2 * n;
    let changed: Vec<u32> = t
        .cols
        .iter()
        .enumerate()
        .filter(|(i, _)| !arg(args, base + 2 * i).same(arg(args, base + 2 * i + 1)))
        .map(|(_, c)| c.slot)
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let dbv = inner.next_db_version(db)?;
    let stored = t.read_clock(db, &new_pk)?;
    let was_stored = stored.is_some();
    let mut clock = stored.unwrap_or(RowClock {
        cl: 1,
        entries: Vec::new(),
    });
    for slot in changed {
        let cv = clock.get(slot).map_or(1, |e| e.col_version + 1);
        let e = stamp(&mut inner, slot, cv, dbv);
        clock.set(e);
    }
    t.write_clock(db, &new_pk, &clock, was_stored)
}
