//! Per-connection engine state: the site id, the logical clock of the open transaction
//! (db_version and seq), the cache of tracked tables and their statements, and the row that a
//! merge is working on.

use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::rc::Rc;

use crate::ffi::{Db, Error, Result, Step, Stmt};
use crate::merge::RowCache;
use crate::table::{clock_table, Table};

/// The engine's own tables, created when the extension loads.
pub const BOOTSTRAP_SQL: &str = "\
CREATE TABLE IF NOT EXISTS crr_sites(ord INTEGER PRIMARY KEY, site_id BLOB NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS crr_tables(tbl TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS crr_columns(tbl TEXT NOT NULL, name TEXT NOT NULL, slot INTEGER NOT NULL,
  PRIMARY KEY(tbl, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS crr_meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS crr_quarantine(\"table\" TEXT NOT NULL, pk BLOB NOT NULL, cid TEXT NOT NULL,
  val, col_version INTEGER NOT NULL, db_version INTEGER NOT NULL, site_id BLOB NOT NULL,
  cl INTEGER NOT NULL, seq INTEGER NOT NULL, reason TEXT NOT NULL,
  PRIMARY KEY(\"table\", pk, cid, site_id, cl, col_version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS crsql_tracked_peers(site_id BLOB NOT NULL, version INTEGER NOT NULL,
  seq INTEGER DEFAULT 0, tag INTEGER, event INTEGER, PRIMARY KEY (site_id, tag, event)) STRICT;
INSERT OR IGNORE INTO crr_sites(ord, site_id) VALUES (0, randomblob(16));
CREATE VIRTUAL TABLE IF NOT EXISTS crsql_changes USING crsql_changes();";

/// Statements the connection reuses outside of any one table.
struct Common {
    data_version: Stmt,
}

pub struct Inner {
    site_id: Option<Vec<u8>>,
    tables: HashMap<String, Rc<Table>>,
    /// db_version of the open transaction, once it wrote something.
    pending: Option<i64>,
    seq: i64,
    /// The committed db_version and the `PRAGMA data_version` it was read at.
    committed: Option<(i64, i64)>,
    site_ords: HashMap<Vec<u8>, i64>,
    ord_sites: HashMap<i64, Rc<[u8]>>,
    common: Option<Common>,
    pub row: Option<RowCache>,
}

/// Everything the engine keeps for one database connection.
pub struct Conn {
    pub db: Db,
    /// Set while the engine itself writes base tables, so the triggers stay quiet.
    pub sync_bit: Cell<bool>,
    /// Set while `crsql_merge_changes` merges a batch (`crsql_merging_batch()`), so triggers
    /// can leave costly work to the statement registered with `crsql_after_batch`.
    pub batch: Cell<bool>,
    /// A rollback happened while the state was in use; it is forgotten at the next use.
    rolled_back: Cell<bool>,
    inner: RefCell<Inner>,
}

impl Conn {
    pub fn new(db: Db) -> Conn {
        Conn {
            db,
            sync_bit: Cell::new(false),
            batch: Cell::new(false),
            rolled_back: Cell::new(false),
            inner: RefCell::new(Inner {
                site_id: None,
                tables: HashMap::new(),
                pending: None,
                seq: 0,
                committed: None,
                site_ords: HashMap::new(),
                ord_sites: HashMap::new(),
                common: None,
                row: None,
            }),
        }
    }

    pub fn inner(&self) -> Result<RefMut<'_, Inner>> {
        let mut inner = self
            .inner
            .try_borrow_mut()
            .map_err(|_| Error::new("the CRR engine was re-entered while busy"))?;
        if self.rolled_back.replace(false) {
            inner.forget_transaction();
        }
        Ok(inner)
    }

    /// Runs `f` with the engine's own base-table writes hidden from the triggers.
    pub fn quietly<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let before = self.sync_bit.replace(true);
        let r = f();
        self.sync_bit.set(before);
        r
    }
}

/// The transaction ended: what was pending is now committed (or gone).
pub unsafe extern "C" fn on_commit(arg: *mut c_void) -> c_int {
    let conn = &*(arg as *const Conn);
    if let Ok(mut inner) = conn.inner.try_borrow_mut() {
        if let (Some(p), Some((_, dv))) = (inner.pending, inner.committed) {
            inner.committed = Some((p, dv));
        } else if inner.pending.is_some() {
            inner.committed = None;
        }
        inner.pending = None;
        inner.seq = 0;
    }
    0
}

/// The transaction was rolled back: forget what it may have cached, including the site
/// ordinals a merge added to `crr_sites` (those rows are gone, and a later merge must insert
/// them again rather than record changes under an ordinal that another site may take).
/// A rollback can come while the engine is busy (a full disk in the middle of a merge); then
/// the state is forgotten at its next use.
pub unsafe extern "C" fn on_rollback(arg: *mut c_void) {
    let conn = &*(arg as *const Conn);
    match conn.inner.try_borrow_mut() {
        Ok(mut inner) => inner.forget_transaction(),
        Err(_) => conn.rolled_back.set(true),
    }
}

impl Inner {
    /// Forgets what the rolled-back transaction may have cached.
    fn forget_transaction(&mut self) {
        self.pending = None;
        self.seq = 0;
        self.committed = None;
        self.row = None;
        self.site_ords.clear();
        self.ord_sites.clear();
    }

    /// This database's site id (16 bytes).
    pub fn site_id(&mut self, db: Db) -> Result<Vec<u8>> {
        if let Some(s) = &self.site_id {
            return Ok(s.clone());
        }
        let mut st = db.prepare("SELECT site_id FROM crr_sites WHERE ord = 0")?;
        if st.step()? != Step::Row {
            return Err(Error::new(
                "this database has no site id (the CRR engine could not initialise it)",
            ));
        }
        let s = st.column_blob(0);
        self.site_id = Some(s.clone());
        Ok(s)
    }

    /// The ordinal that stands for a site id in clock records (0 is this database).
    pub fn site_ord(&mut self, db: Db, site: &[u8]) -> Result<i64> {
        if let Some(o) = self.site_ords.get(site) {
            return Ok(*o);
        }
        if self.site_id(db)? == site {
            self.site_ords.insert(site.to_vec(), 0);
            return Ok(0);
        }
        let mut st = db.prepare("SELECT ord FROM crr_sites WHERE site_id = ?1")?;
        st.bind_blob(1, site)?;
        let ord = if st.step()? == Step::Row {
            st.column_i64(0)
        } else {
            drop(st);
            let mut ins = db.prepare(
                "INSERT INTO crr_sites(ord, site_id) VALUES ((SELECT max(ord) + 1 FROM crr_sites), ?1) RETURNING ord",
            )?;
            ins.bind_blob(1, site)?;
            ins.step()?;
            let o = ins.column_i64(0);
            ins.reset();
            o
        };
        self.site_ords.insert(site.to_vec(), ord);
        Ok(ord)
    }

    /// The site id behind an ordinal.
    pub fn site_of(&mut self, db: Db, ord: i64) -> Result<Rc<[u8]>> {
        if let Some(s) = self.ord_sites.get(&ord) {
            return Ok(s.clone());
        }
        let mut st = db.prepare("SELECT site_id FROM crr_sites WHERE ord = ?1")?;
        st.bind_i64(1, ord)?;
        if st.step()? != Step::Row {
            return Err(Error(format!(
                "corrupt clock record: unknown site ordinal {ord}"
            )));
        }
        let s: Rc<[u8]> = st.column_blob(0).into();
        self.ord_sites.insert(ord, s.clone());
        Ok(s)
    }

    /// A tracked table by name (loaded on first use), or None when it is not tracked.
    pub fn table(&mut self, db: Db, name: &str) -> Result<Option<Rc<Table>>> {
        if let Some(t) = self.tables.get(name) {
            return Ok(Some(t.clone()));
        }
        let mut st = db.prepare("SELECT 1 FROM crr_tables WHERE tbl = ?1")?;
        st.bind_text(1, name)?;
        if st.step()? != Step::Row {
            return Ok(None);
        }
        drop(st);
        let t = Rc::new(Table::load(db, name)?);
        self.tables.insert(name.to_string(), t.clone());
        Ok(Some(t))
    }

    /// Forgets cached table layouts and statements (after a schema change, or at finalize).
    pub fn forget_tables(&mut self) {
        self.tables.clear();
    }

    /// Finalizes every cached statement so the connection can close.
    pub fn finalize(&mut self) {
        self.tables.clear();
        self.common = None;
        self.row = None;
    }

    pub fn tracked_tables(db: Db) -> Result<Vec<String>> {
        let mut st = db.prepare("SELECT tbl FROM crr_tables ORDER BY tbl")?;
        let mut out = Vec::new();
        while st.step()? == Step::Row {
            out.push(st.column_text(0));
        }
        Ok(out)
    }

    fn data_version(&mut self, db: Db) -> Result<i64> {
        if self.common.is_none() {
            self.common = Some(Common {
                data_version: db.prepare("PRAGMA data_version")?,
            });
        }
        let st = &mut self.common.as_mut().expect("set above").data_version;
        st.step()?;
        let v = st.column_i64(0);
        st.reset();
        Ok(v)
    }

    /// The highest committed db_version.
    pub fn db_version(&mut self, db: Db) -> Result<i64> {
        let dv = self.data_version(db)?;
        if let Some((v, at)) = self.committed {
            if at == dv {
                return Ok(v);
            }
        }
        let mut max = 0i64;
        let mut st = db.prepare("SELECT value FROM crr_meta WHERE key = 'db_version_floor'")?;
        if st.step()? == Step::Row {
            max = st.column_i64(0);
        }
        drop(st);
        for t in Self::tracked_tables(db)? {
            let mut st = db.prepare(&format!("SELECT max(dbv) FROM {}", clock_table(&t)))?;
            if st.step()? == Step::Row {
                max = max.max(st.column_i64(0));
            }
        }
        self.committed = Some((max, dv));
        Ok(max)
    }

    /// The db_version the open transaction writes with.
    pub fn next_db_version(&mut self, db: Db) -> Result<i64> {
        if let Some(p) = self.pending {
            return Ok(p);
        }
        let p = self.db_version(db)? + 1;
        self.pending = Some(p);
        Ok(p)
    }

    /// Where the seq counter stands (to undo a tentative use with [`Inner::seq_reset`]).
    pub fn seq_mark(&self) -> i64 {
        self.seq
    }

    pub fn seq_reset(&mut self, mark: i64) {
        self.seq = mark;
    }

    /// The next seq inside the open transaction.
    pub fn next_seq(&mut self) -> i64 {
        let s = self.seq;
        self.seq += 1;
        s
    }
}
