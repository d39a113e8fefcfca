//! The desktop app's state, messages, update and view. Screens live in `screen/`; this module
//! owns navigation, the person at the keyboard, keyboard shortcuts and the live refresh that
//! shows changes made elsewhere (another computer, the sqlite3 shell) without touching what
//! the user is typing.

use carebook_sync::clinic::appointments::{Appointment, Status};
use carebook_sync::clinic::search::Hit;
use carebook_sync::clinic::staff::Staff;
use carebook_sync::clinic::visits::Visit;
use carebook_sync::clinic::{self, Actor};
use carebook_sync::identity::Keyring;
use carebook_sync::net::node::Node;
use carebook_sync::net::roster::Summary;
use iced::keyboard::{self, key::Named, Key};
use iced::widget::{column, container, operation};
use iced::{Element, Fill, Subscription, Task, Theme};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Runner;
use crate::screen::{self, form::PatientForm, patient::PatientPage, visit::VisitEditor};
use crate::theme;

/// Where the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Patients,
    Patient(String),
    NewPatient,
    EditPatient(String),
    Today,
    Visit(String),
    Peers,
    Backups,
    About,
    Scan,
}

/// What the current screen holds.
#[derive(Debug)]
pub enum Screen {
    FirstRun(screen::first_run::FirstRun),
    Patients,
    Patient(Box<PatientPage>),
    Form(Box<PatientForm>),
    Today(Vec<Appointment>),
    Visit(Box<VisitEditor>),
    Peers(Box<screen::peers::Peers>),
    Backups(Box<screen::backups::Backups>),
    About(Box<screen::about::About>),
    Scan(Box<screen::scan::Scan>),
}

/// Where this instance keeps its files, and whether its secrets may go to the OS keyring.
#[derive(Debug, Clone)]
pub struct Folders {
    pub data: PathBuf,
    /// Where the log files go (None: only stderr, as in tests).
    pub logs: Option<PathBuf>,
    pub keyring: Keyring,
}

/// How a computer with no records yet is being set up, after the first question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Pairing with a computer of the clinic; the records arrive once it accepts.
    Join,
    /// Restoring the clinic's records from a backup.
    Restore,
}

#[derive(Debug, Clone)]
pub enum Message {
    // Results of database work.
    StaffLoaded(Result<Vec<Staff>, String>),
    Hits(u64, Result<Vec<Hit>, String>),
    PatientLoaded(Result<Box<screen::patient::Loaded>, String>),
    DayLoaded(Result<Vec<Appointment>, String>),
    VisitLoaded(Result<Box<(Visit, String)>, String>),
    FormLoaded(Result<Box<clinic::patients::Patient>, String>),
    FormSaved(Result<String, screen::form::SaveError>),
    Done(Result<Option<Route>, String>),
    Version(i64),
    Failed(String),
    Notice(String),
    PeersLoaded(Result<Box<screen::peers::Loaded>, String>),
    Sync(Summary),
    // Navigation, keyboard, top bar.
    Go(Route),
    Back,
    FocusSearch,
    FocusNext,
    FocusPrevious,
    Tick,
    Frame,
    SwitchStaff(Staff),
    ToggleTheme,
    // Screens.
    SearchChanged(String),
    OpenFirstHit,
    Form(screen::form::Msg),
    Patient(screen::patient::Msg),
    SetStatus(String, Status),
    Visit(screen::visit::Msg),
    FirstRun(screen::first_run::Msg),
    Peers(screen::peers::Msg),
    Backups(screen::backups::Msg),
    /// The automatic backup ran or was not due; whether backups are overdue.
    BackupsOverdue(bool),
    About(screen::about::Msg),
    Scan(screen::scan::Msg),
}

/// The search box's id (Ctrl+F focuses it).
pub const SEARCH: &str = "search";

/// How many results the patient list shows.
const RESULTS: usize = 50;

/// How often the app looks whether an automatic backup is due.
const BACKUP_CHECK: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct App {
    pub runner: Runner,
    pub staff: Vec<Staff>,
    pub me: Option<Staff>,
    pub device_id: String,
    pub route: Route,
    trail: Vec<Route>,
    pub screen: Screen,
    pub search: String,
    pub hits: Vec<Hit>,
    search_generation: u64,
    pub notice: Option<String>,
    pub dark: bool,
    db_version: i64,
    /// Print first-frame facts and exit (the benchmark's probe).
    pub probe: bool,
    /// This computer on the clinic's network (None when the window runs offline, or in tests).
    pub node: Option<Arc<Node>>,
    pub listen_port: u16,
    /// How the other computers are connected (the status line).
    pub sync: Summary,
    pub folders: Folders,
    /// Set while a new computer joins a clinic or restores one (no staff here yet).
    pub setup: Option<Setup>,
    /// No good backup for longer than the schedule allows (the top bar warns).
    pub backups_overdue: bool,
    backup_checked: Option<Instant>,
    /// The camera the Scan view reads codes with (a list of pictures in tests).
    pub camera: screen::scan::OpenCamera,
}

impl App {
    /// The app over an open store; the returned task loads staff and the first screen.
    pub fn new(
        runner: Runner,
        node: Option<Arc<Node>>,
        listen_port: u16,
        folders: Folders,
    ) -> (App, Task<Message>) {
        let device_id = clinic::device_id(&runner.store().writer()).unwrap_or_default();
        let mut app = App {
            runner,
            staff: Vec::new(),
            me: None,
            device_id,
            route: Route::Patients,
            trail: Vec::new(),
            screen: Screen::Patients,
            search: String::new(),
            hits: Vec::new(),
            search_generation: 0,
            notice: None,
            dark: false,
            db_version: -1,
            probe: false,
            node,
            listen_port,
            sync: Summary::default(),
            folders,
            setup: None,
            backups_overdue: false,
            backup_checked: None,
            camera: screen::scan::OpenCamera::webcam(),
        };
        let task = app.load_staff();
        (app, task)
    }

    /// Who is acting, for a write.
    pub fn actor(&self) -> Option<Actor> {
        self.me.as_ref().map(|s| Actor {
            staff_id: s.id.clone(),
            device_id: self.device_id.clone(),
        })
    }

    pub fn load_staff(&mut self) -> Task<Message> {
        self.runner.spawn(|store| {
            Message::StaffLoaded(clinic::staff::list(&store.writer()).map_err(|e| e.to_string()))
        })
    }

    fn run_search(&mut self) -> Task<Message> {
        self.search_generation += 1;
        let (generation, query) = (self.search_generation, self.search.clone());
        self.runner.spawn(move |store| {
            let hits =
                clinic::search::search(&store.writer(), &query, RESULTS).map_err(|e| e.to_string());
            Message::Hits(generation, hits)
        })
    }

    /// Reloads what the current screen shows.
    pub fn reload(&mut self) -> Task<Message> {
        self.load_route()
    }

    /// Loads what the current route shows (also after a change elsewhere). Forms keep what is
    /// typed in them.
    fn load_route(&mut self) -> Task<Message> {
        match self.route.clone() {
            Route::Patients => self.run_search(),
            Route::Patient(id) => self.runner.spawn(move |store| {
                Message::PatientLoaded(screen::patient::load(store, &id).map(Box::new))
            }),
            Route::Today => self.runner.spawn(|store| {
                let today = chrono::Local::now().format("%Y-%m-%d").to_string();
                Message::DayLoaded(
                    clinic::appointments::day(&store.writer(), &today).map_err(|e| e.to_string()),
                )
            }),
            Route::Visit(id) => self.runner.spawn(move |store| {
                let db = store.writer();
                let r = clinic::visits::get(&db, &id).and_then(|v| {
                    let p = clinic::patients::get(&db, &v.patient_id)?;
                    Ok(Box::new((v, p.display_name())))
                });
                Message::VisitLoaded(r.map_err(|e| e.to_string()))
            }),
            Route::NewPatient | Route::About => Task::none(),
            Route::Scan => screen::scan::start(self),
            Route::Peers => {
                let Some(me) = self.node.as_ref().map(|n| n.identity.id) else {
                    return Task::none();
                };
                let port = self.listen_port;
                self.runner.spawn(move |store| {
                    Message::PeersLoaded(screen::peers::load(store, &me, port).map(Box::new))
                })
            }
            Route::Backups => screen::backups::reload(self),
            Route::EditPatient(id) => self.runner.spawn(move |store| {
                Message::FormLoaded(
                    clinic::patients::get(&store.writer(), &id)
                        .map(Box::new)
                        .map_err(|e| e.to_string()),
                )
            }),
        }
    }

    /// Opens a route, remembering where we were for Back (Esc).
    fn go(&mut self, route: Route) -> Task<Message> {
        // With nobody at the keyboard yet, only the setting-up screens open (joining scans
        // the other computer's code from the Computers screen).
        let setting_up = self.setup.is_some()
            && matches!(
                route,
                Route::Peers | Route::Scan | Route::Backups | Route::About
            );
        if self.me.is_none() && !setting_up {
            return Task::none();
        }
        if route != self.route {
            self.trail.push(self.route.clone());
        }
        self.show(route)
    }

    /// Shows a route with a fresh screen and loads its data.
    fn show(&mut self, route: Route) -> Task<Message> {
        self.route = route.clone();
        self.notice = None;
        self.screen = match &route {
            Route::Patients => Screen::Patients,
            Route::NewPatient | Route::EditPatient(_) => Screen::Form(Box::default()),
            Route::Patient(_) => Screen::Patient(Box::default()),
            Route::Today => Screen::Today(Vec::new()),
            Route::Visit(_) => Screen::Visit(Box::default()),
            Route::Peers => Screen::Peers(Box::default()),
            Route::Backups => Screen::Backups(Box::default()),
            Route::About => Screen::About(Box::new(screen::about::About::open(self))),
            Route::Scan => Screen::Scan(Box::default()),
        };
        let load = self.load_route();
        match route {
            Route::Patients => Task::batch([load, operation::focus(SEARCH)]),
            Route::NewPatient | Route::EditPatient(_) => {
                Task::batch([load, operation::focus(screen::form::first_field())])
            }
            _ => load,
        }
    }

    /// After the first question: joining (pairing) or restoring (a backup), with no staff yet.
    pub fn begin(&mut self, setup: Setup, route: Route) -> Task<Message> {
        if setup == Setup::Join && self.node.is_none() {
            self.notice = Some(
                "This window runs without the network, so it cannot join a clinic; restart Carebook with the network on".into(),
            );
            return Task::none();
        }
        self.setup = Some(setup);
        self.trail.clear();
        self.show(route)
    }

    /// Back to the first question, from joining or restoring.
    fn question(&mut self) -> Task<Message> {
        self.setup = None;
        self.notice = None;
        self.screen = Screen::FirstRun(Default::default());
        Task::none()
    }

    fn back(&mut self) -> Task<Message> {
        // Setting up: back within its screens, never past where it began.
        if self.setup.is_some() && self.trail.is_empty() {
            return Task::none();
        }
        match self.trail.pop() {
            Some(previous) => self.show(previous),
            None if self.route != Route::Patients => self.show(Route::Patients),
            None => Task::none(),
        }
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::StaffLoaded(Ok(staff)) => {
                self.staff = staff;
                if let Some(me) = &self.me {
                    self.me = self.staff.iter().find(|s| s.id == me.id).cloned();
                }
                if self.me.is_none() {
                    self.me = self.staff.first().cloned();
                }
                if self.me.is_none() {
                    // Joining or restoring: stay there until the records (and staff) arrive.
                    if self.setup.is_none() {
                        self.screen = Screen::FirstRun(Default::default());
                    }
                    return Task::none();
                }
                let was_set_up = self.setup.take().is_some();
                if was_set_up || matches!(self.screen, Screen::FirstRun(_)) || self.db_version < 0 {
                    self.screen = Screen::Patients;
                    self.route = Route::Patients;
                    return Task::batch([self.load_route(), operation::focus(SEARCH)]);
                }
                Task::none()
            }
            Message::Hits(generation, Ok(hits)) => {
                // A slower, older search must not overwrite a newer one.
                if generation == self.search_generation {
                    self.hits = hits;
                }
                Task::none()
            }
            Message::PatientLoaded(Ok(loaded)) => {
                if let Screen::Patient(page) = &mut self.screen {
                    page.loaded(*loaded, &self.staff);
                }
                Task::none()
            }
            Message::DayLoaded(Ok(day)) => {
                if let Screen::Today(list) = &mut self.screen {
                    *list = day;
                }
                Task::none()
            }
            Message::VisitLoaded(Ok(loaded)) => {
                if let Screen::Visit(editor) = &mut self.screen {
                    let (visit, name) = *loaded;
                    editor.loaded(visit, name);
                }
                Task::none()
            }
            Message::FormLoaded(Ok(patient)) => {
                if let Screen::Form(form) = &mut self.screen {
                    form.edit(*patient);
                }
                Task::none()
            }
            Message::FormSaved(result) => {
                let Screen::Form(form) = &mut self.screen else {
                    return Task::none();
                };
                match result {
                    // The saved patient's page replaces the form (Back skips it).
                    Ok(id) => {
                        self.nudge_peers();
                        self.show(Route::Patient(id))
                    }
                    Err(e) => {
                        form.failed(e);
                        Task::none()
                    }
                }
            }
            Message::PeersLoaded(Ok(loaded)) => {
                if let Screen::Peers(p) = &mut self.screen {
                    p.loaded(*loaded);
                }
                Task::none()
            }
            Message::Sync(summary) => {
                self.sync = summary;
                Task::none()
            }
            Message::Notice(n) => {
                self.notice = Some(n);
                self.load_route()
            }
            Message::Done(Ok(next)) => {
                self.nudge_peers();
                match next {
                    Some(route) => self.go(route),
                    None => self.load_route(),
                }
            }
            Message::StaffLoaded(Err(e))
            | Message::Hits(_, Err(e))
            | Message::PatientLoaded(Err(e))
            | Message::DayLoaded(Err(e))
            | Message::PeersLoaded(Err(e))
            | Message::VisitLoaded(Err(e))
            | Message::FormLoaded(Err(e))
            | Message::Done(Err(e))
            | Message::Failed(e) => {
                self.notice = Some(e);
                Task::none()
            }
            Message::Version(v) => {
                if v == self.db_version {
                    return Task::none();
                }
                let first = self.db_version < 0;
                self.db_version = v;
                if first || matches!(self.screen, Screen::FirstRun(_)) {
                    return Task::none();
                }
                // Something changed (here or elsewhere): refresh lists and pages, not forms.
                Task::batch([self.load_staff(), self.load_route()])
            }
            Message::BackupsOverdue(overdue) => {
                self.backups_overdue = overdue;
                Task::none()
            }
            Message::Tick => {
                let version = self.runner.spawn(|store| {
                    let v = carebook_sync::store::db_version(&store.writer());
                    v.map(Message::Version)
                        .unwrap_or_else(|e| Message::Failed(e.to_string()))
                });
                let version = Task::batch([version, self.backup_check()]);
                let Some(me) = self.node.as_ref().map(|n| n.identity.id) else {
                    return version;
                };
                let sync = self.runner.spawn(move |store| {
                    let summary = carebook_sync::net::roster::summary(&store.writer(), &me);
                    Message::Sync(summary.unwrap_or_default())
                });
                // Connection states change without touching records: refresh that screen too.
                let peers = if self.route == Route::Peers {
                    self.load_route()
                } else {
                    Task::none()
                };
                Task::batch([version, sync, peers])
            }
            Message::Frame => {
                if !self.probe {
                    return Task::none();
                }
                println!("first-frame");
                println!("peak-rss-kb {}", crate::probe::peak_rss_kb().unwrap_or(0));
                iced::exit()
            }
            Message::Go(route) => self.go(route),
            Message::Back => self.back(),
            Message::FocusSearch => {
                if self.route != Route::Patients {
                    self.go(Route::Patients)
                } else {
                    operation::focus(SEARCH)
                }
            }
            Message::FocusNext => operation::focus_next(),
            Message::FocusPrevious => operation::focus_previous(),
            Message::SwitchStaff(s) => {
                self.notice = Some(format!("{} is now at the keyboard", s.name));
                self.me = Some(s);
                Task::none()
            }
            Message::ToggleTheme => {
                self.dark = !self.dark;
                Task::none()
            }
            Message::SearchChanged(q) => {
                self.search = q;
                self.run_search()
            }
            Message::OpenFirstHit => match self.hits.first() {
                Some(h) => self.go(Route::Patient(h.id.clone())),
                None => Task::none(),
            },
            Message::Form(msg) => screen::form::update(self, msg),
            Message::Patient(msg) => screen::patient::update(self, msg),
            Message::Visit(msg) => screen::visit::update(self, msg),
            Message::FirstRun(screen::first_run::Msg::Question) if self.setup.is_some() => {
                self.question()
            }
            Message::FirstRun(msg) => screen::first_run::update(self, msg),
            Message::Peers(msg) => screen::peers::update(self, msg),
            Message::Backups(msg) => screen::backups::update(self, msg),
            Message::About(msg) => screen::about::update(self, msg),
            Message::Scan(msg) => screen::scan::update(self, msg),
            Message::SetStatus(id, status) => {
                let Some(actor) = self.actor() else {
                    return Task::none();
                };
                self.runner.spawn(move |store| {
                    let r = clinic::appointments::set_status(&store.writer(), &actor, &id, status);
                    Message::Done(r.map(|()| None).map_err(|e| e.to_string()))
                })
            }
        }
    }

    /// Runs the automatic backup when one is due (checked once a minute, once the clinic is
    /// set up).
    fn backup_check(&mut self) -> Task<Message> {
        if self.me.is_none()
            || self
                .backup_checked
                .is_some_and(|t| t.elapsed() < BACKUP_CHECK)
        {
            return Task::none();
        }
        self.backup_checked = Some(Instant::now());
        let folders = self.folders.clone();
        self.runner
            .spawn(move |store| screen::backups::scheduled(store, &folders))
    }

    /// Local records changed: let the replication sessions send them now.
    fn nudge_peers(&self) {
        if let Some(node) = &self.node {
            node.local_change();
        }
    }

    /// Runs queued messages until none are left (inline runner, for tests).
    #[cfg(test)]
    pub fn settle(&mut self) {
        while let Some(m) = self.runner.next_message() {
            let _ = self.update(m);
        }
    }

    pub fn theme(&self) -> Theme {
        theme::theme(self.dark)
    }

    pub fn title(&self) -> String {
        match &self.me {
            Some(me) => format!("Carebook — {}", me.name),
            None => "Carebook".into(),
        }
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let probe = if self.probe {
            iced::window::frames().map(|_| Message::Frame)
        } else {
            Subscription::none()
        };
        let progress = match &self.screen {
            Screen::Backups(b) if b.running.is_some() => {
                iced::time::every(Duration::from_millis(100))
                    .map(|_| Message::Backups(screen::backups::Msg::Progress))
            }
            _ => Subscription::none(),
        };
        Subscription::batch([
            probe,
            progress,
            keyboard::listen().filter_map(shortcut),
            iced::event::listen_with(|event, _status, _window| match event {
                iced::Event::Keyboard(keyboard::Event::KeyPressed {
                    key: Key::Named(Named::Escape),
                    ..
                }) => Some(Message::Back),
                _ => None,
            }),
            iced::time::every(iced::time::Duration::from_millis(700)).map(|_| Message::Tick),
        ])
    }

    pub fn view(&self) -> Element<'_, Message> {
        let body: Element<'_, Message> = match &self.screen {
            Screen::FirstRun(f) => {
                return column![self.notice_bar(), f.view().map(Message::FirstRun)].into()
            }
            Screen::Patients => screen::patients::view(self),
            Screen::Patient(page) => page.view(self),
            Screen::Form(form) => form.view().map(Message::Form),
            Screen::Today(day) => screen::today::view(day),
            Screen::Visit(editor) => editor.view().map(Message::Visit),
            Screen::Peers(p) => p.view(self),
            Screen::Backups(b) => b.view(self),
            Screen::About(a) => a.view().map(Message::About),
            Screen::Scan(s) => s.view(self),
        };
        let top = match self.setup {
            Some(setup) => self.setup_bar(setup),
            None => self.top_bar(),
        };
        column![
            top,
            self.notice_bar(),
            container(body).padding(12).width(Fill).height(Fill)
        ]
        .into()
    }
}

/// Keyboard shortcuts that widgets did not take (Escape is handled apart: a focused text box
/// swallows it).
pub fn shortcut(event: keyboard::Event) -> Option<Message> {
    let keyboard::Event::KeyPressed { key, modifiers, .. } = event else {
        return None;
    };
    match key.as_ref() {
        Key::Character("n") if modifiers.command() => Some(Message::Go(Route::NewPatient)),
        Key::Character("f") if modifiers.command() => Some(Message::FocusSearch),
        Key::Character("t") if modifiers.command() => Some(Message::Go(Route::Today)),
        Key::Named(Named::Tab) if modifiers.shift() => Some(Message::FocusPrevious),
        Key::Named(Named::Tab) => Some(Message::FocusNext),
        _ => None,
    }
}
