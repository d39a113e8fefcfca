//! The history of a patient's record: who changed what, when, from which computer, old value to
//! new. Rows are only ever added (the schema refuses local edits and deletes); they replicate
//! like any record, so changes made on other computers appear here too.

use rusqlite::{params, Connection};

use super::{new_id, now, Actor, Result};

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: i64,
    pub staff_name: String,
    pub device_id: String,
    pub entity: String,
    pub field: String,
    pub old_value: String,
    pub new_value: String,
}

/// Adds a history row (call inside the transaction of the change itself).
#[allow(clippy::too_many_arguments)]
pub fn record(
    db: &Connection,
    actor: &Actor,
    patient_id: &str,
    entity: &str,
    entity_id: &str,
    field: &str,
    old_value: &str,
    new_value: &str,
) -> Result<()> {
    let change = [patient_id, entity, entity_id, field, old_value, new_value];
    insert(db, actor, change, "")
}

/// Adds the history row of an edit of a patient's field, naming the edits it replaces (see
/// `conflicts`): call it before any other edit of the same field in the transaction.
#[allow(clippy::too_many_arguments)]
pub fn record_edit(
    db: &Connection,
    actor: &Actor,
    patient_id: &str,
    entity: &str,
    entity_id: &str,
    field: &str,
    old_value: &str,
    new_value: &str,
) -> Result<()> {
    let base = super::conflicts::base_for(db, entity_id, field)?;
    let change = [patient_id, entity, entity_id, field, old_value, new_value];
    insert(db, actor, change, &base)
}

/// Writes the row; `base` only for edits (other rows leave the column out, so they read the
/// same on every schema version that has history).
fn insert(db: &Connection, actor: &Actor, change: [&str; 6], base: &str) -> Result<()> {
    let [patient_id, entity, entity_id, field, old_value, new_value] = change;
    let (base_column, base_value) = if base.is_empty() {
        ("", "")
    } else {
        (", base", ", ?11")
    };
    let mut st = db.prepare_cached(&format!(
        "INSERT INTO history(id, patient_id, entity, entity_id, field, old_value, new_value, staff_id, device_id, at{base_column})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10{base_value})"
    ))?;
    let values = params![
        new_id(),
        patient_id,
        entity,
        entity_id,
        field,
        old_value,
        new_value,
        actor.staff_id,
        actor.device_id,
        now(),
    ];
    if base.is_empty() {
        st.execute(values)?;
    } else {
        let mut all = values.to_vec();
        all.push(&base);
        st.execute(all.as_slice())?;
    }
    Ok(())
}

/// A patient's history, newest first. For someone whose roles do not include reading notes,
/// the text of visit edits and amendments is left out (the entries stay, so they see that the
/// note changed, and who changed it).
pub fn for_patient(db: &Connection, actor: &Actor, patient_id: &str) -> Result<Vec<Entry>> {
    let may_read = super::access::may_read_notes(db, actor, patient_id)?;
    let mut st = db.prepare_cached(
        "SELECT h.at, coalesce(s.name, ''), h.device_id, h.entity, h.field, h.old_value, h.new_value
         FROM history h LEFT JOIN staff s ON s.id = h.staff_id
         WHERE h.patient_id = ?1 ORDER BY h.at DESC, h.rowid DESC",
    )?;
    let rows = st.query_map([patient_id], |r| {
        Ok(Entry {
            at: r.get(0)?,
            staff_name: r.get(1)?,
            device_id: r.get(2)?,
            entity: r.get(3)?,
            field: r.get(4)?,
            old_value: r.get(5)?,
            new_value: r.get(6)?,
        })
    })?;
    let mut entries: Vec<Entry> = rows.collect::<rusqlite::Result<_>>()?;
    if !may_read {
        for e in entries
            .iter_mut()
            .filter(|e| e.entity == "visit" && !matches!(e.field.as_str(), "opened" | "finalised"))
        {
            e.old_value.clear();
            e.new_value.clear();
        }
    }
    Ok(entries)
}
