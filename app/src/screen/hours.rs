//! The hours part of the Staff screen (administrators): the clinic's opening hours and each
//! clinician's working days, hours and break, and the appointment types with their usual
//! durations. The library checks and records every change; the book shows them at once on
//! every computer.

use carebook_sync::clinic::hours::{self, Hours, Kind, Span};
use carebook_sync::clinic::staff::{Role, Staff};
use carebook_sync::clinic::{self, Actor};
use carebook_sync::store::CrrConnection;
use chrono::NaiveTime;
use iced::widget::{button, checkbox, column, pick_list, row, text, text_input};
use iced::{Center, Element, Task};

use crate::context::Context;
use crate::screen::capitalised;
use crate::theme;

/// Whose hours are being edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    Clinic,
    One(Staff),
}

impl std::fmt::Display for Whose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Whose::Clinic => f.write_str("The clinic (opening hours)"),
            Whose::One(s) => f.write_str(&s.name),
        }
    }
}

#[derive(Debug)]
pub struct HoursEditor {
    pub whose: Whose,
    pub days: [bool; 7],
    pub from: String,
    pub to: String,
    pub break_from: String,
    pub break_to: String,
    /// The appointment types as typed: "New patient=30; Follow-up=15".
    pub kinds: String,
    pub outcome: Option<String>,
}

impl Default for HoursEditor {
    fn default() -> HoursEditor {
        HoursEditor {
            whose: Whose::Clinic,
            days: Hours::default().days,
            from: String::new(),
            to: String::new(),
            break_from: String::new(),
            break_to: String::new(),
            kinds: String::new(),
            outcome: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Msg {
    Whose(Whose),
    Loaded(Result<(Hours, Vec<Kind>), String>),
    Day(usize, bool),
    From(String),
    To(String),
    BreakFrom(String),
    BreakTo(String),
    Save,
    Kinds(String),
    SaveKinds,
    Done(Result<String, String>),
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

fn write(
    ctx: &Context,
    job: impl FnOnce(&CrrConnection, &Actor) -> clinic::Result<()> + Send + 'static,
    done: String,
) -> Task<Msg> {
    let Some(actor) = ctx.actor() else {
        return Task::none();
    };
    ctx.runner.spawn(move |store| {
        Msg::Done(
            job(&store.writer(), &actor)
                .map(|()| done)
                .map_err(|e| e.to_string()),
        )
    })
}

impl HoursEditor {
    /// Reads the hours of whoever is chosen, and the types.
    pub fn load(&self, ctx: &Context) -> Task<Msg> {
        let whose = self.whose.clone();
        ctx.runner
            .read(move |db| {
                let h = match &whose {
                    Whose::Clinic => hours::clinic(db),
                    Whose::One(s) => hours::of(db, &s.id),
                };
                h.and_then(|h| Ok((h, hours::kinds(db)?)))
                    .map_err(|e| e.to_string())
            })
            .map(Msg::Loaded)
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> Task<Msg> {
        match msg {
            Msg::Whose(w) => {
                self.whose = w;
                return self.load(ctx);
            }
            Msg::Loaded(Ok((h, kinds))) => {
                self.days = h.days;
                self.from = hours::hhmm(h.open.start);
                self.to = hours::hhmm(h.open.end);
                let b = h.breaks.first();
                self.break_from = b.map(|b| hours::hhmm(b.start)).unwrap_or_default();
                self.break_to = b.map(|b| hours::hhmm(b.end)).unwrap_or_default();
                let kinds: Vec<String> = kinds
                    .iter()
                    .map(|k| format!("{}={}", k.name, k.minutes))
                    .collect();
                self.kinds = kinds.join("; ");
            }
            Msg::Loaded(Err(e)) => self.outcome = Some(capitalised(&e)),
            Msg::Day(i, on) => self.days[i] = on,
            Msg::From(v) => self.from = v,
            Msg::To(v) => self.to = v,
            Msg::BreakFrom(v) => self.break_from = v,
            Msg::BreakTo(v) => self.break_to = v,
            Msg::Kinds(v) => self.kinds = v,
            Msg::Save => return self.save(ctx),
            Msg::SaveKinds => return self.save_kinds(ctx),
            Msg::Done(r) => {
                self.outcome = Some(match r {
                    Ok(s) => s,
                    Err(e) => capitalised(&e),
                })
            }
        }
        Task::none()
    }

    fn save(&mut self, ctx: &Context) -> Task<Msg> {
        let (Some(from), Some(to)) = (time(&self.from), time(&self.to)) else {
            self.outcome = Some("Type the hours like 08:00 and 18:00".into());
            return Task::none();
        };
        let breaks = match (self.break_from.trim(), self.break_to.trim()) {
            ("", "") => Vec::new(),
            (a, b) => match (time(a), time(b)) {
                (Some(a), Some(b)) => vec![Span::new(a, b)],
                _ => {
                    self.outcome =
                        Some("Type the break like 12:30 and 13:30, or leave both empty".into());
                    return Task::none();
                }
            },
        };
        let h = Hours {
            days: self.days,
            open: Span::new(from, to),
            breaks,
        };
        let done = format!("Saved the hours of {}", self.whose);
        match self.whose.clone() {
            Whose::Clinic => write(ctx, move |db, a| hours::set_clinic(db, a, &h), done),
            Whose::One(s) => write(ctx, move |db, a| hours::set_for(db, a, &s.id, &h), done),
        }
    }

    fn save_kinds(&mut self, ctx: &Context) -> Task<Msg> {
        let kinds: Option<Vec<Kind>> = self
            .kinds
            .split(';')
            .filter(|k| !k.trim().is_empty())
            .map(|k| {
                let (name, minutes) = k.rsplit_once('=')?;
                Some(Kind {
                    name: name.trim().to_string(),
                    minutes: minutes.trim().parse().ok()?,
                })
            })
            .collect();
        let Some(kinds) = kinds else {
            self.outcome =
                Some("Type the types like: New patient=30; Follow-up=15 (minutes after =)".into());
            return Task::none();
        };
        let done = "Saved the appointment types".to_string();
        write(ctx, move |db, a| hours::set_kinds(db, a, &kinds), done)
    }

    pub fn view<'a>(&'a self, staff: &'a [Staff]) -> Element<'a, Msg> {
        let mut whose = vec![Whose::Clinic];
        whose.extend(
            staff
                .iter()
                .filter(|s| s.active && (s.roles.has(Role::Doctor) || s.roles.has(Role::Nurse)))
                .map(|s| Whose::One(s.clone())),
        );
        let mut days = row![].spacing(10);
        for (i, d) in DAYS.iter().enumerate() {
            days = days.push(
                checkbox(self.days[i])
                    .label(*d)
                    .on_toggle(move |on| Msg::Day(i, on)),
            );
        }
        let input = |hint: &'static str, v: &'a str, m: fn(String) -> Msg| {
            text_input(hint, v).on_input(m).width(70)
        };
        column![
            text("Opening hours and working hours").font(theme::BOLD),
            row![
                pick_list(whose, Some(self.whose.clone()), Msg::Whose).width(280),
                days
            ]
            .spacing(14)
            .align_y(Center),
            row![
                text("from"),
                input("08:00", &self.from, Msg::From),
                text("to"),
                input("18:00", &self.to, Msg::To),
                text("break"),
                input("12:30", &self.break_from, Msg::BreakFrom),
                text("to"),
                input("13:30", &self.break_to, Msg::BreakTo),
                button(text("Save")).on_press(Msg::Save),
            ]
            .spacing(8)
            .align_y(Center),
            row![
                text("Appointment types"),
                text_input("New patient=30; Follow-up=15", &self.kinds)
                    .on_input(Msg::Kinds)
                    .on_submit(Msg::SaveKinds),
                button(text("Save")).on_press(Msg::SaveKinds),
            ]
            .spacing(8)
            .align_y(Center),
            self.outcome.as_ref().map(|o| text(o.clone()).size(13)),
        ]
        .spacing(8)
        .into()
    }
}
