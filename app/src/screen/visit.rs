//! The visit note editor: five sections edited as drafts, finalise to lock, then amendments.
//! Changes arriving from elsewhere refresh the note unless the doctor has unsaved typing.

use carebook_sync::clinic::visits::{self, Visit, VisitFields, FIELDS};
use iced::widget::{button, column, container, row, scrollable, text, text_editor};
use iced::{Center, Element, Fill, Task};

use crate::context::Context;
use crate::nav::{self, Event, Route};
use crate::{clock, theme};

#[derive(Debug, Default)]
pub struct VisitEditor {
    pub id: String,
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
    Loaded(Result<Box<(Visit, String)>, String>),
    Written(Result<(), String>),
    Edit(usize, text_editor::Action),
    Save,
    Finalize,
    Amend(text_editor::Action),
    AddAmendment,
    OpenPatient,
}

impl VisitEditor {
    /// The editor for visit `id`; the task reads it.
    pub fn open(id: String, ctx: &Context) -> (VisitEditor, Task<Msg>) {
        let editor = VisitEditor {
            id,
            ..VisitEditor::default()
        };
        // Reading a note is in the record's access log (refused, and said, without the role).
        let (id, actor) = (editor.id.clone(), ctx.actor());
        let record = ctx.runner.spawn(move |store| {
            let logged = actor
                .ok_or_else(|| "sign in first".to_string())
                .and_then(|a| {
                    visits::record_reading(&store.writer(), &a, &id).map_err(|e| e.to_string())
                });
            Msg::Written(logged)
        });
        let task = Task::batch([record, editor.refresh(ctx)]);
        (editor, task)
    }

    /// Reads the note and its patient's name again.
    pub fn refresh(&self, ctx: &Context) -> Task<Msg> {
        let (id, actor) = (self.id.clone(), ctx.actor());
        ctx.runner
            .read(move |db| {
                let actor = actor.ok_or("sign in first")?;
                let v = visits::get(db, &actor, &id).map_err(|e| e.to_string())?;
                let p = carebook_sync::clinic::patients::get(db, &v.patient_id)
                    .map_err(|e| e.to_string())?;
                Ok(Box::new((v, p.display_name())))
            })
            .map(Msg::Loaded)
    }

    fn loaded(&mut self, visit: Visit, patient_name: String) {
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
        for (column, late) in &v.late_edits {
            let label = FIELDS
                .iter()
                .find(|(c, _)| c == column)
                .map_or(*column, |(_, l)| l);
            body = body.push(
                container(text(format!(
                    "{label} was changed on another computer before it learnt this note was \
                     finalised; the note keeps its finalised text. That edit said: {late}"
                )))
                .padding(6)
                .style(theme::alert),
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
                let when = clock::local(a.at, clock::MINUTE);
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

impl VisitEditor {
    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        match msg {
            Msg::Loaded(Ok(loaded)) => {
                let (visit, name) = *loaded;
                self.loaded(visit, name);
                return (Task::none(), None);
            }
            Msg::Loaded(Err(e)) => return (Task::none(), Some(Event::Notice(e))),
            Msg::Written(r) => return (Task::none(), nav::written(r.map(|()| None))),
            _ => {}
        }
        let (Some(actor), Some(visit)) = (ctx.actor(), self.visit.clone()) else {
            return (Task::none(), None);
        };
        let task = match msg {
            Msg::Loaded(_) | Msg::Written(_) => Task::none(),
            Msg::Edit(i, action) => {
                self.dirty |= action.is_edit();
                self.sections[i].perform(action);
                Task::none()
            }
            Msg::Amend(action) => {
                self.amendment.perform(action);
                Task::none()
            }
            Msg::OpenPatient => {
                return (
                    Task::none(),
                    Some(Event::Open(Route::Patient(visit.patient_id))),
                )
            }
            Msg::Save => {
                let fields = self.fields();
                self.dirty = false;
                ctx.runner.spawn(move |store| {
                    let r = visits::save(&store.writer(), &actor, &visit.id, &fields);
                    Msg::Written(r.map(|_| ()).map_err(|e| e.to_string()))
                })
            }
            Msg::Finalize => {
                if !self.confirm_finalize {
                    self.confirm_finalize = true;
                    return (Task::none(), None);
                }
                self.confirm_finalize = false;
                let fields = self.fields();
                self.dirty = false;
                ctx.runner.spawn(move |store| {
                    let db = store.writer();
                    let r = visits::save(&db, &actor, &visit.id, &fields)
                        .and_then(|_| visits::finalize(&db, &actor, &visit.id));
                    Msg::Written(r.map_err(|e| e.to_string()))
                })
            }
            Msg::AddAmendment => {
                let body = self.amendment.text();
                self.amendment = text_editor::Content::new();
                ctx.runner.spawn(move |store| {
                    let r = visits::amend(&store.writer(), &actor, &visit.id, &body);
                    Msg::Written(r.map_err(|e| e.to_string()))
                })
            }
        };
        (task, None)
    }
}
