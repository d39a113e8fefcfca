//! Creating and editing a patient: fields in tab order, a clear message under each field that
//! needs correcting, and a duplicate warning (same date of birth, similar name) before a new
//! record is created. When the record being edited changes underneath (another computer, a
//! script), the fields the person has not touched follow it and what they typed stays.

use carebook_sync::clinic::patients::{self, Patient, PatientFields, FIELDS};
use carebook_sync::clinic::{ClinicError, FieldError};
use iced::widget::{button, column, container, operation, row, scrollable, text, text_input};
use iced::{Element, Fill, Task};

use crate::context::Context;
use crate::nav::{Event, Route};
use crate::theme;

#[derive(Debug, Default)]
pub struct PatientForm {
    /// The id of the record being edited; None for a new patient.
    pub id: Option<String>,
    /// The record being edited as last read (what the person's typing started from).
    pub editing: Option<Patient>,
    /// Fields the person is typing in that another computer changed meanwhile (their labels).
    pub changed_elsewhere: Vec<&'static str>,
    pub fields: PatientFields,
    pub errors: Vec<FieldError>,
    /// Possible duplicates found when saving a new patient.
    pub duplicates: Vec<Patient>,
    pub other_error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Loaded(Result<Box<Patient>, String>),
    Field(&'static str, String),
    Save,
    SaveAnyway,
    Cancel,
    Saved(Result<String, SaveError>),
}

/// Why a save did not happen.
#[derive(Debug, Clone)]
pub enum SaveError {
    Invalid(Vec<FieldError>),
    Duplicates(Vec<Patient>),
    Other(String),
}

fn field_id(column: &str) -> String {
    format!("field-{column}")
}

fn label(column: &str) -> &'static str {
    FIELDS
        .iter()
        .find(|(c, _)| *c == column)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

fn set(f: &mut PatientFields, column: &str, value: String) {
    let slot = match column {
        "given_name" => &mut f.given_name,
        "family_name" => &mut f.family_name,
        "date_of_birth" => &mut f.date_of_birth,
        "sex" => &mut f.sex,
        "phone" => &mut f.phone,
        "email" => &mut f.email,
        "address" => &mut f.address,
        "emergency_contact" => &mut f.emergency_contact,
        "allergies" => &mut f.allergies,
        _ => &mut f.notes,
    };
    *slot = value;
}

impl PatientForm {
    /// The form for a new patient (`id` None) or for editing one; the task reads the record
    /// and puts the cursor in the first field.
    pub fn open(id: Option<String>, ctx: &Context) -> (PatientForm, Task<Msg>) {
        let form = PatientForm {
            id,
            ..PatientForm::default()
        };
        let task = Task::batch([form.refresh(ctx), operation::focus(field_id(FIELDS[0].0))]);
        (form, task)
    }

    /// Reads the record being edited again (nothing for a new patient).
    pub fn refresh(&self, ctx: &Context) -> Task<Msg> {
        let Some(id) = self.id.clone() else {
            return Task::none();
        };
        ctx.runner
            .read(move |db| {
                patients::get(db, &id)
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            })
            .map(Msg::Loaded)
    }

    /// Takes the record as read now. The first time it fills the form; later, each field the
    /// person has not changed follows the record, and each they changed keeps their typing
    /// (and is named, when the record's value moved under it).
    fn loaded(&mut self, newer: Patient) {
        match &self.editing {
            None => self.fields = newer.fields.clone(),
            Some(base) => {
                for (column, _) in FIELDS {
                    let (typed, was, now) = (
                        self.fields.get(column),
                        base.fields.get(column),
                        newer.fields.get(column),
                    );
                    if typed == was {
                        set(&mut self.fields, column, now.to_string());
                    } else if was != now && !self.changed_elsewhere.contains(&label(column)) {
                        self.changed_elsewhere.push(label(column));
                    }
                }
            }
        }
        self.editing = Some(newer);
    }

    pub fn failed(&mut self, e: SaveError) {
        match e {
            SaveError::Invalid(errors) => self.errors = errors,
            SaveError::Duplicates(d) => self.duplicates = d,
            SaveError::Other(m) => self.other_error = Some(m),
        }
    }

    fn error_for(&self, column: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == column)
            .map(|e| e.message.as_str())
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        let confirmed = match msg {
            Msg::Loaded(Ok(p)) => {
                self.loaded(*p);
                return (Task::none(), None);
            }
            Msg::Loaded(Err(e)) => return (Task::none(), Some(Event::Notice(e))),
            Msg::Field(column, value) => {
                set(&mut self.fields, column, value);
                self.errors.retain(|e| e.field != column);
                return (Task::none(), None);
            }
            Msg::Cancel => return (Task::none(), Some(Event::Back)),
            Msg::Saved(Ok(id)) => return (Task::none(), Some(Event::Replace(Route::Patient(id)))),
            Msg::Saved(Err(e)) => {
                self.failed(e);
                return (Task::none(), None);
            }
            Msg::Save => false,
            Msg::SaveAnyway => true,
        };
        let Some(actor) = ctx.actor() else {
            return (Task::none(), None);
        };
        self.errors = self.fields.trimmed().problems();
        self.duplicates.clear();
        self.other_error = None;
        if !self.errors.is_empty() {
            return (Task::none(), None);
        }
        let fields = self.fields.clone();
        let editing = self.id.clone();
        let task = ctx.runner.spawn(move |store| {
            let db = store.writer();
            let result = match editing {
                Some(id) => patients::update(&db, &actor, &id, &fields)
                    .map(|p| p.id)
                    .map_err(save_error),
                None => match patients::possible_duplicates(&db, &fields, None) {
                    Ok(d) if !d.is_empty() && !confirmed => Err(SaveError::Duplicates(d)),
                    Ok(_) => patients::create(&db, &actor, &fields)
                        .map(|p| p.id)
                        .map_err(save_error),
                    Err(e) => Err(save_error(e)),
                },
            };
            Msg::Saved(result)
        });
        (task, None)
    }

    pub fn view(&self) -> Element<'_, Msg> {
        let title = match &self.editing {
            Some(p) => format!("Edit {} ({})", p.display_name(), p.chart_no),
            None => "New patient".to_string(),
        };
        let placeholder = |column: &str| match column {
            "date_of_birth" => "YYYY-MM-DD",
            "sex" => "F, M, X or empty",
            "phone" => "+1 555 123 4567",
            "email" => "name@example.org",
            "allergies" => "none known",
            _ => "",
        };
        let mut form = column![text(title).font(theme::BOLD).size(22)].spacing(6);
        for (column, label) in FIELDS {
            let input = text_input(placeholder(column), self.fields.get(column))
                .id(field_id(column))
                .on_input(move |v| Msg::Field(column, v))
                .on_submit(Msg::Save)
                .padding(6);
            let error = self
                .error_for(column)
                .map(|m| text(m.to_string()).style(text::danger).size(13));
            form = form.push(column![text(label).size(13), input, error].spacing(2));
        }
        let duplicates = (!self.duplicates.is_empty()).then(|| {
            let mut list = column![text(
                "This may be a patient already on file (same date of birth, similar name):"
            )
            .font(theme::BOLD)]
            .spacing(4);
            for d in &self.duplicates {
                list = list.push(text(format!(
                    "• {}  ·  {}  ·  born {}",
                    d.display_name(),
                    d.chart_no,
                    d.fields.date_of_birth
                )));
            }
            list = list.push(
                row![
                    button(text("Save as a new patient anyway"))
                        .style(button::danger)
                        .on_press(Msg::SaveAnyway),
                    button(text("Cancel"))
                        .style(button::secondary)
                        .on_press(Msg::Cancel),
                ]
                .spacing(8),
            );
            container(list).padding(10).width(Fill).style(theme::notice)
        });
        let elsewhere = (!self.changed_elsewhere.is_empty()).then(|| {
            container(text(format!(
                "Changed on another computer while you were typing: {}. Saving keeps what you typed.",
                self.changed_elsewhere.join(", ")
            )))
            .padding(8)
            .width(Fill)
            .style(theme::notice)
        });
        let other = self
            .other_error
            .as_ref()
            .map(|m| text(m.clone()).style(text::danger));
        let buttons = row![
            button(text("Save"))
                .style(button::primary)
                .on_press(Msg::Save),
            button(text("Cancel (Esc)"))
                .style(button::secondary)
                .on_press(Msg::Cancel),
        ]
        .spacing(8);
        scrollable(
            column![elsewhere, form, duplicates, other, buttons]
                .spacing(12)
                .max_width(640),
        )
        .height(Fill)
        .into()
    }
}

fn save_error(e: ClinicError) -> SaveError {
    match e {
        ClinicError::Invalid(errors) => SaveError::Invalid(errors),
        other => SaveError::Other(other.to_string()),
    }
}
