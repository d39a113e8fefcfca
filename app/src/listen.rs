//! What the window listens to besides its widgets: the change feed, automatic backups, the
//! idle clock that locks it, the person's keys and clicks (activity), and the shortcuts.

use std::time::Duration;

use iced::keyboard::{self, key::Named, Key};
use iced::Subscription;

use crate::app::{App, Message, Screen};
use crate::autobackup;
use crate::nav::Route;
use crate::probe::Probe;
use crate::screen::backups;

impl App {
    pub fn subscription(&self) -> Subscription<Message> {
        let probe = if self.probe == Probe::FirstFrame {
            iced::window::frames().map(|_| Message::Frame)
        } else {
            Subscription::none()
        };
        let progress = match &self.screen {
            Screen::Backups(b) if b.running.is_some() => {
                iced::time::every(Duration::from_millis(100))
                    .map(|_| Message::Backups(backups::Msg::Progress))
            }
            _ => Subscription::none(),
        };
        // While someone is signed in and the window is open, it looks every few seconds
        // whether it has been idle too long.
        let idle = if self.me.is_some() && self.lock.is_none() {
            iced::time::every(Duration::from_secs(5)).map(Message::IdleCheck)
        } else {
            Subscription::none()
        };
        Subscription::batch([
            probe,
            progress,
            crate::changes::subscription(self.runner.store().clone()).map(Message::Changed),
            self.backups()
                .map(|m| autobackup::subscription(m).map(Message::BackupsOverdue))
                .unwrap_or_else(Subscription::none),
            keyboard::listen().filter_map(shortcut),
            idle,
            iced::event::listen_with(|event, _status, _window| match event {
                iced::Event::Keyboard(keyboard::Event::KeyPressed { .. })
                | iced::Event::Mouse(
                    iced::mouse::Event::ButtonPressed(_) | iced::mouse::Event::WheelScrolled { .. },
                ) => Some(Message::Activity),
                _ => None,
            }),
            iced::event::listen_with(|event, _status, _window| match event {
                iced::Event::Keyboard(keyboard::Event::KeyPressed {
                    key: Key::Named(Named::Escape),
                    ..
                }) => Some(Message::Back),
                _ => None,
            }),
        ])
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
        Key::Character("l") if modifiers.command() => Some(Message::LockNow),
        Key::Character("b") if modifiers.command() => Some(Message::Go(Route::Book)),
        Key::Named(Named::Tab) if modifiers.shift() => Some(Message::FocusPrevious),
        Key::Named(Named::Tab) => Some(Message::FocusNext),
        _ => None,
    }
}
