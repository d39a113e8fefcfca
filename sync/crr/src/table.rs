//! What the engine knows of one tracked table: its key and column slots, the checks that
//! `crsql_as_crr` makes, the clock table and triggers it creates, and the table's cached
//! statements.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::ffi::{Db, Error, Result, Step, Stmt};

/// Quotes an SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Widest table we track: the update trigger passes two values per column and SQLite's
/// default limit on function arguments is 127.
pub const MAX_COLUMNS: usize = 60;

/// A non-key column and its clock slot.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub slot: u32,
}

/// The statements the engine runs against one table, prepared once per connection.
pub struct Stmts {
    pub clock_get: Stmt,
    pub clock_put: Stmt,
    pub clock_new: Stmt,
    pub clock_update: Stmt,
    pub row_get: Stmt,
    pub row_insert_pk: Stmt,
    pub row_delete: Stmt,
    pub col_update: Vec<Stmt>,
    pub col_insert: Vec<Stmt>,
    /// Whole-row writes of a set of columns, by (insert?, column mask).
    row_writes: HashMap<(bool, u64), Stmt>,
}

impl Stmts {
    /// An INSERT (with the keys) or UPDATE of the columns that have a value in `cols`;
    /// parameters: the values in column order, then the keys.
    pub fn row_write(
        &mut self,
        db: Db,
        t: &Table,
        insert: bool,
        cols: &[Option<&crate::value::Value>],
    ) -> Result<&mut Stmt> {
        let mask = cols
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .fold(0u64, |m, (i, _)| m | (1 << i));
        if let std::collections::hash_map::Entry::Vacant(slot) =
            self.row_writes.entry((insert, mask))
        {
            let names: Vec<String> = t
                .cols
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, c)| ident(&c.name))
                .collect();
            let n = names.len();
            let sql = if insert {
                format!(
                    "INSERT INTO {}({}, {}) VALUES ({})",
                    ident(&t.name),
                    names.join(", "),
                    t.pk_list(),
                    (1..=n + t.pks.len())
                        .map(|i| format!("?{i}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!(
                    "UPDATE {} SET {} WHERE {}",
                    ident(&t.name),
                    names
                        .iter()
                        .enumerate()
                        .map(|(i, c)| format!("{c} = ?{}", i + 1))
                        .collect::<Vec<_>>()
                        .join(", "),
                    pk_where(&t.pks, n + 1)
                )
            };
            slot.insert(db.prepare(&sql)?);
        }
        Ok(self
            .row_writes
            .get_mut(&(insert, mask))
            .expect("inserted above"))
    }
}

/// A tracked table.
pub struct Table {
    pub name: String,
    pub pks: Vec<String>,
    pub cols: Vec<Column>,
    /// What merges may not do to this table (see [`Protect`]).
    pub protect: Protect,
    by_name: HashMap<String, usize>,
    pub stmts: RefCell<Option<Stmts>>,
}

/// Rules a table keeps against merged changes, set with `crsql_protect(table, how)` and kept in
/// `crr_meta`: a change that breaks one is held back in `crr_quarantine` with the reason,
/// exactly as on every other computer that keeps the same rule, so copies stay equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protect {
    #[default]
    Nothing,
    /// Rows are never deleted (a change with an even causal length is refused).
    KeepRows,
    /// Rows are never deleted and a value, once written, never changes (a change with a
    /// column version above 1 is refused).
    AppendOnly,
}

impl Protect {
    pub fn parse(how: &str) -> Option<Protect> {
        match how {
            "none" => Some(Protect::Nothing),
            "keep-rows" => Some(Protect::KeepRows),
            "append-only" => Some(Protect::AppendOnly),
            _ => None,
        }
    }

    /// The `crr_meta` key that holds a table's rule.
    pub fn key(table: &str) -> String {
        format!("protect:{table}")
    }

    /// Why a merged change breaks this rule, if it does (`column` false for a row's sentinel).
    pub fn refuses(self, cl: i64, column: bool, col_version: i64) -> Option<&'static str> {
        match self {
            Protect::Nothing => None,
            _ if cl % 2 == 0 => Some("rows of this table are never deleted"),
            Protect::AppendOnly if column && col_version > 1 => {
                Some("this table is append-only: a value once written never changes")
            }
            _ => None,
        }
    }
}

pub fn clock_table(t: &str) -> String {
    ident(&format!("{t}__crr_clock"))
}

fn pk_where(pks: &[String], first_param: usize) -> String {
    pks.iter()
        .enumerate()
        .map(|(i, p)| format!("{} = ?{}", ident(p), first_param + i))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Columns of a table as `PRAGMA table_xinfo` reports them.
struct RawColumn {
    name: String,
    notnull: bool,
    has_default: bool,
    pk: i64,
    hidden: i64,
    decl_type: String,
}

fn raw_columns(db: Db, t: &str) -> Result<Vec<RawColumn>> {
    let mut st = db.prepare(&format!("PRAGMA table_xinfo({})", ident(t)))?;
    let mut out = Vec::new();
    while st.step()? == Step::Row {
        out.push(RawColumn {
            name: st.column_text(1),
            decl_type: st.column_text(2),
            notnull: st.column_i64(3) != 0,
            has_default: !st.column_is_null(4),
            pk: st.column_i64(5),
            hidden: st.column_i64(6),
        });
    }
    Ok(out)
}

fn refuse(t: &str, why: impl std::fmt::Display) -> Error {
    Error(format!(
        "crsql_as_crr: table \"{t}\" cannot be tracked: {why}"
    ))
}

/// Checks that a table can be tracked; the error names the table and the reason.
pub fn validate(db: Db, t: &str) -> Result<()> {
    let mut st = db.prepare("SELECT type, sql FROM sqlite_master WHERE name = ?1")?;
    st.bind_text(1, t)?;
    if st.step()? != Step::Row {
        return Err(refuse(t, "no such table"));
    }
    let (kind, sql) = (st.column_text(0), st.column_text(1));
    drop(st);
    if kind != "table" || sql.to_ascii_lowercase().starts_with("create virtual") {
        return Err(refuse(t, "it is not an ordinary table"));
    }
    if sql.to_ascii_lowercase().contains("autoincrement") {
        return Err(refuse(t, "it uses AUTOINCREMENT (use random ids such as UUIDs: counters collide between devices)"));
    }
    let cols = raw_columns(db, t)?;
    let pks: Vec<&RawColumn> = cols.iter().filter(|c| c.pk > 0).collect();
    if pks.is_empty() {
        return Err(refuse(t, "it has no primary key"));
    }
    let rowid_alias = pks.len() == 1 && pks[0].decl_type.eq_ignore_ascii_case("integer");
    for p in &pks {
        if !p.notnull && !rowid_alias {
            return Err(refuse(
                t,
                format!("primary key column \"{}\" is not NOT NULL", p.name),
            ));
        }
    }
    for c in &cols {
        if c.hidden != 0 {
            return Err(refuse(
                t,
                format!("column \"{}\" is generated or hidden", c.name),
            ));
        }
        if c.pk == 0 && c.notnull && !c.has_default {
            return Err(refuse(
                t,
                format!("column \"{}\" is NOT NULL without a DEFAULT (a change that arrives alone could not create the row)", c.name),
            ));
        }
    }
    if cols.len() - pks.len() > MAX_COLUMNS {
        return Err(refuse(
            t,
            format!("it has more than {MAX_COLUMNS} non-key columns"),
        ));
    }
    let mut st = db.prepare(&format!("PRAGMA index_list({})", ident(t)))?;
    while st.step()? == Step::Row {
        if st.column_i64(2) != 0 && st.column_text(3) != "pk" {
            return Err(refuse(
                t,
                format!(
                    "unique index \"{}\" besides the primary key (merges could not keep it unique)",
                    st.column_text(1)
                ),
            ));
        }
    }
    Ok(())
}

impl Table {
    /// Loads a tracked table's layout; assigns slots to columns seen for the first time.
    pub fn load(db: Db, t: &str) -> Result<Table> {
        let cols = raw_columns(db, t)?;
        if cols.is_empty() {
            return Err(Error(format!("tracked table \"{t}\" no longer exists")));
        }
        let mut pk_cols: Vec<&RawColumn> = cols.iter().filter(|c| c.pk > 0).collect();
        pk_cols.sort_by_key(|c| c.pk);
        let mut slots: HashMap<String, u32> = HashMap::new();
        let mut next_slot = 1u32;
        let mut st = db.prepare("SELECT name, slot FROM crr_columns WHERE tbl = ?1")?;
        st.bind_text(1, t)?;
        while st.step()? == Step::Row {
            let slot = st.column_i64(1) as u32;
            next_slot = next_slot.max(slot + 1);
            slots.insert(st.column_text(0), slot);
        }
        drop(st);
        let mut columns = Vec::new();
        for c in cols.iter().filter(|c| c.pk == 0) {
            let slot = match slots.get(&c.name) {
                Some(s) => *s,
                None => {
                    let s = next_slot;
                    next_slot += 1;
                    let mut ins =
                        db.prepare("INSERT INTO crr_columns(tbl, name, slot) VALUES (?1, ?2, ?3)")?;
                    ins.bind_text(1, t)?;
                    ins.bind_text(2, &c.name)?;
                    ins.bind_i64(3, i64::from(s))?;
                    ins.run()?;
                    s
                }
            };
            columns.push(Column {
                name: c.name.clone(),
                slot,
            });
        }
        let by_name = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        let mut st = db.prepare("SELECT value FROM crr_meta WHERE key = ?1")?;
        st.bind_text(1, &Protect::key(t))?;
        let protect = if st.step()? == Step::Row {
            Protect::parse(&st.column_text(0)).unwrap_or_default()
        } else {
            Protect::Nothing
        };
        drop(st);
        Ok(Table {
            name: t.to_string(),
            pks: pk_cols.iter().map(|c| c.name.clone()).collect(),
            cols: columns,
            protect,
            by_name,
            stmts: RefCell::new(None),
        })
    }

    /// Index of a non-key column by name.
    pub fn col_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Index of a non-key column by slot.
    pub fn col_by_slot(&self, slot: u32) -> Option<usize> {
        self.cols.iter().position(|c| c.slot == slot)
    }

    pub fn pk_list(&self) -> String {
        self.pks
            .iter()
            .map(|p| ident(p))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `SELECT` of all non-key columns of one row (or `1` for a key-only table).
    pub fn row_select_sql(&self) -> String {
        let cols = if self.cols.is_empty() {
            "1".to_string()
        } else {
            self.cols
                .iter()
                .map(|c| ident(&c.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "SELECT {cols} FROM {} WHERE {}",
            ident(&self.name),
            pk_where(&self.pks, 1)
        )
    }

    /// Prepares the table's statements on first use.
    pub fn stmts(&self, db: Db) -> Result<std::cell::RefMut<'_, Stmts>> {
        let mut slot = self
            .stmts
            .try_borrow_mut()
            .map_err(|_| Error::new("re-entrant use of a table's statements"))?;
        if slot.is_none() {
            let t = ident(&self.name);
            let clk = clock_table(&self.name);
            let n = self.pks.len();
            let params = |from: usize, count: usize| {
                (from..from + count)
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut col_update = Vec::new();
            let mut col_insert = Vec::new();
            for c in &self.cols {
                col_update.push(db.prepare(&format!(
                    "UPDATE {t} SET {} = ?1 WHERE {}",
                    ident(&c.name),
                    pk_where(&self.pks, 2)
                ))?);
                col_insert.push(db.prepare(&format!(
                    "INSERT INTO {t}({}, {}) VALUES ({}, ?1)",
                    self.pk_list(),
                    ident(&c.name),
                    params(2, n)
                ))?);
            }
            *slot = Some(Stmts {
                clock_get: db.prepare(&format!("SELECT cl, clocks FROM {clk} WHERE pk = ?1"))?,
                clock_put: db.prepare(&format!(
                    "INSERT OR REPLACE INTO {clk}(pk, dbv, cl, clocks) VALUES (?1, ?2, ?3, ?4)"
                ))?,
                clock_update: db.prepare(&format!(
                    "UPDATE {clk} SET dbv = ?2, cl = ?3, clocks = ?4 WHERE pk = ?1"
                ))?,
                clock_new: db.prepare(&format!(
                    "INSERT INTO {clk}(pk, dbv, cl, clocks) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"
                ))?,
                row_get: db.prepare(&self.row_select_sql())?,
                row_insert_pk: db.prepare(&format!(
                    "INSERT OR IGNORE INTO {t}({}) VALUES ({})",
                    self.pk_list(),
                    params(1, n)
                ))?,
                row_delete: db
                    .prepare(&format!("DELETE FROM {t} WHERE {}", pk_where(&self.pks, 1)))?,
                col_update,
                col_insert,
                row_writes: HashMap::new(),
            });
        }
        Ok(std::cell::RefMut::map(slot, |s| {
            s.as_mut().expect("prepared above")
        }))
    }

    /// Creates the clock table and its db_version index.
    pub fn create_clock_sql(t: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {clk} (pk BLOB PRIMARY KEY NOT NULL, dbv INTEGER NOT NULL, \
             cl INTEGER NOT NULL, clocks BLOB NOT NULL) WITHOUT ROWID;\n\
             CREATE INDEX IF NOT EXISTS {idx} ON {clk}(dbv);",
            clk = clock_table(t),
            idx = ident(&format!("{t}__crr_clock_dbv")),
        )
    }

    /// The three triggers that record local writes.
    pub fn create_triggers_sql(&self) -> String {
        let t = ident(&self.name);
        let lit = literal(&self.name);
        let refs = |prefix: &str, names: &mut dyn Iterator<Item = &String>| {
            names
                .map(|n| format!("{prefix}.{}", ident(n)))
                .collect::<Vec<_>>()
        };
        let new_pk = refs("NEW", &mut self.pks.iter());
        let old_pk = refs("OLD", &mut self.pks.iter());
        let mut upd_args = vec![lit.clone()];
        upd_args.extend(old_pk.iter().cloned());
        upd_args.extend(new_pk.iter().cloned());
        for c in &self.cols {
            upd_args.push(format!("OLD.{}", ident(&c.name)));
            upd_args.push(format!("NEW.{}", ident(&c.name)));
        }
        let name = |suffix: &str| ident(&format!("{}__crr_{suffix}", self.name));
        format!(
            "CREATE TRIGGER IF NOT EXISTS {ins} AFTER INSERT ON {t} BEGIN SELECT crr_local_insert({lit}, {np}); END;\n\
             CREATE TRIGGER IF NOT EXISTS {upd} AFTER UPDATE ON {t} BEGIN SELECT crr_local_update({ua}); END;\n\
             CREATE TRIGGER IF NOT EXISTS {del} AFTER DELETE ON {t} BEGIN SELECT crr_local_delete({lit}, {op}); END;",
            ins = name("ins"),
            upd = name("upd"),
            del = name("del"),
            np = new_pk.join(", "),
            op = old_pk.join(", "),
            ua = upd_args.join(", "),
        )
    }

    pub fn drop_triggers_sql(t: &str) -> String {
        ["ins", "upd", "del"]
            .iter()
            .map(|s| {
                format!(
                    "DROP TRIGGER IF EXISTS {};",
                    ident(&format!("{t}__crr_{s}"))
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Prepared statement parameters from a slice of owned key values, starting at `first`.
pub fn bind_pk(st: &mut Stmt, first: i32, pk: &[crate::value::Value]) -> Result<()> {
    for (i, v) in pk.iter().enumerate() {
        st.bind(first + i as i32, v.as_ref())?;
    }
    Ok(())
}

impl Table {
    /// The clock record of one row, if it has one.
    pub fn read_clock(&self, db: Db, pk: &[u8]) -> Result<Option<crate::clocks::RowClock>> {
        let mut s = self.stmts(db)?;
        let st = &mut s.clock_get;
        st.bind_blob(1, pk)?;
        let out = if st.step()? == Step::Row {
            Some(crate::clocks::RowClock::decode(
                st.column_i64(0),
                &st.column_blob(1),
            ))
        } else {
            None
        };
        st.reset();
        out.transpose()
    }

    /// Writes the clock record of a row that has none; false if it already had one.
    pub fn insert_new_clock(
        &self,
        db: Db,
        pk: &[u8],
        clock: &crate::clocks::RowClock,
    ) -> Result<bool> {
        let mut s = self.stmts(db)?;
        let st = &mut s.clock_new;
        st.bind_blob(1, pk)?;
        st.bind_i64(2, clock.max_db_version())?;
        st.bind_i64(3, clock.cl)?;
        st.bind_blob(4, &clock.encode())?;
        st.run()?;
        Ok(db.changes() == 1)
    }

    /// Writes one row's clock record; `stored` says whether the row already has one (an
    /// UPDATE is cheaper than a REPLACE).
    pub fn write_clock(
        &self,
        db: Db,
        pk: &[u8],
        clock: &crate::clocks::RowClock,
        stored: bool,
    ) -> Result<()> {
        let mut s = self.stmts(db)?;
        let st = if stored {
            &mut s.clock_update
        } else {
            &mut s.clock_put
        };
        st.bind_blob(1, pk)?;
        st.bind_i64(2, clock.max_db_version())?;
        st.bind_i64(3, clock.cl)?;
        st.bind_blob(4, &clock.encode())?;
        st.run()
    }
}
