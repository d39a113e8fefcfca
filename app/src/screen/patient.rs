//! A patient's page: details with allergies impossible to miss, booking, appointments, visits,
//! the record's history, archive/restore, and merging a duplicate record into this one (or
//! undoing such a merge).

use carebook_sync::clinic::appointments::{self, Appointment};
use carebook_sync::clinic::history::Entry;
use carebook_sync::clinic::patients::{self, Patient};
use carebook_sync::clinic::staff::{Role, Staff};
use carebook_sync::clinic::visits::{self, Visit};
use carebook_sync::clinic::{self, history};
use carebook_sync::store::Store;
use iced::widget::{button, column, container, pick_list, row, scrollable, text, text_input};
use iced::{Center, Element, Fill, FillPortion, Task};

use crate::app::{App, Message, Route};
use crate::theme;

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
}

pub fn load(store: &Store, id: &str) -> Result<Loaded, String> {
    let db = store.writer();
    let read = || -> clinic::Result<Loaded> {
        let patient = patients::get(&db, id)?;
        Ok(Loaded {
            appointments: appointments::for_patient(&db, id)?,
            visits: visits::for_patient(&db, id)?,
            history: history::for_patient(&db, id)?,
            duplicates: patients::possible_duplicates(&db, &patient.fields, Some(id))?,
            merge: patients::merge_of(&db, id)?,
            patient,
        })
    };
    read().map_err(|e| e.to_string())
}

fn msg(m: Msg) -> Message {
    Message::Patient(m)
}

#[derive(Debug, Default)]
pub struct PatientPage {
    pub data: Option<Loaded>,
    pub book_at: String,
    pub book_minutes: String,
    pub book_reason: String,
    pub book_with: Option<Staff>,
    pub doctors: Vec<Staff>,
}

#[derive(Debug, Clone)]
pub enum Msg {
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
    pub fn loaded(&mut self, data: Loaded, staff: &[Staff]) {
        self.data = Some(data);
        self.doctors = staff
            .iter()
            .filter(|s| s.role == Role::Doctor)
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

    pub fn view<'a>(&'a self, app: &'a App) -> Element<'a, Message> {
        let Some(d) = &self.data else {
            return text("Loading…").into();
        };
        let p = &d.patient;
        let f = &p.fields;
        let header = row![
            text(p.display_name()).font(theme::BOLD).size(26),
            text(format!(
                "{}  ·  born {}  ·  {}",
                p.chart_no, f.date_of_birth, f.sex
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
                .map(|m| button(text("Undo merge")).on_press(msg(Msg::UndoMerge(m))));
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
            button(text("Edit")).on_press(msg(Msg::Edit)),
            button(text("New visit note")).on_press(msg(Msg::StartVisit)),
            if p.archived {
                button(text("Restore"))
                    .style(button::secondary)
                    .on_press(msg(Msg::Archive(false)))
            } else {
                button(text("Archive"))
                    .style(button::secondary)
                    .on_press(msg(Msg::Archive(true)))
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
                    .on_input(|v| msg(Msg::BookAt(v)))
                    .width(170),
                text_input("minutes", &self.book_minutes)
                    .on_input(|v| msg(Msg::BookMinutes(v)))
                    .width(70),
                pick_list(self.doctors.as_slice(), self.book_with.clone(), |s| msg(
                    Msg::BookWith(s)
                )),
            ]
            .spacing(6),
            row![
                text_input("Reason", &self.book_reason)
                    .on_input(|v| msg(Msg::BookReason(v)))
                    .on_submit(msg(Msg::Book)),
                button(text("Book")).on_press(msg(Msg::Book)),
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
        for v in &d.visits {
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
                .on_press(msg(Msg::OpenVisit(v.id.clone()))),
            );
        }
        let mut past = column![text("History").font(theme::BOLD)].spacing(2);
        for e in d.history.iter().take(50) {
            let when = chrono::DateTime::from_timestamp(e.at, 0)
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                })
                .unwrap_or_default();
            let device = if e.device_id == app.device_id {
                "this computer".to_string()
            } else {
                format!("computer {}", &e.device_id[..e.device_id.len().min(6)])
            };
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
                            .on_press(Message::Go(Route::Patient(o.id.clone()))),
                        button(text("Merge into this record"))
                            .style(button::danger)
                            .on_press(msg(Msg::Merge(o.id.clone()))),
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
        let right = column![notes, past].spacing(16).width(FillPortion(1));
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

pub fn update(app: &mut App, msg: Msg) -> Task<Message> {
    let Some(actor) = app.actor() else {
        return Task::none();
    };
    let crate::app::Screen::Patient(page) = &mut app.screen else {
        return Task::none();
    };
    let Some(id) = page.data.as_ref().map(|d| d.patient.id.clone()) else {
        return Task::none();
    };
    match msg {
        Msg::BookAt(v) => page.book_at = v,
        Msg::BookMinutes(v) => page.book_minutes = v,
        Msg::BookReason(v) => page.book_reason = v,
        Msg::BookWith(s) => page.book_with = Some(s),
        Msg::Edit => return app.update(Message::Go(Route::EditPatient(id))),
        Msg::OpenVisit(v) => return app.update(Message::Go(Route::Visit(v))),
        Msg::Book => {
            let Ok(minutes) = page.book_minutes.trim().parse::<i64>() else {
                app.notice = Some("Duration must be a number of minutes".into());
                return Task::none();
            };
            let (at, reason) = (page.book_at.trim().to_string(), page.book_reason.clone());
            let with = page
                .book_with
                .as_ref()
                .map(|s| s.id.clone())
                .unwrap_or_default();
            page.book_reason.clear();
            return app.runner.spawn(move |store| {
                let r =
                    appointments::book(&store.writer(), &actor, &id, &with, &at, minutes, &reason);
                Message::Done(r.map(|_| None).map_err(|e| e.to_string()))
            });
        }
        Msg::StartVisit => {
            let clinician = app
                .me
                .as_ref()
                .filter(|s| s.role == Role::Doctor)
                .or(page.book_with.as_ref())
                .map(|s| s.id.clone())
                .unwrap_or_default();
            let today = chrono::Local::now().format("%Y-%m-%d").to_string();
            return app.runner.spawn(move |store| {
                let r = visits::start(&store.writer(), &actor, &id, &clinician, &today);
                Message::Done(r.map(|v| Some(Route::Visit(v))).map_err(|e| e.to_string()))
            });
        }
        Msg::Archive(archived) => {
            return app.runner.spawn(move |store| {
                let r = patients::set_archived(&store.writer(), &actor, &id, archived);
                Message::Done(r.map(|()| None).map_err(|e| e.to_string()))
            });
        }
        Msg::Merge(absorbed) => {
            return app.runner.spawn(move |store| {
                let r = patients::merge(&store.writer(), &actor, &id, &absorbed);
                Message::Done(r.map(|_| None).map_err(|e| e.to_string()))
            });
        }
        Msg::UndoMerge(merge) => {
            return app.runner.spawn(move |store| {
                let r = patients::undo_merge(&store.writer(), &actor, &merge);
                Message::Done(r.map(|()| None).map_err(|e| e.to_string()))
            });
        }
    }
    Task::none()
}
