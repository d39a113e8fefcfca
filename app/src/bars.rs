//! The window's title and theme, and the bars around every screen: the top bar (navigation, the backup warning, how the other
//! computers are connected, who is at the keyboard), the plainer bar shown while a new
//! computer is being set up, and the notice line under them.

use iced::widget::{button, container, pick_list, row, space, text, tooltip};
use iced::{Center, Element, Fill, Task, Theme};

use carebook_sync::clinic::staff::Role;

use crate::app::{App, Message};
use crate::nav::{Route, Setup};
use crate::{clock, theme};

/// A small framed tip under what it explains.
fn tip<'a>(what: impl Into<Element<'a, Message>>, tip: &'a str) -> tooltip::Tooltip<'a, Message> {
    tooltip(
        what,
        container(text(tip).size(13)).padding(4).style(theme::card),
        tooltip::Position::Bottom,
    )
}

impl App {
    pub fn theme(&self) -> Theme {
        theme::theme(self.dark)
    }

    /// The window's title: who is at the keyboard (nobody's name while locked).
    pub fn title(&self) -> String {
        match self.me.as_ref().filter(|_| self.lock.is_none()) {
            Some(me) => format!("Carebook — {}", me.name),
            None => "Carebook".into(),
        }
    }

    /// How the other computers are connected, for the status line.
    pub(crate) fn load_sync(&self) -> Task<Message> {
        let Some(me) = self.node.as_ref().map(|n| n.identity.id) else {
            return Task::none();
        };
        self.runner
            .read(move |db| carebook_sync::net::roster::summary(db, &me).map_err(|e| e.to_string()))
            .map(|s| Message::Sync(s.unwrap_or_default()))
    }

    /// The status line: how the clinic's other computers are connected.
    pub fn sync_line(&self) -> String {
        let s = &self.sync;
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match (self.node.is_some(), s.others, s.connected) {
            (false, _, _) => "Not connected to other computers".into(),
            (true, 0, _) => "No other computers yet".into(),
            (true, n, c) if c == n => format!("{n} other computer{} in sync", plural(n)),
            (true, n, 0) => match s.last_contact {
                Some(at) => format!("Offline since {}", clock::local(at, "%H:%M")),
                None => format!("Waiting for {n} other computer{}", plural(n)),
            },
            (true, n, c) => format!("{c} of {n} other computers connected"),
        }
    }

    pub fn top_bar(&self) -> Element<'_, Message> {
        // The Scan view belongs to the Computers screen.
        let here = match &self.route {
            Route::Scan => Route::Peers,
            r => r.clone(),
        };
        let nav = |label: &'static str, route: Route| {
            let style = if here == route {
                button::primary
            } else {
                button::secondary
            };
            button(text(label))
                .style(style)
                .on_press(Message::Go(route))
        };
        let admin = self.me.as_ref().is_some_and(|me| me.roles.has(Role::Admin));
        row![
            text("Carebook").font(theme::BOLD).size(20),
            space().width(8),
            nav("Patients", Route::Patients),
            nav("Today", Route::Today),
            tip(nav("Book", Route::Book), "Ctrl+B"),
            tip(
                button(text("New patient"))
                    .style(button::secondary)
                    .on_press(Message::Go(Route::NewPatient)),
                "Ctrl+N"
            ),
            // The administrators' screens (the library refuses their work to others too).
            admin.then(|| nav("Computers", Route::Peers)),
            admin.then(|| nav("Backups", Route::Backups)),
            admin.then(|| nav("Staff", Route::Staff)),
            self.backups_overdue.then(|| {
                button(text("Backup overdue").size(13))
                    .style(button::danger)
                    .on_press(Message::Go(Route::Backups))
            }),
            // The status line takes what is left (wrapping when long), so nothing is pushed
            // off the right edge.
            text(self.sync_line())
                .size(13)
                .width(Fill)
                .align_x(iced::alignment::Horizontal::Right),
            space().width(8),
            // Set widths and tight spacing keep Dark and About inside a 1200-pixel window.
            tip(
                pick_list(self.staff.as_slice(), self.me.clone(), Message::SwitchStaff).width(190),
                "Who is at the keyboard: every change records this person (Ctrl+L locks)"
            ),
            button(text(if self.dark { "Light" } else { "Dark" }))
                .style(button::text)
                .on_press(Message::ToggleTheme),
            nav("About", Route::About),
        ]
        .spacing(6)
        .align_y(Center)
        .padding(10)
        .into()
    }

    /// While a new computer joins a clinic or restores one: what is going on, and the way back.
    pub fn setup_bar(&self, setup: Setup) -> Element<'_, Message> {
        let what = match setup {
            Setup::Join => "Joining a clinic: pair with one of its computers below; the records arrive once it accepts.",
            Setup::Restore => "Restoring the clinic from a backup.",
        };
        row![
            text("Carebook").font(theme::BOLD).size(20),
            text(what),
            space::horizontal(),
            button(text("Start over"))
                .style(button::secondary)
                .on_press(Message::StartOver),
        ]
        .spacing(12)
        .align_y(Center)
        .padding(10)
        .into()
    }

    /// The notice line under the top bar (errors and confirmations), when there is one; and
    /// while the clinic has no administrator (a database from before roles), the offer to
    /// become one.
    pub fn notice_bar(&self) -> Option<Element<'_, Message>> {
        let notice = self.notice.as_ref().map(|n| {
            container(text(n.clone()))
                .padding([6, 12])
                .width(Fill)
                .style(theme::notice)
        });
        let no_admin = self.me.is_some() && !self.staff.iter().any(|s| s.roles.has(Role::Admin));
        let offer = no_admin.then(|| {
            container(
                row![
                    text("This clinic has no administrator yet: someone must be one to add staff, pair computers and make backups."),
                    button(text("Become the administrator")).on_press(Message::BecomeAdmin),
                ]
                .spacing(12)
                .align_y(Center),
            )
            .padding([6, 12])
            .width(Fill)
            .style(theme::notice)
        });
        match (notice, offer) {
            (None, None) => None,
            (n, o) => Some(iced::widget::column![n, o].spacing(2).into()),
        }
    }
}
