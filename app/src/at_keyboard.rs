//! Who is at the keyboard: signing in, switching person, locking an idle window (the sign-in
//! screen itself is `screen::sign_in`), and taking the administrator role in a clinic that has
//! none.

use std::time::Instant;

use carebook_sync::clinic::staff::{self, Staff};
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
