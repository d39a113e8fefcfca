//! Creating and editing a patient: fields in tab order, a clear message under each field that
//! needs correcting, and a duplicate warning (same date of birth, similar name) before a new
//! record is created.

use carebook_sync::clinic::patients::{self, Patient, PatientFields, FIELDS};
use carebook_sync::clinic::{ClinicError, FieldError};
use iced::widget::{button, column, container, row, scrollable, text, text_input};
use iced::{Element, Fill, Task};

use crate::app::{App, Message};
use crate::theme;

#[derive(Debug, Default)]
pub struct PatientForm {
    /// The record being edited; None for a new patient.
    pub editing: Option<Patient>,
    pub fields: PatientFields,
    pub errors: Vec<FieldError>,
    /// Possible duplicates found when saving a new patient.
    pub duplicates: Vec<Patient>,
    pub other_error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Field(&'static str, String),
    Save,
    SaveAnyway,
    Cancel,
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

/// The id of the first field (focused when the form opens).
pub fn first_field() -> String {
    field_id(FIELDS[0].0)
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
    /// Fills the form with a record to edit.
    pub fn edit(&mut self, p: Patient) {
        self.fields = p.fields.clone();
        self.editing = Some(p);
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
            column![form, duplicates, other, buttons]
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

pub fn update(app: &mut App, msg: Msg) -> Task<Message> {
    let Some(actor) = app.actor() else {
        return Task::none();
    };
    let crate::app::Screen::Form(form) = &mut app.screen else {
        return Task::none();
    };
    let confirmed = match msg {
        Msg::Field(column, value) => {
            set(&mut form.fields, column, value);
            form.errors.retain(|e| e.field != column);
            return Task::none();
        }
        Msg::Cancel => return app.update(Message::Back),
        Msg::Save => false,
        Msg::SaveAnyway => true,
    };
    form.errors = form.fields.trimmed().problems();
    form.duplicates.clear();
    form.other_error = None;
    if !form.errors.is_empty() {
        return Task::none();
    }
    let fields = form.fields.clone();
    let editing = form.editing.as_ref().map(|p| p.id.clone());
    app.runner.spawn(move |store| {
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
        Message::FormSaved(result)
    })
}
