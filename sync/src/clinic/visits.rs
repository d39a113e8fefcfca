//! Visit notes: a doctor writes complaint, findings, diagnosis, plan and prescriptions;
//! finalising locks the note, and corrections are added as amendments, never overwriting it.
//! The lock holds for merged changes too: finalising keeps a copy of the text in the
//! append-only `final_notes`, and that copy is the note from then on; an edit that another
//! computer made before the lock reached it is shown beside it as a late edit.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::access::{self, Permission};
use super::{history, new_id, now, parse_date, Actor, ClinicError, FieldError, Result};

/// The parts of a note.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitFields {
    pub complaint: String,
    pub findings: String,
    pub diagnosis: String,
    pub plan: String,
    pub prescriptions: String,
}

/// Note columns and their labels, in order.
pub const FIELDS: [(&str, &str); 5] = [
    ("complaint", "Complaint"),
    ("findings", "Findings"),
    ("diagnosis", "Diagnosis"),
    ("plan", "Plan"),
    ("prescriptions", "Prescriptions"),
];

impl VisitFields {
    pub fn get(&self, column: &str) -> &str {
        match column {
            "complaint" => &self.complaint,
            "findings" => &self.findings,
            "diagnosis" => &self.diagnosis,
            "plan" => &self.plan,
            _ => &self.prescriptions,
        }
    }
}

/// A correction to a finalised note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amendment {
    pub body: String,
    pub staff_name: String,
    pub at: i64,
}

/// A visit (encounter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub id: String,
    pub patient_id: String,
    pub clinician_id: String,
    pub clinician_name: String,
    pub visit_date: String,
    pub fields: VisitFields,
    pub finalized_at: i64,
    pub amendments: Vec<Amendment>,
    /// Parts of a finalised note that another computer changed before it learnt of the lock:
    /// (column, the text it wrote). The note itself keeps its finalised text.
    pub late_edits: Vec<(&'static str, String)>,
    /// The clinical text was left out: the signed-in person's roles do not include reading
    /// notes (a receptionist sees that a visit exists, not what it says).
    pub withheld: bool,
}

impl Visit {
    pub fn is_final(&self) -> bool {
        self.finalized_at != 0
    }
}

const SELECT: &str =
    "SELECT v.id, v.patient_id, v.clinician_id, coalesce(s.name, ''), v.visit_date, \
    v.complaint, v.findings, v.diagnosis, v.plan, v.prescriptions, v.finalized_at \
    FROM visits v LEFT JOIN staff s ON s.id = v.clinician_id";

fn from_row(r: &Row) -> rusqlite::Result<Visit> {
    Ok(Visit {
        id: r.get(0)?,
        patient_id: r.get(1)?,
        clinician_id: r.get(2)?,
        clinician_name: r.get(3)?,
        visit_date: r.get(4)?,
        fields: VisitFields {
            complaint: r.get(5)?,
            findings: r.get(6)?,
            diagnosis: r.get(7)?,
            plan: r.get(8)?,
            prescriptions: r.get(9)?,
        },
        finalized_at: r.get(10)?,
        amendments: Vec::new(),
        late_edits: Vec::new(),
        withheld: false,
    })
}

/// Leaves out what the signed-in person may not read.
fn for_reader(mut v: Visit, may_read: bool) -> Visit {
    if !may_read {
        v.fields = VisitFields::default();
        v.amendments.clear();
        v.late_edits.clear();
        v.withheld = true;
    }
    v
}

/// Puts the finalised copy of the note in place, if there is one (the earliest, when two
/// computers finalised it while apart), and names what the visit row says otherwise.
fn settle(db: &Connection, v: &mut Visit) -> Result<()> {
    let copy = db
        .prepare_cached(
            "SELECT complaint, findings, diagnosis, plan, prescriptions, finalized_at
             FROM final_notes WHERE visit_id = ?1 ORDER BY finalized_at, id LIMIT 1",
        )?
        .query_row([&v.id], |r| {
            Ok((
                VisitFields {
                    complaint: r.get(0)?,
                    findings: r.get(1)?,
                    diagnosis: r.get(2)?,
                    plan: r.get(3)?,
                    prescriptions: r.get(4)?,
                },
                r.get::<_, i64>(5)?,
            ))
        })
        .optional()?;
    if let Some((fields, at)) = copy {
        v.late_edits = FIELDS
            .iter()
            .filter(|(c, _)| v.fields.get(c) != fields.get(c))
            .map(|(c, _)| (*c, v.fields.get(c).to_string()))
            .collect();
        v.fields = fields;
        v.finalized_at = at;
    }
    v.amendments = amendments(db, &v.id)?;
    Ok(())
}

fn amendments(db: &Connection, visit_id: &str) -> Result<Vec<Amendment>> {
    let mut st = db.prepare_cached(
        "SELECT a.body, coalesce(s.name, ''), a.at FROM amendments a LEFT JOIN staff s ON s.id = a.staff_id
         WHERE a.visit_id = ?1 ORDER BY a.at, a.rowid",
    )?;
    let rows = st.query_map([visit_id], |r| {
        Ok(Amendment {
            body: r.get(0)?,
            staff_name: r.get(1)?,
            at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn load(db: &Connection, id: &str) -> Result<Visit> {
    let mut v = db
        .prepare_cached(&format!("{SELECT} WHERE v.id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or(ClinicError::NotFound("visit"))?;
    settle(db, &mut v)?;
    Ok(v)
}

/// One visit with its amendments, as far as the signed-in person may read it.
pub fn get(db: &Connection, actor: &Actor, id: &str) -> Result<Visit> {
    let v = load(db, id)?;
    let may = access::may_read_notes(db, actor, &v.patient_id)?;
    Ok(for_reader(v, may))
}

/// A patient's visits, newest first, with amendments, as far as the signed-in person may read
/// them.
pub fn for_patient(db: &Connection, actor: &Actor, patient_id: &str) -> Result<Vec<Visit>> {
    let may = access::may_read_notes(db, actor, patient_id)?;
    let mut st = db.prepare_cached(&format!(
        "{SELECT} WHERE v.patient_id = ?1 ORDER BY v.visit_date DESC, v.rowid DESC"
    ))?;
    let mut visits: Vec<Visit> = st
        .query_map([patient_id], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    for v in &mut visits {
        settle(db, v)?;
    }
    Ok(visits.into_iter().map(|v| for_reader(v, may)).collect())
}

/// Records in the access log that the signed-in person read this visit's note (call when the
/// note is shown with its text).
pub fn record_reading(db: &Connection, actor: &Actor, id: &str) -> Result<()> {
    let v = load(db, id)?;
    if !access::may_read_notes(db, actor, &v.patient_id)? {
        return Err(ClinicError::Refused(
            "only nurses or doctors can read visit notes".into(),
        ));
    }
    access::log(db, actor, access::Action::ReadVisit, &v.patient_id, id, "")
}

/// Opens a new, empty note for a patient seen by `clinician_id` on `date` (`YYYY-MM-DD`).
pub fn start(
    db: &Connection,
    actor: &Actor,
    patient_id: &str,
    clinician_id: &str,
    date: &str,
) -> Result<String> {
    if parse_date(date).is_none() {
        return Err(ClinicError::Invalid(vec![FieldError {
            field: "visit_date",
            message: "Visit date must be a date like 2026-11-23".into(),
        }]));
    }
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::WriteNotes)?;
    super::patients::get(&tx, patient_id)?;
    let id = new_id();
    tx.execute(
        "INSERT INTO visits(id, patient_id, clinician_id, visit_date) VALUES (?1, ?2, ?3, ?4)",
        params![id, patient_id, clinician_id, date],
    )?;
    history::record(&tx, actor, patient_id, "visit", &id, "opened", "", date)?;
    tx.commit()?;
    Ok(id)
}

fn locked() -> ClinicError {
    ClinicError::Refused("this visit note is finalised; add an amendment instead".into())
}

/// Saves a draft note (refused once the note is finalised).
pub fn save(db: &Connection, actor: &Actor, id: &str, fields: &VisitFields) -> Result<Visit> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::WriteNotes)?;
    let before = load(&tx, id)?;
    if before.is_final() {
        return Err(locked());
    }
    for (column, _) in FIELDS {
        let (old, new) = (before.fields.get(column), fields.get(column));
        if old != new {
            tx.execute(
                &format!("UPDATE visits SET {column} = ?1 WHERE id = ?2"),
                params![new, id],
            )?;
            history::record(
                &tx,
                actor,
                &before.patient_id,
                "visit",
                id,
                column,
                old,
                new,
            )?;
        }
    }
    tx.commit()?;
    load(db, id)
}

/// Finalises (locks) a note.
pub fn finalize(db: &Connection, actor: &Actor, id: &str) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::FinaliseNotes)?;
    let v = load(&tx, id)?;
    if v.is_final() {
        return Err(locked());
    }
    if FIELDS
        .iter()
        .all(|(c, _)| v.fields.get(c).trim().is_empty())
    {
        return Err(ClinicError::Refused(
            "an empty note cannot be finalised".into(),
        ));
    }
    let at = now();
    tx.execute(
        "UPDATE visits SET finalized_at = ?1, finalized_by = ?2 WHERE id = ?3",
        params![at, actor.staff_id, id],
    )?;
    let f = &v.fields;
    tx.execute(
        "INSERT INTO final_notes(id, visit_id, complaint, findings, diagnosis, plan,
             prescriptions, finalized_at, finalized_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            format!("{id}:{}", actor.device_id),
            id,
            f.complaint,
            f.findings,
            f.diagnosis,
            f.plan,
            f.prescriptions,
            at,
            actor.staff_id
        ],
    )?;
    history::record(
        &tx,
        actor,
        &v.patient_id,
        "visit",
        id,
        "finalised",
        "",
        &v.visit_date,
    )?;
    tx.commit()?;
    Ok(())
}

/// Adds an amendment to a finalised note.
pub fn amend(db: &Connection, actor: &Actor, id: &str, body: &str) -> Result<()> {
    let body = body.trim();
    if body.is_empty() {
        return Err(ClinicError::Invalid(vec![FieldError {
            field: "amendment",
            message: "An amendment needs some text".into(),
        }]));
    }
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::FinaliseNotes)?;
    let v = load(&tx, id)?;
    if !v.is_final() {
        return Err(ClinicError::Refused(
            "a draft note is edited directly; amendments are for finalised notes".into(),
        ));
    }
    tx.execute(
        "INSERT INTO amendments(id, visit_id, body, staff_id, device_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![new_id(), id, body, actor.staff_id, actor.device_id, now()],
    )?;
    history::record(&tx, actor, &v.patient_id, "visit", id, "amended", "", body)?;
    tx.commit()?;
    Ok(())
}
