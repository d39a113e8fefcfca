//! The first screen of a computer with no records yet, with one question: start a new clinic
//! (its name, the first member of staff and the backup passphrase), join one (pairing, with
//! the records arriving live), or restore one from a backup after a disk failure.

use carebook_sync::backup::schedule;
use carebook_sync::backup::Passphrase;
use carebook_sync::clinic::{
    profile,
    staff::{self, Role, Roles},
};
use carebook_sync::identity::Identity;
use iced::widget::{button, column, container, pick_list, row, text, text_input};
use iced::{Element, Fill, Task};

use crate::context::{Context, Folders};
use crate::nav::{Event, Setup};
use crate::{passphrase, theme};

#[derive(Debug)]
pub struct FirstRun {
    /// The question answered "a new clinic": its form is open.
    pub new_clinic: bool,
    pub clinic: String,
    pub name: String,
    pub role: Role,
    pub passphrase: String,
    pub confirm: String,
    pub error: Option<String>,
}

impl Default for FirstRun {
    fn default() -> Self {
        FirstRun {
            new_clinic: false,
            clinic: String::new(),
            name: String::new(),
            role: Role::Doctor,
            passphrase: String::new(),
            confirm: String::new(),
            error: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Msg {
    NewClinic,
    Join,
    Restore,
    Question,
    Clinic(String),
    Name(String),
    Role(Role),
    Passphrase(String),
    Confirm(String),
    Start,
    Started(Result<(), String>),
}

impl FirstRun {
    pub fn view(&self) -> Element<'_, Msg> {
        let page = if self.new_clinic {
            self.form()
        } else {
            let choice = |title: &'static str, line: &'static str, m: Msg| {
                button(
                    column![text(title).font(theme::BOLD).size(18), text(line).size(13)].spacing(4),
                )
                .on_press(m)
                .padding(14)
                .width(Fill)
            };
            column![
                text("Welcome to Carebook").font(theme::BOLD).size(28),
                text("Is this the clinic's first computer with Carebook?"),
                choice(
                    "Start a new clinic",
                    "The first computer: name the clinic and yourself, and choose the backup passphrase.",
                    Msg::NewClinic
                ),
                choice(
                    "Join the clinic",
                    "Another computer of the clinic already runs Carebook: pair with it, and the records arrive.",
                    Msg::Join
                ),
                button(text("Restore from a backup (after a disk failure or a new computer)").size(13))
                    .style(button::text)
                    .on_press(Msg::Restore),
            ]
            .spacing(12)
            .max_width(520)
        };
        container(page).center(Fill).into()
    }

    fn form(&self) -> iced::widget::Column<'_, Msg> {
        column![
            text("A new clinic").font(theme::BOLD).size(26),
            text("Clinic name"),
            text_input("Riverside Family Practice", &self.clinic)
                .on_input(Msg::Clinic)
                .padding(8),
            text("You, the first member of staff and the clinic's first administrator (colleagues can be added later)"),
            row![
                text_input("Your name", &self.name)
                    .on_input(Msg::Name)
                    .padding(8),
                pick_list(&Role::ALL[..], Some(self.role), Msg::Role),
            ]
            .spacing(8),
            text(format!(
                "Backup passphrase (at least {} characters). Backups are encrypted with it: keep it on paper in a safe place, as nobody can recover it.",
                passphrase::MIN
            )),
            text_input("Backup passphrase", &self.passphrase)
                .secure(true)
                .on_input(Msg::Passphrase)
                .padding(8),
            text_input("The same passphrase again", &self.confirm)
                .secure(true)
                .on_input(Msg::Confirm)
                .on_submit(Msg::Start)
                .padding(8),
            self.error
                .as_ref()
                .map(|e| text(e.clone()).style(text::danger)),
            row![
                button(text("Back")).style(button::secondary).on_press(Msg::Question),
                button(text("Start the clinic")).on_press(Msg::Start),
            ]
            .spacing(8),
        ]
        .spacing(8)
        .max_width(520)
    }

    /// What is wrong with the form, in plain words.
    fn problem(&self) -> Option<String> {
        if self.clinic.trim().is_empty() {
            return Some("Give the clinic a name".into());
        }
        if self.name.trim().is_empty() {
            return Some("Give your name".into());
        }
        passphrase::problem(&self.passphrase, &self.confirm)
    }
}

/// Makes the clinic: its identity, the first member of staff, and the passphrase remembered on
/// this computer for automatic backups.
fn start(
    store: &carebook_sync::store::Store,
    folders: &Folders,
    clinic: &str,
    name: &str,
    role: Role,
    passphrase: String,
) -> Result<(), String> {
    let me =
        Identity::load_or_create_with(&folders.data, folders.keyring).map_err(|e| e.to_string())?;
    let passphrase = Passphrase::new(passphrase).map_err(|e| e.to_string())?;
    let at = schedule::remember(&folders.data, &me.id, &passphrase, folders.keyring)
        .map_err(|e| e.to_string())?;
    tracing::info!("the backup passphrase is kept {at}");
    // Both or neither: a second try after a refused name starts clean.
    let db = store.writer();
    let tx = db.unchecked_transaction().map_err(|e| e.to_string())?;
    profile::ensure(&tx, clinic).map_err(|e| e.to_string())?;
    // The clinic's first person is its first administrator, in whatever role they also work.
    staff::add(&tx, name, Roles::from(role).with(Role::Admin)).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    Ok(())
}

impl FirstRun {
    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        match msg {
            Msg::NewClinic => self.new_clinic = true,
            Msg::Question => self.new_clinic = false,
            Msg::Join => return (Task::none(), Some(Event::Begin(Setup::Join))),
            Msg::Restore => return (Task::none(), Some(Event::Begin(Setup::Restore))),
            Msg::Clinic(v) => self.clinic = v,
            Msg::Name(n) => self.name = n,
            Msg::Role(r) => self.role = r,
            Msg::Passphrase(p) => self.passphrase = p,
            Msg::Confirm(p) => self.confirm = p,
            Msg::Start => {
                if let Some(problem) = self.problem() {
                    self.error = Some(problem);
                    return (Task::none(), None);
                }
                self.error = None;
                let (clinic, name, role) =
                    (self.clinic.trim().to_string(), self.name.clone(), self.role);
                let passphrase = self.passphrase.clone();
                let folders = ctx.folders.clone();
                let task = ctx.runner.spawn(move |store| {
                    Msg::Started(start(store, &folders, &clinic, &name, role, passphrase))
                });
                return (task, None);
            }
            Msg::Started(Ok(())) => return (Task::none(), Some(Event::Started)),
            Msg::Started(Err(e)) => self.error = Some(e),
        }
        (Task::none(), None)
    }
}
