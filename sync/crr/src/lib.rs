//! Carebook's CRR engine: a SQLite extension (built with sqlite-loadable) with cr-sqlite 0.16's
//! SQL surface (`crsql_as_crr`, `crsql_changes`, `crsql_db_version`, ...) and changeset format,
//! over a leaner clock layout (one clock row per table row instead of one per column).
//!
//! Load it into any SQLite connection: rusqlite's `load_extension` or the `sqlite3` shell's
//! `.load path/to/libcarebook_crr`. Call `SELECT crsql_finalize()` before closing a connection.

mod batch;
mod changes;
mod clocks;
mod ffi;
mod local;
mod merge;
mod pack;
mod state;
mod table;
mod value;
mod varint;

use std::ffi::{c_char, c_uint, c_void};
use std::rc::Rc;

use sqlite_loadable::ext::{sqlite3_api_routines, sqlite3_context};
use sqlite_loadable::prelude::sqlite3;
use sqlite_loadable::{api, define_scalar_function_with_aux, FunctionFlags};

use crate::ffi::{sqlite3_value, Db, Error, Result, Step};
use crate::state::{Conn, Inner, BOOTSTRAP_SQL};
use crate::table::{ident, Protect, Table};
use crate::value::{Value, ValueRef};

/// The entry point the `sqlite3` shell finds for `libcarebook_crr`.
///
/// # Safety
/// Called by SQLite with a valid connection and routine table.
#[no_mangle]
pub unsafe extern "C" fn sqlite3_carebookcrr_init(
    db: *mut sqlite3,
    pz_err_msg: *mut *mut c_char,
    p_api: *mut sqlite3_api_routines,
) -> c_uint {
    ffi::set_api(p_api);
    let message = std::cell::RefCell::new(None);
    let rc = sqlite_loadable::prelude::register_entrypoint(db, pz_err_msg, p_api, |db| {
        init(db).map_err(|e| {
            *message.borrow_mut() = Some(e.0.clone());
            e.into()
        })
    });
    if let (Some(m), false) = (message.into_inner(), pz_err_msg.is_null()) {
        *pz_err_msg = ffi::raw::mprintf(&m);
    }
    rc
}

type Func = fn(&Conn, *mut sqlite3_context, &[*mut sqlite3_value]) -> Result<()>;

fn init(raw: *mut sqlite3) -> Result<()> {
    let db = Db(raw);
    let conn = Rc::new(Conn::new(db));
    sqlite_loadable::table::define_virtual_table_writeable_with_transactions::<changes::ChangesTable>(
        raw,
        "crsql_changes",
        Some(conn.clone()),
    )
    .map_err(|e| Error(e.result_error_message()))?;
    let funcs: &[(&str, i32, Func)] = &[
        ("crsql_as_crr", 1, as_crr),
        ("crsql_as_crr", 2, as_crr),
        ("crsql_begin_alter", 1, begin_alter),
        ("crsql_begin_alter", 2, begin_alter),
        ("crsql_commit_alter", 1, commit_alter),
        ("crsql_commit_alter", 2, commit_alter),
        ("crsql_db_version", 0, db_version),
        ("crsql_next_db_version", 0, next_db_version),
        ("crsql_site_id", 0, site_id),
        ("crsql_finalize", 0, finalize),
        ("crsql_internal_sync_bit", 0, sync_bit),
        ("crsql_merging_batch", 0, merging_batch),
        ("crsql_after_batch", 1, after_batch),
        ("crsql_compact_tombstones", 1, compact_tombstones),
        ("crsql_protect", 2, protect),
        ("crsql_pack_columns", -1, pack_columns),
        ("crsql_merge_changes", 1, merge_changes),
        ("crsql_batch_db_version", 1, batch_db_version),
        ("crsql_export_changes", 1, export_changes),
        ("crsql_export_changes", 2, export_changes),
        ("crsql_export_changes", 3, export_changes),
        ("crr_local_insert", -1, |c, _, a| local::insert(c, a)),
        ("crr_local_update", -1, |c, _, a| local::update(c, a)),
        ("crr_local_delete", -1, |c, _, a| local::delete(c, a)),
    ];
    for (name, n, f) in funcs {
        let f = *f;
        let flags = FunctionFlags::UTF8 | FunctionFlags::INNOCUOUS;
        define_scalar_function_with_aux(
            raw,
            name,
            *n,
            move |ctx, args, conn: &Rc<Conn>| f(conn, ctx, args).map_err(Into::into),
            flags,
            conn.clone(),
        )
        .map_err(|e| Error(e.result_error_message()))?;
    }
    db.set_hooks(
        state::on_commit,
        state::on_rollback,
        Rc::into_raw(conn.clone()) as *mut c_void,
    );
    if !bootstrapped(db) {
        db.exec(BOOTSTRAP_SQL)
            .map_err(|e| Error(format!("carebook_crr could not set up its tables: {e}")))?;
    }
    Ok(())
}

/// True when the engine's tables are already in this database (so a read-only or busy
/// connection can load the extension without writing).
fn bootstrapped(db: Db) -> bool {
    let Ok(mut st) = db.prepare(
        "SELECT count(*) FROM sqlite_master WHERE name IN ('crr_sites', 'crr_tables', \
         'crr_columns', 'crr_meta', 'crr_quarantine', 'crsql_tracked_peers', 'crsql_changes')",
    ) else {
        return false;
    };
    matches!(st.step(), Ok(Step::Row)) && st.column_i64(0) == 7
}

/// The table name argument (the last one; a first one, if any, names the schema).
fn table_arg(args: &[*mut sqlite3_value]) -> Result<String> {
    let last = *args
        .last()
        .ok_or_else(|| Error::new("a table name is required"))?;
    // SAFETY: live argument of this call.
    match unsafe { ValueRef::from_raw(last) } {
        ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
        _ => Err(Error::new("the table name must be text")),
    }
}

/// `crsql_protect(table, how)`: what merges may not do to a tracked table, "keep-rows" (never
/// delete a row), "append-only" (never delete, never change a written value) or "none".
/// Carebook's addition: a change that breaks the rule is held back with the reason.
fn protect(conn: &Conn, ctx: *mut sqlite3_context, args: &[*mut sqlite3_value]) -> Result<()> {
    // SAFETY: live arguments of this call.
    let (ValueRef::Text(t), ValueRef::Text(how)) =
        (unsafe { ValueRef::from_raw(args[0]) }, unsafe {
            ValueRef::from_raw(args[1])
        })
    else {
        return Err(Error::new(
            "crsql_protect takes a table name and a rule (keep-rows, append-only or none)",
        ));
    };
    let (t, how) = (String::from_utf8_lossy(t), String::from_utf8_lossy(how));
    if Protect::parse(&how).is_none() {
        return Err(Error(format!(
            "crsql_protect: \"{how}\" is not a rule (keep-rows, append-only or none)"
        )));
    }
    let mut inner = conn.inner()?;
    merge::flush(conn, &mut inner)?;
    tracked(&mut inner, conn.db, &t)?;
    let mut st = conn
        .db
        .prepare("INSERT OR REPLACE INTO crr_meta(key, value) VALUES (?1, ?2)")?;
    st.bind_text(1, &Protect::key(&t))?;
    st.bind_text(2, &how)?;
    st.run()?;
    drop(st);
    inner.forget_tables();
    Value::text("OK").result(ctx);
    Ok(())
}

fn as_crr(conn: &Conn, ctx: *mut sqlite3_context, args: &[*mut sqlite3_value]) -> Result<()> {
    let t = table_arg(args)?;
    let db = conn.db;
    table::validate(db, &t)?;
    {
        let mut inner = conn.inner()?;
        merge::flush(conn, &mut inner)?;
        db.exec(&Table::create_clock_sql(&t))?;
        let mut st = db.prepare("INSERT OR IGNORE INTO crr_tables(tbl) VALUES (?1)")?;
        st.bind_text(1, &t)?;
        st.run()?;
        drop(st);
        inner.forget_tables();
        let table = inner
            .table(db, &t)?
            .ok_or_else(|| Error::new("table vanished while being tracked"))?;
        db.exec(&table.create_triggers_sql())?;
        backfill(&mut inner, db, &table)?;
    }
    merge::retry_quarantine(conn)?;
    Value::text("OK").result(ctx);
    Ok(())
}

/// Gives clocks to rows that have none (rows that existed before the table was tracked).
fn backfill(inner: &mut Inner, db: Db, t: &Table) -> Result<()> {
    let keys = t
        .pks
        .iter()
        .map(|p| ident(p))
        .collect::<Vec<_>>()
        .join(", ");
    let mut st = db.prepare(&format!("SELECT {keys} FROM {}", ident(&t.name)))?;
    while st.step()? == Step::Row {
        let vals: Vec<Value> = (0..t.pks.len())
            .map(|i| st.column_value(i as i32))
            .collect();
        let pk = pack::pack(vals.iter().map(Value::as_ref));
        if t.read_clock(db, &pk)?.is_some() {
            continue;
        }
        let dbv = inner.next_db_version(db)?;
        let mut clock = clocks::RowClock {
            cl: 1,
            entries: Vec::new(),
        };
        let slots: Vec<u32> = if t.cols.is_empty() {
            vec![clocks::SENTINEL]
        } else {
            t.cols.iter().map(|c| c.slot).collect()
        };
        for slot in slots {
            clock.set(clocks::Entry {
                slot,
                col_version: 1,
                db_version: dbv,
                site: 0,
                seq: inner.next_seq(),
            });
        }
        t.write_clock(db, &pk, &clock, false)?;
    }
    Ok(())
}

fn tracked(inner: &mut Inner, db: Db, t: &str) -> Result<()> {
    inner.table(db, t)?.map(|_| ()).ok_or_else(|| {
        Error(format!(
            "table \"{t}\" is not tracked (call crsql_as_crr first)"
        ))
    })
}

fn begin_alter(conn: &Conn, ctx: *mut sqlite3_context, args: &[*mut sqlite3_value]) -> Result<()> {
    let t = table_arg(args)?;
    let mut inner = conn.inner()?;
    merge::flush(conn, &mut inner)?;
    tracked(&mut inner, conn.db, &t)?;
    conn.db.exec(&Table::drop_triggers_sql(&t))?;
    inner.forget_tables();
    Value::text("OK").result(ctx);
    Ok(())
}

fn commit_alter(conn: &Conn, ctx: *mut sqlite3_context, args: &[*mut sqlite3_value]) -> Result<()> {
    let t = table_arg(args)?;
    let db = conn.db;
    table::validate(db, &t)?;
    {
        let mut inner = conn.inner()?;
        inner.forget_tables();
        tracked(&mut inner, db, &t)?;
        let table = inner.table(db, &t)?.expect("checked above");
        db.exec(&Table::drop_triggers_sql(&t))?;
        db.exec(&table.create_triggers_sql())?;
        backfill(&mut inner, db, &table)?;
    }
    merge::retry_quarantine(conn)?;
    Value::text("OK").result(ctx);
    Ok(())
}

fn db_version(conn: &Conn, ctx: *mut sqlite3_context, _: &[*mut sqlite3_value]) -> Result<()> {
    let v = conn.inner()?.db_version(conn.db)?;
    api::result_int64(ctx, v);
    Ok(())
}

fn next_db_version(conn: &Conn, ctx: *mut sqlite3_context, _: &[*mut sqlite3_value]) -> Result<()> {
    let v = conn.inner()?.next_db_version(conn.db)?;
    api::result_int64(ctx, v);
    Ok(())
}

fn site_id(conn: &Conn, ctx: *mut sqlite3_context, _: &[*mut sqlite3_value]) -> Result<()> {
    let s = conn.inner()?.site_id(conn.db)?;
    api::result_blob(ctx, &s);
    Ok(())
}

/// 1 while the engine itself writes (a merge), so schema triggers can refuse local edits
/// (say, of a finalised note) without refusing what other computers already did.
fn sync_bit(conn: &Conn, ctx: *mut sqlite3_context, _: &[*mut sqlite3_value]) -> Result<()> {
    api::result_int64(ctx, i64::from(conn.sync_bit.get()));
    Ok(())
}

/// `crsql_merging_batch()`: 1 while `crsql_merge_changes` merges a batch on this connection,
/// else 0. A trigger can leave costly upkeep (a search index, say) to the statements
/// registered with `crsql_after_batch`, which then run once for the whole batch.
fn merging_batch(conn: &Conn, ctx: *mut sqlite3_context, _: &[*mut sqlite3_value]) -> Result<()> {
    api::result_int64(ctx, i64::from(conn.batch.get()));
    Ok(())
}

/// `crsql_after_batch(sql)`: statements to run at the end of every `crsql_merge_changes`, in
/// its transaction (kept in the database, so every connection runs them); '' runs none.
fn after_batch(conn: &Conn, ctx: *mut sqlite3_context, args: &[*mut sqlite3_value]) -> Result<()> {
    // SAFETY: live argument of this call.
    let ValueRef::Text(sql) = (unsafe { ValueRef::from_raw(args[0]) }) else {
        return Err(Error::new("crsql_after_batch takes SQL text ('' for none)"));
    };
    let mut st = conn
        .db
        .prepare("INSERT OR REPLACE INTO crr_meta(key, value) VALUES (?1, ?2)")?;
    st.bind_text(1, merge::AFTER_BATCH)?;
    st.bind_text(2, &String::from_utf8_lossy(sql))?;
    st.run()?;
    Value::text("OK").result(ctx);
    Ok(())
}

fn finalize(conn: &Conn, ctx: *mut sqlite3_context, _: &[*mut sqlite3_value]) -> Result<()> {
    let mut inner = conn.inner()?;
    merge::flush(conn, &mut inner)?;
    inner.finalize();
    Value::text("finalized").result(ctx);
    Ok(())
}

fn pack_columns(_: &Conn, ctx: *mut sqlite3_context, args: &[*mut sqlite3_value]) -> Result<()> {
    // SAFETY: live arguments of this call.
    let packed = pack::pack(args.iter().map(|v| unsafe { ValueRef::from_raw(*v) }));
    api::result_blob(ctx, &packed);
    Ok(())
}

fn merge_changes(
    conn: &Conn,
    ctx: *mut sqlite3_context,
    args: &[*mut sqlite3_value],
) -> Result<()> {
    // SAFETY: live argument of this call.
    let ValueRef::Blob(blob) = (unsafe { ValueRef::from_raw(args[0]) }) else {
        return Err(Error::new(
            "crsql_merge_changes expects a change batch (a blob)",
        ));
    };
    let n = merge::merge_batch(conn, blob)?;
    api::result_int64(ctx, n);
    Ok(())
}

/// `crsql_export_changes(since [, not_site [, limit]])`: the changes with db_version above
/// `since` (leaving out those made by `not_site`) as one batch. With a limit, the batch holds
/// about that many changes but always whole db_versions, so the receiver can take the batch's
/// highest db_version (`crsql_batch_db_version`) as its new watermark.
fn export_changes(
    conn: &Conn,
    ctx: *mut sqlite3_context,
    args: &[*mut sqlite3_value],
) -> Result<()> {
    // SAFETY: live arguments of this call.
    let arg = |i: usize| args.get(i).map(|v| unsafe { ValueRef::from_raw(*v) });
    let since = match arg(0) {
        Some(ValueRef::Int(i)) => i,
        _ => {
            return Err(Error::new(
                "crsql_export_changes: since must be an integer db_version",
            ))
        }
    };
    let not_site = match arg(1) {
        Some(ValueRef::Blob(b)) => Some(b.to_vec()),
        _ => None,
    };
    let limit = match arg(2) {
        Some(ValueRef::Int(i)) if i > 0 => i as u64,
        _ => u64::MAX,
    };
    let db = Db(api::context_db_handle(ctx));
    let site_clause = if not_site.is_some() {
        " AND site_id IS NOT ?2"
    } else {
        ""
    };
    let bind = |st: &mut ffi::Stmt| -> Result<()> {
        st.bind_i64(1, since)?;
        if let Some(s) = &not_site {
            st.bind_blob(2, s)?;
        }
        Ok(())
    };
    // Pass 1 reads only db_versions (straight from the clocks, no values, no sort) to find
    // where the batch ends: the limit-th smallest, so the batch takes whole db_versions and its
    // end is a valid ack.
    let upto = if limit == u64::MAX {
        i64::MAX
    } else {
        let mut versions = changes::versions_after(conn, since, not_site.as_deref())?;
        let k = (limit as usize).min(versions.len().saturating_sub(1));
        if versions.is_empty() {
            since
        } else {
            *versions.select_nth_unstable(k).1
        }
    };
    // Pass 2 takes every change up to there, in the order the clock index gives.
    let mut st = db.prepare(&format!(
        "SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes \
         WHERE db_version > ?1 AND db_version <= ?3{site_clause}"
    ))?;
    bind(&mut st)?;
    st.bind_i64(3, upto)?;
    let mut enc = batch::Encoder::default();
    while st.step()? == Step::Row {
        enc.push(
            &st.column_text(0),
            &st.column_blob(1),
            &st.column_text(2),
            st.column_value(3).as_ref(),
            st.column_i64(4),
            st.column_i64(5),
            &st.column_blob(6),
            st.column_i64(7),
            st.column_i64(8),
        );
    }
    api::result_blob(ctx, &enc.finish());
    Ok(())
}

/// `crsql_batch_db_version(batch)`: the highest db_version in a batch (0 when empty), so a
/// sync protocol can acknowledge a batch without knowing its layout.
fn batch_db_version(
    _: &Conn,
    ctx: *mut sqlite3_context,
    args: &[*mut sqlite3_value],
) -> Result<()> {
    // SAFETY: live argument of this call.
    let ValueRef::Blob(blob) = (unsafe { ValueRef::from_raw(args[0]) }) else {
        return Err(Error::new(
            "crsql_batch_db_version expects a change batch (a blob)",
        ));
    };
    let mut d = batch::Decoder::new(blob)?;
    let mut top = 0;
    while let Some(c) = d.next_change()? {
        top = top.max(c.db_version);
    }
    api::result_int64(ctx, top);
    Ok(())
}

/// `crsql_compact_tombstones(below)`: forgets deleted rows whose deletion is older than the
/// db_version `below`. Call it only with a version every peer has acknowledged: a peer that
/// has not seen a deletion could otherwise bring the row back. Returns the rows forgotten; the
/// db_version never goes backwards.
fn compact_tombstones(
    conn: &Conn,
    ctx: *mut sqlite3_context,
    args: &[*mut sqlite3_value],
) -> Result<()> {
    // SAFETY: live argument of this call.
    let ValueRef::Int(below) = (unsafe { ValueRef::from_raw(args[0]) }) else {
        return Err(Error::new("crsql_compact_tombstones expects a db_version"));
    };
    let db = conn.db;
    let mut inner = conn.inner()?;
    merge::flush(conn, &mut inner)?;
    let now = inner.db_version(db)?;
    let mut st = db.prepare(
        "INSERT INTO crr_meta(key, value) VALUES ('db_version_floor', ?1)
         ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
    )?;
    st.bind_i64(1, now)?;
    st.run()?;
    let mut removed = 0;
    for t in Inner::tracked_tables(db)? {
        let mut st = db.prepare(&format!(
            "DELETE FROM {} WHERE dbv < ?1 AND cl % 2 = 0",
            table::clock_table(&t)
        ))?;
        st.bind_i64(1, below)?;
        st.run()?;
        removed += db.changes();
    }
    api::result_int64(ctx, removed);
    Ok(())
}
