//! What needs a person's decision, for the whole clinic: open conflicts (see `conflicts`), late
//! edits to finalised notes (made on a computer that had not yet heard of the lock; a doctor
//! looks at them), changes held back because this computer's schema is older, and possible
//! duplicate patients created on two computers at about the same time. What is decided here is
//! recorded in `attention` (replicated), so it is settled on every computer.

use rusqlite::{params, Connection};

use super::access::{self, Permission};
use super::conflicts::{self, Conflict};
use super::patients::{self, PatientFields};
use super::visits::FIELDS as NOTE_FIELDS;
use super::{history, now, Actor, ClinicError, Result};
use crate::net::roster::{self, HeldBack};

/// Two records created this close together on two computers may be one person entered twice.
pub const DUPLICATE_WINDOW_SECS: i64 = 24 * 3600;

/// A finalised note that received an edit made before the lock reached its computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateEdit {
    pub visit_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub visit_date: String,
    pub clinician: String,
    /// The labels of the parts the late edit changed ("Plan").
    pub parts: Vec<&'static str>,
}

/// Two active records, made on different computers, that may be one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Their ids, the smaller first, and how each is shown (name and chart number).
    pub ids: (String, String),
    pub shown: (String, String),
}

impl Duplicate {
    fn key(&self) -> String {
        format!("dup:{}+{}", self.ids.0, self.ids.1)
    }
}

/// Everything on the Needs attention list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attention {
    pub conflicts: Vec<Conflict>,
    pub late_edits: Vec<LateEdit>,
    pub held_back: Vec<HeldBack>,
    pub duplicates: Vec<Duplicate>,
}

impl Attention {
    pub fn count(&self) -> usize {
        self.conflicts.len() + self.late_edits.len() + self.held_back.len() + self.duplicates.len()
    }
}

/// How many things need attention (the top bar's count).
pub fn count(db: &Connection) -> Result<usize> {
    Ok(list(db)?.count())
}

/// The whole list, as this computer knows it.
pub fn list(db: &Connection) -> Result<Attention> {
    Ok(Attention {
        conflicts: conflicts::open(db)?,
        late_edits: late_edits(db)?,
        held_back: roster::held_back(db)?,
        duplicates: duplicates(db)?,
    })
}

fn settled(key: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM attention att WHERE att.id = {key} AND att.resolved_at != 0)"
    )
}

fn late_edits(db: &Connection) -> Result<Vec<LateEdit>> {
    let differs: Vec<String> = NOTE_FIELDS
        .iter()
        .map(|(c, _)| format!("v.{c} != f.{c}"))
        .collect();
    let sql = format!(
        "SELECT v.id, v.patient_id, p.given_name, p.family_name, v.visit_date, coalesce(s.name, ''),
            {}
        FROM visits v
        JOIN final_notes f ON f.id = (SELECT id FROM final_notes WHERE visit_id = v.id
            ORDER BY finalized_at, id LIMIT 1)
        JOIN patients p ON p.id = v.patient_id
        LEFT JOIN staff s ON s.id = v.clinician_id
        WHERE v.finalized_at != 0 AND ({}) AND {}
        ORDER BY v.visit_date DESC, v.id",
        differs.join(", "),
        differs.join(" OR "),
        settled("'late:' || v.id")
    );
    let mut st = db.prepare_cached(&sql)?;
    let rows = st.query_map([], |r| {
        let mut parts = Vec::new();
        for (i, (_, label)) in NOTE_FIELDS.iter().enumerate() {
            if r.get::<_, bool>(6 + i)? {
                parts.push(*label);
            }
        }
        Ok(LateEdit {
            visit_id: r.get(0)?,
            patient_id: r.get(1)?,
            patient_name: patients::display_name(&r.get::<_, String>(2)?, &r.get::<_, String>(3)?),
            visit_date: r.get(4)?,
            clinician: r.get(5)?,
            parts,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn duplicates(db: &Connection) -> Result<Vec<Duplicate>> {
    let sql = format!(
        "SELECT a.id, a.given_name, a.family_name, a.chart_no, b.id, b.given_name, b.family_name,
            b.chart_no
        FROM patients a
        JOIN patients b ON b.date_of_birth = a.date_of_birth AND b.id > a.id
            AND b.archived = 0 AND b.merged_into = ''
            AND abs(b.created_at - a.created_at) <= ?1
        JOIN history ha ON ha.entity_id = a.id AND ha.field = 'created'
        JOIN history hb ON hb.entity_id = b.id AND hb.field = 'created'
        WHERE a.archived = 0 AND a.merged_into = '' AND a.date_of_birth != ''
            AND ha.device_id != hb.device_id AND {}
        ORDER BY a.family_name, a.given_name, a.id",
        settled("'dup:' || a.id || '+' || b.id")
    );
    let mut st = db.prepare_cached(&sql)?;
    let rows = st.query_map([DUPLICATE_WINDOW_SECS], |r| {
        let fields = |at: usize| -> rusqlite::Result<PatientFields> {
            Ok(PatientFields {
                given_name: r.get(at)?,
                family_name: r.get(at + 1)?,
                ..Default::default()
            })
        };
        let (fa, fb) = (fields(1)?, fields(5)?);
        let shown = |f: &PatientFields, chart: String| {
            format!(
                "{} · {chart}",
                patients::display_name(&f.given_name, &f.family_name)
            )
        };
        patients::similar(&fa, &fb)
            .then(|| -> rusqlite::Result<Duplicate> {
                Ok(Duplicate {
                    ids: (r.get(0)?, r.get(4)?),
                    shown: (shown(&fa, r.get(3)?), shown(&fb, r.get(7)?)),
                })
            })
            .transpose()
    })?;
    let mut out = Vec::new();
    for d in rows {
        out.extend(d?);
    }
    Ok(out)
}

/// Records a decision on an item of the list, everywhere, with who made it.
fn settle(db: &Connection, actor: &Actor, key: &str, kind: &str, outcome: &str) -> Result<()> {
    db.execute(
        "INSERT INTO attention(id, kind, resolved_at, resolved_by, resolved_on, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET resolved_at = excluded.resolved_at,
            resolved_by = excluded.resolved_by, resolved_on = excluded.resolved_on,
            outcome = excluded.outcome",
        params![key, kind, now(), actor.staff_id, actor.device_id, outcome],
    )?;
    Ok(())
}

/// A doctor has looked at a note's late edit: it leaves the list (the note keeps its finalised
/// text; an amendment says what, if anything, changes).
pub fn late_edit_seen(db: &Connection, actor: &Actor, visit_id: &str) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::FinaliseNotes)?;
    let patient: String = tx
        .query_row(
            "SELECT patient_id FROM visits WHERE id = ?1",
            [visit_id],
            |r| r.get(0),
        )
        .map_err(|_| ClinicError::NotFound("visit"))?;
    settle(
        &tx,
        actor,
        &format!("late:{visit_id}"),
        "late edit",
        "looked at",
    )?;
    history::record(
        &tx,
        actor,
        &patient,
        "visit",
        visit_id,
        "late edit looked at",
        "",
        "",
    )?;
    tx.commit()?;
    Ok(())
}

/// Two records someone checked are different people: they leave the list.
pub fn not_duplicates(db: &Connection, actor: &Actor, a: &str, b: &str) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::PatientDetails)?;
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let key = Duplicate {
        ids: (lo.into(), hi.into()),
        shown: Default::default(),
    }
    .key();
    settle(&tx, actor, &key, "duplicate", "different people")?;
    for (one, other) in [(lo, hi), (hi, lo)] {
        history::record(
            &tx,
            actor,
            one,
            "patient",
            one,
            "not the same as",
            "",
            other,
        )?;
    }
    tx.commit()?;
    Ok(())
}
