//! Appointments and the front desk's day: book, then move through booked -> arrived -> in room
//! -> seen (or cancelled / no-show), with how long each arrived patient has been waiting; move
//! to another time or clinician; overlaps and the next free slot.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::access::{self, Permission};
use super::{history, new_id, now, Actor, ClinicError, FieldError, Result};

/// Where an appointment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Booked,
    Arrived,
    InRoom,
    Seen,
    Cancelled,
    NoShow,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Booked => "booked",
            Status::Arrived => "arrived",
            Status::InRoom => "in_room",
            Status::Seen => "seen",
            Status::Cancelled => "cancelled",
            Status::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Status {
        match s {
            "arrived" => Status::Arrived,
            "in_room" => Status::InRoom,
            "seen" => Status::Seen,
            "cancelled" => Status::Cancelled,
            "no_show" => Status::NoShow,
            _ => Status::Booked,
        }
    }

    /// The moves the desk may make from here (one step back undoes a slip).
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::Booked => &[Status::Arrived, Status::Cancelled, Status::NoShow],
            Status::Arrived => &[Status::InRoom, Status::Booked, Status::Cancelled],
            Status::InRoom => &[Status::Seen, Status::Arrived],
            Status::Seen => &[Status::InRoom],
            Status::Cancelled | Status::NoShow => &[Status::Booked],
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Booked => "Booked",
            Status::Arrived => "Arrived",
            Status::InRoom => "In room",
            Status::Seen => "Seen",
            Status::Cancelled => "Cancelled",
            Status::NoShow => "No-show",
        })
    }
}

/// An appointment with the names the desk needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub chart_no: String,
    pub clinician_id: String,
    pub clinician_name: String,
    /// Local time, `YYYY-MM-DDTHH:MM`.
    pub starts_at: String,
    pub duration_min: i64,
    pub reason: String,
    pub status: Status,
    /// When the status last changed (seconds since 1970).
    pub status_at: i64,
}

impl Appointment {
    /// When it starts (None for a start no computer of this version would write).
    pub fn start(&self) -> Option<NaiveDateTime> {
        parse_start(&self.starts_at)
    }

    /// Minutes an arrived patient has waited by `now`.
    pub fn waiting_minutes(&self, now: i64) -> Option<i64> {
        (self.status == Status::Arrived).then(|| ((now - self.status_at) / 60).max(0))
    }
}

const SELECT: &str = "SELECT a.id, a.patient_id, coalesce(p.given_name, ''), coalesce(p.family_name, ''), \
    coalesce(p.chart_no, ''), a.clinician_id, coalesce(s.name, ''), a.starts_at, a.duration_min, a.reason, \
    a.status, a.status_at FROM appointments a LEFT JOIN patients p ON p.id = a.patient_id \
    LEFT JOIN staff s ON s.id = a.clinician_id";

fn from_row(r: &Row) -> rusqlite::Result<Appointment> {
    Ok(Appointment {
        id: r.get(0)?,
        patient_id: r.get(1)?,
        patient_name: super::patients::display_name(
            &r.get::<_, String>(2)?,
            &r.get::<_, String>(3)?,
        ),
        chart_no: r.get(4)?,
        clinician_id: r.get(5)?,
        clinician_name: r.get(6)?,
        starts_at: r.get(7)?,
        duration_min: r.get(8)?,
        reason: r.get(9)?,
        status: Status::parse(&r.get::<_, String>(10)?),
        status_at: r.get(11)?,
    })
}

fn parse_start(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok()
}

fn valid_start(s: &str) -> bool {
    parse_start(s).is_some()
}

/// Books an appointment; `starts_at` is local time `YYYY-MM-DDTHH:MM`.
pub fn book(
    db: &Connection,
    actor: &Actor,
    patient_id: &str,
    clinician_id: &str,
    starts_at: &str,
    duration_min: i64,
    reason: &str,
) -> Result<String> {
    let mut problems = Vec::new();
    if !valid_start(starts_at) {
        problems.push(FieldError {
            field: "starts_at",
            message: "Start must be a date and time like 2026-11-23T09:30".into(),
        });
    }
    if !(5..=480).contains(&duration_min) {
        problems.push(FieldError {
            field: "duration_min",
            message: "Duration must be between 5 and 480 minutes".into(),
        });
    }
    if !problems.is_empty() {
        return Err(ClinicError::Invalid(problems));
    }
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::Appointments)?;
    super::patients::get(&tx, patient_id)?;
    let id = new_id();
    tx.execute(
        "INSERT INTO appointments(id, patient_id, clinician_id, starts_at, duration_min, reason, status, status_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'booked', ?7)",
        params![id, patient_id, clinician_id, starts_at, duration_min, reason.trim(), now()],
    )?;
    history::record(
        &tx,
        actor,
        patient_id,
        "appointment",
        &id,
        "booked",
        "",
        starts_at,
    )?;
    tx.commit()?;
    Ok(id)
}

/// One appointment.
pub fn get(db: &Connection, id: &str) -> Result<Appointment> {
    db.prepare_cached(&format!("{SELECT} WHERE a.id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or(ClinicError::NotFound("appointment"))
}

/// Moves an appointment to a new status, if that move is allowed from where it stands.
pub fn set_status(db: &Connection, actor: &Actor, id: &str, to: Status) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::Appointments)?;
    let a = get(&tx, id)?;
    if !a.status.next().contains(&to) {
        return Err(ClinicError::Refused(format!(
            "an appointment that is {} cannot become {}",
            a.status.to_string().to_lowercase(),
            to.to_string().to_lowercase()
        )));
    }
    tx.execute(
        "UPDATE appointments SET status = ?1, status_at = ?2 WHERE id = ?3",
        params![to.as_str(), now(), id],
    )?;
    history::record(
        &tx,
        actor,
        &a.patient_id,
        "appointment",
        id,
        "status",
        a.status.as_str(),
        to.as_str(),
    )?;
    tx.commit()?;
    Ok(())
}

/// A day's appointments (`date` is `YYYY-MM-DD`), in time order.
pub fn day(db: &Connection, date: &str) -> Result<Vec<Appointment>> {
    let mut st = db.prepare_cached(&format!(
        "{SELECT} WHERE a.starts_at >= ?1 AND a.starts_at < ?2 ORDER BY a.starts_at, p.family_name"
    ))?;
    let rows = st.query_map(params![format!("{date}T"), format!("{date}U")], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A patient's appointments, newest first.
pub fn for_patient(db: &Connection, patient_id: &str) -> Result<Vec<Appointment>> {
    let mut st = db.prepare_cached(&format!(
        "{SELECT} WHERE a.patient_id = ?1 ORDER BY a.starts_at DESC"
    ))?;
    let rows = st.query_map([patient_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether an appointment still takes its clinician's time (cancelled and no-show do not).
pub fn holds_time(status: Status) -> bool {
    !matches!(status, Status::Cancelled | Status::NoShow)
}

/// The appointments of a clinician that a stretch from `starts_at` for `minutes` would overlap
/// (leaving out `except`, the appointment being moved): what the book warns about before
/// saving. Two computers booking the same slot while apart both keep theirs; this is how
/// every computer sees the overlap afterwards.
pub fn overlapping(
    db: &Connection,
    clinician_id: &str,
    starts_at: NaiveDateTime,
    minutes: i64,
    except: Option<&str>,
) -> Result<Vec<Appointment>> {
    let end = starts_at + Duration::minutes(minutes);
    // Appointments last at most 8 hours, so only those starting in the 8 hours before can reach.
    let from = (starts_at - Duration::minutes(480))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let to = end.format("%Y-%m-%dT%H:%M").to_string();
    let mut st = db.prepare_cached(&format!(
        "{SELECT} WHERE a.clinician_id = ?1 AND a.starts_at >= ?2 AND a.starts_at < ?3 ORDER BY a.starts_at"
    ))?;
    let rows = st.query_map(params![clinician_id, from, to], from_row)?;
    let mut hits = Vec::new();
    for a in rows {
        let a = a?;
        let Some(s) = a.start() else { continue };
        let ends = s + Duration::minutes(a.duration_min);
        if holds_time(a.status) && Some(a.id.as_str()) != except && s < end && starts_at < ends {
            hits.push(a);
        }
    }
    Ok(hits)
}

/// The appointments from `from` to `to` (dates `YYYY-MM-DD`, both included), in time order.
pub fn range(db: &Connection, from: NaiveDate, to: NaiveDate) -> Result<Vec<Appointment>> {
    let mut st = db.prepare_cached(&format!(
        "{SELECT} WHERE a.starts_at >= ?1 AND a.starts_at < ?2 ORDER BY a.starts_at, p.family_name"
    ))?;
    let (a, b) = (
        from.format("%Y-%m-%dT"),
        (to + Duration::days(1)).format("%Y-%m-%dT"),
    );
    let rows = st.query_map(params![a.to_string(), b.to_string()], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Moves an appointment to another time or clinician, recorded in history with the old and
/// new times (and clinicians).
pub fn reschedule(
    db: &Connection,
    actor: &Actor,
    id: &str,
    starts_at: &str,
    clinician_id: &str,
) -> Result<()> {
    if !valid_start(starts_at) {
        return Err(ClinicError::Invalid(vec![FieldError {
            field: "starts_at",
            message: "Start must be a date and time like 2026-11-23T09:30".into(),
        }]));
    }
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::Appointments)?;
    let a = get(&tx, id)?;
    if !holds_time(a.status) {
        return Err(ClinicError::Refused(
            "a cancelled or missed appointment is not moved; book a new one".into(),
        ));
    }
    tx.execute(
        "UPDATE appointments SET starts_at = ?1, clinician_id = ?2 WHERE id = ?3",
        params![starts_at, clinician_id, id],
    )?;
    if a.starts_at != starts_at {
        history::record(
            &tx,
            actor,
            &a.patient_id,
            "appointment",
            id,
            "moved",
            &a.starts_at,
            starts_at,
        )?;
    }
    if a.clinician_id != clinician_id {
        let name = super::staff::get(&tx, clinician_id)
            .map(|s| s.name)
            .unwrap_or_default();
        history::record(
            &tx,
            actor,
            &a.patient_id,
            "appointment",
            id,
            "clinician",
            &a.clinician_name,
            &name,
        )?;
    }
    tx.commit()
}

/// The first free stretch of `minutes` at or after `after` (rounded up to the quarter hour)
/// within the clinician's working hours and the clinic's opening hours, looking `days` days
/// ahead; for any of `clinicians`, the earliest.
pub fn next_free(
    db: &Connection,
    clinicians: &[String],
    after: NaiveDateTime,
    minutes: i64,
    days: i64,
) -> Result<Option<(String, NaiveDateTime)>> {
    let clinic = super::hours::clinic(db)?;
    let quarter = (after.and_utc().timestamp() + 899) / 900 * 900;
    let Some(first) = chrono::DateTime::from_timestamp(quarter, 0).map(|t| t.naive_utc()) else {
        return Ok(None);
    };
    let mut best: Option<(String, NaiveDateTime)> = None;
    for c in clinicians {
        let hours = super::hours::of(db, c)?;
        let mut t = first;
        let last = after + Duration::days(days);
        while t < last && best.as_ref().is_none_or(|(_, b)| t < *b) {
            if hours.covers(t, minutes)
                && clinic.covers(t, minutes)
                && overlapping(db, c, t, minutes, None)?.is_empty()
            {
                best = Some((c.clone(), t));
                break;
            }
            t += Duration::minutes(15);
        }
    }
    Ok(best)
}
