//! Conflicts made visible: two computers changed the same field of a patient while apart.
//!
//! Every edit of a patient's field names the edits it replaced (`history.base`: the heads of
//! that field's edits on the computer that made it). An edit made after seeing another one
//! replaces it; two edits made apart both stay heads. When a merge brings in an edit, the
//! schema's conflict check (run at the end of every merged batch, and by [`check`] for changes
//! merged one at a time) records each head whose value differs from the one the field holds,
//! beside the head that holds it: the kept value and the other. A record's id is made from the
//! two edits' ids, so every computer that finds the same clash writes the same row, once, and
//! the rows replicate like any record. A conflict stays open until an edit replaces both sides:
//! "Keep this" or "Use the other" here, or an ordinary edit of the field made on a computer that
//! held both values (its person saw the banner).

use rusqlite::{params, Connection};

use super::access::{self, Permission};
use super::{history, now, patients, Actor, ClinicError, Result};

/// Fields whose clash is a safety matter: shown in red until someone decides.
pub const SAFETY_FIELDS: [&str; 3] = ["allergies", "date_of_birth", "emergency_contact"];

/// One side of a conflict: the edit, its value, who made it, on which computer, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub edit: String,
    pub value: String,
    pub staff_name: String,
    /// The computer's name in the clinic, or "" when this computer does not know it.
    pub computer: String,
    /// The device id (site id, hex) that made the edit.
    pub device_id: String,
    pub at: i64,
}

/// An open conflict on one field of one patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub id: String,
    pub patient_id: String,
    pub patient_name: String,
    /// The column ("phone") and its label ("Phone").
    pub field: String,
    pub label: &'static str,
    /// The value the field holds on every computer (the merge rule's winner).
    pub kept: Side,
    /// The value that lost.
    pub other: Side,
}

impl Conflict {
    pub fn is_safety(&self) -> bool {
        SAFETY_FIELDS.contains(&self.field.as_str())
    }
}

/// What a person chose for a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Keep the value the field holds.
    Keep,
    /// Put the other value in place.
    UseOther,
}

/// The ids of the edits of one field that no other edit replaced, sorted.
pub fn heads(db: &Connection, entity_id: &str, field: &str) -> Result<Vec<String>> {
    let mut st = db.prepare_cached(
        "SELECT h.id FROM history h WHERE h.entity_id = ?1 AND h.field = ?2 AND h.base != ''
            AND NOT EXISTS (SELECT 1 FROM history c WHERE c.entity_id = h.entity_id
                AND c.field = h.field AND instr(',' || c.base || ',', ',' || h.id || ',') > 0)
         ORDER BY h.id",
    )?;
    let ids = st.query_map(params![entity_id, field], |r| r.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// What a new edit of the field replaces: its heads here, or '-' for the first edit.
pub fn base_for(db: &Connection, entity_id: &str, field: &str) -> Result<String> {
    let heads = heads(db, entity_id, field)?;
    Ok(if heads.is_empty() {
        "-".into()
    } else {
        heads.join(",")
    })
}

/// Runs the conflict check for edits merged one change at a time (`INSERT INTO
/// crsql_changes`), which no batch end has looked at yet. Batches run it themselves.
pub fn check(db: &Connection) -> Result<()> {
    let pending: bool = db
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM conflict_pending)")?
        .query_row([], |r| r.get(0))?;
    if pending {
        db.execute("INSERT INTO conflict_check VALUES (1)", [])?;
    }
    Ok(())
}

/// The open conflicts' columns: both sides, their people and computers, and the value the
/// field holds (`{current}`), for rows that pass `{filter}`.
fn select(filter: &str) -> String {
    let current: Vec<String> = patients::FIELDS
        .iter()
        .map(|(c, _)| format!("WHEN '{c}' THEN p.{c}"))
        .collect();
    let computer = |side: &str| {
        format!(
            "coalesce((SELECT d.name FROM peer_status ps JOIN devices d ON d.id = ps.id
                WHERE lower(hex(ps.site_id)) = c.{side}_device), '')"
        )
    };
    let head = |side: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM history h WHERE h.entity_id = c.entity_id
                AND h.field = c.field AND instr(',' || h.base || ',', ',' || c.{side}_edit || ',') > 0)"
        )
    };
    format!(
        "SELECT c.id, c.patient_id, p.given_name, p.family_name, c.field,
            c.a_edit, c.a_value, coalesce(sa.name, ''), c.a_device, c.a_at, {},
            c.b_edit, c.b_value, coalesce(sb.name, ''), c.b_device, c.b_at, {},
            CASE c.field {} END
        FROM conflicts c
        JOIN patients p ON p.id = c.patient_id
        LEFT JOIN staff sa ON sa.id = c.a_staff
        LEFT JOIN staff sb ON sb.id = c.b_staff
        WHERE c.resolved_at = 0 AND {} AND {} AND {filter}",
        computer("a"),
        computer("b"),
        current.join(" "),
        head("a"),
        head("b"),
    )
}

fn side(r: &rusqlite::Row, at: usize) -> rusqlite::Result<Side> {
    Ok(Side {
        edit: r.get(at)?,
        value: r.get(at + 1)?,
        staff_name: r.get(at + 2)?,
        device_id: r.get(at + 3)?,
        at: r.get(at + 4)?,
        computer: r.get(at + 5)?,
    })
}

/// The conflict of a row, or None when the field holds neither value now (a third edit, made
/// apart from both, won: its own records with each of them are the ones shown).
fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Option<Conflict>> {
    let field: String = r.get(4)?;
    let label = patients::FIELDS
        .iter()
        .find(|(c, _)| *c == field)
        .map_or("A field", |(_, l)| *l);
    let (a, b) = (side(r, 5)?, side(r, 11)?);
    let current: Option<String> = r.get(17)?;
    let (kept, other) = match current {
        Some(v) if v == a.value => (a, b),
        Some(v) if v == b.value => (b, a),
        _ => return Ok(None),
    };
    Ok(Some(Conflict {
        id: r.get(0)?,
        patient_id: r.get(1)?,
        patient_name: patients::display_name(&r.get::<_, String>(2)?, &r.get::<_, String>(3)?),
        label,
        field,
        kept,
        other,
    }))
}

fn query(db: &Connection, filter: &str, arg: &[&dyn rusqlite::ToSql]) -> Result<Vec<Conflict>> {
    let mut st = db.prepare_cached(&select(filter))?;
    let rows = st.query_map(arg, from_row)?;
    let mut out: Vec<Conflict> = rows
        .filter_map(|r| r.transpose())
        .collect::<rusqlite::Result<_>>()?;
    out.sort_by_key(|c| (!c.is_safety(), -c.kept.at.max(c.other.at)));
    Ok(out)
}

/// The open conflicts of one patient, safety fields first, then newest first.
pub fn for_patient(db: &Connection, patient_id: &str) -> Result<Vec<Conflict>> {
    query(db, "c.patient_id = ?1", &[&patient_id])
}

/// Every open conflict of the clinic, safety fields first, then newest first.
pub fn open(db: &Connection) -> Result<Vec<Conflict>> {
    query(db, "1", &[])
}

/// Settles an open conflict: the chosen value is written as an edit that replaces both sides
/// (recorded in history), and the record says who decided, where, when and how.
pub fn resolve(db: &Connection, actor: &Actor, id: &str, choice: Choice) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::PatientDetails)?;
    let c = query(&tx, "c.id = ?1", &[&id])?.pop().ok_or_else(|| {
        ClinicError::Refused("this conflict was already settled, here or elsewhere".into())
    })?;
    let (set_aside, chosen) = match choice {
        Choice::Keep => (&c.other.value, &c.kept.value),
        Choice::UseOther => (&c.kept.value, &c.other.value),
    };
    let column = patients::FIELDS
        .iter()
        .map(|(col, _)| *col)
        .find(|col| *col == c.field)
        .ok_or(ClinicError::NotFound("field"))?;
    if choice == Choice::UseOther {
        tx.execute(
            &format!("UPDATE patients SET {column} = ?1, updated_at = ?2 WHERE id = ?3"),
            params![chosen, now(), c.patient_id],
        )?;
    }
    history::record_edit(
        &tx,
        actor,
        &c.patient_id,
        "patient",
        &c.patient_id,
        column,
        set_aside,
        chosen,
    )?;
    tx.execute(
        "UPDATE conflicts SET resolved_at = ?1, resolved_by = ?2, resolved_on = ?3, outcome = ?4
         WHERE id = ?5",
        params![
            now(),
            actor.staff_id,
            actor.device_id,
            match choice {
                Choice::Keep => "kept",
                Choice::UseOther => "used the other",
            },
            id
        ],
    )?;
    tx.commit()?;
    Ok(())
}
