//! The visit note editor: five sections edited as drafts, finalise to lock, then amendments.
//! Changes arriving from elsewhere refresh the note unless the doctor has unsaved typing.

use carebook_sync::clinic::visits::{self, Visit, VisitFields, FIELDS};
use iced::widget::{button, column, container, row, scrollable, text, text_editor};
use iced::{Center, Element, Fill, Task};

use crate::app::{App, Message, Route};
use crate::theme;

#[derive(Debug, Default)]
pub struct VisitEditor {
    pub visit: Option<Visit>,
    pub patient_name: String,
    pub sections: [text_editor::Content; 5],
    pub amendment: text_editor::Content,
    /// Typing not yet saved.
    pub dirty: bool,
    pub confirm_finalize: bool,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Edit(usize, text_editor::Action),
    Save,
    Finalize,
    Amend(text_editor::Action),
    AddAmendment,
    OpenPatient,
}

impl VisitEditor {
    pub fn loaded(&mut self, visit: Visit, patient_name: String) {
        if !self.dirty {
            for (i, (column, _)) in FIELDS.iter().enumerate() {
                self.sections[i] = text_editor::Content::with_text(visit.fields.get(column));
            }
        }
        self.visit = Some(visit);
        self.patient_name = patient_name;
    }

    pub fn fields(&self) -> VisitFields {
        let t = |i: usize| self.sections[i].text().trim_end().to_string();
        VisitFields {
            complaint: t(0),
            findings: t(1),
            diagnosis: t(2),
            plan: t(3),
            prescriptions: t(4),
        }
    }

    pub fn view(&self) -> Element<'_, Msg> {
        let Some(v) = &self.visit else {
            return text("Loading…").into();
        };
        let header = row![
            text(format!("Visit — {}", self.patient_name))
                .font(theme::BOLD)
                .size(22),
            text(format!("{}  ·  {}", v.visit_date, v.clinician_name)),
            button(text("Open patient"))
                .style(button::secondary)
                .on_press(Msg::OpenPatient),
        ]
        .spacing(16)
        .align_y(Center);
        let mut body = column![header].spacing(10);
        if v.is_final() {
            body = body.push(
                container(text(
                    "Finalised: this note is locked. Corrections are added as amendments.",
                ))
                .padding(6)
                .style(theme::notice),
            );
        }
        for (i, (_, label)) in FIELDS.iter().enumerate() {
            let mut editor = text_editor(&self.sections[i]).height(70).padding(6);
            if !v.is_final() {
                editor = editor.on_action(move |a| Msg::Edit(i, a));
            }
            body = body.push(column![text(*label).font(theme::BOLD), editor].spacing(2));
        }
        if v.is_final() {
            let mut list = column![text("Amendments").font(theme::BOLD)].spacing(4);
            for a in &v.amendments {
                let when = chrono::DateTime::from_timestamp(a.at, 0)
                    .map(|t| {
                        t.with_timezone(&chrono::Local)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                list = list.push(text(format!("{when}  {}: {}", a.staff_name, a.body)));
            }
            list = list.push(
                text_editor(&self.amendment)
                    .height(60)
                    .padding(6)
                    .on_action(Msg::Amend),
            );
            list = list.push(button(text("Add amendment")).on_press(Msg::AddAmendment));
            body = body.push(list);
        } else {
            let finalize = if self.confirm_finalize {
                button(text("Really finalise? The note will be locked"))
                    .style(button::danger)
                    .on_press(Msg::Finalize)
            } else {
                button(text("Finalise"))
                    .style(button::secondary)
                    .on_press(Msg::Finalize)
            };
            let saved = if self.dirty {
                "Unsaved changes"
            } else {
                "Saved"
            };
            body = body.push(
                row![
                    button(text("Save draft")).on_press(Msg::Save),
                    finalize,
                    text(saved)
                ]
                .spacing(8)
                .align_y(Center),
            );
        }
        scrollable(body.max_width(900)).height(Fill).into()
    }
}

pub fn update(app: &mut App, msg: Msg) -> Task<Message> {
    let Some(actor) = app.actor() else {
        return Task::none();
    };
    let crate::app::Screen::Visit(editor) = &mut app.screen else {
        return Task::none();
    };
    let Some(visit) = editor.visit.clone() else {
        return Task::none();
    };
    match msg {
        Msg::Edit(i, action) => {
            editor.dirty |= action.is_edit();
            editor.sections[i].perform(action);
            Task::none()
        }
        Msg::Amend(action) => {
            editor.amendment.perform(action);
            Task::none()
        }
        Msg::OpenPatient => app.update(Message::Go(Route::Patient(visit.patient_id))),
        Msg::Save => {
            let fields = editor.fields();
            editor.dirty = false;
            app.runner.spawn(move |store| {
                let r = visits::save(&store.writer(), &actor, &visit.id, &fields);
                Message::Done(r.map(|_| None).map_err(|e| e.to_string()))
            })
        }
        Msg::Finalize => {
            if !editor.confirm_finalize {
                editor.confirm_finalize = true;
                return Task::none();
            }
            editor.confirm_finalize = false;
            let fields = editor.fields();
            editor.dirty = false;
            app.runner.spawn(move |store| {
                let db = store.writer();
                let r = visits::save(&db, &actor, &visit.id, &fields)
                    .and_then(|_| visits::finalize(&db, &actor, &visit.id));
                Message::Done(r.map(|()| None).map_err(|e| e.to_string()))
            })
        }
        Msg::AddAmendment => {
            let body = editor.amendment.text();
            editor.amendment = text_editor::Content::new();
            app.runner.spawn(move |store| {
                let r = visits::amend(&store.writer(), &actor, &visit.id, &body);
                Message::Done(r.map(|()| None).map_err(|e| e.to_string()))
            })
        }
    }
}
