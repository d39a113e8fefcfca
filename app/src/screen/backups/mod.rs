//! The Backups screen: save a signed, encrypted backup through the native Save dialog, open one
//! to see who signed it, when and what it holds before anything changes, merge it in (or
//! restore it on a fresh install), and set up automatic backups with the last one shown.
//! Long work runs off the UI thread with a progress bar and a Cancel button.

mod jobs;
mod view;

use std::path::PathBuf;
use std::sync::Arc;

use carebook_sync::backup::schedule::{self, Last, Schedule};
use carebook_sync::backup::{Control, Report};
use iced::Task;

use carebook_sync::store::Store;

use crate::context::{Context, Folders};
use crate::nav::{self, Event};
use crate::{dialogs, passphrase};
use jobs::{export, import, load, verify};

/// What the screen reads when it opens.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub schedule: Schedule,
    pub last: Last,
    /// Whether this computer remembers the clinic's passphrase (or why it cannot tell).
    pub remembered: Result<bool, String>,
    pub clinic: Option<String>,
}

/// A verified backup file, waiting for the person to import it or not.
#[derive(Debug, Clone)]
pub struct Opened {
    pub file: PathBuf,
    pub report: Report,
}

/// What is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Export,
    Verify,
    Import,
}

/// How often automatic backups run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every(pub u32);

impl Every {
    const CHOICES: [Every; 4] = [Every(6), Every(12), Every(24), Every(168)];
}

impl std::fmt::Display for Every {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            24 => f.write_str("every day"),
            168 => f.write_str("every week"),
            h => write!(f, "every {h} hours"),
        }
    }
}

#[derive(Debug, Default)]
pub struct Backups {
    /// Restoring on a computer with no records yet (the first question's third answer).
    pub restoring: bool,
    pub data: Option<Loaded>,
    /// `data.remembered` is current (looked up since the screen opened or the last backup).
    passphrase_looked_up: bool,
    /// Typed when this computer does not remember the passphrase (or to use another one).
    pub passphrase: String,
    /// The typed passphrase again: a backup is saved with a typed one only when both agree.
    pub confirm: String,
    /// A path typed by hand, where no file dialog can be shown.
    pub path: String,
    pub running: Option<(Work, Arc<Control>)>,
    pub opened: Option<Opened>,
    /// The person checked the unknown or removed signer's ID and accepts it.
    pub accept_signer: bool,
    pub folder: String,
    pub every: Option<Every>,
    pub keep: String,
    /// The outcome of the last action, in plain words.
    pub outcome: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Loaded(Result<Box<Loaded>, String>),
    Passphrase(String),
    Confirm(String),
    Path(String),
    /// Ask where to save (the Save dialog), then export there.
    Save,
    SaveTo(Option<PathBuf>),
    /// Ask which file (the Open dialog), then verify it.
    Open,
    Verify(Option<PathBuf>),
    Verified(Result<Box<Opened>, String>),
    AcceptSigner(bool),
    Import,
    Finished(Result<String, String>),
    Cancel,
    /// Redraws the progress bar.
    Progress,
    Folder(String),
    ChooseFolder,
    FolderChosen(Option<PathBuf>),
    Every(Every),
    Keep(String),
    SaveSchedule,
    Written(Result<(), String>),
}

/// A default file name for a backup saved by hand.
fn suggested_name() -> String {
    format!(
        "carebook-{}.{}",
        chrono::Local::now().format("%Y-%m-%d"),
        schedule::EXTENSION
    )
}

fn file_dialog() -> rfd::AsyncFileDialog {
    rfd::AsyncFileDialog::new()
        .set_title("Carebook backup")
        .add_filter("Carebook backup", &[schedule::EXTENSION])
}

impl Backups {
    fn loaded(&mut self, d: Loaded) {
        if self.data.is_none() {
            self.folder = d
                .schedule
                .folder
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            self.every = Some(Every(d.schedule.every_hours));
            self.keep = d.schedule.keep.to_string();
        }
        self.data = Some(d);
    }

    /// The screen (for restoring on a fresh computer when `restoring`); the task reads it.
    pub fn open(restoring: bool, ctx: &Context) -> (Backups, Task<Msg>) {
        let b = Backups {
            restoring,
            ..Backups::default()
        };
        let task = b.refresh(ctx);
        (b, task)
    }

    /// Reads the screen again (after every change of the records, which the passphrase does
    /// not follow: it is looked up on opening and after a backup was made or merged).
    pub fn refresh(&self, ctx: &Context) -> Task<Msg> {
        let folders = ctx.folders.clone();
        let known = self
            .passphrase_looked_up
            .then(|| self.data.as_ref().map(|d| d.remembered.clone()))
            .flatten();
        ctx.runner
            .spawn(move |store| Msg::Loaded(load(store, &folders, known).map(Box::new)))
    }

    /// Why a backup cannot be saved with the typed passphrase (None: none typed, or fine).
    fn new_passphrase_problem(&self) -> Option<String> {
        if self.passphrase.is_empty() {
            return None;
        }
        passphrase::problem(&self.passphrase, &self.confirm)
    }

    /// Starts a long job with a progress bar.
    fn run(
        &mut self,
        work: Work,
        ctx: &Context,
        job: impl FnOnce(&Store, &Folders, &str, &Control) -> Msg + Send + 'static,
    ) -> Task<Msg> {
        let control = Arc::new(Control::default());
        self.running = Some((work, control.clone()));
        self.outcome = None;
        let (folders, typed) = (ctx.folders.clone(), self.passphrase.clone());
        ctx.runner
            .spawn(move |store| job(store, &folders, &typed, &control))
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        let task = match msg {
            Msg::Loaded(Ok(d)) => {
                self.passphrase_looked_up = true;
                self.loaded(*d);
                Task::none()
            }
            Msg::Loaded(Err(e)) => {
                self.outcome = Some(e);
                Task::none()
            }
            Msg::Passphrase(v) => {
                self.passphrase = v;
                Task::none()
            }
            Msg::Confirm(v) => {
                self.confirm = v;
                Task::none()
            }
            Msg::Path(v) => {
                self.path = v;
                Task::none()
            }
            // A backup saved with a typed passphrase makes it the clinic's (it is remembered
            // here): the same rule as at the first launch.
            Msg::Save | Msg::SaveTo(Some(_)) if self.new_passphrase_problem().is_some() => {
                self.outcome = self.new_passphrase_problem();
                Task::none()
            }
            Msg::Save | Msg::Open | Msg::ChooseFolder if !dialogs::available() => {
                self.outcome = Some(dialogs::NONE.into());
                Task::none()
            }
            Msg::Save => Task::perform(
                file_dialog().set_file_name(suggested_name()).save_file(),
                |f| Msg::SaveTo(f.map(|f| f.path().to_path_buf())),
            ),
            Msg::Open => Task::perform(file_dialog().pick_file(), |f| {
                Msg::Verify(f.map(|f| f.path().to_path_buf()))
            }),
            Msg::SaveTo(None) | Msg::Verify(None) | Msg::FolderChosen(None) => Task::none(),
            Msg::SaveTo(Some(file)) | Msg::Verify(Some(file)) if file.as_os_str().is_empty() => {
                self.outcome = Some("Type a file's path first".into());
                Task::none()
            }
            Msg::SaveTo(Some(file)) => {
                let actor = ctx.actor();
                self.run(Work::Export, ctx, move |store, folders, typed, c| {
                    Msg::Finished(
                        jobs::allowed(store, actor.as_ref())
                            .and_then(|()| export(store, folders, typed, &file, c)),
                    )
                })
            }
            Msg::Verify(Some(file)) => {
                self.opened = None;
                self.accept_signer = false;
                self.run(Work::Verify, ctx, move |store, folders, typed, c| {
                    Msg::Verified(verify(store, folders, typed, file, c).map(Box::new))
                })
            }
            Msg::Verified(r) => {
                self.running = None;
                match r {
                    Ok(o) => self.opened = Some(*o),
                    Err(e) => self.outcome = Some(e),
                }
                Task::none()
            }
            Msg::AcceptSigner(v) => {
                self.accept_signer = v;
                Task::none()
            }
            Msg::Import => {
                let Some(o) = &self.opened else {
                    return (Task::none(), None);
                };
                let file = o.file.clone();
                let accept = self.accept_signer.then_some(o.report.signer);
                let actor = ctx.actor();
                self.run(Work::Import, ctx, move |store, folders, typed, c| {
                    Msg::Finished(
                        jobs::allowed(store, actor.as_ref())
                            .and_then(|()| import(store, folders, typed, &file, accept, c)),
                    )
                })
            }
            Msg::Finished(r) => {
                let imported = matches!(self.running, Some((Work::Import, _))) && r.is_ok();
                if r.is_ok() {
                    // It proved right and is remembered now (or was already).
                    self.passphrase.clear();
                    self.confirm.clear();
                    self.passphrase_looked_up = false;
                }
                self.running = None;
                self.outcome = Some(r.unwrap_or_else(|e| e));
                if imported {
                    self.opened = None;
                    self.accept_signer = false;
                }
                // The last backup changed (the records too, which every screen hears of).
                self.refresh(ctx)
            }
            Msg::Cancel => {
                if let Some((_, c)) = &self.running {
                    c.cancel();
                }
                Task::none()
            }
            Msg::Progress => Task::none(),
            Msg::Folder(v) => {
                self.folder = v;
                Task::none()
            }
            Msg::ChooseFolder => Task::perform(
                rfd::AsyncFileDialog::new()
                    .set_title("Folder for automatic backups")
                    .pick_folder(),
                |f| Msg::FolderChosen(f.map(|f| f.path().to_path_buf())),
            ),
            Msg::FolderChosen(Some(f)) => {
                self.folder = f.display().to_string();
                Task::none()
            }
            Msg::Every(e) => {
                self.every = Some(e);
                Task::none()
            }
            Msg::Keep(v) => {
                self.keep = v;
                Task::none()
            }
            Msg::SaveSchedule => return self.save_schedule(ctx),
            Msg::Written(r) => return (Task::none(), nav::written(r.map(|()| None))),
        };
        (task, None)
    }

    fn save_schedule(&mut self, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        let Ok(keep) = self.keep.trim().parse::<u32>().map(|k| k.max(1)) else {
            self.outcome = Some("\"keep\" is a number of backups, such as 14".into());
            return (Task::none(), None);
        };
        let folder = self.folder.trim();
        let s = Schedule {
            folder: (!folder.is_empty()).then(|| PathBuf::from(folder)),
            every_hours: self.every.unwrap_or(Every(24)).0,
            keep,
        };
        self.outcome = Some(match &s.folder {
            Some(f) => format!(
                "Automatic backups go to {} {}, keeping the newest {keep}",
                f.display(),
                Every(s.every_hours)
            ),
            None => "Automatic backups are off".into(),
        });
        let task = ctx.runner.spawn(move |store| {
            Msg::Written(schedule::save(&store.writer(), &s).map_err(|e| e.to_string()))
        });
        (task, None)
    }
}
