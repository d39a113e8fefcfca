//! The desktop app's top level: which screen is open, navigation (Back, shortcuts), the person
//! at the keyboard, and the bars around the screens. Each screen in `screen/` owns its state,
//! messages, update and view and reports upward with an `Event`; this module maps those events
//! to navigation and tells the open screen when committed changes were announced, so changes
//! made elsewhere (another computer, the sqlite3 shell) show without touching what is typed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use carebook_sync::clinic::access::{self, Permission};
use carebook_sync::clinic::staff::Staff;
use carebook_sync::net::node::Node;
use carebook_sync::net::roster::Summary;
use iced::widget::{column, container, operation};
use iced::{Element, Fill, Task};

use crate::autobackup;
use crate::backend::Runner;
use crate::context::{Context, Folders};
use crate::nav::{Event, Route, Setup};
use crate::probe::{self, Probe};
use crate::screen::book::{self, Book};
use crate::screen::staff::StaffScreen;
use crate::screen::{
    about, backups, first_run, form, patient, patients, peers, scan, sign_in, today, visit,
};

/// What the current screen holds.
#[derive(Debug)]
pub enum Screen {
    FirstRun(first_run::FirstRun),
    /// The patient list (its state is `App::patients`, kept across routes).
    Patients,
    Patient(Box<patient::PatientPage>),
    Form(Box<form::PatientForm>),
    Today(today::Today),
    Book(Box<Book>),
    Visit(Box<visit::VisitEditor>),
    Peers(Box<peers::Peers>),
    Backups(Box<backups::Backups>),
    Staff(Box<StaffScreen>),
    About(Box<about::About>),
    Scan(Box<scan::Scan>),
}

#[derive(Debug, Clone)]
pub enum Message {
    // The screens' own messages.
    FirstRun(first_run::Msg),
    Patients(patients::Msg),
    Patient(patient::Msg),
    Form(form::Msg),
    Today(today::Msg),
    Book(book::Msg),
    Visit(visit::Msg),
    Peers(peers::Msg),
    Backups(backups::Msg),
    Staff(crate::screen::staff::Msg),
    About(about::Msg),
    Scan(scan::Msg),
    /// The sign-in and lock screen, over whatever screen is open.
    SignIn(sign_in::Msg),
    // What the app itself hears.
    StaffLoaded(Result<Vec<Staff>, String>),
    /// The clinic's idle time before the window locks, in minutes.
    IdleLockLoaded(u32),
    /// Committed changes were announced (by this window, a merge or another program); the
    /// database's version as of then.
    Changed(i64),
    Sync(Summary),
    /// The automatic backup ran or was not due; whether backups are overdue.
    BackupsOverdue(bool),
    // Navigation, keyboard, top bar.
    Go(Route),
    Back,
    StartOver,
    FocusSearch,
    FocusNext,
    FocusPrevious,
    Frame,
    SwitchStaff(Staff),
    ToggleTheme,
    /// The person at the keyboard takes the administrator role (the clinic has none), and how
    /// that went.
    BecomeAdmin,
    BecameAdmin(Result<(), String>),
    /// Lock the window now (Ctrl+L: leaving the desk).
    LockNow,
    /// The person touched the keyboard or the mouse.
    Activity,
    /// Time to see whether the window has been idle too long (it then locks).
    IdleCheck(Instant),
}

/// How long the window waits, untouched, before it locks (until the clinic's own setting is
/// read).
pub const IDLE_LOCK: Duration =
    Duration::from_secs(60 * carebook_sync::clinic::settings::DEFAULT_IDLE_MINUTES as u64);

#[derive(Debug)]
pub struct App {
    pub runner: Runner,
    pub staff: Vec<Staff>,
    /// Who signed in last (kept while the window is locked, so the same person gets back to what
    /// they were typing).
    pub me: Option<Staff>,
    /// The sign-in or lock screen, shown instead of everything else while set.
    pub lock: Option<sign_in::SignIn>,
    /// When the person last touched the window, and how long idle locks it.
    pub last_activity: Instant,
    pub idle_lock: Duration,
    pub device_id: String,
    pub route: Route,
    pub(crate) trail: Vec<Route>,
    pub screen: Screen,
    /// The patient list's search, kept while other screens are open.
    pub patients: patients::Patients,
    pub notice: Option<String>,
    pub dark: bool,
    /// The database's version when the screen last heard of changes (-1: not yet).
    db_version: i64,
    /// The first screen with records was shown (the staff had loaded).
    pub(crate) opened: bool,
    /// What a benchmark asks to see (see `probe`).
    pub probe: Probe,
    /// The digest the patient probe printed last.
    probed: Option<u64>,
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
    /// The camera the Scan view reads codes with (a list of pictures in tests).
    pub camera: scan::OpenCamera,
}

/// What screens may read, borrowed field by field from the app (so the open screen, also a
/// field, can be updated beside it).
macro_rules! context {
    ($app:ident) => {
        Context {
            runner: &$app.runner,
            me: $app.me.as_ref(),
            staff: &$app.staff,
            device_id: &$app.device_id,
            node: $app.node.as_ref(),
            listen_port: $app.listen_port,
            folders: &$app.folders,
        }
    };
}

/// Runs a screen's update with the app's context, maps its task into the app's messages and
/// turns its event into navigation.
macro_rules! on_screen {
    ($app:ident, $variant:ident, $msg:expr, |$s:ident, $ctx:ident| $update:expr) => {{
        let ctx = context!($app);
        let (task, event) = match &mut $app.screen {
            Screen::$variant($s) => {
                let $ctx = &ctx;
                $update
            }
            _ => return Task::none(),
        };
        let task = task.map(Message::$variant);
        $app.follow(task, event)
    }};
}

impl App {
    /// The app over an open store; the returned task loads staff and the first screen.
    pub fn new(
        runner: Runner,
        node: Option<Arc<Node>>,
        listen_port: u16,
        folders: Folders,
    ) -> (App, Task<Message>) {
        let device_id = runner
            .store()
            .reader()
            .ok()
            .and_then(|db| carebook_sync::clinic::device_id(&db).ok())
            .unwrap_or_default();
        let app = App {
            runner,
            staff: Vec::new(),
            me: None,
            lock: None,
            last_activity: Instant::now(),
            idle_lock: IDLE_LOCK,
            device_id,
            route: Route::Patients,
            trail: Vec::new(),
            screen: Screen::Patients,
            patients: patients::Patients::default(),
            notice: None,
            dark: false,
            db_version: -1,
            opened: false,
            probe: Probe::Off,
            probed: None,
            node,
            listen_port,
            sync: Summary::default(),
            folders,
            setup: None,
            backups_overdue: false,
            camera: scan::OpenCamera::webcam(),
        };
        let task = app.load_staff();
        (app, task)
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
        // The computers and the backups are the administrators' (the library refuses their
        // work too; this says so before a screen opens).
        let needs = match route {
            Route::Peers | Route::Scan => Some(Permission::Computers),
            Route::Backups => Some(Permission::Backups),
            Route::Staff => Some(Permission::Staff),
            _ => None,
        };
        if let (Some(p), Some(me)) = (needs, &self.me) {
            if !access::roles_may(me.roles, p) && !setting_up {
                self.notice = Some(access::refusal(p));
                return Task::none();
            }
        }
        if route != self.route {
            self.trail.push(self.route.clone());
        }
        self.show(route)
    }

    /// Shows a route with a fresh screen, which loads what it shows.
    pub(crate) fn show(&mut self, route: Route) -> Task<Message> {
        self.route = route.clone();
        self.notice = None;
        let restoring = self.setup == Some(Setup::Restore);
        let (node, camera) = (self.node.clone(), self.camera.clone());
        let ctx = context!(self);
        let (screen, task) = match route {
            Route::Patients => {
                let task = self.patients.open(&ctx).map(Message::Patients);
                (Screen::Patients, task)
            }
            Route::NewPatient => opened(
                form::PatientForm::open(None, &ctx),
                Screen::Form,
                Message::Form,
            ),
            Route::EditPatient(id) => opened(
                form::PatientForm::open(Some(id), &ctx),
                Screen::Form,
                Message::Form,
            ),
            Route::Patient(id) => opened(
                patient::PatientPage::open(id, &ctx),
                Screen::Patient,
                Message::Patient,
            ),
            Route::Today => {
                let t = today::Today::default();
                let task = t.refresh(&ctx).map(Message::Today);
                (Screen::Today(t), task)
            }
            Route::Book => opened(Book::open(&ctx), Screen::Book, Message::Book),
            Route::Visit(id) => opened(
                visit::VisitEditor::open(id, &ctx),
                Screen::Visit,
                Message::Visit,
            ),
            Route::Peers => opened(peers::Peers::open(&ctx), Screen::Peers, Message::Peers),
            Route::Backups => opened(
                backups::Backups::open(restoring, &ctx),
                Screen::Backups,
                Message::Backups,
            ),
            Route::Staff => opened(StaffScreen::open(&ctx), Screen::Staff, Message::Staff),
            Route::About => (
                Screen::About(Box::new(about::About::open(&ctx))),
                Task::none(),
            ),
            Route::Scan => opened(scan::Scan::open(node, camera), Screen::Scan, Message::Scan),
        };
        self.screen = screen;
        task
    }

    /// Tells the open screen that records changed; each keeps what is typed in it.
    fn refresh(&mut self) -> Task<Message> {
        let ctx = context!(self);
        match &mut self.screen {
            Screen::Patients => self.patients.refresh(&ctx).map(Message::Patients),
            Screen::Patient(p) => p.refresh(&ctx).map(Message::Patient),
            Screen::Form(f) => f.refresh(&ctx).map(Message::Form),
            Screen::Today(t) => t.refresh(&ctx).map(Message::Today),
            Screen::Book(b) => b.refresh(&ctx).map(Message::Book),
            Screen::Visit(v) => v.refresh(&ctx).map(Message::Visit),
            Screen::Peers(p) => p.refresh(&ctx).map(Message::Peers),
            Screen::Backups(b) => b.refresh(&ctx).map(Message::Backups),
            Screen::Staff(s) => s.refresh(&ctx).map(Message::Staff),
            Screen::FirstRun(_) | Screen::About(_) | Screen::Scan(_) => Task::none(),
        }
    }

    /// After the first question: joining (pairing) or restoring (a backup), with no staff yet.
    fn begin(&mut self, setup: Setup) -> Task<Message> {
        if setup == Setup::Join && self.node.is_none() {
            self.notice = Some(
                "This window runs without the network, so it cannot join a clinic; restart Carebook with the network on".into(),
            );
            return Task::none();
        }
        self.setup = Some(setup);
        self.trail.clear();
        self.show(match setup {
            Setup::Join => Route::Peers,
            Setup::Restore => Route::Backups,
        })
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

    /// A screen's task, and what its event asks of the app.
    fn follow(&mut self, task: Task<Message>, event: Option<Event>) -> Task<Message> {
        let next = match event {
            None => return task,
            Some(Event::Open(route)) => self.go(route),
            Some(Event::Replace(route)) => self.show(route),
            Some(Event::Back) => self.back(),
            Some(Event::Notice(n)) => {
                self.notice = Some(n);
                Task::none()
            }
            Some(Event::Begin(setup)) => self.begin(setup),
            Some(Event::Started) => self.load_staff(),
            Some(Event::SignedIn(s)) => self.signed_in(s),
        };
        Task::batch([task, next])
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        let navigation = matches!(
            message,
            Message::Go(_)
                | Message::Back
                | Message::StartOver
                | Message::FocusSearch
                | Message::FocusNext
                | Message::FocusPrevious
        );
        if self.lock.is_some() && navigation {
            return Task::none();
        }
        match message {
            Message::FirstRun(m) => on_screen!(self, FirstRun, m, |s, ctx| s.update(m, ctx)),
            Message::Patients(m) => {
                let ctx = context!(self);
                let (task, event) = self.patients.update(m, &ctx);
                let task = task.map(Message::Patients);
                self.follow(task, event)
            }
            Message::Patient(m) => {
                let task = on_screen!(self, Patient, m, |s, ctx| s.update(m, ctx));
                let page = match &self.screen {
                    Screen::Patient(p) => Some(p.as_ref()),
                    _ => None,
                };
                probe::patient_page(&self.probe, page, &mut self.probed);
                task
            }
            Message::Form(m) => on_screen!(self, Form, m, |s, ctx| s.update(m, ctx)),
            Message::Today(m) => on_screen!(self, Today, m, |s, ctx| s.update(m, ctx)),
            Message::Book(m) => on_screen!(self, Book, m, |s, ctx| s.update(m, ctx)),
            Message::Visit(m) => on_screen!(self, Visit, m, |s, ctx| s.update(m, ctx)),
            Message::Peers(m) => on_screen!(self, Peers, m, |s, ctx| s.update(m, ctx)),
            Message::Backups(m) => on_screen!(self, Backups, m, |s, ctx| s.update(m, ctx)),
            Message::Staff(m) => on_screen!(self, Staff, m, |s, ctx| s.update(m, ctx)),
            Message::About(m) => on_screen!(self, About, m, |s, _ctx| (s.update(m), None)),
            Message::Scan(m) => on_screen!(self, Scan, m, |s, _ctx| s.update(m)),
            Message::StaffLoaded(Ok(staff)) => self.staff_loaded(staff),
            Message::StaffLoaded(Err(e)) => {
                self.notice = Some(e);
                Task::none()
            }
            Message::IdleLockLoaded(minutes) => {
                self.idle_lock = Duration::from_secs(60 * u64::from(minutes));
                Task::none()
            }
            Message::Changed(version) => {
                let sync = self.load_sync();
                if version == self.db_version {
                    // Only how the computers are connected moved.
                    let peers = match &self.screen {
                        Screen::Peers(_) => self.refresh(),
                        _ => Task::none(),
                    };
                    return Task::batch([sync, peers]);
                }
                self.db_version = version;
                if matches!(self.screen, Screen::FirstRun(_)) {
                    return sync;
                }
                Task::batch([sync, self.load_staff(), self.refresh()])
            }
            Message::Sync(summary) => {
                self.sync = summary;
                Task::none()
            }
            Message::BackupsOverdue(overdue) => {
                self.backups_overdue = overdue;
                Task::none()
            }
            Message::Frame => {
                if self.probe != Probe::FirstFrame {
                    return Task::none();
                }
                println!("first-frame");
                println!("peak-rss-kb {}", probe::peak_rss_kb().unwrap_or(0));
                iced::exit()
            }
            Message::Go(route) => self.go(route),
            Message::Back => self.back(),
            Message::StartOver => self.question(),
            Message::FocusSearch => {
                if self.route != Route::Patients {
                    self.go(Route::Patients)
                } else {
                    operation::focus(patients::SEARCH)
                }
            }
            Message::FocusNext => operation::focus_next(),
            Message::FocusPrevious => operation::focus_previous(),
            Message::SwitchStaff(s) => {
                // Switching person needs the new person's PIN.
                self.lock = Some(sign_in::SignIn::for_person(s, self.me.clone()));
                operation::focus(sign_in::PIN)
            }
            Message::SignIn(m) => {
                let ctx = context!(self);
                let Some(lock) = self.lock.as_mut() else {
                    return Task::none();
                };
                let (task, event) = lock.update(m, &ctx);
                let task = task.map(Message::SignIn);
                self.follow(task, event)
            }
            Message::BecomeAdmin => self.become_admin(),
            Message::BecameAdmin(r) => self.became_admin(r),
            Message::LockNow => {
                self.lock_now();
                Task::none()
            }
            Message::Activity => {
                self.last_activity = Instant::now();
                Task::none()
            }
            Message::IdleCheck(now) => {
                if now.saturating_duration_since(self.last_activity) >= self.idle_lock {
                    self.lock_now();
                }
                Task::none()
            }
            Message::ToggleTheme => {
                self.dark = !self.dark;
                Task::none()
            }
        }
    }

    /// What the automatic backups' loop needs (it runs once the clinic is set up here).
    pub fn backups(&self) -> Option<autobackup::Making> {
        self.me.as_ref()?;
        Some(autobackup::Making {
            store: self.runner.store().clone(),
            folders: self.folders.clone(),
            identity: self.node.as_ref().map(|n| n.identity.clone()),
        })
    }

    pub fn view(&self) -> Element<'_, Message> {
        if let Some(lock) = &self.lock {
            return lock.view(&self.staff).map(Message::SignIn);
        }
        let body: Element<'_, Message> = match &self.screen {
            Screen::FirstRun(f) => {
                return column![self.notice_bar(), f.view().map(Message::FirstRun)].into()
            }
            Screen::Patients => self.patients.view().map(Message::Patients),
            Screen::Patient(page) => page.view().map(Message::Patient),
            Screen::Form(form) => form.view().map(Message::Form),
            Screen::Today(day) => day.view().map(Message::Today),
            Screen::Book(b) => b.view().map(Message::Book),
            Screen::Visit(editor) => editor.view().map(Message::Visit),
            Screen::Peers(p) => p.view().map(Message::Peers),
            Screen::Backups(b) => b.view().map(Message::Backups),
            Screen::Staff(s) => s.view().map(Message::Staff),
            Screen::About(a) => a.view().map(Message::About),
            Screen::Scan(s) => s.view().map(Message::Scan),
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

/// A newly opened screen in its place, and its first task in the app's messages.
fn opened<S, M>(
    (state, task): (S, Task<M>),
    screen: impl FnOnce(Box<S>) -> Screen,
    message: impl Fn(M) -> Message + Send + 'static,
) -> (Screen, Task<Message>)
where
    M: Send + 'static,
{
    (screen(Box::new(state)), task.map(message))
}
