//! The patient list: search as you type across name, chart number, phone and date of birth;
//! Enter opens the first result.

use iced::widget::{button, column, container, row, scrollable, text, text_input};
use iced::{Center, Element, Fill, FillPortion};

use crate::app::{App, Message, Route, SEARCH};
use crate::theme;

pub fn view(app: &App) -> Element<'_, Message> {
    let search = text_input(
        "Search by name, chart number, phone or date of birth",
        &app.search,
    )
    .id(SEARCH)
    .on_input(Message::SearchChanged)
    .on_submit(Message::OpenFirstHit)
    .padding(10)
    .size(18);
    let summary = if app.search.trim().is_empty() {
        "Recently changed patients".to_string()
    } else if app.hits.is_empty() {
        "No patient matches. Ctrl+N creates one.".to_string()
    } else {
        format!("{} found — Enter opens the first", app.hits.len())
    };
    let mut list = column![].spacing(2);
    for h in &app.hits {
        let name = carebook_sync::clinic::patients::display_name(&h.given_name, &h.family_name);
        let allergy = (!h.allergies.is_empty()).then(|| {
            container(text(format!("Allergy: {}", h.allergies)).size(13))
                .padding([2, 6])
                .style(theme::alert)
        });
        let line = row![
            text(name).font(theme::BOLD).width(FillPortion(4)),
            text(h.chart_no.clone()).width(FillPortion(2)),
            text(h.date_of_birth.clone()).width(FillPortion(2)),
            text(h.phone.clone()).width(FillPortion(2)),
            container(allergy).width(FillPortion(2)),
        ]
        .spacing(8)
        .align_y(Center);
        list = list.push(
            button(line)
                .style(button::text)
                .width(Fill)
                .on_press(Message::Go(Route::Patient(h.id.clone()))),
        );
    }
    column![
        search,
        text(summary).size(13),
        scrollable(list).height(Fill)
    ]
    .spacing(8)
    .into()
}
