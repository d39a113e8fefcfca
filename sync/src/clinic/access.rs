//! Who may do what, and the record of who did: the permission table every clinic operation
//! checks against the signed-in person's roles (read from the database at each operation, so a
//! deactivation or a role taken away counts at once, on every computer), emergency access with a
//! reason, and the access log (who opened which record, from which computer), append-only here
//! and on merge.

use rusqlite::{params, Connection, OptionalExtension};

use super::roles::{Role, Roles};
use super::{new_id, now, Actor, ClinicError, Result};

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Patients' details: create, edit, archive, merge.
    PatientDetails,
    /// Booking and moving appointments, the day list.
    Appointments,
    /// Reading visit notes and the clinical part of a record's history.
    ReadNotes,
    /// Opening and writing draft visit notes.
    WriteNotes,
    /// Finalising and amending notes.
    FinaliseNotes,
    /// The staff list: adding, editing, deactivating, resetting PINs.
    Staff,
    /// Pairing and removing computers.
    Computers,
    /// Making and restoring backups.
    Backups,
    /// The clinic's settings (idle lock time, clinic details).
    Settings,
    /// The access log: who looked at a record.
    AccessLog,
}

impl Permission {
    pub const ALL: [Permission; 10] = [
        Permission::PatientDetails,
        Permission::Appointments,
        Permission::ReadNotes,
        Permission::WriteNotes,
        Permission::FinaliseNotes,
        Permission::Staff,
        Permission::Computers,
        Permission::Backups,
        Permission::Settings,
        Permission::AccessLog,
    ];

    /// In the words a refusal uses: "only ... can <this>".
    fn doing(self) -> &'static str {
        match self {
            Permission::PatientDetails => "change patients' details",
            Permission::Appointments => "book or change appointments",
            Permission::ReadNotes => "read visit notes",
            Permission::WriteNotes => "write visit notes",
            Permission::FinaliseNotes => "finalise or amend visit notes",
            Permission::Staff => "manage the staff list",
            Permission::Computers => "pair or remove computers",
            Permission::Backups => "make or restore backups",
            Permission::Settings => "change the clinic's settings",
            Permission::AccessLog => "see who looked at a record",
        }
    }
}

/// The permission table: what each role may do.
pub fn role_may(role: Role, p: Permission) -> bool {
    use Permission::*;
    match role {
        Role::Receptionist => matches!(p, PatientDetails | Appointments),
        Role::Nurse => matches!(p, PatientDetails | Appointments | ReadNotes | WriteNotes),
        Role::Doctor => matches!(
            p,
            PatientDetails | Appointments | ReadNotes | WriteNotes | FinaliseNotes | AccessLog
        ),
        Role::Admin => matches!(
            p,
            PatientDetails | Appointments | Staff | Computers | Backups | Settings | AccessLog
        ),
    }
}

/// Whether someone with these roles may do it.
pub fn roles_may(roles: Roles, p: Permission) -> bool {
    roles.iter().any(|r| role_may(r, p))
}

/// Who may, in words ("doctors", "nurses or doctors").
fn who_may(p: Permission) -> String {
    let names: Vec<&str> = Role::ALL
        .into_iter()
        .filter(|r| role_may(*r, p))
        .map(|r| match r {
            Role::Receptionist => "receptionists",
            Role::Nurse => "nurses",
            Role::Doctor => "doctors",
            Role::Admin => "administrators",
        })
        .collect();
    names.join(" or ")
}

/// The signed-in person's roles now, or why they may not act at all.
pub fn roles_of(db: &Connection, actor: &Actor) -> Result<Roles> {
    let me = db
        .prepare_cached("SELECT role, active FROM staff WHERE id = ?1")?
        .query_row([&actor.staff_id], |r| {
            Ok((
                Roles::from_text(&r.get::<_, String>(0)?),
                r.get::<_, i64>(1)? != 0,
            ))
        })
        .optional()?
        .ok_or_else(|| {
            ClinicError::Refused("the signed-in person is not on the staff list".into())
        })?;
    if !me.1 {
        return Err(ClinicError::Refused(
            "this person has been deactivated; ask an administrator".into(),
        ));
    }
    Ok(me.0)
}

/// Why someone without the permission is refused, in plain words ("only doctors can ...").
pub fn refusal(p: Permission) -> String {
    format!("only {} can {}", who_may(p), p.doing())
}

/// Refuses, with the reason in plain words, unless the signed-in person may do it.
pub fn require(db: &Connection, actor: &Actor, p: Permission) -> Result<()> {
    if roles_may(roles_of(db, actor)?, p) {
        Ok(())
    } else {
        Err(ClinicError::Refused(refusal(p)))
    }
}

/// Whether this computer holds any of the clinic's staff yet (none while it joins a clinic or
/// is being restored).
pub fn staffed(db: &Connection) -> Result<bool> {
    Ok(db
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM staff)")?
        .query_row([], |r| r.get(0))?)
}

/// For the computers and the backups, which a computer needs before anyone exists to sign in
/// (while it joins a clinic, or is restored from a backup): refuses unless this computer holds
/// no staff yet, or the signed-in person may.
pub fn require_once_staffed(db: &Connection, actor: Option<&Actor>, p: Permission) -> Result<()> {
    match actor {
        _ if !staffed(db)? => Ok(()),
        Some(actor) => require(db, actor, p),
        None => Err(ClinicError::Refused("sign in first".into())),
    }
}

/// What the access log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    OpenedPatient,
    ReadVisit,
    Printed,
    Exported,
    Emergency,
    SignedIn,
    WrongPin,
    PinSet,
    PinReset,
    StaffAdded,
    StaffEdited,
    Deactivated,
    Reactivated,
    SettingChanged,
    /// A command run at this computer's command line (which one is the subject).
    CommandLine,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::OpenedPatient => "opened patient",
            Action::ReadVisit => "read visit",
            Action::Printed => "printed",
            Action::Exported => "exported",
            Action::Emergency => "emergency access",
            Action::SignedIn => "signed in",
            Action::WrongPin => "wrong PIN",
            Action::PinSet => "PIN set",
            Action::PinReset => "PIN reset",
            Action::StaffAdded => "staff added",
            Action::StaffEdited => "staff edited",
            Action::Deactivated => "deactivated",
            Action::Reactivated => "reactivated",
            Action::SettingChanged => "setting changed",
            Action::CommandLine => "command line",
        }
    }
}

/// Adds a row to the access log (inside the caller's transaction, when it has one).
pub fn log(
    db: &Connection,
    actor: &Actor,
    action: Action,
    patient_id: &str,
    subject: &str,
    detail: &str,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO access_log(id, at, staff_id, device_id, action, patient_id, subject, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        new_id(),
        now(),
        actor.staff_id,
        actor.device_id,
        action.as_str(),
        patient_id,
        subject,
        detail
    ])?;
    Ok(())
}

/// Records that the signed-in person opened a patient's page.
pub fn opened_patient(db: &Connection, actor: &Actor, patient_id: &str) -> Result<()> {
    roles_of(db, actor)?;
    log(db, actor, Action::OpenedPatient, patient_id, "", "")
}

/// How long an emergency access lasts, in seconds.
pub const EMERGENCY_SECS: i64 = 12 * 3600;

/// Opens a record's clinical part for someone without the role, with a typed reason: allowed,
/// recorded, and listed for administrators to review.
pub fn emergency(db: &Connection, actor: &Actor, patient_id: &str, reason: &str) -> Result<()> {
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        return Err(ClinicError::Invalid(vec![super::FieldError {
            field: "reason",
            message: "say why the record must be opened (a few words at least)".into(),
        }]));
    }
    roles_of(db, actor)?;
    log(db, actor, Action::Emergency, patient_id, "", reason)
}

/// Whether the signed-in person may read this patient's notes: by role, or by an emergency
/// access they opened on this computer in the last hours.
pub fn may_read_notes(db: &Connection, actor: &Actor, patient_id: &str) -> Result<bool> {
    if roles_may(roles_of(db, actor)?, Permission::ReadNotes) {
        return Ok(true);
    }
    let since = now() - EMERGENCY_SECS;
    let n: i64 = db
        .prepare_cached(
            "SELECT count(*) FROM access_log WHERE staff_id = ?1 AND action = ?2
             AND patient_id = ?3 AND device_id = ?4 AND at >= ?5",
        )?
        .query_row(
            params![
                actor.staff_id,
                Action::Emergency.as_str(),
                patient_id,
                actor.device_id,
                since
            ],
            |r| r.get(0),
        )?;
    Ok(n > 0)
}

/// One row of the access log, with the person's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: i64,
    pub staff_name: String,
    pub device_id: String,
    pub action: String,
    pub patient_id: String,
    pub subject: String,
    pub detail: String,
}

fn entries(db: &Connection, filter: &str, arg: &str) -> Result<Vec<Entry>> {
    let mut st = db.prepare_cached(&format!(
        "SELECT a.at, coalesce(s.name, ''), a.device_id, a.action, a.patient_id, a.subject, a.detail
         FROM access_log a LEFT JOIN staff s ON s.id = a.staff_id
         WHERE {filter} ORDER BY a.at DESC, a.rowid DESC"
    ))?;
    let rows = st.query_map([arg], |r| {
        Ok(Entry {
            at: r.get(0)?,
            staff_name: r.get(1)?,
            device_id: r.get(2)?,
            action: r.get(3)?,
            patient_id: r.get(4)?,
            subject: r.get(5)?,
            detail: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Who looked at this record, newest first (administrators and doctors).
pub fn for_patient(db: &Connection, actor: &Actor, patient_id: &str) -> Result<Vec<Entry>> {
    require(db, actor, Permission::AccessLog)?;
    entries(db, "a.patient_id = ?1", patient_id)
}

/// Emergency accesses for administrators to review, newest first.
pub fn emergencies(db: &Connection, actor: &Actor) -> Result<Vec<Entry>> {
    require(db, actor, Permission::Staff)?;
    entries(db, "a.action = ?1", Action::Emergency.as_str())
}

/// The whole access log as CSV, for an audit (administrators); the export itself is recorded.
pub fn export_csv(db: &Connection, actor: &Actor) -> Result<String> {
    require(db, actor, Permission::Staff)?;
    let mut out = String::from("time_utc,person,computer,action,patient_id,subject,detail\n");
    for e in entries(db, "?1 = ?1", "")? {
        let when = chrono::DateTime::from_timestamp(e.at, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let fields = [
            when,
            e.staff_name,
            e.device_id,
            e.action,
            e.patient_id,
            e.subject,
            e.detail,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    log(db, actor, Action::Exported, "", "access log", "")?;
    Ok(out)
}

/// A CSV field, quoted when it must be; a leading formula character is neutralised so a
/// spreadsheet never runs what a log row says.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
