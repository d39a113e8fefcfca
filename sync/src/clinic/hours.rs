//! Opening hours and working hours: when the clinic is open and when each clinician works
//! (days of the week, from and to, and breaks), set by administrators and replicated (the
//! `settings` table), and the appointment types with their usual durations. A value that
//! arrives unreadable from another computer reads as the default, never as an error.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rusqlite::Connection;

use super::{Actor, ClinicError, FieldError, Result};

/// A stretch of one day, in minutes since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u16,
    pub end: u16,
}

impl Span {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Span {
        let m = |t: NaiveTime| (t.hour() * 60 + t.minute()) as u16;
        Span {
            start: m(start),
            end: m(end),
        }
    }

    fn overlaps(&self, start: u16, end: u16) -> bool {
        start < self.end && self.start < end
    }

    /// "08:00-18:00".
    pub fn text(&self) -> String {
        format!("{}-{}", hhmm(self.start), hhmm(self.end))
    }

    fn parse(s: &str) -> Option<Span> {
        let (a, b) = s.split_once('-')?;
        let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").ok();
        let span = Span::new(t(a)?, t(b)?);
        (span.start < span.end).then_some(span)
    }
}

/// Minutes since midnight as "HH:MM".
pub fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The hours of a week: the days worked (Monday first), one span a day, and breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    pub days: [bool; 7],
    pub open: Span,
    pub breaks: Vec<Span>,
}

impl Default for Hours {
    /// Monday to Friday, 08:00 to 18:00.
    fn default() -> Hours {
        Hours {
            days: [true, true, true, true, true, false, false],
            open: Span {
                start: 8 * 60,
                end: 18 * 60,
            },
            breaks: Vec::new(),
        }
    }
}

impl Hours {
    /// As stored: "1111100 08:00-18:00 12:30-13:30".
    pub fn to_text(&self) -> String {
        let days: String = self
            .days
            .iter()
            .map(|d| if *d { '1' } else { '0' })
            .collect();
        let mut parts = vec![days, self.open.text()];
        parts.extend(self.breaks.iter().map(Span::text));
        parts.join(" ")
    }

    fn from_text(s: &str) -> Option<Hours> {
        let mut parts = s.split_whitespace();
        let days = parts.next()?;
        if days.len() != 7 || !days.chars().all(|c| c == '0' || c == '1') {
            return None;
        }
        let mut mask = [false; 7];
        for (i, c) in days.chars().enumerate() {
            mask[i] = c == '1';
        }
        let open = Span::parse(parts.next()?)?;
        let breaks = parts.map(Span::parse).collect::<Option<Vec<_>>>()?;
        Some(Hours {
            days: mask,
            open,
            breaks,
        })
    }

    /// Whether the stretch from `at` for `minutes` lies inside these hours, outside breaks.
    pub fn covers(&self, at: NaiveDateTime, minutes: i64) -> bool {
        if !self.days[at.weekday().num_days_from_monday() as usize] {
            return false;
        }
        let start = (at.hour() * 60 + at.minute()) as i64;
        let end = start + minutes;
        if start < self.open.start as i64 || end > self.open.end as i64 {
            return false;
        }
        !self
            .breaks
            .iter()
            .any(|b| b.overlaps(start as u16, end.min(24 * 60) as u16))
    }

    /// Whether `date` is a working day.
    pub fn works_on(&self, date: NaiveDate) -> bool {
        self.days[date.weekday().num_days_from_monday() as usize]
    }

    fn problem(&self) -> Option<String> {
        if !self.days.iter().any(|d| *d) {
            return Some("choose at least one day of the week".into());
        }
        if self.open.start >= self.open.end {
            return Some("the day must end after it starts".into());
        }
        self.breaks
            .iter()
            .any(|b| b.start >= b.end || b.start < self.open.start || b.end > self.open.end)
            .then(|| "a break must end after it starts, within the day".into())
    }
}

use super::settings::{get, put};

const CLINIC: &str = "hours:clinic";

fn key_of(staff_id: &str) -> String {
    format!("hours:{staff_id}")
}

/// The clinic's opening hours (Monday to Friday, 08:00 to 18:00 until an administrator sets
/// them).
pub fn clinic(db: &Connection) -> Result<Hours> {
    Ok(get(db, CLINIC)?
        .and_then(|t| Hours::from_text(&t))
        .unwrap_or_default())
}

/// A clinician's working hours (the clinic's, until set).
pub fn of(db: &Connection, staff_id: &str) -> Result<Hours> {
    match get(db, &key_of(staff_id))?.and_then(|t| Hours::from_text(&t)) {
        Some(h) => Ok(h),
        None => clinic(db),
    }
}

fn checked(h: &Hours) -> Result<()> {
    match h.problem() {
        Some(message) => Err(ClinicError::Invalid(vec![FieldError {
            field: "hours",
            message,
        }])),
        None => Ok(()),
    }
}

/// Sets the clinic's opening hours (administrators), recorded.
pub fn set_clinic(db: &Connection, actor: &Actor, h: &Hours) -> Result<()> {
    checked(h)?;
    put(db, actor, CLINIC, &h.to_text())
}

/// Sets a clinician's working hours (administrators), recorded.
pub fn set_for(db: &Connection, actor: &Actor, staff_id: &str, h: &Hours) -> Result<()> {
    checked(h)?;
    super::staff::get(db, staff_id)?;
    put(db, actor, &key_of(staff_id), &h.to_text())
}

/// A kind of appointment and how long it usually takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub name: String,
    pub minutes: i64,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} min)", self.name, self.minutes)
    }
}

const KINDS: &str = "appointment_types";

/// The clinic's appointment types: new patient 30 minutes and follow-up 15 until an
/// administrator sets others.
pub fn kinds(db: &Connection) -> Result<Vec<Kind>> {
    let parsed = get(db, KINDS)?.and_then(|t| {
        t.split(';')
            .map(|k| {
                let (name, minutes) = k.rsplit_once('=')?;
                let minutes: i64 = minutes.trim().parse().ok()?;
                let name = name.trim();
                (!name.is_empty() && (5..=480).contains(&minutes)).then(|| Kind {
                    name: name.to_string(),
                    minutes,
                })
            })
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
    });
    Ok(parsed.unwrap_or_else(|| {
        vec![
            Kind {
                name: "New patient".into(),
                minutes: 30,
            },
            Kind {
                name: "Follow-up".into(),
                minutes: 15,
            },
        ]
    }))
}

/// Sets the clinic's appointment types (administrators), recorded.
pub fn set_kinds(db: &Connection, actor: &Actor, kinds: &[Kind]) -> Result<()> {
    let bad = kinds.is_empty()
        || kinds.iter().any(|k| {
            k.name.trim().is_empty()
                || k.name.contains([';', '='])
                || !(5..=480).contains(&k.minutes)
        });
    if bad {
        return Err(ClinicError::Invalid(vec![FieldError {
            field: "appointment_types",
            message: "each type needs a name (without ; or =) and 5 to 480 minutes".into(),
        }]));
    }
    let text: Vec<String> = kinds
        .iter()
        .map(|k| format!("{}={}", k.name.trim(), k.minutes))
        .collect();
    put(db, actor, KINDS, &text.join(";"))
}
