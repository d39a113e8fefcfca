//! A patient's page: details with allergies impossible to miss, booking, appointments, visits,
//! the record's history, archive/restore, and merging a duplicate record into this one (or
//! undoing such a merge).

use carebook_sync::clinic::access::Permission;
use carebook_sync::clinic::appointments::{self, Appointment};
use carebook_sync::clinic::history::Entry;
use carebook_sync::clinic::patients::{self, Patient};
use carebook_sync::clinic::staff::{Role, Staff};
use carebook_sync::clinic::visits::{self, Visit};
use carebook_sync::clinic::{self, access, history, Actor};
use carebook_sync::store::CrrConnection;
use iced::widget::{button, column, container, pick_list, row, scrollable, text, text_input};
use iced::{Center, Element, Fill, FillPortion, Task};

use crate::context::Context;
use crate::nav::{self, Event, Route};
use crate::{clock, theme};

/// Everything the page shows, read in one go.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub patient: Patient,
    pub appointments: Vec<Appointment>,
    pub visits: Vec<Visit>,
    pub history: Vec<Entry>,
    pub duplicates: Vec<Patient>,
    /// The merge that absorbed this record, if it was merged into another.
    pub merge: Option<String>,
    /// The visits' clinical text is not for this person (their roles, and no emergency access).
    pub notes_withheld: bool,
    /// This person may open visit notes (nurses and doctors).
    pub writes_notes: bool,
    /// Who looked at this record, newest first (for administrators and doctors; None for
    /// others).
    pub looked: Option<Vec<access::Entry>>,
}

fn load(db: &CrrConnection, actor: Option<&Actor>, id: &str) -> clinic::Result<Loaded> {
    let actor = actor.ok_or_else(|| clinic::ClinicError::Refused("sign in first".into()))?;
    let patient = patients::get(db, id)?;
    let roles = access::roles_of(db, actor)?;
    let looked = access::roles_may(roles, Permission::AccessLog)
        .then(|| access::for_patient(db, actor, id))
        .transpose()?;
    Ok(Loaded {
        writes_notes: access::roles_may(roles, Permission::WriteNotes),
        notes_withheld: !access::may_read_notes(db, actor, id)?,
        looked,
        appointments: appointments::for_patient(db, id)?,
        visits: visits::for_patient(db, actor, id)?,
        history: history::for_patient(db, actor, id)?,
        duplicates: patients::possible_duplicates(db, &patient.fields, Some(id))?,
        merge: patients::merge_of(db, id)?,
        patient,
    })
}

#[derive(Debug, Default)]
pub struct PatientPage {
    pub id: String,
    /// This computer's device ID (history says "this computer" for its changes).
    pub device_id: String,
    pub data: Option<Loaded>,
    pub book_at: String,
    pub book_minutes: String,
    pub book_reason: String,
    pub book_with: Option<Staff>,
    pub doctors: Vec<Staff>,
    /// Why the notes must be opened, typed by someone whose roles do not include them.
    pub emergency_reason: String,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Loaded(Result<Box<Loaded>, String>),
    Written(Result<Option<Route>, String>),
    Edit,
    Archive(bool),
    BookAt(String),
    BookMinutes(String),
    BookReason(String),
    BookWith(Staff),
    Book,
    StartVisit,
    OpenVisit(String),
    Merge(String),
    UndoMerge(String),
    OpenDuplicate(String),
    EmergencyReason(String),
    /// Open the notes in an emergency, with the typed reason (recorded, reviewed by admins).
    Emergency,
}

/// The next quarter hour from now, local time.
fn next_slot() -> String {
    let now = chrono::Local::now().naive_local();
    let minutes = (now.and_utc().timestamp() / 60 / 15 + 1) * 15 * 60;
    chrono::DateTime::from_timestamp(minutes, 0)
        .map(|t| t.naive_utc().format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

impl PatientPage {
    /// The page of patient `id`; the task reads it.
    pub fn open(id: String, ctx: &Context) -> (PatientPage, Task<Msg>) {
        let page = PatientPage {
            id,
            device_id: ctx.device_id.to_string(),
            ..PatientPage::default()
        };
        // Opening a record is in its access log ("who looked at this record").
        let (id, actor) = (page.id.clone(), ctx.actor());
        let record = ctx.runner.spawn(move |store| {
            let logged = actor
                .ok_or_else(|| "sign in first".to_string())
                .and_then(|a| {
                    access::opened_patient(&store.writer(), &a, &id).map_err(|e| e.to_string())
                });
            Msg::Written(logged.map(|()| None))
        });
        let task = Task::batch([record, page.refresh(ctx)]);
        (page, task)
    }

    /// Reads the page again.
    pub fn refresh(&self, ctx: &Context) -> Task<Msg> {
        let (id, actor) = (self.id.clone(), ctx.actor());
        ctx.runner
            .read(move |db| {
                load(db, actor.as_ref(), &id)
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            })
            .map(Msg::Loaded)
    }

    fn loaded(&mut self, data: Loaded, staff: &[Staff]) {
        self.data = Some(data);
        self.doctors = staff
            .iter()
            .filter(|s| s.roles.has(Role::Doctor))
            .cloned()
            .collect();
        if self.book_at.is_empty() {
            self.book_at = next_slot();
            self.book_minutes = "15".into();
        }
        if self.book_with.is_none() {
            self.book_with = self.doctors.first().cloned();
        }
    }

    pub fn view(&self) -> Element<'_, Msg> {
        let Some(d) = &self.data else {
            return text("Loading…").into();
        };
        let p = &d.patient;
        let f = &p.fields;
        let header = row![
            text(p.display_name()).font(theme::BOLD).size(26),
            text(format!(
                "{}  ·  born {}  ·  {}",
                p.chart_no,
                super::patients::with_age(&f.date_of_birth),
                f.sex
            )),
        ]
        .spacing(16)
        .align_y(Center);
        let allergies = if f.allergies.trim().is_empty() {
            container(text("No known allergies recorded"))
                .padding([4, 10])
                .style(theme::card)
        } else {
            container(
                text(format!("ALLERGIES: {}", f.allergies))
                    .font(theme::BOLD)
                    .size(18),
            )
            .padding([6, 12])
            .width(Fill)
            .style(theme::alert)
        };
        let archived = p.archived.then(|| {
            let undo = d
                .merge
                .clone()
                .map(|m| button(text("Undo merge")).on_press(Msg::UndoMerge(m)));
            container(
                row![
                    text(if p.merged_into.is_empty() {
                        "Archived"
                    } else {
                        "Merged into another record"
                    }),
                    undo
                ]
                .spacing(10)
                .align_y(Center),
            )
            .padding(6)
            .style(theme::notice)
        });
        let actions = row![
            button(text("Edit")).on_press(Msg::Edit),
            d.writes_notes
                .then(|| button(text("New visit note")).on_press(Msg::StartVisit)),
            if p.archived {
                button(text("Restore"))
                    .style(button::secondary)
                    .on_press(Msg::Archive(false))
            } else {
                button(text("Archive"))
                    .style(button::secondary)
                    .on_press(Msg::Archive(true))
            },
        ]
        .spacing(8);
        let details = column![
            text("Details").font(theme::BOLD),
            text(format!("Phone: {}", f.phone)),
            text(format!("Email: {}", f.email)),
            text(format!("Address: {}", f.address)),
            text(format!("Emergency contact: {}", f.emergency_contact)),
            text(format!("Notes: {}", f.notes)),
        ]
        .spacing(4);
        let book = column![
            text("Book an appointment").font(theme::BOLD),
            row![
                text_input("YYYY-MM-DDTHH:MM", &self.book_at)
                    .on_input(Msg::BookAt)
                    .width(170),
                text_input("minutes", &self.book_minutes)
                    .on_input(Msg::BookMinutes)
                    .width(70),
                pick_list(self.doctors.as_slice(), self.book_with.clone(), |s| {
                    Msg::BookWith(s)
                }),
            ]
            .spacing(6),
            row![
                text_input("Reason", &self.book_reason)
                    .on_input(Msg::BookReason)
                    .on_submit(Msg::Book),
                button(text("Book")).on_press(Msg::Book),
            ]
            .spacing(6),
        ]
        .spacing(6);
        let mut appts = column![text("Appointments").font(theme::BOLD)].spacing(3);
        for a in d.appointments.iter().take(20) {
            appts = appts.push(text(format!(
                "{}  {}  with {}  ·  {}",
                a.starts_at.replace('T', " "),
                a.status,
                a.clinician_name,
                a.reason
            )));
        }
        let mut notes = column![text("Visits").font(theme::BOLD)].spacing(3);
        if d.notes_withheld && !d.visits.is_empty() {
            notes = notes.push(self.emergency_box());
        }
        for v in d.visits.iter().filter(|v| v.withheld) {
            let state = if v.is_final() { "final" } else { "draft" };
            notes = notes.push(text(format!(
                "{}  {}  ·  {state} note (its text is for nurses and doctors)",
                v.visit_date, v.clinician_name
            )));
        }
        for v in d.visits.iter().filter(|v| !v.withheld) {
            let state = if v.is_final() { "final" } else { "draft" };
            let amended = if v.amendments.is_empty() {
                String::new()
            } else {
                format!(", {} amendment(s)", v.amendments.len())
            };
            notes = notes.push(
                button(text(format!(
                    "{}  {}  ·  {} ({state}{amended})",
                    v.visit_date, v.clinician_name, v.fields.diagnosis
                )))
                .style(button::text)
                .on_press(Msg::OpenVisit(v.id.clone())),
            );
        }
        let mut past = column![text("History").font(theme::BOLD)].spacing(2);
        for e in d.history.iter().take(50) {
            let when = clock::local(e.at, clock::MINUTE);
            let device = computer(&e.device_id, &self.device_id);
            let label = |v: &str| {
                if e.field == "status" && e.entity == "appointment" {
                    appointments::Status::parse(v).to_string()
                } else {
                    v.to_string()
                }
            };
            let change = match (e.old_value.is_empty(), e.new_value.is_empty()) {
                (true, true) => e.field.clone(),
                (true, false) => format!("{}: {}", e.field, label(&e.new_value)),
                _ => format!(
                    "{}: {} → {}",
                    e.field,
                    label(&e.old_value),
                    label(&e.new_value)
                ),
            };
            past = past.push(
                text(format!(
                    "{when}  {} on {device}  ·  {} {change}",
                    e.staff_name, e.entity
                ))
                .size(13),
            );
        }
        let dupes = (!d.duplicates.is_empty() && !p.archived).then(|| {
            let mut c = column![text(
                "Possible duplicates of this record (same date of birth, similar name)"
            )
            .font(theme::BOLD)]
            .spacing(4);
            for o in &d.duplicates {
                c = c.push(
                    row![
                        text(format!("{}  ·  {}", o.display_name(), o.chart_no)),
                        button(text("Open"))
                            .style(button::secondary)
                            .on_press(Msg::OpenDuplicate(o.id.clone())),
                        button(text("Merge into this record"))
                            .style(button::danger)
                            .on_press(Msg::Merge(o.id.clone())),
                    ]
                    .spacing(8)
                    .align_y(Center),
                );
            }
            container(c).padding(8).width(Fill).style(theme::notice)
        });
        let left = column![details, book, appts]
            .spacing(16)
            .width(FillPortion(1));
        let right = column![
            notes,
            past,
            d.looked.as_deref().map(|l| looked(l, &self.device_id))
        ]
        .spacing(16)
        .width(FillPortion(1));
        scrollable(
            column![
                header,
                allergies,
                archived,
                actions,
                dupes,
                row![left, right].spacing(24)
            ]
            .spacing(12)
            .padding([0, 8]),
        )
        .height(Fill)
        .into()
    }
}

/// Which computer did it, in the history's words.
fn computer(device_id: &str, here: &str) -> String {
    if device_id == here {
        "this computer".to_string()
    } else {
        format!("computer {}", &device_id[..device_id.len().min(6)])
    }
}

/// "Who looked at this record": the access log's rows for it, newest first.
fn looked<'a>(entries: &'a [access::Entry], here: &str) -> Element<'a, Msg> {
    let mut c = column![text("Who looked at this record").font(theme::BOLD)].spacing(2);
    for e in entries.iter().take(50) {
        let why = if e.detail.is_empty() {
            String::new()
        } else {
            format!(": “{}”", e.detail)
        };
        c = c.push(
            text(format!(
                "{}  {} on {}  ·  {}{why}",
                clock::local(e.at, clock::MINUTE),
                e.staff_name,
                computer(&e.device_id, here),
                e.action
            ))
            .size(13),
        );
    }
    c.into()
}

impl PatientPage {
    /// For someone whose roles do not include the notes: opening them in an emergency, with a
    /// reason that is recorded and reviewed by an administrator.
    fn emergency_box(&self) -> Element<'_, Msg> {
        container(
            column![
                text("Visit notes are for nurses and doctors. In an emergency you can open them here for 12 hours: say why. It is recorded and an administrator reviews it."),
                row![
                    text_input("Why the notes must be opened", &self.emergency_reason)
                        .on_input(Msg::EmergencyReason)
                        .on_submit(Msg::Emergency),
                    button(text("Open in an emergency"))
                        .style(button::danger)
                        .on_press(Msg::Emergency),
                ]
                .spacing(8),
            ]
            .spacing(6),
        )
        .padding(8)
        .width(Fill)
        .style(theme::notice)
        .into()
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        let id = self.id.clone();
        let open = |r: Route| (Task::none(), Some(Event::Open(r)));
        match msg {
            Msg::Loaded(Ok(data)) => self.loaded(*data, ctx.staff),
            Msg::Loaded(Err(e)) => return (Task::none(), Some(Event::Notice(e))),
            Msg::Written(r) => return (Task::none(), nav::written(r)),
            Msg::BookAt(v) => self.book_at = v,
            Msg::BookMinutes(v) => self.book_minutes = v,
            Msg::BookReason(v) => self.book_reason = v,
            Msg::BookWith(s) => self.book_with = Some(s),
            Msg::Edit => return open(Route::EditPatient(id)),
            Msg::OpenVisit(v) => return open(Route::Visit(v)),
            Msg::OpenDuplicate(other) => return open(Route::Patient(other)),
            Msg::EmergencyReason(v) => self.emergency_reason = v,
            Msg::Emergency => {
                let reason = self.emergency_reason.clone();
                return self.write(ctx, move |db, actor| {
                    access::emergency(db, actor, &id, &reason).map(|()| None)
                });
            }
            Msg::Book => {
                let Ok(minutes) = self.book_minutes.trim().parse::<i64>() else {
                    let why = "Duration must be a number of minutes".to_string();
                    return (Task::none(), Some(Event::Notice(why)));
                };
                let (at, reason) = (self.book_at.trim().to_string(), self.book_reason.clone());
                let with = self
                    .book_with
                    .as_ref()
                    .map(|s| s.id.clone())
                    .unwrap_or_default();
                self.book_reason.clear();
                return self.write(ctx, move |db, actor| {
                    appointments::book(db, actor, &id, &with, &at, minutes, &reason).map(|_| None)
                });
            }
            Msg::StartVisit => {
                let clinician = ctx
                    .me
                    .filter(|s| s.roles.has(Role::Doctor))
                    .or(self.book_with.as_ref())
                    .map(|s| s.id.clone())
                    .unwrap_or_default();
                let today = chrono::Local::now().format("%Y-%m-%d").to_string();
                return self.write(ctx, move |db, actor| {
                    visits::start(db, actor, &id, &clinician, &today).map(|v| Some(Route::Visit(v)))
                });
            }
            Msg::Archive(archived) => {
                return self.write(ctx, move |db, actor| {
                    patients::set_archived(db, actor, &id, archived).map(|()| None)
                });
            }
            Msg::Merge(absorbed) => {
                return self.write(ctx, move |db, actor| {
                    patients::merge(db, actor, &id, &absorbed).map(|_| None)
                });
            }
            Msg::UndoMerge(merge) => {
                return self.write(ctx, move |db, actor| {
                    patients::undo_merge(db, actor, &merge).map(|()| None)
                });
            }
        }
        (Task::none(), None)
    }

    /// Runs a write as the person at the keyboard; its result says where to go next.
    fn write(
        &self,
        ctx: &Context,
        job: impl FnOnce(&CrrConnection, &Actor) -> clinic::Result<Option<Route>> + Send + 'static,
    ) -> (Task<Msg>, Option<Event>) {
        let Some(actor) = ctx.actor() else {
            return (Task::none(), None);
        };
        let task = ctx.runner.spawn(move |store| {
            Msg::Written(job(&store.writer(), &actor).map_err(|e| e.to_string()))
        });
        (task, None)
    }
}
