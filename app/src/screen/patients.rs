//! The patient list: search as you type across name, chart number, phone and date of birth;
//! Enter opens the first result. The app keeps this screen's state across routes, so the
//! search is still there when the person comes back.

use carebook_sync::clinic::patients;
use carebook_sync::clinic::search::{self, Hit};
use iced::widget::{
    button, checkbox, column, container, operation, row, scrollable, text, text_input,
};
use iced::{Center, Element, Fill, FillPortion, Task};

use crate::context::Context;
use crate::nav::{Event, Route};
use crate::theme;

/// The search box's id (Ctrl+F focuses it).
pub const SEARCH: &str = "search";

/// How many results the list shows.
const RESULTS: usize = 50;

#[derive(Debug, Default)]
pub struct Patients {
    pub query: String,
    pub hits: Vec<Hit>,
    /// Which search is the newest (a slower, older one must not overwrite it).
    generation: u64,
    /// Searching the archived and merged-away records instead.
    pub archived: bool,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Query(String),
    Archived(bool),
    OpenFirst,
    Open(String),
    Found(u64, Result<Vec<Hit>, String>),
}

impl Patients {
    /// Searches again (on opening, and when records changed) and puts the cursor in the box.
    pub fn open(&mut self, ctx: &Context) -> Task<Msg> {
        Task::batch([self.refresh(ctx), operation::focus(SEARCH)])
    }

    /// Runs the search again.
    pub fn refresh(&mut self, ctx: &Context) -> Task<Msg> {
        self.generation += 1;
        let (generation, query, archived) = (self.generation, self.query.clone(), self.archived);
        ctx.runner
            .read(move |db| {
                search::search_in(db, &query, RESULTS, archived).map_err(|e| e.to_string())
            })
            .map(move |hits| Msg::Found(generation, hits))
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        match msg {
            Msg::Query(q) => {
                self.query = q;
                return (self.refresh(ctx), None);
            }
            Msg::Archived(on) => {
                self.archived = on;
                return (self.refresh(ctx), None);
            }
            Msg::Found(generation, Ok(hits)) => {
                if generation == self.generation {
                    self.hits = hits;
                }
            }
            Msg::Found(_, Err(e)) => return (Task::none(), Some(Event::Notice(e))),
            Msg::OpenFirst => {
                if let Some(h) = self.hits.first() {
                    return (
                        Task::none(),
                        Some(Event::Open(Route::Patient(h.id.clone()))),
                    );
                }
            }
            Msg::Open(id) => return (Task::none(), Some(Event::Open(Route::Patient(id)))),
        }
        (Task::none(), None)
    }

    pub fn view(&self) -> Element<'_, Msg> {
        let search = text_input(
            "Search by name, chart number, phone or date of birth",
            &self.query,
        )
        .id(SEARCH)
        .on_input(Msg::Query)
        .on_submit(Msg::OpenFirst)
        .padding(10)
        .size(18);
        let summary = if self.archived && self.hits.is_empty() {
            "No archived or merged-away record matches.".to_string()
        } else if self.archived {
            format!(
                "{} archived or merged-away records: open one to restore it or undo its merge",
                self.hits.len()
            )
        } else if self.query.trim().is_empty() {
            "Recently changed patients".to_string()
        } else if self.hits.is_empty() {
            "No patient matches. Ctrl+N creates one.".to_string()
        } else {
            format!("{} found — Enter opens the first", self.hits.len())
        };
        let mut list = column![].spacing(2);
        for h in &self.hits {
            let name = carebook_sync::clinic::patients::display_name(&h.given_name, &h.family_name);
            let allergy = (!h.allergies.is_empty()).then(|| {
                container(text(format!("Allergy: {}", h.allergies)).size(13))
                    .padding([2, 6])
                    .style(theme::alert)
            });
            let line = row![
                text(name).font(theme::BOLD).width(FillPortion(4)),
                text(h.chart_no.clone()).width(FillPortion(2)),
                text(with_age(&h.date_of_birth)).width(FillPortion(2)),
                text(h.phone.clone()).width(FillPortion(2)),
                container(allergy).width(FillPortion(2)),
            ]
            .spacing(8)
            .align_y(Center);
            list = list.push(
                button(line)
                    .style(button::text)
                    .width(Fill)
                    .on_press(Msg::Open(h.id.clone())),
            );
        }
        let filter = checkbox(self.archived)
            .label("Archived and merged-away records")
            .on_toggle(Msg::Archived);
        column![
            search,
            row![text(summary).size(13).width(Fill), filter].align_y(Center),
            scrollable(list).height(Fill)
        ]
        .spacing(8)
        .into()
    }
}

/// A date of birth with the age beside it ("1993-08-23 (33 years)").
pub fn with_age(date_of_birth: &str) -> String {
    match patients::age(date_of_birth, chrono::Local::now().date_naive()) {
        Some(age) => format!("{date_of_birth} ({age})"),
        None => date_of_birth.to_string(),
    }
}
