//! The appointment book: any day or week, every clinician side by side or one, with the
//! clinic's opening hours and each clinician's working hours and breaks; booking by clicking a
//! free slot or typing a time ("tomorrow 10"), with the patient searched for, the appointment
//! type's usual duration, the next free slot, and a warning before double booking; moving and
//! cancelling. It refreshes when another computer books, keeping the day and what is typed.

mod view;

use carebook_sync::clinic::appointments::{self, Appointment, Status};
use carebook_sync::clinic::hours::{Hours, Kind};
use carebook_sync::clinic::search::{self, Hit};
use carebook_sync::clinic::staff::Staff;
use carebook_sync::clinic::{self, when, Actor};
use carebook_sync::store::CrrConnection;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use iced::Task;

use crate::context::Context;
use crate::nav::{Event, Route};

/// Who the book shows: every clinician, or one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    All,
    One(Staff),
}

impl std::fmt::Display for Whose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Whose::All => f.write_str("All clinicians"),
            Whose::One(s) => f.write_str(&s.name),
        }
    }
}

pub use carebook_sync::clinic::book::Days as Loaded;

/// A booking (or a move) being filled in.
#[derive(Debug, Clone, Default)]
pub struct Booking {
    /// The appointment being moved (None: a new one).
    pub moving: Option<String>,
    /// The time as typed ("9:30", "tomorrow 10", or the slot clicked).
    pub at: String,
    pub with: Option<Staff>,
    pub query: String,
    pub hits: Vec<Hit>,
    pub patient: Option<Hit>,
    pub kind: Option<Kind>,
    pub minutes: String,
    pub reason: String,
    /// The overlap found on Save, waiting for "Book anyway".
    pub overlap: Option<String>,
}

#[derive(Debug)]
pub struct Book {
    /// The day shown (the week view shows its Monday to Sunday).
    pub date: NaiveDate,
    pub week: bool,
    pub whose: Whose,
    pub data: Option<Loaded>,
    pub booking: Option<Booking>,
    /// The appointment whose details are shown.
    pub selected: Option<String>,
    /// A date typed to go to.
    pub go_to: String,
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Loaded(Result<Box<Loaded>, String>),
    Previous,
    Next,
    Today,
    Week(bool),
    Whose(Whose),
    GoTo(String),
    GoToSubmit,
    /// The day view of this date (from the week view).
    OpenDay(NaiveDate),
    /// A free slot was clicked: book with that clinician at that time.
    Slot(String, NaiveDateTime),
    NewBooking,
    At(String),
    With(Staff),
    Query(String),
    Found(String, Result<Vec<Hit>, String>),
    Patient(Hit),
    /// Choose another patient.
    ChangePatient,
    Kind(Kind),
    Minutes(String),
    Reason(String),
    NextFree,
    FreeFound(Result<Option<(String, NaiveDateTime)>, String>),
    Save,
    BookAnyway,
    CloseBooking,
    Select(String),
    Move(String),
    Cancel(String),
    OpenPatient(String),
    Written(Result<String, String>),
}

/// The person on the staff list with this id.
fn person(ctx: &Context, id: &str) -> Option<Staff> {
    ctx.staff.iter().find(|s| s.id == id).cloned()
}

/// A time as the book types it into the booking form.
fn typed(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

fn now() -> NaiveDateTime {
    chrono::Local::now().naive_local()
}

impl Book {
    pub fn open(ctx: &Context) -> (Book, Task<Msg>) {
        let b = Book {
            date: now().date(),
            week: false,
            whose: Whose::All,
            data: None,
            booking: None,
            selected: None,
            go_to: String::new(),
            message: None,
        };
        let task = b.refresh(ctx);
        (b, task)
    }

    /// The first and last day shown.
    pub fn span(&self) -> (NaiveDate, NaiveDate) {
        if self.week {
            let monday =
                self.date - Duration::days(self.date.weekday().num_days_from_monday() as i64);
            (monday, monday + Duration::days(6))
        } else {
            (self.date, self.date)
        }
    }

    /// Reads the book again (on opening, on moving the date, and when records changed).
    pub fn refresh(&self, ctx: &Context) -> Task<Msg> {
        let (from, to) = self.span();
        ctx.runner
            .read(move |db| {
                clinic::book::days(db, from, to)
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            })
            .map(Msg::Loaded)
    }

    /// The clinicians shown, with their hours.
    pub fn shown(&self) -> Vec<&(Staff, Hours)> {
        let Some(d) = &self.data else {
            return Vec::new();
        };
        d.clinicians
            .iter()
            .filter(|(s, _)| match &self.whose {
                Whose::All => true,
                Whose::One(one) => one.id == s.id,
            })
            .collect()
    }

    fn booking(&mut self) -> &mut Booking {
        self.booking.get_or_insert_with(Booking::default)
    }

    fn start_booking(&mut self, with: Option<Staff>, at: Option<NaiveDateTime>) {
        let kind = self.data.as_ref().and_then(|d| d.kinds.last().cloned());
        self.booking = Some(Booking {
            at: at.map(typed).unwrap_or_default(),
            with,
            minutes: kind
                .as_ref()
                .map(|k| k.minutes.to_string())
                .unwrap_or("15".into()),
            kind,
            ..Booking::default()
        });
        self.selected = None;
        self.message = None;
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        let step = if self.week { 7 } else { 1 };
        match msg {
            Msg::Loaded(Ok(d)) => self.data = Some(*d),
            Msg::Loaded(Err(e)) => return (Task::none(), Some(Event::Notice(e))),
            Msg::Previous => return self.go(self.date - Duration::days(step), ctx),
            Msg::Next => return self.go(self.date + Duration::days(step), ctx),
            Msg::Today => return self.go(now().date(), ctx),
            Msg::Week(w) => {
                self.week = w;
                return (self.refresh(ctx), None);
            }
            Msg::Whose(w) => self.whose = w,
            Msg::GoTo(v) => self.go_to = v,
            Msg::OpenDay(d) => {
                self.week = false;
                return self.go(d, ctx);
            }
            Msg::GoToSubmit => {
                let typed = self.go_to.trim().to_string();
                let day = NaiveDate::parse_from_str(&typed, "%Y-%m-%d")
                    .ok()
                    .or_else(|| {
                        when::parse(&format!("{typed} 12:00"), now())
                            .ok()
                            .map(|t| t.date())
                    });
                match day {
                    Some(d) => {
                        self.go_to.clear();
                        return self.go(d, ctx);
                    }
                    None => {
                        self.message = Some(format!(
                            "Could not read \u{201c}{typed}\u{201d} as a date: try 2026-12-24, tomorrow, fri or 24 dec"
                        ))
                    }
                }
            }
            Msg::Slot(clinician, at) => {
                let with = person(ctx, &clinician);
                self.start_booking(with, Some(at));
            }
            Msg::NewBooking => {
                let with = match &self.whose {
                    Whose::One(s) => Some(s.clone()),
                    Whose::All => None,
                };
                self.start_booking(with, None);
            }
            Msg::At(v) => {
                let b = self.booking();
                b.at = v;
                b.overlap = None;
            }
            Msg::With(s) => {
                let b = self.booking();
                b.with = Some(s);
                b.overlap = None;
            }
            Msg::Query(q) => {
                self.booking().query = q.clone();
                let task = ctx
                    .runner
                    .read({
                        let q = q.clone();
                        move |db| search::search(db, &q, 8).map_err(|e| e.to_string())
                    })
                    .map(move |r| Msg::Found(q.clone(), r));
                return (task, None);
            }
            Msg::Found(q, r) => {
                if let Some(b) = self.booking.as_mut().filter(|b| b.query == q) {
                    b.hits = r.unwrap_or_default();
                }
            }
            Msg::Patient(hit) => {
                let b = self.booking();
                b.query.clear();
                b.hits.clear();
                b.patient = Some(hit);
            }
            Msg::ChangePatient => self.booking().patient = None,
            Msg::Kind(k) => {
                let b = self.booking();
                b.minutes = k.minutes.to_string();
                b.kind = Some(k);
                b.overlap = None;
            }
            Msg::Minutes(v) => {
                let b = self.booking();
                b.minutes = v;
                b.overlap = None;
            }
            Msg::Reason(v) => self.booking().reason = v,
            Msg::NextFree => return (self.next_free(ctx), None),
            Msg::FreeFound(r) => match r {
                Ok(Some((clinician, at))) => {
                    let with = person(ctx, &clinician);
                    let b = self.booking();
                    b.at = typed(at);
                    b.with = with;
                    b.overlap = None;
                    self.date = at.date();
                    return (self.refresh(ctx), None);
                }
                Ok(None) => self.message = Some("No free slot in the next two weeks".into()),
                Err(e) => self.message = Some(e),
            },
            Msg::Save => return (self.save(ctx, false), None),
            Msg::BookAnyway => return (self.save(ctx, true), None),
            Msg::CloseBooking => self.booking = None,
            Msg::Select(id) => {
                self.selected = (self.selected.as_ref() != Some(&id)).then_some(id);
                self.booking = None;
            }
            Msg::Move(id) => {
                let Some(a) = self.find(&id).cloned() else {
                    return (Task::none(), None);
                };
                let with = person(ctx, &a.clinician_id);
                self.booking = Some(Booking {
                    moving: Some(id),
                    at: a.starts_at.replace('T', " "),
                    with,
                    patient: Some(Hit {
                        id: a.patient_id.clone(),
                        chart_no: a.chart_no.clone(),
                        given_name: String::new(),
                        family_name: a.patient_name.clone(),
                        date_of_birth: String::new(),
                        phone: String::new(),
                        allergies: String::new(),
                    }),
                    minutes: a.duration_min.to_string(),
                    reason: a.reason.clone(),
                    ..Booking::default()
                });
                self.selected = None;
            }
            Msg::Cancel(id) => {
                return (
                    write(ctx, move |db, actor| {
                        appointments::set_status(db, actor, &id, Status::Cancelled)
                            .map(|()| "The appointment was cancelled".to_string())
                    }),
                    None,
                )
            }
            Msg::OpenPatient(id) => return (Task::none(), Some(Event::Open(Route::Patient(id)))),
            Msg::Written(r) => match r {
                Err(e) if e.starts_with(OVERLAP) => {
                    self.booking().overlap = Some(e[OVERLAP.len()..].to_string());
                }
                Ok(done) => {
                    self.booking = None;
                    self.selected = None;
                    self.message = Some(done);
                }
                Err(e) => self.message = Some(crate::screen::capitalised(&e)),
            },
        }
        (Task::none(), None)
    }

    fn go(&mut self, date: NaiveDate, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        self.date = date;
        self.selected = None;
        (self.refresh(ctx), None)
    }

    pub fn find(&self, id: &str) -> Option<&Appointment> {
        self.data.as_ref()?.appointments.iter().find(|a| a.id == id)
    }

    /// The typed time and duration, or why they cannot be used.
    fn when(&self) -> Result<(NaiveDateTime, i64), String> {
        let b = self.booking.as_ref().ok_or("Start a booking first")?;
        let at = when::parse(&b.at, now()).map_err(|e| crate::screen::capitalised(&e))?;
        let minutes: i64 = b
            .minutes
            .trim()
            .parse()
            .map_err(|_| "The duration is a number of minutes".to_string())?;
        Ok((at, minutes))
    }

    fn next_free(&mut self, ctx: &Context) -> Task<Msg> {
        let minutes = self.when().map(|(_, m)| m).unwrap_or(15);
        let who: Vec<String> = match self.booking.as_ref().and_then(|b| b.with.clone()) {
            Some(s) => vec![s.id],
            None => self.shown().iter().map(|(s, _)| s.id.clone()).collect(),
        };
        let after = now().max(self.date.and_hms_opt(0, 0, 0).unwrap_or_default());
        ctx.runner
            .read(move |db| {
                appointments::next_free(db, &who, after, minutes, 14).map_err(|e| e.to_string())
            })
            .map(Msg::FreeFound)
    }

    /// Books (or moves); an overlap with the clinician's other appointments is told first and
    /// booked only when `anyway`.
    fn save(&mut self, ctx: &Context, anyway: bool) -> Task<Msg> {
        let (at, minutes) = match self.when() {
            Ok(w) => w,
            Err(e) => {
                self.message = Some(e);
                return Task::none();
            }
        };
        let Some(b) = self.booking.clone() else {
            return Task::none();
        };
        let (Some(patient), Some(with)) = (b.patient.clone(), b.with.clone()) else {
            self.message = Some("Choose the patient and the clinician".into());
            return Task::none();
        };
        self.message = None;
        let starts = at.format("%Y-%m-%dT%H:%M").to_string();
        let reason = if b.reason.trim().is_empty() {
            b.kind.as_ref().map(|k| k.name.clone()).unwrap_or_default()
        } else {
            b.reason.clone()
        };
        write(ctx, move |db, actor| {
            if !anyway {
                let others =
                    appointments::overlapping(db, &with.id, at, minutes, b.moving.as_deref())?;
                if let Some(o) = others.first() {
                    return Err(clinic::ClinicError::Refused(format!(
                        "{OVERLAP}{} already has {} at {} ({} min). Book anyway?",
                        with.name,
                        o.patient_name,
                        o.starts_at.get(11..16).unwrap_or(""),
                        o.duration_min
                    )));
                }
            }
            match &b.moving {
                Some(id) => appointments::reschedule(db, actor, id, &starts, &with.id)
                    .map(|()| format!("Moved to {} with {}", starts.replace('T', " "), with.name)),
                None => {
                    appointments::book(db, actor, &patient.id, &with.id, &starts, minutes, &reason)
                        .map(|_| {
                            format!(
                                "Booked {} with {} at {}",
                                patient_name(&patient),
                                with.name,
                                starts.replace('T', " ")
                            )
                        })
                }
            }
        })
    }
}

/// Marks the refusal that is an overlap to confirm, not a failure.
pub const OVERLAP: &str = "overlap: ";

fn patient_name(h: &Hit) -> String {
    clinic::patients::display_name(&h.given_name, &h.family_name)
}

/// Runs a write as the person at the keyboard.
fn write(
    ctx: &Context,
    job: impl FnOnce(&CrrConnection, &Actor) -> clinic::Result<String> + Send + 'static,
) -> Task<Msg> {
    let Some(actor) = ctx.actor() else {
        return Task::none();
    };
    ctx.runner
        .spawn(move |store| Msg::Written(job(&store.writer(), &actor).map_err(|e| e.to_string())))
}
