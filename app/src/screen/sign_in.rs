//! Signing in, and the lock screen: choose your name, type your PIN (or set one at your first
//! sign-in). It shows no patient data. Wrong PINs are told with the wait before the next try.

use carebook_sync::clinic::pin::{self, SignIn as Outcome};
use carebook_sync::clinic::staff::Staff;
use iced::widget::{button, column, container, pick_list, row, text, text_input};
use iced::{Center, Element, Fill, Task};

use crate::context::Context;
use crate::nav::Event;
use crate::screen::capitalised;
use crate::theme;

/// The PIN box's id (focused when a name is chosen).
pub const PIN: &str = "sign-in-pin";

#[derive(Debug, Clone, Default)]
pub struct SignIn {
    /// Locked while this person was at the keyboard (None: nobody was signed in).
    pub locked_for: Option<Staff>,
    pub chosen: Option<Staff>,
    pub secret: String,
    /// The new PIN typed again (first sign-in, or after a reset).
    pub again: String,
    /// This person has no PIN yet: the form asks for a new one, twice.
    pub new_pin: bool,
    pub message: Option<String>,
    pub busy: bool,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Choose(Staff),
    Secret(String),
    Again(String),
    Submit,
    Checked(Result<Outcome, String>),
    Set(Result<(), String>),
}

impl SignIn {
    /// The lock screen for the person who was at the keyboard: their name is chosen already.
    pub fn locked(me: Option<Staff>) -> SignIn {
        SignIn {
            chosen: me.clone(),
            locked_for: me,
            ..SignIn::default()
        }
    }

    /// The sign-in form with one name chosen (switching person).
    pub fn for_person(s: Staff, was: Option<Staff>) -> SignIn {
        SignIn {
            chosen: Some(s),
            locked_for: was,
            ..SignIn::default()
        }
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        match msg {
            Msg::Choose(s) => {
                *self = SignIn {
                    chosen: Some(s),
                    locked_for: self.locked_for.take(),
                    ..SignIn::default()
                };
                return (iced::widget::operation::focus(PIN), None);
            }
            Msg::Secret(s) => self.secret = s,
            Msg::Again(s) => self.again = s,
            Msg::Submit => return (self.submit(ctx), None),
            Msg::Checked(r) => {
                self.busy = false;
                self.secret.clear();
                match r {
                    Ok(Outcome::Welcome(_)) => return (Task::none(), self.welcome()),
                    Ok(Outcome::NeedsPin) => {
                        self.new_pin = true;
                        self.message = Some(format!(
                            "Choose your PIN ({} digits or more), and type it twice.",
                            pin::MIN_DIGITS
                        ));
                    }
                    Ok(Outcome::Wrong { wait_secs: 0 }) => {
                        self.message = Some("That PIN is not right. Try again.".into())
                    }
                    Ok(Outcome::Wrong { wait_secs }) => {
                        self.message = Some(format!(
                            "That PIN is not right. Wait {wait_secs} seconds before the next try."
                        ))
                    }
                    Ok(Outcome::Wait { secs }) => {
                        self.message = Some(format!("Too many wrong tries: wait {secs} seconds."))
                    }
                    Err(e) => self.message = Some(e),
                }
            }
            Msg::Set(r) => {
                self.busy = false;
                match r {
                    Ok(()) => return (Task::none(), self.welcome()),
                    Err(e) => self.message = Some(e),
                }
            }
        }
        (Task::none(), None)
    }

    fn welcome(&self) -> Option<Event> {
        self.chosen.clone().map(Event::SignedIn)
    }

    fn submit(&mut self, ctx: &Context) -> Task<Msg> {
        let Some(who) = self.chosen.clone() else {
            self.message = Some("Choose your name first.".into());
            return Task::none();
        };
        if self.busy {
            return Task::none();
        }
        let secret = self.secret.clone();
        if self.new_pin {
            if let Some(p) = pin::problem(&secret) {
                self.message = Some(format!("{}.", capitalised(&p)));
                return Task::none();
            }
            if secret != self.again {
                self.message = Some("The two PINs are not the same.".into());
                return Task::none();
            }
            self.busy = true;
            return ctx.runner.spawn(move |store| {
                Msg::Set(
                    pin::set_first(&store.writer(), &who.id, &secret)
                        .map(drop)
                        .map_err(|e| capitalised(&e.to_string())),
                )
            });
        }
        self.busy = true;
        ctx.runner.spawn(move |store| {
            let at = carebook_sync::clinic::now();
            Msg::Checked(
                pin::sign_in(&store.writer(), &who.id, &secret, at)
                    .map_err(|e| capitalised(&e.to_string())),
            )
        })
    }

    pub fn view<'a>(&'a self, staff: &'a [Staff]) -> Element<'a, Msg> {
        let title = if self.locked_for.is_some() {
            "Carebook is locked"
        } else {
            "Sign in to Carebook"
        };
        let submit = if self.new_pin { "Set PIN" } else { "Sign in" };
        let mut secret = text_input("PIN", &self.secret)
            .id(PIN)
            .secure(true)
            .on_input(Msg::Secret)
            .padding(8);
        if !self.new_pin {
            secret = secret.on_submit(Msg::Submit);
        }
        let mut form = column![
            text(title).font(theme::BOLD).size(26),
            text(if self.locked_for.is_some() {
                "Type your PIN to go back to what you were doing, or choose another name (they start afresh)."
            } else {
                "Choose your name and type your PIN."
            }),
            pick_list(staff, self.chosen.clone(), Msg::Choose)
                .placeholder("Your name")
                .width(Fill),
            secret,
        ]
        .spacing(12)
        .max_width(420);
        if self.new_pin {
            form = form.push(
                text_input("The same PIN again", &self.again)
                    .secure(true)
                    .on_input(Msg::Again)
                    .on_submit(Msg::Submit)
                    .padding(8),
            );
        }
        form = form.push(
            row![button(text(submit)).on_press_maybe((!self.busy).then_some(Msg::Submit))]
                .align_y(Center),
        );
        if let Some(m) = &self.message {
            form = form.push(container(text(m)).padding(6).style(theme::notice));
        }
        container(form).center(Fill).into()
    }
}
