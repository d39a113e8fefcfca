//! The `crsql_changes` virtual table: reading it lists every column change (from the clock
//! index on db_version, so `WHERE db_version > ?` never scans old clocks); inserting into it
//! merges changes from another database.

use std::collections::VecDeque;
use std::ffi::c_int;
use std::rc::Rc;

use sqlite_loadable::api;
use sqlite_loadable::ext::{sqlite3_context, sqlite3_vtab, sqlite3_vtab_cursor};
use sqlite_loadable::table::{
    ConstraintOperator, IndexInfo, UpdateOperation, VTab, VTabArguments, VTabCursor, VTabWriteable,
    VTabWriteableWithTransactions,
};
use sqlite_loadable::BestIndexError;

use crate::clocks::{RowClock, SENTINEL};
use crate::ffi::{raw, sqlite3, sqlite3_value, Error, Result, Step, Stmt};
use crate::merge::{self, Change};
use crate::pack::unpack;
use crate::state::{Conn, Inner};
use crate::table::{bind_pk, clock_table, Table};
use crate::value::{Value, ValueRef};

const SCHEMA: &str =
    "CREATE TABLE x(\"table\" TEXT NOT NULL, pk BLOB NOT NULL, cid TEXT NOT NULL, \
    val ANY, col_version INTEGER NOT NULL, db_version INTEGER NOT NULL, site_id BLOB NOT NULL, \
    cl INTEGER NOT NULL, seq INTEGER NOT NULL)";

const COL_TABLE: i32 = 0;
const COL_VAL: i32 = 3;
const COL_DB_VERSION: i32 = 5;
const COL_SITE_ID: i32 = 6;

fn set_vtab_error(vtab: *mut sqlite3_vtab, msg: &str) {
    // SAFETY: vtab is the live table; SQLite frees zErrMsg after reporting it.
    unsafe {
        if !vtab.is_null() {
            (*vtab).zErrMsg = raw::mprintf(msg);
        }
    }
}

#[repr(C)]
pub struct ChangesTable {
    base: sqlite3_vtab,
    conn: Rc<Conn>,
}

impl<'vtab> VTab<'vtab> for ChangesTable {
    type Aux = Rc<Conn>;
    type Cursor = ChangesCursor;

    fn connect(
        _db: *mut sqlite3,
        aux: Option<&Rc<Conn>>,
        _args: VTabArguments,
    ) -> sqlite_loadable::Result<(String, Self)> {
        let conn = aux.cloned().ok_or_else(|| {
            sqlite_loadable::Error::new_message("crsql_changes: engine not loaded")
        })?;
        Ok((
            SCHEMA.to_string(),
            ChangesTable {
                // SAFETY: an all-zero sqlite3_vtab is what SQLite expects before it fills it.
                base: unsafe { std::mem::zeroed() },
                conn,
            },
        ))
    }

    fn best_index(&self, mut info: IndexInfo) -> std::result::Result<(), BestIndexError> {
        // The plan: '+' or '-' (whether the query reads `val`; without it no base row is
        // read), then one code per constraint handed to xFilter.
        let mut plan = String::from(if info.columns_used() & (1 << COL_VAL) != 0 {
            "+"
        } else {
            "-"
        });
        let mut narrowed = false;
        for mut c in info.constraints() {
            if !c.usable() {
                continue;
            }
            let code = match (c.column_idx(), c.op()) {
                (COL_DB_VERSION, Some(ConstraintOperator::GT)) => 'g',
                (COL_DB_VERSION, Some(ConstraintOperator::GE)) => 'G',
                (COL_DB_VERSION, Some(ConstraintOperator::EQ)) => 'e',
                (COL_DB_VERSION, Some(ConstraintOperator::LT)) => 'l',
                (COL_DB_VERSION, Some(ConstraintOperator::LE)) => 'L',
                (COL_SITE_ID, Some(ConstraintOperator::EQ | ConstraintOperator::IS)) => 's',
                (COL_SITE_ID, Some(ConstraintOperator::NE | ConstraintOperator::ISNOT)) => 'n',
                (COL_TABLE, Some(ConstraintOperator::EQ)) => 't',
                _ => continue,
            };
            narrowed |= matches!(code, 'g' | 'G' | 'e' | 't');
            plan.push(code);
            c.set_argv_index(plan.len() as i32 - 1);
            c.set_omit(true);
        }
        info.set_idxstr(&plan).map_err(|_| BestIndexError::Error)?;
        info.set_estimated_cost(if narrowed { 100.0 } else { 1_000_000.0 });
        info.set_estimated_rows(if narrowed { 100 } else { 1_000_000 });
        Ok(())
    }

    fn open(&'vtab mut self) -> sqlite_loadable::Result<ChangesCursor> {
        Ok(ChangesCursor {
            // SAFETY: SQLite fills the cursor base after xOpen.
            base: unsafe { std::mem::zeroed() },
            conn: self.conn.clone(),
            rowid: 0,
            filter: Filter::default(),
            tables: VecDeque::new(),
            scan: None,
            buf: VecDeque::new(),
            current: None,
            values: true,
        })
    }
}

fn text_arg(v: ValueRef, what: &str) -> Result<String> {
    match v {
        ValueRef::Text(t) => String::from_utf8(t.to_vec())
            .map_err(|_| Error(format!("crsql_changes: {what} is not valid UTF-8"))),
        _ => Err(Error(format!("crsql_changes: {what} must be text"))),
    }
}

fn int_arg(v: ValueRef, what: &str) -> Result<i64> {
    match v {
        ValueRef::Int(i) => Ok(i),
        _ => Err(Error(format!("crsql_changes: {what} must be an integer"))),
    }
}

fn blob_arg<'a>(v: ValueRef<'a>, what: &str) -> Result<&'a [u8]> {
    match v {
        ValueRef::Blob(b) => Ok(b),
        _ => Err(Error(format!("crsql_changes: {what} must be a blob"))),
    }
}

impl ChangesTable {
    fn insert(&self, values: &[*mut sqlite3_value]) -> Result<()> {
        if values.len() < 9 {
            return Err(Error::new(
                "crsql_changes: an insert needs all nine columns",
            ));
        }
        // SAFETY: the values are live arguments of this xUpdate call.
        let v = |i: usize| unsafe { ValueRef::from_raw(values[i]) };
        let table = text_arg(v(0), "table")?;
        let cid = text_arg(v(2), "cid")?;
        let change = Change {
            table: &table,
            pk: blob_arg(v(1), "pk")?,
            cid: &cid,
            val: v(3),
            col_version: int_arg(v(4), "col_version")?,
            db_version: int_arg(v(5), "db_version")?,
            site_id: blob_arg(v(6), "site_id")?,
            cl: int_arg(v(7), "cl")?,
            seq: int_arg(v(8), "seq")?,
        };
        merge::merge(&self.conn, &change, false)
    }

    fn flush(&self) -> Result<()> {
        let mut inner = self.conn.inner()?;
        merge::flush(&self.conn, &mut inner)
    }
}

impl<'vtab> VTabWriteable<'vtab> for ChangesTable {
    fn update(
        &'vtab mut self,
        op: UpdateOperation,
        _rowid: *mut i64,
    ) -> sqlite_loadable::Result<()> {
        let r = match op {
            UpdateOperation::Insert { values, .. } => self.insert(values),
            _ => Err(Error::new(
                "crsql_changes accepts only INSERT (a merge); changes cannot be updated or deleted",
            )),
        };
        r.map_err(|e| {
            set_vtab_error(&mut self.base, &e.0);
            e.into()
        })
    }
}

impl<'vtab> VTabWriteableWithTransactions<'vtab> for ChangesTable {
    fn begin(&'vtab mut self) -> sqlite_loadable::Result<()> {
        Ok(())
    }

    /// The transaction is about to commit: write back the clock a merge kept in memory.
    fn sync(&'vtab mut self) -> sqlite_loadable::Result<()> {
        self.flush().map_err(|e| {
            set_vtab_error(&mut self.base, &e.0);
            e.into()
        })
    }

    fn commit(&'vtab mut self) -> sqlite_loadable::Result<()> {
        Ok(())
    }

    fn rollback(&'vtab mut self) -> sqlite_loadable::Result<()> {
        if let Ok(mut inner) = self.conn.inner() {
            inner.row = None;
        }
        Ok(())
    }
}

/// Which changes a query asked for.
#[derive(Default)]
struct Filter {
    /// db_version > min
    min: i64,
    /// db_version <= max
    max: Option<i64>,
    /// Some(None): a site that has no changes here, so nothing matches.
    site_only: Option<Option<i64>>,
    site_not: Option<i64>,
}

impl Filter {
    fn keeps(&self, dbv: i64, site: i64) -> bool {
        dbv > self.min
            && self.max.is_none_or(|m| dbv <= m)
            && self.site_only.is_none_or(|s| s == Some(site))
            && self.site_not != Some(site)
    }
}

/// One row of `crsql_changes`.
struct Row {
    table: Rc<str>,
    pk: Rc<[u8]>,
    cid: Rc<str>,
    val: Value,
    col_version: i64,
    db_version: i64,
    site: Rc<[u8]>,
    cl: i64,
    seq: i64,
}

/// The walk over one table's clocks.
struct Scan {
    table: Rc<Table>,
    name: Rc<str>,
    cids: Vec<Rc<str>>,
    clocks: Stmt,
    row_get: Stmt,
}

#[repr(C)]
pub struct ChangesCursor {
    base: sqlite3_vtab_cursor,
    conn: Rc<Conn>,
    rowid: i64,
    filter: Filter,
    tables: VecDeque<String>,
    scan: Option<Scan>,
    buf: VecDeque<Row>,
    current: Option<Row>,
    /// Whether the query reads `val` (if not, base rows are never read).
    values: bool,
}

impl ChangesCursor {
    fn start(&mut self, plan: &str, args: &[*mut sqlite3_value]) -> Result<()> {
        let db = self.conn.db;
        let mut inner = self.conn.inner()?;
        merge::flush(&self.conn, &mut inner)?;
        self.filter = Filter::default();
        let (values, plan) = plan.split_at(plan.len().min(1));
        self.values = values != "-";
        self.buf.clear();
        self.scan = None;
        let mut only_table = None;
        for (code, v) in plan.chars().zip(args) {
            // SAFETY: live filter arguments.
            let v = unsafe { ValueRef::from_raw(*v) };
            let as_int = match v {
                ValueRef::Int(i) => Some(i),
                ValueRef::Real(f) => Some(f.floor() as i64),
                _ => None,
            };
            match code {
                'g' | 'G' | 'e' | 'l' | 'L' => {
                    let Some(n) = as_int else {
                        // A comparison with NULL or text matches nothing.
                        self.filter.max = Some(i64::MIN);
                        continue;
                    };
                    match code {
                        'g' => self.filter.min = self.filter.min.max(n),
                        'G' => self.filter.min = self.filter.min.max(n.saturating_sub(1)),
                        'e' => {
                            self.filter.min = self.filter.min.max(n.saturating_sub(1));
                            self.filter.max = Some(self.filter.max.map_or(n, |m| m.min(n)));
                        }
                        'l' => {
                            let m = n.saturating_sub(1);
                            self.filter.max = Some(self.filter.max.map_or(m, |x| x.min(m)));
                        }
                        _ => self.filter.max = Some(self.filter.max.map_or(n, |x| x.min(n))),
                    }
                }
                's' | 'n' => {
                    let ord = match v {
                        ValueRef::Blob(b) => known_site(&mut inner, db, b)?,
                        _ => None,
                    };
                    if code == 's' {
                        self.filter.site_only = Some(ord);
                    } else {
                        self.filter.site_not = ord;
                    }
                }
                _ => {
                    only_table = match v {
                        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                        _ => Some(String::new()),
                    }
                }
            }
        }
        self.tables = Inner::tracked_tables(db)?
            .into_iter()
            .filter(|t| only_table.as_ref().is_none_or(|o| o == t))
            .collect();
        drop(inner);
        self.advance()
    }

    fn open_scan(&mut self, name: &str) -> Result<Option<Scan>> {
        let db = self.conn.db;
        let Some(table) = self.conn.inner()?.table(db, name)? else {
            return Ok(None);
        };
        let mut clocks = db.prepare(&format!(
            "SELECT pk, cl, clocks FROM {} WHERE dbv > ?1",
            clock_table(name)
        ))?;
        clocks.bind_i64(1, self.filter.min)?;
        Ok(Some(Scan {
            cids: table
                .cols
                .iter()
                .map(|c| Rc::from(c.name.as_str()))
                .collect(),
            name: Rc::from(name),
            row_get: db.prepare(&table.row_select_sql())?,
            clocks,
            table,
        }))
    }

    /// Moves to the next change.
    fn advance(&mut self) -> Result<()> {
        loop {
            if let Some(r) = self.buf.pop_front() {
                self.rowid += 1;
                self.current = Some(r);
                return Ok(());
            }
            if self.scan.is_none() {
                let Some(name) = self.tables.pop_front() else {
                    self.current = None;
                    return Ok(());
                };
                self.scan = self.open_scan(&name)?;
                continue;
            }
            let scan = self.scan.as_mut().expect("checked above");
            if scan.clocks.step()? == Step::Done {
                self.scan = None;
                continue;
            }
            let pk: Rc<[u8]> = scan.clocks.column_blob(0).into();
            let clock = RowClock::decode(scan.clocks.column_i64(1), &scan.clocks.column_blob(2))?;
            self.fill(pk, clock)?;
        }
    }

    /// Queues the changes of one row that the filter keeps.
    fn fill(&mut self, pk: Rc<[u8]>, clock: RowClock) -> Result<()> {
        let db = self.conn.db;
        let scan = self.scan.as_mut().expect("called while scanning");
        let mut kept: Vec<_> = kept(&scan.table, &clock, &self.filter).collect();
        if kept.is_empty() {
            return Ok(());
        }
        kept.sort_by_key(|e| (e.db_version, e.seq));
        let mut values: Vec<Value> = Vec::new();
        if self.values && kept.iter().any(|e| e.slot != SENTINEL) {
            bind_pk(&mut scan.row_get, 1, &unpack(&pk)?)?;
            if scan.row_get.step()? == Step::Row {
                values = (0..scan.table.cols.len())
                    .map(|i| scan.row_get.column_value(i as i32))
                    .collect();
            }
            scan.row_get.reset();
        }
        let mut inner = self.conn.inner()?;
        let minus_one: Rc<str> = Rc::from("-1");
        for e in kept {
            let (cid, val) = if e.slot == SENTINEL {
                (minus_one.clone(), Value::Null)
            } else {
                let i = scan.table.col_by_slot(e.slot).expect("filtered above");
                (
                    scan.cids[i].clone(),
                    values.get(i).cloned().unwrap_or(Value::Null),
                )
            };
            self.buf.push_back(Row {
                table: scan.name.clone(),
                pk: pk.clone(),
                cid,
                val,
                col_version: e.col_version,
                db_version: e.db_version,
                site: inner.site_of(db, e.site)?,
                cl: clock.cl,
                seq: e.seq,
            });
        }
        Ok(())
    }

    fn fail(&self, e: Error) -> sqlite_loadable::Error {
        set_vtab_error(self.base.pVtab, &e.0);
        e.into()
    }
}

/// The entries of a row's clock that are changes the filter keeps: its sentinel, and the
/// columns the table still has while the row exists.
fn kept<'a>(
    table: &'a Table,
    clock: &'a RowClock,
    filter: &'a Filter,
) -> impl Iterator<Item = &'a crate::clocks::Entry> {
    clock
        .entries
        .iter()
        .filter(|e| filter.keeps(e.db_version, e.site))
        .filter(|e| {
            e.slot == SENTINEL || (clock.cl % 2 == 1 && table.col_by_slot(e.slot).is_some())
        })
}

/// The db_version of every change after `since` (leaving out those of `not_site`), read
/// straight from the clock tables: what `SELECT db_version FROM crsql_changes WHERE
/// db_version > ?` returns, without making a row of each change.
pub fn versions_after(conn: &Conn, since: i64, not_site: Option<&[u8]>) -> Result<Vec<i64>> {
    let db = conn.db;
    let mut inner = conn.inner()?;
    merge::flush(conn, &mut inner)?;
    let filter = Filter {
        min: since,
        site_not: match not_site {
            Some(s) => known_site(&mut inner, db, s)?,
            None => None,
        },
        ..Filter::default()
    };
    let mut out = Vec::new();
    for name in Inner::tracked_tables(db)? {
        let Some(table) = inner.table(db, &name)? else {
            continue;
        };
        let mut st = db.prepare(&format!(
            "SELECT cl, clocks FROM {} WHERE dbv > ?1",
            clock_table(&name)
        ))?;
        st.bind_i64(1, since)?;
        while st.step()? == Step::Row {
            let clock = RowClock::decode(st.column_i64(0), &st.column_blob(1))?;
            out.extend(kept(&table, &clock, &filter).map(|e| e.db_version));
        }
    }
    Ok(out)
}

fn known_site(inner: &mut Inner, db: crate::ffi::Db, site: &[u8]) -> Result<Option<i64>> {
    if inner.site_id(db)? == site {
        return Ok(Some(0));
    }
    let mut st = db.prepare("SELECT ord FROM crr_sites WHERE site_id = ?1")?;
    st.bind_blob(1, site)?;
    Ok((st.step()? == Step::Row).then(|| st.column_i64(0)))
}

impl VTabCursor for ChangesCursor {
    fn filter(
        &mut self,
        _idx_num: c_int,
        idx_str: Option<&str>,
        values: &[*mut sqlite3_value],
    ) -> sqlite_loadable::Result<()> {
        self.start(idx_str.unwrap_or(""), values)
            .map_err(|e| self.fail(e))
    }

    fn next(&mut self) -> sqlite_loadable::Result<()> {
        self.advance().map_err(|e| self.fail(e))
    }

    fn eof(&self) -> bool {
        self.current.is_none()
    }

    fn column(&self, ctx: *mut sqlite3_context, i: c_int) -> sqlite_loadable::Result<()> {
        let Some(r) = &self.current else {
            api::result_null(ctx);
            return Ok(());
        };
        match i {
            0 => api::result_text(ctx, &*r.table)?,
            1 => api::result_blob(ctx, &r.pk),
            2 => api::result_text(ctx, &*r.cid)?,
            3 => r.val.result(ctx),
            4 => api::result_int64(ctx, r.col_version),
            5 => api::result_int64(ctx, r.db_version),
            6 => api::result_blob(ctx, &r.site),
            7 => api::result_int64(ctx, r.cl),
            8 => api::result_int64(ctx, r.seq),
            _ => api::result_null(ctx),
        }
        Ok(())
    }

    fn rowid(&self) -> sqlite_loadable::Result<i64> {
        Ok(self.rowid)
    }
}
