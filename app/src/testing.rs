//! The app without a window, for tests: the tasks `update` returns run on a tokio runtime and
//! their messages are fed back, and committed changes are announced after each step the way
//! the window's subscription announces them, so flows run through the same code as in the app.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use carebook_sync::net::node::Node;
use carebook_sync::store::{CrrConnection, Store};
use iced::futures::StreamExt;
use iced::Task;
use iced_runtime::Action;

use crate::app::{App, Message};
use crate::backend::Runner;
use crate::context::Folders;

/// A test instance's folders: the temporary data folder, secrets in files.
/// The PIN the tests' people choose.
pub const PIN: &str = "402917";

pub fn folders(dir: &Path) -> Folders {
    Folders {
        data: dir.to_path_buf(),
        logs: None,
        keyring: carebook_sync::identity::Keyring::Off,
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The app over a store, driven by hand.
pub struct Window {
    pub app: App,
    pub rt: tokio::runtime::Runtime,
    /// Watches for commits as the window's subscription does (`PRAGMA data_version` moves
    /// when another connection commits).
    watch: CrrConnection,
    seen: i64,
}

impl Window {
    pub fn new(store: Arc<Store>, node: Option<Arc<Node>>, dir: &Path) -> Window {
        Window::with(runtime(), store, node, dir, |_| {})
    }

    /// The window on runtime `rt`, with `setup` applied to the app before its first task runs.
    pub fn with(
        rt: tokio::runtime::Runtime,
        store: Arc<Store>,
        node: Option<Arc<Node>>,
        dir: &Path,
        setup: impl FnOnce(&mut App),
    ) -> Window {
        let watch = store.reader().unwrap();
        let (mut app, task) = App::new(Runner::new(store), node, 0, folders(dir));
        setup(&mut app);
        let mut w = Window {
            app,
            rt,
            watch,
            seen: -1,
        };
        w.announced();
        w.drive(task);
        w
    }

    /// Whether a commit happened since the last look.
    fn announced(&mut self) -> bool {
        let now: i64 = self
            .watch
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap();
        std::mem::replace(&mut self.seen, now) != now
    }

    /// Runs a task and everything that follows from it, feeding each message to `update`,
    /// then announces commits and runs what follows from that, until all is quiet; returns the
    /// messages in the order they came.
    pub fn drive(&mut self, task: Task<Message>) -> Vec<Message> {
        let mut seen = Vec::new();
        let mut tasks = VecDeque::from([task]);
        loop {
            let Some(task) = tasks.pop_front() else {
                if !self.announced() {
                    return seen;
                }
                let version = carebook_sync::store::db_version(&self.watch).unwrap();
                tasks.push_back(self.app.update(Message::Changed(version)));
                continue;
            };
            let Some(stream) = iced_runtime::task::into_stream(task) else {
                continue;
            };
            let outputs: Vec<Message> = self.rt.block_on(
                stream
                    .filter_map(|action| async move {
                        match action {
                            Action::Output(m) => Some(m),
                            _ => None,
                        }
                    })
                    .collect(),
            );
            for m in outputs {
                seen.push(m.clone());
                tasks.push_back(self.app.update(m));
            }
        }
    }

    pub fn send(&mut self, m: Message) -> Vec<Message> {
        let task = self.app.update(m);
        self.drive(task)
    }

    /// One look of the automatic backups' loop, its answer given to the app as the window's
    /// subscription gives it.
    pub fn backup_look(&mut self) -> Vec<Message> {
        let making = self.app.backups().expect("the clinic is set up");
        let overdue = self
            .rt
            .block_on(async { Box::pin(crate::autobackup::looks(making)).next().await })
            .expect("a look");
        self.send(Message::BackupsOverdue(overdue))
    }

    /// Signs `name` in through the sign-in screen with `pin` (set as their first PIN when they
    /// have none yet), as a person at the keyboard would.
    pub fn sign_in(&mut self, name: &str, pin: &str) {
        use crate::screen::sign_in::Msg;
        let who = self
            .app
            .staff
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is on the staff list"));
        if self.app.lock.is_none() {
            self.send(Message::SwitchStaff(who.clone()));
        }
        for m in [Msg::Choose(who), Msg::Secret(pin.into()), Msg::Submit] {
            self.send(Message::SignIn(m));
        }
        if self.app.lock.as_ref().is_some_and(|l| l.new_pin) {
            for m in [Msg::Secret(pin.into()), Msg::Again(pin.into()), Msg::Submit] {
                self.send(Message::SignIn(m));
            }
        }
        let left = self.app.lock.as_ref().and_then(|l| l.message.clone());
        assert!(self.app.lock.is_none(), "signed in: {left:?}");
    }

    /// Whether any text the window shows contains `what`.
    pub fn shows(&self, what: &str) -> bool {
        use iced_test::selector::Candidate;
        iced_test::simulator(self.app.view())
            .find(|c: Candidate<'_>| match c {
                Candidate::Text { content, .. } if content.contains(what) => Some(()),
                _ => None,
            })
            .is_ok()
    }

    /// Lets announced changes reach the open screen.
    pub fn settle(&mut self) -> Vec<Message> {
        self.drive(Task::none())
    }
}
