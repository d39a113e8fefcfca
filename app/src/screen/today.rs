//! The front desk's day: today's appointments in time order, who is waiting and for how long,
//! and buttons for the next step of each (arrived, in room, seen, cancelled, no-show).

use carebook_sync::clinic::appointments::{self, Appointment, Status};
use iced::widget::{button, column, container, row, scrollable, text};
use iced::{Center, Element, Fill, FillPortion, Task};

use crate::context::Context;
use crate::nav::{self, Event, Route};
use crate::theme;

#[derive(Debug, Default)]
pub struct Today {
    pub day: Vec<Appointment>,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Loaded(Result<Vec<Appointment>, String>),
    SetStatus(String, Status),
    OpenPatient(String),
    Written(Result<(), String>),
}

impl Today {
    /// Reads today's appointments (on opening, and when records changed).
    pub fn refresh(&self, ctx: &Context) -> Task<Msg> {
        let today = chrono::Local::now().format("%Y-%m-%d").to_string();
        ctx.runner
            .read(move |db| appointments::day(db, &today).map_err(|e| e.to_string()))
            .map(Msg::Loaded)
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        match msg {
            Msg::Loaded(Ok(day)) => self.day = day,
            Msg::Loaded(Err(e)) => return (Task::none(), Some(Event::Notice(e))),
            Msg::OpenPatient(id) => return (Task::none(), Some(Event::Open(Route::Patient(id)))),
            Msg::SetStatus(id, status) => {
                let Some(actor) = ctx.actor() else {
                    return (Task::none(), None);
                };
                let task = ctx.runner.spawn(move |store| {
                    let r = appointments::set_status(&store.writer(), &actor, &id, status);
                    Msg::Written(r.map_err(|e| e.to_string()))
                });
                return (task, None);
            }
            Msg::Written(r) => return (Task::none(), nav::written(r.map(|()| None))),
        }
        (Task::none(), None)
    }

    pub fn view(&self) -> Element<'_, Msg> {
        let day = &self.day;
        let now = chrono::Utc::now().timestamp();
        let today = chrono::Local::now().format("%A %e %B %Y").to_string();
        let waiting = day.iter().filter(|a| a.status == Status::Arrived).count();
        let header = row![
            text(format!("Today — {today}")).font(theme::BOLD).size(22),
            text(format!("{} appointments, {waiting} waiting", day.len())),
        ]
        .spacing(16)
        .align_y(Center);
        let mut list = column![].spacing(6);
        for a in day {
            let time = a.starts_at.get(11..16).unwrap_or("").to_string();
            let status = match a.waiting_minutes(now) {
                Some(m) => format!("Waiting {m} min"),
                None => a.status.to_string(),
            };
            let mut actions = row![].spacing(4);
            for next in a.status.next() {
                let (label, style): (String, fn(&iced::Theme, button::Status) -> button::Style) =
                    match (a.status, next) {
                        (_, Status::Cancelled | Status::NoShow) => {
                            (next.to_string(), button::secondary)
                        }
                        (Status::Cancelled | Status::NoShow, _) => {
                            ("Reinstate".into(), button::secondary)
                        }
                        (Status::Arrived, Status::Booked)
                        | (Status::InRoom, Status::Arrived)
                        | (Status::Seen, Status::InRoom) => (format!("↩ {next}"), button::text),
                        _ => (next.to_string(), button::primary),
                    };
                actions = actions.push(
                    button(text(label).size(13))
                        .style(style)
                        .on_press(Msg::SetStatus(a.id.clone(), *next)),
                );
            }
            let line = row![
                text(time).font(theme::BOLD).width(60),
                button(text(format!("{}  ·  {}", a.patient_name, a.chart_no)))
                    .style(button::text)
                    .on_press(Msg::OpenPatient(a.patient_id.clone()))
                    .width(FillPortion(4)),
                text(a.clinician_name.clone()).width(FillPortion(2)),
                text(a.reason.clone()).width(FillPortion(2)),
                text(status).width(FillPortion(2)),
                container(actions).width(FillPortion(4)),
            ]
            .spacing(8)
            .align_y(Center);
            list = list.push(container(line).padding(6).style(theme::card));
        }
        if day.is_empty() {
            list = list.push(text(
                "No appointments today. Book them from a patient's page.",
            ));
        }
        column![header, scrollable(list).height(Fill)]
            .spacing(10)
            .into()
    }
}
