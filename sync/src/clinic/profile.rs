//! The clinic's identity: an id (and a name) shared by every computer of the clinic through the
//! replicated `clinic` table, so a backup can tell whether it belongs to this clinic.
//!
//! The identity is made on first need (the first backup, or the first run naming the clinic).
//! Two computers that each made one before they were paired keep both rows once they merge:
//! every row is an identity of this clinic, and the oldest is the one shown and written into
//! new backups, so all copies agree on it.

use rusqlite::{params, Connection, OptionalExtension};

/// Who the clinic is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clinic {
    pub id: String,
    pub name: String,
}

/// The clinic's identity, if it has one yet (the oldest row; ties go to the smaller id).
pub fn current(db: &Connection) -> rusqlite::Result<Option<Clinic>> {
    db.query_row(
        "SELECT id, name FROM clinic ORDER BY created_at, id LIMIT 1",
        [],
        |r| {
            Ok(Clinic {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        },
    )
    .optional()
}

/// Whether `id` is one of this clinic's identities.
pub fn is_ours(db: &Connection, id: &str) -> rusqlite::Result<bool> {
    db.query_row(
        "SELECT EXISTS(SELECT 1 FROM clinic WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )
}

/// The clinic's identity, made now (named `name`) if it has none yet.
pub fn ensure(db: &Connection, name: &str) -> rusqlite::Result<Clinic> {
    if let Some(c) = current(db)? {
        return Ok(c);
    }
    let id = super::new_id();
    db.execute(
        "INSERT INTO clinic(id, name, created_at) VALUES (?1, ?2, ?3)",
        params![id, name, super::now()],
    )?;
    Ok(Clinic {
        id,
        name: name.to_string(),
    })
}
