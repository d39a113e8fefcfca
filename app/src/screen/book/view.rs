//! How the book looks: the day as a grid (a column per clinician, a row per quarter hour,
//! appointments as blocks as long as they last, coloured by status, overlaps framed in red,
//! free slots to click, breaks and closed hours shaded), the week as a column per day, and the
//! side panel (the booking form, or the chosen appointment).

use carebook_sync::clinic::appointments::{self, Appointment, Status};
use carebook_sync::clinic::hours::{hhmm, Hours};
use carebook_sync::clinic::staff::Staff;
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use iced::widget::{
    button, column, container, pick_list, row, scrollable, space, text, text_input,
};
use iced::{border, Center, Element, Fill, FillPortion, Theme};

use super::{Book, Booking, Msg, Whose};
use crate::theme;

/// The height of a quarter hour in the day grid.
const SLOT: f32 = 22.0;
const QUARTER: u16 = 15;

fn minute_of(at: NaiveDateTime) -> u16 {
    (at.hour() * 60 + at.minute()) as u16
}

/// An appointment's block, coloured by where it stands; cancelled and no-show quiet.
fn status_style(status: Status) -> impl Fn(&Theme) -> container::Style {
    move |t: &Theme| {
        let p = t.extended_palette();
        let (bg, fg) = match status {
            Status::Booked => (p.primary.weak.color, p.primary.weak.text),
            Status::Arrived => (p.warning.weak.color, p.warning.weak.text),
            Status::InRoom => (p.success.weak.color, p.success.weak.text),
            Status::Seen => (p.background.strong.color, p.background.strong.text),
            Status::Cancelled | Status::NoShow => {
                (p.background.weak.color, p.background.strong.color)
            }
        };
        container::Style::default()
            .background(bg)
            .color(fg)
            .border(border::rounded(4))
    }
}

/// Several appointments of one clinician at once: framed in red.
fn overlap_frame(t: &Theme) -> container::Style {
    let p = t.extended_palette();
    container::Style::default().border(border::rounded(4).color(p.danger.base.color).width(3))
}

fn shaded(t: &Theme) -> container::Style {
    container::Style::default().background(t.extended_palette().background.weak.color)
}

fn free(t: &Theme, s: button::Status) -> button::Style {
    let p = t.extended_palette();
    let bg = match s {
        button::Status::Hovered => p.primary.weak.color,
        _ => p.background.base.color,
    };
    button::Style {
        background: Some(bg.into()),
        text_color: p.primary.base.color,
        border: border::width(1).color(p.background.weak.color),
        ..button::Style::default()
    }
}

/// One appointment's card (in a day's block or a week's list).
fn card<'a>(a: &'a Appointment, selected: bool, height: f32) -> Element<'a, Msg> {
    let time = a.starts_at.get(11..16).unwrap_or("");
    let quiet = !appointments::holds_time(a.status);
    let status = if quiet || a.status != Status::Booked {
        format!(" · {}", a.status)
    } else {
        String::new()
    };
    let label = column![
        text(format!("{time} {}", a.patient_name))
            .size(13)
            .font(if quiet { theme::TEXT } else { theme::BOLD }),
        text(format!("{}{status}", a.reason)).size(12),
    ];
    let b = button(label)
        .padding([2, 6])
        .width(Fill)
        .height(height)
        .style(button::text)
        .on_press(Msg::Select(a.id.clone()));
    let c = container(b).width(Fill).style(status_style(a.status));
    if selected {
        container(c).padding(2).style(overlap_frame).into()
    } else {
        c.into()
    }
}

impl Book {
    pub fn view(&self) -> Element<'_, Msg> {
        let Some(d) = &self.data else {
            return text("Loading…").into();
        };
        let (from, to) = self.span();
        let title = if self.week {
            format!("Week of {}", from.format("%e %B %Y"))
        } else {
            self.date.format("%A %e %B %Y").to_string()
        };
        let mut whose = vec![Whose::All];
        whose.extend(d.clinicians.iter().map(|(s, _)| Whose::One(s.clone())));
        let tab = |label: &'static str, on: bool| {
            button(text(label))
                .style(if on {
                    button::primary
                } else {
                    button::secondary
                })
                .on_press(Msg::Week(label == "Week"))
        };
        let header = row![
            button(text("◀"))
                .style(button::secondary)
                .on_press(Msg::Previous),
            button(text("Today"))
                .style(button::secondary)
                .on_press(Msg::Today),
            button(text("▶"))
                .style(button::secondary)
                .on_press(Msg::Next),
            text(title).font(theme::BOLD).size(20),
            space::horizontal(),
            tab("Day", !self.week),
            tab("Week", self.week),
            pick_list(whose, Some(self.whose.clone()), Msg::Whose).width(190),
            text_input("Go to: 24 dec, fri…", &self.go_to)
                .on_input(Msg::GoTo)
                .on_submit(Msg::GoToSubmit)
                .width(170),
            button(text("New booking")).on_press(Msg::NewBooking),
        ]
        .spacing(8)
        .align_y(Center);
        let grid = if self.week {
            self.week_view(from, to)
        } else {
            self.day_view(&d.clinic)
        };
        let side = self.side();
        // Always its line's height, so a message appearing never moves the slots being clicked.
        let message = match &self.message {
            Some(m) => container(text(m.clone()))
                .padding([4, 8])
                .width(Fill)
                .height(30)
                .style(theme::notice),
            None => container(text("")).height(30),
        };
        let body = match side {
            Some(side) => row![
                scrollable(grid).height(Fill).width(FillPortion(3)),
                container(scrollable(side))
                    .padding(10)
                    .width(360)
                    .style(theme::card)
            ]
            .spacing(12),
            None => row![scrollable(grid).height(Fill).width(Fill)],
        };
        column![header, message, body].spacing(10).into()
    }

    /// The day: a time column, then a column per clinician shown.
    fn day_view<'a>(&'a self, clinic: &Hours) -> Element<'a, Msg> {
        let shown = self.shown();
        if shown.is_empty() {
            return text("Nobody on the staff list sees patients yet: an administrator adds doctors and nurses on the Staff screen.").into();
        }
        let open = shown
            .iter()
            .map(|(_, h)| h.open.start)
            .chain([clinic.open.start])
            .min()
            .unwrap_or(8 * 60);
        let close = shown
            .iter()
            .map(|(_, h)| h.open.end)
            .chain([clinic.open.end])
            .max()
            .unwrap_or(18 * 60);
        // Appointments outside the hours (booked before the hours changed) widen the day.
        let day: Vec<&Appointment> = self
            .data
            .as_ref()
            .map(|d| {
                d.appointments
                    .iter()
                    .filter(|a| a.start().is_some_and(|s| s.date() == self.date))
                    .collect()
            })
            .unwrap_or_default();
        let first = day.iter().filter_map(|a| a.start()).map(minute_of).min();
        let last = day
            .iter()
            .filter_map(|a| Some(minute_of(a.start()?) + a.duration_min as u16))
            .max();
        let open = first.map_or(open, |f| open.min(f - f % QUARTER));
        let close = last
            .map_or(close, |l| close.max(l.div_ceil(QUARTER) * QUARTER))
            .min(24 * 60);
        let mut times = column![space().height(28)];
        for m in (open..close).step_by(QUARTER as usize) {
            let label = if m.is_multiple_of(60) {
                hhmm(m)
            } else {
                String::new()
            };
            times = times.push(container(text(label).size(12)).height(SLOT));
        }
        let mut grid = row![times.width(52)].spacing(6);
        for (s, hours) in shown {
            grid = grid.push(self.clinician_day(s, hours, clinic, &day, open, close));
        }
        if !clinic.works_on(self.date) {
            return column![
                container(text("The clinic is closed on this day."))
                    .padding(6)
                    .style(theme::notice),
                grid
            ]
            .spacing(6)
            .into();
        }
        grid.into()
    }

    fn clinician_day<'a>(
        &'a self,
        s: &'a Staff,
        hours: &Hours,
        clinic: &Hours,
        day: &[&'a Appointment],
        open: u16,
        close: u16,
    ) -> Element<'a, Msg> {
        let mine: Vec<&Appointment> = day
            .iter()
            .copied()
            .filter(|a| a.clinician_id == s.id)
            .collect();
        let mut col = column![container(text(s.name.clone()).font(theme::BOLD)).height(28)];
        let mut m = open;
        while m < close {
            let slot_end = m + QUARTER;
            // The appointments that start in this quarter, and all that overlap them.
            let mut block: Vec<&Appointment> = mine
                .iter()
                .copied()
                .filter(|a| {
                    a.start()
                        .map(minute_of)
                        .is_some_and(|x| x >= m && x < slot_end)
                })
                .collect();
            if block.is_empty() {
                let at = self.date.and_time(NaiveTime::MIN) + Duration::minutes(m as i64);
                let cell: Element<'a, Msg> =
                    // Free and still ahead (a quarter already begun can still be booked).
                    if hours.covers(at, QUARTER as i64)
                        && clinic.covers(at, QUARTER as i64)
                        && at + Duration::minutes(QUARTER as i64) > super::now()
                    {
                        button(text(if m.is_multiple_of(60) { "free" } else { "" }).size(11))
                            .width(Fill)
                            .height(SLOT)
                            .style(free)
                            .on_press(Msg::Slot(s.id.clone(), at))
                            .into()
                    } else {
                        let on_break = hours.works_on(self.date)
                            && hours.breaks.iter().any(|b| b.start <= m && m < b.end);
                        container(
                            text(if on_break && hours.breaks.iter().any(|b| b.start == m) {
                                "break"
                            } else {
                                ""
                            })
                            .size(11),
                        )
                        .width(Fill)
                        .height(SLOT)
                        .style(shaded)
                        .into()
                    };
                col = col.push(cell);
                m = slot_end;
                continue;
            }
            let end = loop {
                let end = block
                    .iter()
                    .filter_map(|a| Some(minute_of(a.start()?) + a.duration_min as u16))
                    .max()
                    .unwrap_or(slot_end)
                    .max(slot_end);
                let more: Vec<&Appointment> = mine
                    .iter()
                    .copied()
                    .filter(|a| !block.iter().any(|b| b.id == a.id))
                    .filter(|a| a.start().map(minute_of).is_some_and(|x| x >= m && x < end))
                    .collect();
                if more.is_empty() {
                    break end;
                }
                block.extend(more);
            };
            let end = end.div_ceil(QUARTER) * QUARTER;
            let height = ((end - m) / QUARTER) as f32 * SLOT;
            let busy = block
                .iter()
                .filter(|a| appointments::holds_time(a.status))
                .count();
            // Inside the red frame, under its label.
            let inner = if busy > 1 { height - 20.0 } else { height };
            let mut cards = row![].spacing(2).height(inner);
            for a in &block {
                cards = cards.push(card(a, self.selected.as_deref() == Some(&a.id), inner));
            }
            let framed: Element<'a, Msg> = if busy > 1 {
                container(column![text("Overlap").size(11), cards].spacing(0))
                    .height(height)
                    .style(overlap_frame)
                    .into()
            } else {
                cards.into()
            };
            col = col.push(framed);
            m = end;
        }
        col.width(Fill).into()
    }

    /// The week: a column per day, each listing the appointments of the clinicians shown.
    fn week_view(&self, from: NaiveDate, to: NaiveDate) -> Element<'_, Msg> {
        let ids: Vec<&str> = self.shown().iter().map(|(s, _)| s.id.as_str()).collect();
        let mut days = row![].spacing(6);
        let mut d = from;
        while d <= to {
            let list: Vec<&Appointment> = self
                .data
                .as_ref()
                .map(|data| {
                    data.appointments
                        .iter()
                        .filter(|a| {
                            a.start().is_some_and(|s| s.date() == d)
                                && ids.contains(&a.clinician_id.as_str())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut col = column![
                button(text(d.format("%a %e").to_string()).font(theme::BOLD))
                    .style(button::text)
                    .on_press(Msg::OpenDay(d))
            ]
            .spacing(3);
            if list.is_empty() {
                col = col.push(text("—").size(12));
            }
            for a in list {
                col = col.push(card(a, self.selected.as_deref() == Some(&a.id), 48.0));
            }
            days = days.push(col.width(Fill));
            d += Duration::days(1);
        }
        days.into()
    }

    /// The booking form, or the chosen appointment's details.
    fn side(&self) -> Option<Element<'_, Msg>> {
        if let Some(b) = &self.booking {
            return Some(self.form(b));
        }
        let a = self.find(self.selected.as_deref()?)?;
        let mut actions = row![button(text("Open patient"))
            .style(button::secondary)
            .on_press(Msg::OpenPatient(a.patient_id.clone()))]
        .spacing(6);
        if appointments::holds_time(a.status) {
            actions = actions
                .push(button(text("Move")).on_press(Msg::Move(a.id.clone())))
                .push(
                    button(text("Cancel appointment"))
                        .style(button::danger)
                        .on_press(Msg::Cancel(a.id.clone())),
                );
        }
        Some(
            column![
                text(a.patient_name.clone()).font(theme::BOLD).size(18),
                text(format!(
                    "{} · {} min",
                    a.starts_at.replace('T', " "),
                    a.duration_min
                )),
                text(format!("with {}", a.clinician_name)),
                text(format!("{} · {}", a.status, a.reason)),
                actions,
            ]
            .spacing(8)
            .into(),
        )
    }

    fn form<'a>(&'a self, b: &'a Booking) -> Element<'a, Msg> {
        let Some(d) = &self.data else {
            return text("Loading…").into();
        };
        let title = if b.moving.is_some() {
            "Move the appointment"
        } else {
            "New appointment"
        };
        let mut patient = column![text("Patient").font(theme::BOLD)].spacing(4);
        match &b.patient {
            Some(p) if b.moving.is_some() => patient = patient.push(text(p.family_name.clone())),
            Some(p) => {
                patient = patient.push(
                    row![
                        text(format!("{} · {}", super::patient_name(p), p.chart_no)),
                        button(text("Change").size(12))
                            .style(button::text)
                            .on_press(Msg::ChangePatient),
                    ]
                    .spacing(6)
                    .align_y(Center),
                )
            }
            None => {
                patient = patient.push(
                    text_input("Search by name, chart number or phone", &b.query)
                        .on_input(Msg::Query),
                );
                for h in &b.hits {
                    patient = patient.push(
                        button(
                            text(format!(
                                "{} · {} · {}",
                                super::patient_name(h),
                                crate::screen::patients::with_age(&h.date_of_birth),
                                h.chart_no
                            ))
                            .size(13),
                        )
                        .style(button::text)
                        .on_press(Msg::Patient(h.clone())),
                    );
                }
            }
        }
        let clinicians: Vec<Staff> = d.clinicians.iter().map(|(s, _)| s.clone()).collect();
        let mut form = column![
            text(title).font(theme::BOLD).size(18),
            patient,
            text("With").font(theme::BOLD),
            pick_list(clinicians, b.with.clone(), Msg::With)
                .placeholder("Clinician")
                .width(Fill),
            text("When").font(theme::BOLD),
            row![
                text_input("9:30, tomorrow 10, next tue 14:15", &b.at)
                    .on_input(Msg::At)
                    .on_submit(Msg::Save),
                button(text("Next free"))
                    .style(button::secondary)
                    .on_press(Msg::NextFree),
            ]
            .spacing(6),
            row![
                pick_list(d.kinds.clone(), b.kind.clone(), Msg::Kind)
                    .placeholder("Type")
                    .width(Fill),
                text_input("min", &b.minutes)
                    .on_input(Msg::Minutes)
                    .width(60),
                text("min"),
            ]
            .spacing(6)
            .align_y(Center),
            text_input("Reason", &b.reason)
                .on_input(Msg::Reason)
                .on_submit(Msg::Save),
        ]
        .spacing(8);
        if let Some(o) = &b.overlap {
            form = form.push(
                container(
                    column![
                        text(o.clone()),
                        button(text("Book anyway"))
                            .style(button::secondary)
                            .on_press(Msg::BookAnyway),
                    ]
                    .spacing(6),
                )
                .padding(8)
                .width(Fill)
                .style(theme::alert),
            );
        }
        form.push(
            row![
                button(text(if b.moving.is_some() { "Move" } else { "Book" })).on_press(Msg::Save),
                button(text("Close"))
                    .style(button::secondary)
                    .on_press(Msg::CloseBooking),
            ]
            .spacing(8),
        )
        .into()
    }
}
