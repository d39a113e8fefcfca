//! Thin safe wrappers over the parts of SQLite's extension API that sqlite-loadable does not
//! wrap: prepared statements with every value type, transaction hooks and `exec`.
//!
//! Every call goes through the `sqlite3_api_routines` table handed to the entry point, which is
//! what makes the same library work in rusqlite's bundled SQLite and in a stock `sqlite3` shell.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

pub use sqlite_loadable::ext::{sqlite3, sqlite3_api_routines, sqlite3_stmt, sqlite3_value};

use crate::value::{Value, ValueRef};

pub const SQLITE_OK: c_int = 0;
pub const SQLITE_ROW: c_int = 100;
pub const SQLITE_DONE: c_int = 101;

static API: AtomicPtr<sqlite3_api_routines> = AtomicPtr::new(ptr::null_mut());

/// Remembers the routine table of the SQLite that loaded us.
pub fn set_api(api: *mut sqlite3_api_routines) {
    if !api.is_null() {
        API.store(api, Ordering::Release);
    }
}

fn api() -> &'static sqlite3_api_routines {
    // SAFETY: set once by the entry point before any function of ours can run; SQLite keeps
    // the table alive for the life of the process.
    unsafe { &*API.load(Ordering::Acquire) }
}

macro_rules! call {
    ($name:ident ( $($arg:expr),* )) => {
        (api().$name.expect(concat!("sqlite3 API lacks ", stringify!($name))))($($arg),*)
    };
}

/// An error from SQLite or from the engine, as text (what SQLite shows the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for sqlite_loadable::Error {
    fn from(e: Error) -> Self {
        sqlite_loadable::Error::new_message(e.0)
    }
}

/// SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
fn transient() -> Option<unsafe extern "C" fn(*mut c_void)> {
    // SAFETY: SQLite defines SQLITE_TRANSIENT as the destructor value -1 and never calls it.
    Some(unsafe { std::mem::transmute::<isize, unsafe extern "C" fn(*mut c_void)>(-1) })
}

/// A borrowed database handle.
#[derive(Clone, Copy, Debug)]
pub struct Db(pub *mut sqlite3);

impl Db {
    fn errmsg(self) -> String {
        // SAFETY: errmsg returns a NUL-terminated string owned by the connection.
        unsafe {
            let p = call!(errmsg(self.0));
            if p.is_null() {
                "unknown SQLite error".into()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        }
    }

    /// Prepares one statement.
    pub fn prepare(self, sql: &str) -> Result<Stmt> {
        let c = CString::new(sql).map_err(|_| Error::new("SQL text contains a NUL byte"))?;
        let mut stmt = ptr::null_mut();
        // SAFETY: valid handle and NUL-terminated SQL; SQLite writes the statement pointer.
        let rc = unsafe {
            call!(prepare_v2(
                self.0,
                c.as_ptr(),
                -1,
                &mut stmt,
                ptr::null_mut()
            ))
        };
        if rc != SQLITE_OK {
            return Err(Error(format!("{} (in: {sql})", self.errmsg())));
        }
        Ok(Stmt {
            db: self,
            raw: stmt,
        })
    }

    /// Runs one or more statements that return no rows of interest.
    pub fn exec(self, sql: &str) -> Result<()> {
        let c = CString::new(sql).map_err(|_| Error::new("SQL text contains a NUL byte"))?;
        let mut err: *mut c_char = ptr::null_mut();
        // SAFETY: valid handle; the error string is freed with sqlite3_free.
        let rc = unsafe { call!(exec(self.0, c.as_ptr(), None, ptr::null_mut(), &mut err)) };
        if rc == SQLITE_OK {
            return Ok(());
        }
        let msg = if err.is_null() {
            self.errmsg()
        } else {
            // SAFETY: err was allocated by SQLite and is NUL-terminated.
            unsafe {
                let m = CStr::from_ptr(err).to_string_lossy().into_owned();
                call!(free(err.cast()));
                m
            }
        };
        Err(Error(msg))
    }

    /// Rows changed by the last completed INSERT, UPDATE or DELETE on this connection.
    pub fn changes(self) -> i64 {
        // SAFETY: valid handle.
        unsafe { i64::from(call!(changes(self.0))) }
    }

    /// Installs the commit and rollback hooks (SQLite keeps one of each per connection).
    pub fn set_hooks(
        self,
        commit: unsafe extern "C" fn(*mut c_void) -> c_int,
        rollback: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
    ) {
        // SAFETY: the callbacks stay valid for the life of the library, arg for the connection.
        unsafe {
            call!(commit_hook(self.0, Some(commit), arg));
            call!(rollback_hook(self.0, Some(rollback), arg));
        }
    }
}

/// A prepared statement, finalized on drop.
pub struct Stmt {
    db: Db,
    raw: *mut sqlite3_stmt,
}

/// What one step of a statement produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Row,
    Done,
}

impl Stmt {
    /// Binds a value to the 1-based parameter `i`.
    pub fn bind(&mut self, i: c_int, v: ValueRef<'_>) -> Result<()> {
        let transient = transient();
        // SAFETY: the statement is live; pointers are valid for the given lengths.
        let rc = unsafe {
            match v {
                ValueRef::Null => call!(bind_null(self.raw, i)),
                ValueRef::Int(n) => call!(bind_int64(self.raw, i, n)),
                ValueRef::Real(f) => call!(bind_double(self.raw, i, f)),
                ValueRef::Text(t) => call!(bind_text64(
                    self.raw,
                    i,
                    t.as_ptr().cast(),
                    t.len() as u64,
                    transient,
                    1
                )),
                ValueRef::Blob(b) => call!(bind_blob64(
                    self.raw,
                    i,
                    b.as_ptr().cast(),
                    b.len() as u64,
                    transient
                )),
            }
        };
        self.check(rc)
    }

    pub fn bind_text(&mut self, i: c_int, t: &str) -> Result<()> {
        self.bind(i, ValueRef::Text(t.as_bytes()))
    }

    pub fn bind_i64(&mut self, i: c_int, v: i64) -> Result<()> {
        // SAFETY: live statement.
        let rc = unsafe { call!(bind_int64(self.raw, i, v)) };
        self.check(rc)
    }

    pub fn bind_blob(&mut self, i: c_int, b: &[u8]) -> Result<()> {
        let transient = transient();
        // SAFETY: live statement, valid slice.
        let rc = unsafe {
            call!(bind_blob64(
                self.raw,
                i,
                b.as_ptr().cast(),
                b.len() as u64,
                transient
            ))
        };
        self.check(rc)
    }

    fn check(&self, rc: c_int) -> Result<()> {
        if rc == SQLITE_OK {
            Ok(())
        } else {
            Err(Error(self.db.errmsg()))
        }
    }

    /// Steps once; an error resets the statement.
    pub fn step(&mut self) -> Result<Step> {
        // SAFETY: live statement.
        let rc = unsafe { call!(step(self.raw)) };
        match rc {
            SQLITE_ROW => Ok(Step::Row),
            SQLITE_DONE => Ok(Step::Done),
            _ => {
                let msg = self.db.errmsg();
                self.reset();
                Err(Error(msg))
            }
        }
    }

    /// Runs a statement that returns no rows, then resets it.
    pub fn run(&mut self) -> Result<()> {
        let r = self.step();
        self.reset();
        r.map(|_| ())
    }

    pub fn reset(&mut self) {
        // SAFETY: live statement.
        unsafe {
            call!(reset(self.raw));
        }
    }

    pub fn column_i64(&self, i: c_int) -> i64 {
        // SAFETY: called only while positioned on a row.
        unsafe { call!(column_int64(self.raw, i)) }
    }

    pub fn column_is_null(&self, i: c_int) -> bool {
        // SAFETY: positioned on a row.
        unsafe { call!(column_type(self.raw, i)) == 5 }
    }

    pub fn column_blob(&self, i: c_int) -> Vec<u8> {
        // SAFETY: positioned on a row; blob pointer valid until the next step/reset.
        unsafe {
            let p = call!(column_blob(self.raw, i));
            let n = call!(column_bytes(self.raw, i));
            if p.is_null() || n <= 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(p.cast::<u8>(), n as usize).to_vec()
            }
        }
    }

    pub fn column_text(&self, i: c_int) -> String {
        // SAFETY: positioned on a row.
        unsafe {
            let p = call!(column_text(self.raw, i));
            let n = call!(column_bytes(self.raw, i));
            if p.is_null() || n <= 0 {
                String::new()
            } else {
                String::from_utf8_lossy(std::slice::from_raw_parts(p, n as usize)).into_owned()
            }
        }
    }

    /// The column as an owned value.
    pub fn column_value(&self, i: c_int) -> Value {
        // SAFETY: positioned on a row; the value is copied before the next step.
        unsafe { Value::from_raw(call!(column_value(self.raw, i))) }
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: the statement is finalized exactly once.
        unsafe {
            call!(finalize(self.raw));
        }
    }
}

/// Raw accessors used to read values handed to functions and virtual tables.
pub mod raw {
    use super::*;

    pub unsafe fn value_type(v: *mut sqlite3_value) -> c_int {
        call!(value_type(v))
    }
    pub unsafe fn value_i64(v: *mut sqlite3_value) -> i64 {
        call!(value_int64(v))
    }
    pub unsafe fn value_f64(v: *mut sqlite3_value) -> f64 {
        call!(value_double(v))
    }
    pub unsafe fn value_bytes(v: *mut sqlite3_value, text: bool) -> &'static [u8] {
        let p: *const u8 = if text {
            call!(value_text(v))
        } else {
            call!(value_blob(v)).cast()
        };
        let n = call!(value_bytes(v));
        if p.is_null() || n <= 0 {
            &[]
        } else {
            std::slice::from_raw_parts(p, n as usize)
        }
    }
    pub unsafe fn result_text(ctx: *mut sqlite_loadable::ext::sqlite3_context, bytes: &[u8]) {
        call!(result_text64(
            ctx,
            bytes.as_ptr().cast(),
            bytes.len() as u64,
            transient(),
            1
        ))
    }
    pub unsafe fn mprintf(msg: &str) -> *mut c_char {
        let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        let fmt = c"%s";
        call!(mprintf(fmt.as_ptr(), c.as_ptr()))
    }
}
