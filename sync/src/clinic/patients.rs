//! Patients: create and edit with validation, a history row per changed field, soft archive
//! (undoable), a duplicate warning, and a recorded, reversible merge of two records.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::access::{self, Permission};
use super::{chart, history, new_id, now, parse_date, Actor, ClinicError, FieldError, Result};

/// The fields a person fills in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientFields {
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub sex: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub emergency_contact: String,
    pub allergies: String,
    pub notes: String,
}

/// Column names with the labels people see, in form order.
pub const FIELDS: [(&str, &str); 10] = [
    ("given_name", "Given name"),
    ("family_name", "Family name"),
    ("date_of_birth", "Date of birth"),
    ("sex", "Sex"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("address", "Address"),
    ("emergency_contact", "Emergency contact"),
    ("allergies", "Allergies"),
    ("notes", "Notes"),
];

/// The values `sex` may take: female, male, another, or not recorded.
pub const SEXES: [&str; 4] = ["F", "M", "X", ""];

impl PatientFields {
    pub fn get(&self, column: &str) -> &str {
        match column {
            "given_name" => &self.given_name,
            "family_name" => &self.family_name,
            "date_of_birth" => &self.date_of_birth,
            "sex" => &self.sex,
            "phone" => &self.phone,
            "email" => &self.email,
            "address" => &self.address,
            "emergency_contact" => &self.emergency_contact,
            "allergies" => &self.allergies,
            _ => &self.notes,
        }
    }

    /// The same fields with surrounding spaces removed.
    pub fn trimmed(&self) -> PatientFields {
        let t = |s: &String| s.trim().to_string();
        PatientFields {
            given_name: t(&self.given_name),
            family_name: t(&self.family_name),
            date_of_birth: t(&self.date_of_birth),
            sex: t(&self.sex).to_uppercase(),
            phone: t(&self.phone),
            email: t(&self.email),
            address: t(&self.address),
            emergency_contact: t(&self.emergency_contact),
            allergies: t(&self.allergies),
            notes: self.notes.trim_end().to_string(),
        }
    }

    /// Every problem with the fields, each with a message for the person typing.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut bad = |field, message: &str| {
            out.push(FieldError {
                field,
                message: message.to_string(),
            })
        };
        if self.family_name.trim().is_empty() {
            bad("family_name", "Family name is required");
        }
        let dob = self.date_of_birth.trim();
        match parse_date(dob) {
            None => bad(
                "date_of_birth",
                "Date of birth must be a date like 1984-03-27",
            ),
            Some(d) if d > chrono::Local::now().date_naive() => {
                bad("date_of_birth", "Date of birth cannot be in the future")
            }
            Some(d) if d < chrono::NaiveDate::from_ymd_opt(1890, 1, 1).expect("valid") => {
                bad("date_of_birth", "Date of birth is too far in the past")
            }
            Some(_) => {}
        }
        if !SEXES.contains(&self.sex.trim().to_uppercase().as_str()) {
            bad("sex", "Sex must be F, M, X or left empty");
        }
        let phone = self.phone.trim();
        if !phone.is_empty() {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            let allowed = phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if !allowed || digits < 5 {
                bad(
                    "phone",
                    "Phone may hold digits, spaces and + - ( ) only, at least 5 digits",
                );
            }
        }
        let email = self.email.trim();
        if !email.is_empty() {
            let ok = email.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty()
                    && host.contains('.')
                    && !host.starts_with('.')
                    && !host.ends_with('.')
            }) && !email.contains(char::is_whitespace);
            if !ok {
                bad("email", "Email must look like name@example.org");
            }
        }
        out
    }
}

/// A patient record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub id: String,
    pub chart_no: String,
    pub fields: PatientFields,
    pub archived: bool,
    pub merged_into: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Patient {
    /// "Family, Given" for lists.
    pub fn display_name(&self) -> String {
        display_name(&self.fields.given_name, &self.fields.family_name)
    }
}

/// "Family, Given" (or whichever part exists).
pub fn display_name(given: &str, family: &str) -> String {
    match (given.is_empty(), family.is_empty()) {
        (false, false) => format!("{family}, {given}"),
        (true, _) => family.to_string(),
        (false, true) => given.to_string(),
    }
}

const COLUMNS: &str = "id, chart_no, given_name, family_name, date_of_birth, sex, phone, email, \
    address, emergency_contact, allergies, notes, archived, merged_into, created_at, updated_at";

fn from_row(r: &Row) -> rusqlite::Result<Patient> {
    Ok(Patient {
        id: r.get(0)?,
        chart_no: r.get(1)?,
        fields: PatientFields {
            given_name: r.get(2)?,
            family_name: r.get(3)?,
            date_of_birth: r.get(4)?,
            sex: r.get(5)?,
            phone: r.get(6)?,
            email: r.get(7)?,
            address: r.get(8)?,
            emergency_contact: r.get(9)?,
            allergies: r.get(10)?,
            notes: r.get(11)?,
        },
        archived: r.get::<_, i64>(12)? != 0,
        merged_into: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

/// How many patients are on file (not archived).
pub fn count_active(db: &Connection) -> Result<i64> {
    Ok(db.query_row(
        "SELECT count(*) FROM patients WHERE archived = 0",
        [],
        |r| r.get(0),
    )?)
}

/// One patient by id.
pub fn get(db: &Connection, id: &str) -> Result<Patient> {
    db.prepare_cached(&format!("SELECT {COLUMNS} FROM patients WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or(ClinicError::NotFound("patient"))
}

fn check(fields: &PatientFields) -> Result<PatientFields> {
    let f = fields.trimmed();
    let problems = f.problems();
    if problems.is_empty() {
        Ok(f)
    } else {
        Err(ClinicError::Invalid(problems))
    }
}

/// Creates a patient with the next chart number of this computer.
pub fn create(db: &Connection, actor: &Actor, fields: &PatientFields) -> Result<Patient> {
    let f = check(fields)?;
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::PatientDetails)?;
    let id = new_id();
    let chart_no = chart::next(&tx)?;
    let t = now();
    tx.execute(
        &format!("INSERT INTO patients({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, '', ?13, ?13)"),
        params![
            id, chart_no, f.given_name, f.family_name, f.date_of_birth, f.sex, f.phone, f.email,
            f.address, f.emergency_contact, f.allergies, f.notes, t
        ],
    )?;
    history::record(&tx, actor, &id, "patient", &id, "created", "", &chart_no)?;
    tx.commit()?;
    get(db, &id)
}

/// Saves edited fields; each changed field gets a history row (old value, new value).
pub fn update(db: &Connection, actor: &Actor, id: &str, fields: &PatientFields) -> Result<Patient> {
    let f = check(fields)?;
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::PatientDetails)?;
    let before = get(&tx, id)?;
    let mut changed = false;
    for (column, _) in FIELDS {
        let (old, new) = (before.fields.get(column), f.get(column));
        if old != new {
            tx.execute(
                &format!("UPDATE patients SET {column} = ?1 WHERE id = ?2"),
                params![new, id],
            )?;
            history::record_edit(&tx, actor, id, "patient", id, column, old, new)?;
            changed = true;
        }
    }
    if changed {
        tx.execute(
            "UPDATE patients SET updated_at = ?1 WHERE id = ?2",
            params![now(), id],
        )?;
    }
    tx.commit()?;
    get(db, id)
}

/// Archives (soft-deletes) or restores a patient.
pub fn set_archived(db: &Connection, actor: &Actor, id: &str, archived: bool) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::PatientDetails)?;
    let before = get(&tx, id)?;
    if before.archived != archived {
        tx.execute(
            "UPDATE patients SET archived = ?1, updated_at = ?2 WHERE id = ?3",
            params![archived, now(), id],
        )?;
        let (old, new) = if archived {
            ("active", "archived")
        } else {
            ("archived", "active")
        };
        history::record(&tx, actor, id, "patient", id, "status", old, new)?;
    }
    tx.commit()?;
    Ok(())
}

fn normalized(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Existing patients who may be the same person: the same date of birth and a similar name.
pub fn possible_duplicates(
    db: &Connection,
    fields: &PatientFields,
    except: Option<&str>,
) -> Result<Vec<Patient>> {
    let f = fields.trimmed();
    let mut st = db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM patients WHERE date_of_birth = ?1 AND archived = 0"
    ))?;
    let same_day: Vec<Patient> = st
        .query_map([&f.date_of_birth], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(same_day
        .into_iter()
        .filter(|p| Some(p.id.as_str()) != except)
        .filter(|p| similar(&f, &p.fields))
        .collect())
}

/// Whether two records' names are close enough to be one person (their dates of birth are
/// compared by the caller).
pub fn similar(a: &PatientFields, b: &PatientFields) -> bool {
    let (family, given) = (normalized(&a.family_name), normalized(&a.given_name));
    let pf = normalized(&b.family_name);
    let pg = normalized(&b.given_name);
    let family_close = strsim::jaro_winkler(&family, &pf) >= 0.88;
    let given_close = given.is_empty()
        || pg.is_empty()
        || strsim::jaro_winkler(&given, &pg) >= 0.80
        || given.chars().next() == pg.chars().next();
    // Names swapped between the two fields are the same person too.
    let swapped =
        strsim::jaro_winkler(&family, &pg) >= 0.88 && strsim::jaro_winkler(&given, &pf) >= 0.88;
    (family_close && given_close) || swapped
}

/// Merges `absorbed` into `kept`: its appointments and visits move to `kept`, it is archived
/// and points at `kept`. Recorded, and undone by [`undo_merge`]. Returns the merge's id.
pub fn merge(db: &Connection, actor: &Actor, kept: &str, absorbed: &str) -> Result<String> {
    if kept == absorbed {
        return Err(ClinicError::Refused(
            "a record cannot be merged into itself".into(),
        ));
    }
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::PatientDetails)?;
    let keep = get(&tx, kept)?;
    let gone = get(&tx, absorbed)?;
    if !gone.merged_into.is_empty() || !keep.merged_into.is_empty() {
        return Err(ClinicError::Refused(
            "one of these records was already merged".into(),
        ));
    }
    let mut moved = Vec::new();
    for table in ["appointments", "visits"] {
        let ids: Vec<String> = tx
            .prepare(&format!("SELECT id FROM {table} WHERE patient_id = ?1"))?
            .query_map([absorbed], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            // Finalised visits move too: their notes stay locked, only whose they are changes,
            // and the merge records it so that undo puts them back.
            tx.execute(
                &format!("UPDATE {table} SET patient_id = ?1 WHERE id = ?2"),
                params![kept, id],
            )?;
            moved.push(format!("{table}:{id}"));
        }
    }
    let merge_id = new_id();
    let t = now();
    tx.execute(
        "INSERT INTO merges(id, kept_id, absorbed_id, moved, staff_id, at, undone_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
        params![merge_id, kept, absorbed, moved.join(","), actor.staff_id, t],
    )?;
    tx.execute(
        "UPDATE patients SET archived = 1, merged_into = ?1, updated_at = ?2 WHERE id = ?3",
        params![kept, t, absorbed],
    )?;
    history::record(
        &tx,
        actor,
        kept,
        "patient",
        kept,
        "merged",
        &gone.chart_no,
        &keep.chart_no,
    )?;
    history::record(
        &tx,
        actor,
        absorbed,
        "patient",
        absorbed,
        "merged",
        &gone.chart_no,
        &keep.chart_no,
    )?;
    tx.commit()?;
    Ok(merge_id)
}

/// Undoes a merge: the moved records go back and the absorbed patient is active again.
pub fn undo_merge(db: &Connection, actor: &Actor, merge_id: &str) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::PatientDetails)?;
    let (kept, absorbed, moved, undone): (String, String, String, i64) = tx
        .query_row(
            "SELECT kept_id, absorbed_id, moved, undone_at FROM merges WHERE id = ?1",
            [merge_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or(ClinicError::NotFound("merge"))?;
    if undone != 0 {
        return Err(ClinicError::Refused("this merge was already undone".into()));
    }
    for item in moved.split(',').filter(|s| !s.is_empty()) {
        let (table, id) = item.split_once(':').unwrap_or(("", ""));
        if table == "appointments" || table == "visits" {
            tx.execute(
                &format!("UPDATE {table} SET patient_id = ?1 WHERE id = ?2 AND patient_id = ?3"),
                params![absorbed, id, kept],
            )?;
        }
    }
    let t = now();
    tx.execute(
        "UPDATE merges SET undone_at = ?1 WHERE id = ?2",
        params![t, merge_id],
    )?;
    tx.execute(
        "UPDATE patients SET archived = 0, merged_into = '', updated_at = ?1 WHERE id = ?2",
        params![t, absorbed],
    )?;
    history::record(&tx, actor, &kept, "patient", &kept, "merge undone", "", "")?;
    history::record(
        &tx,
        actor,
        &absorbed,
        "patient",
        &absorbed,
        "merge undone",
        "",
        "",
    )?;
    tx.commit()?;
    Ok(())
}

/// The last merge that absorbed a patient and was not undone, if any.
pub fn merge_of(db: &Connection, absorbed: &str) -> Result<Option<String>> {
    Ok(db
        .query_row(
            "SELECT id FROM merges WHERE absorbed_id = ?1 AND undone_at = 0 ORDER BY at DESC LIMIT 1",
            [absorbed],
            |r| r.get(0),
        )
        .optional()?)
}

/// A patient's age on `today` from their date of birth: years, or months under two ("42
/// years", "18 months", "1 month"). None for a date that is not one, or in the future.
pub fn age(date_of_birth: &str, today: chrono::NaiveDate) -> Option<String> {
    use chrono::Datelike;
    let born = super::parse_date(date_of_birth)?;
    if born > today {
        return None;
    }
    let mut months = (today.year() - born.year()) * 12 + today.month() as i32 - born.month() as i32;
    if today.day() < born.day() {
        months -= 1;
    }
    let plural = |n: i32, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    Some(if months >= 24 {
        plural(months / 12, "year")
    } else {
        plural(months, "month")
    })
}
