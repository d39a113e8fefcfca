//! The Staff screen (administrators): everyone on the staff list with their roles and whether
//! they have a PIN, adding a person, changing a name or roles, deactivating and reactivating
//! (never a delete), clearing a PIN; the clinic's idle lock; opening and working hours and the
//! appointment types (`hours`); the emergency accesses to review;
//! and the access log saved as CSV for an audit. The library checks every one of these again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use carebook_sync::clinic::access::{self, Entry};
use carebook_sync::clinic::staff::{self, Role, Roles, Staff};
use carebook_sync::clinic::{self, patients, pin, settings, Actor};
use carebook_sync::store::CrrConnection;
use iced::widget::{button, checkbox, column, container, row, scrollable, text, text_input};
use iced::{Center, Element, Fill, Task};

use crate::context::Context;
use crate::nav::Event;
use crate::screen::capitalised;
use crate::screen::hours::{self, HoursEditor};
use crate::{clock, dialogs, theme};

/// An emergency access to review, with the patient's name.
#[derive(Debug, Clone)]
pub struct Emergency {
    pub entry: Entry,
    pub patient: String,
}

/// What the screen shows, read in one go.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub everyone: Vec<Staff>,
    /// Who has set a PIN.
    pub with_pin: HashSet<String>,
    pub idle_minutes: u32,
    pub emergencies: Vec<Emergency>,
}

fn load(db: &CrrConnection, actor: &Actor) -> clinic::Result<Loaded> {
    let everyone = staff::everyone(db)?;
    let mut with_pin = HashSet::new();
    for s in &everyone {
        if pin::has_pin(db, &s.id)? {
            with_pin.insert(s.id.clone());
        }
    }
    let mut emergencies = Vec::new();
    for entry in access::emergencies(db, actor)? {
        let patient = patients::get(db, &entry.patient_id)
            .map(|p| p.display_name())
            .unwrap_or_else(|_| "a record no longer on file".into());
        emergencies.push(Emergency { entry, patient });
    }
    Ok(Loaded {
        everyone,
        with_pin,
        idle_minutes: settings::idle_lock_minutes(db)?,
        emergencies,
    })
}

/// A person's name and roles being changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editing {
    pub id: String,
    pub name: String,
    pub roles: Roles,
}

#[derive(Debug, Default)]
pub struct StaffScreen {
    pub data: Option<Loaded>,
    pub new_name: String,
    pub new_roles: Roles,
    pub editing: Option<Editing>,
    /// The idle lock as typed, in minutes.
    pub idle: String,
    /// The person whose PIN a second press of "Clear PIN" clears.
    pub confirm_reset: Option<String>,
    /// What the last action did, or why it was refused.
    pub outcome: Option<String>,
    /// Opening and working hours, and appointment types.
    pub hours: HoursEditor,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Loaded(Result<Box<Loaded>, String>),
    NewName(String),
    NewRole(Role, bool),
    Add,
    Edit(Staff),
    EditName(String),
    EditRole(Role, bool),
    SaveEdit,
    CancelEdit,
    SetActive(String, bool),
    ResetPin(String),
    Idle(String),
    SaveIdle,
    /// Ask where to save the access log (the Save dialog), then write it there.
    ExportLog,
    ExportTo(Option<PathBuf>),
    Added(Result<String, String>),
    Hours(hours::Msg),
    Done(Result<String, String>),
}

/// Writes the access log as CSV to `file` (by a temporary file renamed into place, so a cut
/// write never leaves half a log that looks whole).
fn export_log(db: &CrrConnection, actor: &Actor, file: &Path) -> Result<String, String> {
    let csv = access::export_csv(db, actor).map_err(|e| e.to_string())?;
    let tmp = file.with_extension("csv.part");
    std::fs::write(&tmp, csv.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("could not save the access log there: {e}")
        })?;
    Ok(format!(
        "The access log was saved ({} rows)",
        csv.lines().count().saturating_sub(1)
    ))
}

impl StaffScreen {
    pub fn open(ctx: &Context) -> (StaffScreen, Task<Msg>) {
        let s = StaffScreen {
            new_roles: Role::Receptionist.into(),
            ..StaffScreen::default()
        };
        let task = Task::batch([s.refresh(ctx), s.hours.load(ctx).map(Msg::Hours)]);
        (s, task)
    }

    pub fn refresh(&self, ctx: &Context) -> Task<Msg> {
        let actor = ctx.actor();
        ctx.runner
            .read(move |db| {
                let actor = actor.ok_or("sign in first")?;
                load(db, &actor).map(Box::new).map_err(|e| e.to_string())
            })
            .map(Msg::Loaded)
    }

    /// Runs a write as the person at the keyboard; its result says what it did, or why not.
    fn write(
        &self,
        ctx: &Context,
        job: impl FnOnce(&CrrConnection, &Actor) -> Result<String, String> + Send + 'static,
    ) -> Task<Result<String, String>> {
        let Some(actor) = ctx.actor() else {
            return Task::none();
        };
        ctx.runner.spawn(move |store| job(&store.writer(), &actor))
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        let said = |r: clinic::Result<()>, ok: String| r.map(|()| ok).map_err(|e| e.to_string());
        let task = match msg {
            Msg::Loaded(Ok(d)) => {
                if self.data.is_none() || self.idle.is_empty() {
                    self.idle = d.idle_minutes.to_string();
                }
                self.data = Some(*d);
                Task::none()
            }
            Msg::Loaded(Err(e)) => return (Task::none(), Some(Event::Notice(e))),
            Msg::Hours(m) => self.hours.update(m, ctx).map(Msg::Hours),
            Msg::NewName(v) => {
                self.new_name = v;
                Task::none()
            }
            Msg::NewRole(role, on) => {
                self.new_roles = toggled(self.new_roles, role, on);
                Task::none()
            }
            Msg::Add => {
                let (name, roles) = (self.new_name.clone(), self.new_roles);
                self.write(ctx, move |db, actor| {
                    staff::add_by(db, actor, &name, roles)
                        .map(|s| {
                            format!(
                                "{} was added; they choose their PIN at their first sign-in",
                                s.name
                            )
                        })
                        .map_err(|e| e.to_string())
                })
                .map(Msg::Added)
            }
            Msg::Added(r) => {
                if r.is_ok() {
                    self.new_name.clear();
                }
                self.said(r);
                Task::none()
            }
            Msg::Edit(s) => {
                self.editing = Some(Editing {
                    id: s.id,
                    name: s.name,
                    roles: s.roles,
                });
                Task::none()
            }
            Msg::EditName(v) => {
                if let Some(e) = &mut self.editing {
                    e.name = v;
                }
                Task::none()
            }
            Msg::EditRole(role, on) => {
                if let Some(e) = &mut self.editing {
                    e.roles = toggled(e.roles, role, on);
                }
                Task::none()
            }
            Msg::CancelEdit => {
                self.editing = None;
                Task::none()
            }
            Msg::SaveEdit => {
                let Some(e) = self.editing.clone() else {
                    return (Task::none(), None);
                };
                self.write(ctx, move |db, actor| {
                    staff::edit(db, actor, &e.id, &e.name, e.roles)
                        .map(|s| format!("{} is now {}", s.name, s.roles))
                        .map_err(|e| e.to_string())
                })
                .map(Msg::Done)
            }
            Msg::SetActive(id, active) => {
                let name = self.name_of(&id);
                let ok = if active {
                    format!("{name} can sign in again")
                } else {
                    format!("{name} was deactivated: they can no longer sign in; their past work keeps their name")
                };
                self.write(ctx, move |db, actor| {
                    said(staff::set_active(db, actor, &id, active), ok)
                })
                .map(Msg::Done)
            }
            // The first press asks; the second clears.
            Msg::ResetPin(id) if self.confirm_reset.as_ref() != Some(&id) => {
                self.outcome = Some(format!(
                    "Press Clear PIN again to clear {}'s PIN: they choose a new one at their next sign-in",
                    self.name_of(&id)
                ));
                self.confirm_reset = Some(id);
                Task::none()
            }
            Msg::ResetPin(id) => {
                self.confirm_reset = None;
                let ok = format!(
                    "{}'s PIN was cleared; they choose a new one at their next sign-in",
                    self.name_of(&id)
                );
                self.write(ctx, move |db, actor| said(pin::reset(db, actor, &id), ok))
                    .map(Msg::Done)
            }
            Msg::Idle(v) => {
                self.idle = v;
                Task::none()
            }
            Msg::SaveIdle => {
                let Ok(minutes) = self.idle.trim().parse::<u32>() else {
                    self.outcome = Some("The idle time is a number of minutes".into());
                    return (Task::none(), None);
                };
                let ok = format!(
                    "Every computer of the clinic now locks after {minutes} minutes untouched"
                );
                self.write(ctx, move |db, actor| {
                    said(settings::set_idle_lock_minutes(db, actor, minutes), ok)
                })
                .map(Msg::Done)
            }
            Msg::ExportLog if !dialogs::available() => {
                self.outcome = Some(dialogs::NONE.replace(": type the path below instead", ""));
                Task::none()
            }
            Msg::ExportLog => Task::perform(
                rfd::AsyncFileDialog::new()
                    .set_title("Save the access log")
                    .add_filter("CSV", &["csv"])
                    .set_file_name(format!(
                        "carebook-access-log-{}.csv",
                        chrono::Local::now().format("%Y-%m-%d")
                    ))
                    .save_file(),
                |f| Msg::ExportTo(f.map(|f| f.path().to_path_buf())),
            ),
            Msg::ExportTo(None) => Task::none(),
            Msg::ExportTo(Some(file)) => self
                .write(ctx, move |db, actor| export_log(db, actor, &file))
                .map(Msg::Done),
            Msg::Done(r) => {
                if r.is_ok() {
                    self.editing = None;
                }
                self.said(r);
                Task::none()
            }
        };
        (task, None)
    }

    fn said(&mut self, r: Result<String, String>) {
        self.outcome = Some(match r {
            Ok(s) => s,
            Err(e) => capitalised(&e),
        });
    }

    fn name_of(&self, id: &str) -> String {
        self.data
            .as_ref()
            .and_then(|d| d.everyone.iter().find(|s| s.id == id))
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }
}

fn toggled(roles: Roles, role: Role, on: bool) -> Roles {
    if on {
        roles.with(role)
    } else {
        roles.without(role)
    }
}

/// A checkbox per role.
fn role_boxes<'a>(roles: Roles, on: impl Fn(Role, bool) -> Msg + Copy + 'a) -> Element<'a, Msg> {
    let mut r = row![].spacing(14);
    for role in Role::ALL {
        r = r.push(
            checkbox(roles.has(role))
                .label(role.to_string())
                .on_toggle(move |v| on(role, v)),
        );
    }
    r.into()
}

impl StaffScreen {
    pub fn view(&self) -> Element<'_, Msg> {
        let Some(d) = &self.data else {
            return text("Loading…").into();
        };
        let mut list = column![].spacing(6);
        for s in &d.everyone {
            list = list.push(self.person_row(s, d));
        }
        let add = column![
            text("Add a person").font(theme::BOLD),
            row![
                text_input("Full name", &self.new_name)
                    .on_input(Msg::NewName)
                    .on_submit(Msg::Add)
                    .width(280),
                role_boxes(self.new_roles, Msg::NewRole),
                button(text("Add")).on_press(Msg::Add),
            ]
            .spacing(12)
            .align_y(Center),
            text("They choose their own PIN the first time they sign in, on any computer.")
                .size(13),
        ]
        .spacing(6);
        let idle = column![
            text("Lock after").font(theme::BOLD),
            row![
                text_input("5", &self.idle)
                    .on_input(Msg::Idle)
                    .on_submit(Msg::SaveIdle)
                    .width(60),
                text(format!(
                    "minutes untouched, on every computer of the clinic ({} to {})",
                    settings::IDLE_MINUTES.start(),
                    settings::IDLE_MINUTES.end()
                )),
                button(text("Save")).on_press(Msg::SaveIdle),
            ]
            .spacing(10)
            .align_y(Center),
        ]
        .spacing(6);
        let mut review = column![row![
            text("Emergency accesses to review").font(theme::BOLD),
            iced::widget::space::horizontal(),
            button(text("Save the access log as CSV…"))
                .style(button::secondary)
                .on_press(Msg::ExportLog),
        ]
        .align_y(Center)]
        .spacing(4);
        if d.emergencies.is_empty() {
            review = review.push(text("None so far.").size(13));
        }
        for e in &d.emergencies {
            review = review.push(
                text(format!(
                    "{}  {} opened {}'s notes: “{}”",
                    clock::local(e.entry.at, clock::MINUTE),
                    e.entry.staff_name,
                    e.patient,
                    e.entry.detail
                ))
                .size(13),
            );
        }
        let outcome = self.outcome.as_ref().map(|o| {
            container(text(o.clone()))
                .padding(6)
                .width(Fill)
                .style(theme::notice)
        });
        scrollable(
            column![
                text("Staff").font(theme::BOLD).size(22),
                container(list).padding(12).width(Fill).style(theme::card),
                // Under the list, so a message appearing never moves the rows being pressed.
                outcome,
                add,
                idle,
                self.hours.view(&d.everyone).map(Msg::Hours),
                review,
            ]
            .spacing(16)
            .padding([0, 8]),
        )
        .height(Fill)
        .into()
    }

    fn person_row<'a>(&'a self, s: &'a Staff, d: &Loaded) -> Element<'a, Msg> {
        if let Some(e) = self.editing.as_ref().filter(|e| e.id == s.id) {
            return row![
                text_input("Full name", &e.name)
                    .on_input(Msg::EditName)
                    .on_submit(Msg::SaveEdit)
                    .width(240),
                role_boxes(e.roles, Msg::EditRole),
                button(text("Save")).on_press(Msg::SaveEdit),
                button(text("Cancel"))
                    .style(button::secondary)
                    .on_press(Msg::CancelEdit),
            ]
            .spacing(10)
            .align_y(Center)
            .into();
        }
        let state = match (s.active, d.with_pin.contains(&s.id)) {
            (false, _) => "deactivated",
            (true, true) => "PIN set",
            (true, false) => "no PIN yet",
        };
        let active = if s.active {
            button(text("Deactivate"))
                .style(button::danger)
                .on_press(Msg::SetActive(s.id.clone(), false))
        } else {
            button(text("Reactivate"))
                .style(button::secondary)
                .on_press(Msg::SetActive(s.id.clone(), true))
        };
        let name = text(s.name.clone()).width(220);
        let name = if s.active {
            name.font(theme::BOLD)
        } else {
            name
        };
        row![
            name,
            text(s.roles.to_string()).width(260),
            text(state).size(13).width(110),
            button(text("Edit"))
                .style(button::secondary)
                .on_press(Msg::Edit(s.clone())),
            button(text("Clear PIN"))
                .style(button::secondary)
                .on_press_maybe(
                    d.with_pin
                        .contains(&s.id)
                        .then(|| Msg::ResetPin(s.id.clone()))
                ),
            active,
        ]
        .spacing(10)
        .align_y(Center)
        .into()
    }
}
