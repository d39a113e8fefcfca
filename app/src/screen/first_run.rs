//! The first screen of a database with no staff yet: who is using Carebook.

use carebook_sync::clinic::staff::{self, Role};
use iced::widget::{button, column, container, pick_list, text, text_input};
use iced::{Element, Fill, Task};

use crate::app::{App, Message};
use crate::theme;

#[derive(Debug)]
pub struct FirstRun {
    pub name: String,
    pub role: Role,
    pub error: Option<String>,
}

impl Default for FirstRun {
    fn default() -> Self {
        FirstRun {
            name: String::new(),
            role: Role::Receptionist,
            error: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Msg {
    Name(String),
    Role(Role),
    Add,
}

impl FirstRun {
    pub fn view(&self) -> Element<'_, Msg> {
        let form = column![
            text("Welcome to Carebook").font(theme::BOLD).size(26),
            text("Who is using this computer? You can add colleagues later."),
            text_input("Your name", &self.name)
                .on_input(Msg::Name)
                .on_submit(Msg::Add)
                .padding(8),
            pick_list(&Role::ALL[..], Some(self.role), Msg::Role),
            self.error
                .as_ref()
                .map(|e| text(e.clone()).style(text::danger)),
            button(text("Start")).on_press(Msg::Add),
        ]
        .spacing(10)
        .max_width(420);
        container(form).center(Fill).into()
    }
}

pub fn update(app: &mut App, msg: Msg) -> Task<Message> {
    let crate::app::Screen::FirstRun(f) = &mut app.screen else {
        return Task::none();
    };
    match msg {
        Msg::Name(n) => f.name = n,
        Msg::Role(r) => f.role = r,
        Msg::Add => {
            let (name, role) = (f.name.clone(), f.role);
            return app.runner.spawn(move |store| {
                let db = store.writer();
                match staff::add(&db, &name, role) {
                    Ok(_) => Message::StaffLoaded(staff::list(&db).map_err(|e| e.to_string())),
                    Err(e) => Message::Failed(e.to_string()),
                }
            });
        }
    }
    Task::none()
}
