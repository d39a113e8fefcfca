//! Who is at the keyboard: the staff list as it arrives, signing in, switching person, locking
//! an idle window (the sign-in screen itself is `screen::sign_in`), and taking the
//! administrator role in a clinic that has none.

use std::time::Instant;

use carebook_sync::clinic::settings;
use carebook_sync::clinic::staff::{self, Staff};
use iced::Task;

use crate::app::{App, Message, Screen};
use crate::nav::Route;
use crate::probe::Probe;
use crate::screen::{patients, sign_in};

impl App {
    /// Someone proved who they are: the same person gets back what they left; another person
    /// starts from the patient list (nothing of the last person's typing is shown to them).
    pub(crate) fn signed_in(&mut self, s: Staff) -> Task<Message> {
        self.lock = None;
        self.last_activity = Instant::now();
        let same = self.me.as_ref().is_some_and(|m| m.id == s.id);
        self.notice = (!same).then(|| format!("{} is now at the keyboard", s.name));
        self.me = Some(s);
        if !self.opened {
            return self.staff_loaded(self.staff.clone());
        }
        if same {
            return Task::none();
        }
        self.trail.clear();
        self.patients = patients::Patients::default();
        self.show(Route::Patients)
    }

    /// Locks the window: the lock screen shows no patient data; the open screen keeps its state
    /// for the same person.
    pub(crate) fn lock_now(&mut self) {
        if self.me.is_some() && self.lock.is_none() {
            self.lock = Some(sign_in::SignIn::locked(self.me.clone()));
        }
    }
}

impl App {
    /// The person at the keyboard becomes the clinic's administrator (offered while it has none:
    /// a database from before roles were enforced). The library refuses once one exists.
    pub(crate) fn become_admin(&mut self) -> Task<Message> {
        let Some(actor) = self.me.as_ref().map(|me| carebook_sync::clinic::Actor {
            staff_id: me.id.clone(),
            device_id: self.device_id.clone(),
        }) else {
            return Task::none();
        };
        self.runner.spawn(move |store| {
            Message::BecameAdmin(
                staff::become_admin(&store.writer(), &actor).map_err(|e| e.to_string()),
            )
        })
    }

    pub(crate) fn became_admin(&mut self, r: Result<(), String>) -> Task<Message> {
        self.notice = Some(match r {
            Ok(()) => "You are the clinic's administrator now: the Staff screen is yours".into(),
            Err(e) => e,
        });
        self.load_staff()
    }
}

impl App {
    /// Reads the staff list and the clinic's idle lock (both replicated: they change when
    /// another computer's changes arrive).
    pub fn load_staff(&self) -> Task<Message> {
        let staff = self
            .runner
            .read(|db| staff::list(db).map_err(|e| e.to_string()))
            .map(Message::StaffLoaded);
        let idle = self
            .runner
            .read(|db| settings::idle_lock_minutes(db).map_err(|e| e.to_string()))
            .map(|m| Message::IdleLockLoaded(m.unwrap_or(settings::DEFAULT_IDLE_MINUTES)));
        Task::batch([staff, idle])
    }

    /// The staff list arrived: the window opens on the sign-in screen while nobody is signed
    /// in, on the first screen once someone is, and stays on joining or restoring until the
    /// records (and staff) arrive.
    pub(crate) fn staff_loaded(&mut self, staff: Vec<Staff>) -> Task<Message> {
        self.staff = staff;
        if let Some(me) = &self.me {
            self.me = self.staff.iter().find(|s| s.id == me.id).cloned();
        }
        if self.me.is_none() && !self.staff.is_empty() {
            // Nobody has signed in yet: the window opens on the sign-in screen.
            self.lock.get_or_insert_with(sign_in::SignIn::default);
            self.setup = None;
            return Task::none();
        }
        if self.me.is_none() {
            // Joining or restoring: stay there until the records (and staff) arrive.
            if self.setup.is_none() {
                self.screen = Screen::FirstRun(Default::default());
            }
            return Task::none();
        }
        let was_set_up = self.setup.take().is_some();
        if was_set_up || matches!(self.screen, Screen::FirstRun(_)) || !self.opened {
            self.opened = true;
            self.trail.clear();
            let first = match self.probe.clone() {
                Probe::Patient(id) => Route::Patient(id),
                _ => Route::Patients,
            };
            return self.show(first);
        }
        Task::none()
    }
}
