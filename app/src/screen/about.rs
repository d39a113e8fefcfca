//! The About box: the version, the data folder, the log folder and this computer's device ID
//! (what `carebook --version` prints), with a button that copies them for the IT helper.

use iced::widget::{button, column, container, row, text};
use iced::{Element, Fill, Font, Task};

use crate::context::Context;
use crate::facts::Facts;
use crate::theme;

#[derive(Debug)]
pub struct About {
    pub facts: Facts,
    /// What the last Copy put on the clipboard.
    pub copied: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Copy,
}

impl About {
    /// The facts for this window: the running node's device ID when there is one, otherwise
    /// the one kept in the data folder.
    pub fn open(ctx: &Context) -> About {
        let mut facts = Facts::read(&ctx.folders.data, ctx.folders.logs.as_deref());
        if let Some(node) = ctx.node {
            facts.device_id = Ok(node.identity.id.to_string());
        }
        About {
            facts,
            copied: None,
        }
    }

    pub fn view(&self) -> Element<'_, Msg> {
        let mut facts = column![].spacing(8);
        for (label, value) in self.facts.rows() {
            // The device ID in the same letters as on the Computers screen (0 and O apart).
            let font = if label == "device ID" {
                Font::MONOSPACE
            } else {
                theme::TEXT
            };
            facts = facts.push(
                row![
                    text(label).font(theme::BOLD).width(120),
                    text(value).font(font)
                ]
                .spacing(12),
            );
        }
        let copy = row![
            button(text("Copy for the IT helper")).on_press(Msg::Copy),
            self.copied
                .as_ref()
                .map(|_| text("Copied to the clipboard.").size(13)),
        ]
        .spacing(12)
        .align_y(iced::Center);
        let panel = column![
            text("About Carebook").font(theme::BOLD).size(22),
            text("Patient records for small clinics, in sync without a server."),
            container(facts).padding(12).width(Fill).style(theme::card),
            copy,
        ]
        .spacing(12)
        .max_width(900);
        container(panel).center_x(Fill).into()
    }
}

impl About {
    pub fn update(&mut self, msg: Msg) -> Task<Msg> {
        match msg {
            Msg::Copy => {
                let text = self.facts.text();
                self.copied = Some(text.clone());
                iced::clipboard::write(text)
            }
        }
    }
}
