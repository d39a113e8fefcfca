//! What the appointment book shows for a stretch of days, read in one go: the clinicians
//! (active doctors and nurses) with their working hours, the clinic's opening hours, the
//! appointments of those days and the appointment types.

use chrono::NaiveDate;
use rusqlite::Connection;

use super::appointments::{self, Appointment};
use super::hours::{self, Hours, Kind};
use super::staff::{self, Role, Staff};
use super::Result;

#[derive(Debug, Clone)]
pub struct Days {
    pub clinicians: Vec<(Staff, Hours)>,
    pub clinic: Hours,
    pub appointments: Vec<Appointment>,
    pub kinds: Vec<Kind>,
}

/// The book from `from` to `to` (both included).
pub fn days(db: &Connection, from: NaiveDate, to: NaiveDate) -> Result<Days> {
    let mut clinicians = Vec::new();
    for s in staff::list(db)? {
        if s.roles.has(Role::Doctor) || s.roles.has(Role::Nurse) {
            let h = hours::of(db, &s.id)?;
            clinicians.push((s, h));
        }
    }
    Ok(Days {
        clinicians,
        clinic: hours::clinic(db)?,
        appointments: appointments::range(db, from, to)?,
        kinds: hours::kinds(db)?,
    })
}
