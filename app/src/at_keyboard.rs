//! Who is at the keyboard: signing in, switching person, and locking an idle window (the
//! sign-in screen itself is `screen::sign_in`).

use std::time::Instant;

use carebook_sync::clinic::staff::Staff;
use iced::Task;

use crate::app::{App, Message};
use crate::nav::Route;
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
