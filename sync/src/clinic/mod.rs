//! The clinic's records: patients, appointments, visits, staff and the history of every change,
//! as plain functions over the writer connection. Every operation takes the signed-in person and
//! checks what their roles allow (`access`); every write runs in one transaction with its
//! history rows and names that person and this computer. Error messages never contain patient
//! data.

pub mod access;
pub mod appointments;
pub mod attention;
pub mod book;
pub mod chart;
pub mod conflicts;
pub mod demo;
pub mod history;
pub mod hours;
pub mod patients;
pub mod pin;
pub mod profile;
pub mod roles;
pub mod search;
pub mod settings;
pub mod staff;
pub mod visits;
pub mod when;

use rusqlite::Connection;

/// A field the user must correct, with a message for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// What can go wrong with a clinic operation.
#[derive(Debug, thiserror::Error)]
pub enum ClinicError {
    #[error("please correct: {}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("that {0} no longer exists")]
    NotFound(&'static str),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, ClinicError>;

/// Who makes a change: the person at the keyboard and this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub staff_id: String,
    pub device_id: String,
}

impl Actor {
    /// The actor for a staff member at this computer (its device id is the database's site id).
    pub fn at_this_device(db: &Connection, staff_id: &str) -> Result<Actor> {
        Ok(Actor {
            staff_id: staff_id.to_string(),
            device_id: device_id(db)?,
        })
    }
}

/// This computer's id in records: the hex of the database's site id.
pub fn device_id(db: &Connection) -> Result<String> {
    let site: Vec<u8> = db.query_row("SELECT crsql_site_id()", [], |r| r.get(0))?;
    Ok(site.iter().map(|b| format!("{b:02x}")).collect())
}

/// A new record id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Seconds since 1970 (UTC).
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `YYYY-MM-DD`, a real date.
pub fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// All or nothing: a transaction that takes the write lock at once (so a read followed by a
/// write can never be refused because another program, the app or `serve`, wrote in between),
/// or, inside a caller's transaction, a savepoint; rolled back unless committed.
pub struct Atomic<'a> {
    db: &'a Connection,
    done: bool,
    /// This began the transaction (rather than a savepoint inside the caller's).
    outer: bool,
}

impl<'a> Atomic<'a> {
    pub fn begin(db: &'a Connection) -> Result<Atomic<'a>> {
        let outer = db.is_autocommit();
        db.execute_batch(if outer {
            "BEGIN IMMEDIATE"
        } else {
            "SAVEPOINT clinic_op"
        })?;
        Ok(Atomic {
            db,
            done: false,
            outer,
        })
    }

    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.db.execute_batch(if self.outer {
            "COMMIT"
        } else {
            "RELEASE clinic_op"
        })?;
        Ok(())
    }
}

impl std::ops::Deref for Atomic<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.db
    }
}

impl Drop for Atomic<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.db.execute_batch(if self.outer {
                "ROLLBACK"
            } else {
                "ROLLBACK TO clinic_op; RELEASE clinic_op"
            });
        }
    }
}
