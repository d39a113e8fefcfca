//! The Backups screen: save a signed, encrypted backup through the native Save dialog, open one
//! to see who signed it, when and what it holds before anything changes, merge it in (or
//! restore it on a fresh install), and set up automatic backups with the last one shown.
//! Long work runs off the UI thread with a progress bar and a Cancel button.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use carebook_sync::backup::schedule::{self, Last, Schedule};
use carebook_sync::backup::{
    self, ClinicMatch, Control, ImportOptions, Passphrase, Report, Standing,
};
use carebook_sync::clinic::profile;
use carebook_sync::identity::Identity;
use carebook_sync::store::Store;
use iced::widget::{
    button, checkbox, column, container, pick_list, progress_bar, row, scrollable, text, text_input,
};
use iced::{Center, Element, Fill, Font, Task};

use crate::context::{Context, Folders};
use crate::nav::{self, Event};
use crate::{clock, dialogs, theme};

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

/// "Last backup: ..." as the screen says it.
fn last_line(last: &Last) -> String {
    match &last.ok {
        Some((at, file)) => format!("Last backup: {} ({file})", clock::local(*at, clock::MINUTE)),
        None => "No backup made on this computer yet".into(),
    }
}

/// Reads what the screen shows. Whether the passphrase is remembered may mean a keyring call
/// (even an unlock prompt), so it is asked only when `known` does not say it already.
fn load(
    store: &Store,
    folders: &Folders,
    known: Option<Result<bool, String>>,
) -> Result<Loaded, String> {
    let db = store.reader().map_err(|e| e.to_string())?;
    let read = || -> Result<Loaded, Box<dyn std::error::Error>> {
        let remembered = match (known, Identity::existing_id(&folders.data)?) {
            (Some(known), _) => known,
            (None, None) => Ok(false),
            (None, Some(me)) => schedule::recall(&folders.data, &me)
                .map(|p| p.is_some())
                .map_err(|e| e.to_string()),
        };
        Ok(Loaded {
            schedule: schedule::load(&db)?,
            last: schedule::last(&db)?,
            remembered,
            clinic: profile::current(&db)?.map(|c| c.name),
        })
    };
    read().map_err(|e| e.to_string())
}

/// The passphrase to use: the one typed, else the one this computer remembers.
fn passphrase(typed: &str, folders: &Folders, me: &Identity) -> Result<Passphrase, String> {
    if !typed.is_empty() {
        return Passphrase::new(typed.to_string()).map_err(|e| e.to_string());
    }
    schedule::recall(&folders.data, &me.id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "Type the clinic's backup passphrase first".to_string())
}

fn identity(folders: &Folders) -> Result<Identity, String> {
    Identity::load_or_create_with(&folders.data, folders.keyring).map_err(|e| e.to_string())
}

/// A default file name for a backup saved by hand.
fn suggested_name() -> String {
    format!(
        "carebook-{}.{}",
        chrono::Local::now().format("%Y-%m-%d"),
        schedule::EXTENSION
    )
}

fn standing_line(r: &Report) -> String {
    let name = r
        .signer_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("\"{}\" (its own name)", r.manifest.device_name));
    format!("Signed by {name}, {}: {}", r.signer, r.standing)
}

impl Backups {
    pub fn view(&self) -> Element<'_, Msg> {
        let busy = self.running.is_some();
        let enabled = |m: Msg| (!busy).then_some(m);
        let mut body = column![text("Backups").font(theme::BOLD).size(24)].spacing(14);
        if self.restoring {
            body = body.push(text(
                "Restore as this computer: open the clinic's backup. Its records are merged in, and this computer keeps its own new identity, so it never shares one with the computer that made the backup.",
            ));
        }
        if let Some(d) = &self.data {
            if let Some(name) = &d.clinic {
                body = body.push(text(format!("Clinic: {name}")));
            }
            body = body.push(text(last_line(&d.last)));
        }
        let remembered = self
            .data
            .as_ref()
            .map(|d| d.remembered.clone())
            .unwrap_or(Ok(false));
        let hint = match &remembered {
            Ok(true) => "This computer remembers the clinic's backup passphrase; type one only to use another.".to_string(),
            Ok(false) => "Type the clinic's backup passphrase (it will be remembered for automatic backups).".to_string(),
            Err(e) => format!("The remembered passphrase cannot be read ({e}); type it."),
        };
        body = body.push(
            column![
                text(hint).size(13),
                text_input("Backup passphrase", &self.passphrase)
                    .secure(true)
                    .on_input(Msg::Passphrase)
                    .padding(6)
                    .width(360),
            ]
            .spacing(4),
        );
        let actions = row![
            button(text("Save a backup…")).on_press_maybe(enabled(Msg::Save)),
            button(text("Open a backup…"))
                .style(button::secondary)
                .on_press_maybe(enabled(Msg::Open)),
        ]
        .spacing(8);
        let typed = row![
            text("No file dialog? Type a path:").size(13),
            text_input("/media/usb/clinic.carebook-backup", &self.path)
                .on_input(Msg::Path)
                .width(360),
            button(text("Save here").size(13))
                .style(button::secondary)
                .on_press_maybe(enabled(Msg::SaveTo(Some(PathBuf::from(&self.path))))),
            button(text("Open this").size(13))
                .style(button::secondary)
                .on_press_maybe(enabled(Msg::Verify(Some(PathBuf::from(&self.path))))),
        ]
        .spacing(6)
        .align_y(Center);
        body = body.push(actions).push(typed);
        if let Some((work, control)) = &self.running {
            let label = match work {
                Work::Export => "Writing the backup",
                Work::Verify => "Checking the backup",
                Work::Import => "Merging the backup",
            };
            body = body.push(
                row![
                    text(format!("{label}… {:.0}%", control.fraction() * 100.0)).width(220),
                    progress_bar(0.0..=1.0, control.fraction()).length(300),
                    button(text("Cancel"))
                        .style(button::danger)
                        .on_press(Msg::Cancel),
                ]
                .spacing(10)
                .align_y(Center),
            );
        }
        if let Some(o) = &self.outcome {
            body = body.push(container(text(o.clone())).padding(8).style(theme::notice));
        }
        if let Some(o) = &self.opened {
            body = body.push(self.opened_view(o, busy));
        }
        body = body.push(self.schedule_view(busy));
        scrollable(body).height(Fill).into()
    }

    /// What a verified backup holds and who signed it, before anything changes.
    fn opened_view<'a>(&'a self, o: &'a Opened, busy: bool) -> Element<'a, Msg> {
        let r = &o.report;
        let m = &r.manifest;
        let clinic = match &r.clinic {
            ClinicMatch::Same => "this clinic".to_string(),
            ClinicMatch::NoneHere => "nothing here yet: it can be restored".to_string(),
            ClinicMatch::Other { here } => format!("ANOTHER clinic (this one is \"{here}\")"),
        };
        let rows: Vec<String> = ["patients", "appointments", "visits", "staff"]
            .iter()
            .map(|t| format!("{} {t}", m.rows_of(t)))
            .collect();
        let needs_consent = matches!(r.standing, Standing::Unknown | Standing::Revoked);
        let mut panel = column![
            text(o.file.display().to_string()).font(theme::BOLD),
            text("The signature is valid.").style(text::success),
            text(standing_line(r)).font(Font::MONOSPACE).size(13),
            text(format!(
                "Made {} with Carebook {}",
                clock::local(m.created_at, clock::MINUTE),
                m.app_version
            )),
            text(format!("Clinic \"{}\": {clinic}", m.clinic_name)),
            text(format!("Holds {}", rows.join(", "))),
        ]
        .spacing(4);
        if needs_consent {
            panel = panel.push(
                checkbox(self.accept_signer)
                    .label("I have checked this computer's ID and trust this backup")
                    .on_toggle(Msg::AcceptSigner),
            );
        }
        let can_import = !busy
            && !matches!(r.clinic, ClinicMatch::Other { .. })
            && (!needs_consent || self.accept_signer);
        let label = if r.clinic == ClinicMatch::NoneHere {
            "Restore as this computer"
        } else {
            "Merge into this computer's records"
        };
        panel = panel.push(
            row![
                button(text(label)).on_press_maybe(can_import.then_some(Msg::Import)),
                text("Nothing here is lost or rolled back: newer edits win.").size(13),
            ]
            .spacing(10)
            .align_y(Center),
        );
        container(panel)
            .padding(12)
            .width(Fill)
            .style(theme::card)
            .into()
    }

    fn schedule_view(&self, busy: bool) -> Element<'_, Msg> {
        let overdue = self
            .data
            .as_ref()
            .is_some_and(|d| d.schedule.overdue(&d.last, chrono::Utc::now().timestamp()));
        let mut panel = column![
            text("Automatic backups").font(theme::BOLD).size(18),
            text("Carebook saves a backup into this folder while it runs (an external disk or a share), and keeps the newest ones.").size(13),
            row![
                text_input("Folder (empty: off)", &self.folder)
                    .on_input(Msg::Folder)
                    .width(360),
                button(text("Choose…"))
                    .style(button::secondary)
                    .on_press_maybe((!busy).then_some(Msg::ChooseFolder)),
                pick_list(&Every::CHOICES[..], self.every, Msg::Every),
                text("keep"),
                text_input("14", &self.keep)
                    .on_input(Msg::Keep)
                    .width(60),
                button(text("Save")).on_press(Msg::SaveSchedule),
            ]
            .spacing(8)
            .align_y(Center),
        ]
        .spacing(6);
        if let Some(d) = &self.data {
            if let Some((at, why)) = &d.last.failed {
                panel = panel.push(
                    text(format!(
                        "The automatic backup of {} failed: {why}",
                        clock::local(*at, clock::MINUTE)
                    ))
                    .style(text::danger),
                );
            }
            if overdue {
                panel = panel.push(
                    text("A backup is overdue. Check the folder and the passphrase above.")
                        .style(text::danger),
                );
            } else if d.schedule.folder.is_none() {
                panel = panel.push(
                    text("Automatic backups are off: choose a folder to turn them on.")
                        .style(text::warning),
                );
            }
        }
        container(panel)
            .padding(12)
            .width(Fill)
            .style(theme::card)
            .into()
    }

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
}

fn file_dialog() -> rfd::AsyncFileDialog {
    rfd::AsyncFileDialog::new()
        .set_title("Carebook backup")
        .add_filter("Carebook backup", &[schedule::EXTENSION])
}

/// Remembers a passphrase that just proved right (it opened or made a backup), when this
/// computer had none yet.
fn remember_if_new(folders: &Folders, me: &Identity, typed: &str) {
    if typed.is_empty() || matches!(schedule::recall(&folders.data, &me.id), Ok(Some(_))) {
        return;
    }
    if let Ok(p) = Passphrase::new(typed.to_string()) {
        match schedule::remember(&folders.data, &me.id, &p, folders.keyring) {
            Ok(at) => tracing::info!("the backup passphrase is kept {at}"),
            Err(e) => tracing::warn!("could not remember the backup passphrase: {e}"),
        }
    }
}

fn export(
    store: &Store,
    folders: &Folders,
    typed: &str,
    file: &Path,
    c: &Control,
) -> Result<String, String> {
    let me = identity(folders)?;
    let p = passphrase(typed, folders, &me)?;
    let m = backup::export(store, &me, &p, file, c)
        .map_err(|e| format!("The backup was not saved: {e}"))?;
    remember_if_new(folders, &me, typed);
    schedule::record_ok(&store.writer(), m.created_at, file).map_err(|e| e.to_string())?;
    Ok(format!(
        "Saved a backup of {} patients to {}",
        m.rows_of("patients"),
        file.display()
    ))
}

impl Backups {
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
            Msg::Path(v) => {
                self.path = v;
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
                self.run(Work::Export, ctx, move |store, folders, typed, c| {
                    Msg::Finished(export(store, folders, typed, &file, c))
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
                self.run(Work::Import, ctx, move |store, folders, typed, c| {
                    Msg::Finished(import(store, folders, typed, &file, accept, c))
                })
            }
            Msg::Finished(r) => {
                let imported = matches!(self.running, Some((Work::Import, _))) && r.is_ok();
                if r.is_ok() {
                    // It proved right and is remembered now (or was already).
                    self.passphrase.clear();
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

/// Checks a backup file and says who signed it, before anything changes.
fn verify(
    store: &Store,
    folders: &Folders,
    typed: &str,
    file: PathBuf,
    control: &Control,
) -> Result<Opened, String> {
    let me = identity(folders)?;
    let p = passphrase(typed, folders, &me)?;
    let reader = store.reader().map_err(|e| e.to_string())?;
    let report = backup::verify(&reader, &me.id, &file, &p, control)
        .map_err(|e| format!("{} was refused: {e}", file.display()))?;
    Ok(Opened { file, report })
}

/// Merges a checked backup in; says what changed.
fn import(
    store: &Store,
    folders: &Folders,
    typed: &str,
    file: &Path,
    accept_signer: Option<carebook_sync::identity::DeviceId>,
    control: &Control,
) -> Result<String, String> {
    let me = identity(folders)?;
    let p = passphrase(typed, folders, &me)?;
    let options = ImportOptions {
        this_device: me.id,
        accept_signer,
    };
    let done = backup::import(store, file, &p, &options, control)
        .map_err(|e| format!("{} was not imported: {e}", file.display()))?;
    remember_if_new(folders, &me, typed);
    Ok(if done.db_version_after == done.db_version_before {
        "Nothing new: this computer already held everything in that backup.".to_string()
    } else {
        format!("Merged {} changes from the backup.", done.changes)
    })
}

/// The automatic backup, when one is due: run from the app's clock, off the UI thread. Says
/// whether backups are overdue, for the top bar.
pub fn scheduled(store: &Store, folders: &Folders) -> bool {
    let now = chrono::Utc::now().timestamp();
    let checked = schedule::run_if_due(store, &folders.data, now, || {
        Identity::load_or_create_with(&folders.data, folders.keyring).map(Box::new)
    })
    .map_err(|e| e.to_string());
    checked.map(|c| c.overdue).unwrap_or_else(|e| {
        tracing::warn!("could not look at the backup schedule: {e}");
        true
    })
}
