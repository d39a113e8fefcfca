//! The app's flows without a window: build `App` over a real database file, send messages,
//! run the tasks they return, and look at the state. Plus iced_test simulator runs that
//! click and type through creating and finding a patient.

use std::sync::Arc;
use std::time::Duration;

use carebook_sync::clinic::appointments::Status;
use carebook_sync::clinic::patients::PatientFields;
use carebook_sync::clinic::staff::Role;
use carebook_sync::clinic::{self, visits, Actor};
use carebook_sync::store::{schema, Store};
use iced::keyboard::{self, key::Named, Key, Modifiers};
use iced::widget::text_editor;

use crate::app::{Message, Screen};
use crate::listen::shortcut;
use crate::nav::Route;
use crate::screen::{form, patient, patients, today, visit};
use crate::testing::Window;
use crate::testing::PIN;

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    w: Window,
}

impl Harness {
    /// A clinic with a receptionist (at the keyboard) and a doctor.
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("clinic.db"), schema::CLINIC).unwrap());
        {
            let db = store.writer();
            clinic::staff::add(&db, "Rita Front", Role::Receptionist).unwrap();
            clinic::staff::add(&db, "Dr Ada Osei", Role::Doctor).unwrap();
        }
        let w = Window::new(store.clone(), None, dir.path());
        let mut h = Harness {
            _dir: dir,
            store,
            w,
        };
        h.w.sign_in("Rita Front", PIN);
        h
    }

    fn send(&mut self, m: Message) {
        self.w.send(m);
    }

    fn search(&mut self, q: &str) {
        self.send(Message::Patients(patients::Msg::Query(q.into())));
    }

    fn hits(&self) -> Vec<&str> {
        self.w
            .app
            .patients
            .hits
            .iter()
            .map(|x| x.id.as_str())
            .collect()
    }

    fn form(&mut self, m: form::Msg) {
        self.send(Message::Form(m));
    }

    fn fill(&mut self, given: &str, family: &str, dob: &str) {
        self.form(form::Msg::Field("given_name", given.into()));
        self.form(form::Msg::Field("family_name", family.into()));
        self.form(form::Msg::Field("date_of_birth", dob.into()));
    }

    fn page(&self) -> &patient::Loaded {
        match &self.w.app.screen {
            Screen::Patient(p) => p.data.as_ref().expect("page loaded"),
            other => panic!("not on a patient page: {other:?}"),
        }
    }

    fn create(&mut self, given: &str, family: &str, dob: &str) -> String {
        self.send(Message::Go(Route::NewPatient));
        self.fill(given, family, dob);
        self.form(form::Msg::Save);
        match &self.w.app.route {
            Route::Patient(id) => id.clone(),
            other => panic!("not saved: {other:?} ({:?})", self.w.app.screen),
        }
    }
}

#[test]
fn create_validate_and_search() {
    let mut h = Harness::new();
    h.send(Message::Go(Route::NewPatient));
    h.fill("Zoë", "", "1984-13-40");
    h.form(form::Msg::Save);
    let Screen::Form(f) = &h.w.app.screen else {
        panic!("left the form")
    };
    let bad: Vec<&str> = f.errors.iter().map(|e| e.field).collect();
    assert_eq!(bad, ["family_name", "date_of_birth"]);
    h.form(form::Msg::Field("family_name", "Okafor".into()));
    h.form(form::Msg::Field("date_of_birth", "1984-03-27".into()));
    h.form(form::Msg::Field("allergies", "penicillin".into()));
    h.form(form::Msg::Save);
    let id = match &h.w.app.route {
        Route::Patient(id) => id.clone(),
        r => panic!("{r:?}"),
    };
    assert_eq!(h.page().patient.fields.allergies, "penicillin");
    assert_eq!(h.page().history[0].field, "created");
    // Esc goes back to where we came from (the list), skipping the form.
    h.send(Message::Back);
    assert_eq!(h.w.app.route, Route::Patients);
    h.search("okaf");
    assert_eq!(h.hits(), [id.as_str()]);
    h.search("nobody");
    assert!(h.hits().is_empty());
    h.search("zoe");
    h.send(Message::Patients(patients::Msg::OpenFirst));
    assert_eq!(h.w.app.route, Route::Patient(id));
}

#[test]
fn duplicates_warn_then_merge_and_undo() {
    let mut h = Harness::new();
    let first = h.create("Jonathan", "Smith", "1975-06-15");
    h.send(Message::Go(Route::NewPatient));
    h.fill("Jon", "Smyth", "1975-06-15");
    h.form(form::Msg::Save);
    let Screen::Form(f) = &h.w.app.screen else {
        panic!("left the form")
    };
    assert_eq!(f.duplicates.len(), 1, "warned before creating");
    h.form(form::Msg::SaveAnyway);
    let second = match &h.w.app.route {
        Route::Patient(id) => id.clone(),
        r => panic!("{r:?}"),
    };
    h.send(Message::Go(Route::Patient(first.clone())));
    assert_eq!(h.page().duplicates[0].id, second);
    h.send(Message::Patient(patient::Msg::Merge(second.clone())));
    h.send(Message::Go(Route::Patient(second.clone())));
    assert!(h.page().patient.archived && h.page().patient.merged_into == first);
    let merge = h.page().merge.clone().expect("merge recorded");
    h.send(Message::Patient(patient::Msg::UndoMerge(merge)));
    assert!(!h.page().patient.archived, "undone");
    assert!(h.page().history.iter().any(|e| e.field == "merge undone"));
}

#[test]
fn edit_is_recorded_in_history() {
    let mut h = Harness::new();
    let id = h.create("Kenji", "Tanaka", "1990-12-01");
    h.send(Message::Patient(patient::Msg::Edit));
    assert_eq!(h.w.app.route, Route::EditPatient(id.clone()));
    let Screen::Form(f) = &h.w.app.screen else {
        panic!()
    };
    assert_eq!(f.fields.family_name, "Tanaka", "the form holds the record");
    h.form(form::Msg::Field("phone", "020 7946 0958".into()));
    h.form(form::Msg::Save);
    assert_eq!(h.w.app.route, Route::Patient(id));
    let change = &h.page().history[0];
    assert_eq!(
        (change.field.as_str(), change.new_value.as_str()),
        ("phone", "020 7946 0958")
    );
    assert_eq!(change.staff_name, "Rita Front");
}

#[test]
fn book_check_in_and_move_through_the_day() {
    let mut h = Harness::new();
    let id = h.create("Amina", "Haddad", "2001-02-03");
    let now = chrono::Local::now().format("%Y-%m-%dT%H:%M").to_string();
    h.send(Message::Patient(patient::Msg::BookAt(now)));
    h.send(Message::Patient(patient::Msg::BookReason("bloods".into())));
    h.send(Message::Patient(patient::Msg::Book));
    assert_eq!(h.page().appointments.len(), 1);
    assert_eq!(h.page().appointments[0].clinician_name, "Dr Ada Osei");
    h.send(Message::Go(Route::Today));
    let Screen::Today(t) = &h.w.app.screen else {
        panic!()
    };
    let appt = t.day[0].id.clone();
    assert_eq!(t.day[0].patient_id, id);
    let set = |s: Status| Message::Today(today::Msg::SetStatus(appt.clone(), s));
    h.send(set(Status::Seen));
    assert!(h
        .w
        .app
        .notice
        .as_deref()
        .unwrap_or("")
        .contains("cannot become seen"));
    for s in [Status::Arrived, Status::InRoom, Status::Seen] {
        h.send(set(s));
    }
    let Screen::Today(t) = &h.w.app.screen else {
        panic!()
    };
    assert_eq!(t.day[0].status, Status::Seen);
}

#[test]
fn a_visit_note_is_written_finalised_and_amended() {
    let mut h = Harness::new();
    let doctor =
        h.w.app
            .staff
            .iter()
            .find(|s| s.roles.has(Role::Doctor))
            .cloned()
            .unwrap();
    h.w.sign_in("Dr Ada Osei", PIN);
    let actor = clinic::Actor::at_this_device(&h.store.writer(), &doctor.id).unwrap();
    h.create("Farid", "Haddad", "1960-05-05");
    h.send(Message::Patient(patient::Msg::StartVisit));
    let Route::Visit(visit_id) = h.w.app.route.clone() else {
        panic!("{:?}", h.w.app.route)
    };
    let paste = |s: &str| text_editor::Action::Edit(text_editor::Edit::Paste(Arc::new(s.into())));
    h.send(Message::Visit(visit::Msg::Edit(
        0,
        paste("headache for 3 days"),
    )));
    h.send(Message::Visit(visit::Msg::Edit(
        2,
        paste("tension headache"),
    )));
    h.send(Message::Visit(visit::Msg::Save));
    let draft = visits::get(&h.store.writer(), &actor, &visit_id).unwrap();
    assert_eq!(draft.fields.diagnosis, "tension headache");
    h.send(Message::Visit(visit::Msg::Finalize));
    assert!(
        !visits::get(&h.store.writer(), &actor, &visit_id)
            .unwrap()
            .is_final(),
        "asks first"
    );
    h.send(Message::Visit(visit::Msg::Finalize));
    assert!(visits::get(&h.store.writer(), &actor, &visit_id)
        .unwrap()
        .is_final());
    h.send(Message::Visit(visit::Msg::Amend(paste(
        "revised: migraine",
    ))));
    h.send(Message::Visit(visit::Msg::AddAmendment));
    let v = visits::get(&h.store.writer(), &actor, &visit_id).unwrap();
    assert_eq!(v.amendments.len(), 1);
    assert_eq!(
        v.fields.diagnosis, "tension headache",
        "the note itself stays"
    );
}

#[test]
fn changes_made_elsewhere_appear_without_losing_typing() {
    let mut h = Harness::new();
    h.search("silva");
    assert!(h.hits().is_empty());
    // Another program (or a merge from another computer) writes to the database.
    {
        let db = h.store.writer();
        let someone = clinic::staff::list(&db).unwrap()[0].id.clone();
        let actor = Actor::at_this_device(&db, &someone).unwrap();
        let f = PatientFields {
            given_name: "Ines".into(),
            family_name: "Silva".into(),
            date_of_birth: "1988-08-08".into(),
            ..Default::default()
        };
        clinic::patients::create(&db, &actor, &f).unwrap();
    }
    h.w.settle();
    assert_eq!(h.hits().len(), 1, "the list refreshed");
    // A half-typed form survives a refresh.
    h.send(Message::Go(Route::NewPatient));
    h.form(form::Msg::Field("family_name", "Half-typ".into()));
    h.store
        .writer()
        .execute("UPDATE staff SET name = name || ''", [])
        .unwrap();
    h.w.settle();
    let Screen::Form(f) = &h.w.app.screen else {
        panic!()
    };
    assert_eq!(f.fields.family_name, "Half-typ");
}

#[test]
fn typing_in_an_open_edit_form_survives_a_change_of_that_patient_elsewhere() {
    let mut h = Harness::new();
    let id = h.create("Kenji", "Tanaka", "1990-12-01");
    h.send(Message::Go(Route::EditPatient(id.clone())));
    h.form(form::Msg::Field("phone", "020 7946 0958".into()));
    h.form(form::Msg::Field("notes", "prefers mornings".into()));
    // Another connection (a script, or a merge from another computer) changes the same
    // patient: one field the person is typing in, and one they did not touch.
    {
        let db = carebook_sync::store::CrrConnection::open(h.store.path(), false).unwrap();
        db.execute(
            "UPDATE patients SET notes = 'moved house', address = '4 Quay Street' WHERE id = ?1",
            [&id],
        )
        .unwrap();
    }
    h.w.settle();
    let Screen::Form(f) = &h.w.app.screen else {
        panic!("left the form: {:?}", h.w.app.screen)
    };
    assert_eq!(f.fields.phone, "020 7946 0958", "typing kept");
    assert_eq!(
        f.fields.notes, "prefers mornings",
        "typing kept where both changed"
    );
    assert_eq!(
        f.fields.address, "4 Quay Street",
        "an untouched field follows the record"
    );
    assert_eq!(f.changed_elsewhere, ["Notes"], "the clash is named");
    h.form(form::Msg::Save);
    let p = clinic::patients::get(&h.store.writer(), &id).unwrap();
    assert_eq!(
        (
            p.fields.phone.as_str(),
            p.fields.notes.as_str(),
            p.fields.address.as_str()
        ),
        ("020 7946 0958", "prefers mornings", "4 Quay Street"),
        "saving keeps the other computer's address"
    );
}

#[test]
fn keyboard_shortcuts() {
    let press = |key: Key, modifiers: Modifiers| keyboard::Event::KeyPressed {
        key: key.clone(),
        modified_key: key,
        physical_key: keyboard::key::Physical::Unidentified(
            keyboard::key::NativeCode::Unidentified,
        ),
        location: keyboard::Location::Standard,
        modifiers,
        text: None,
        repeat: false,
    };
    let ctrl = Modifiers::CTRL;
    assert!(matches!(
        shortcut(press(Key::Character("n".into()), ctrl)),
        Some(Message::Go(Route::NewPatient))
    ));
    assert!(matches!(
        shortcut(press(Key::Character("f".into()), ctrl)),
        Some(Message::FocusSearch)
    ));
    assert!(matches!(
        shortcut(press(Key::Named(Named::Tab), Modifiers::empty())),
        Some(Message::FocusNext)
    ));
    assert!(matches!(
        shortcut(press(Key::Named(Named::Tab), Modifiers::SHIFT)),
        Some(Message::FocusPrevious)
    ));
    assert!(
        shortcut(press(Key::Character("n".into()), Modifiers::empty())).is_none(),
        "plain n is typing"
    );
    // Ctrl+L locks at once (leaving the desk).
    let lock = shortcut(press(Key::Character("l".into()), ctrl)).expect("Ctrl+L");
    assert!(matches!(lock, Message::LockNow));
    let mut h = Harness::new();
    h.send(lock);
    assert!(h.w.app.lock.is_some(), "locked");
}

#[test]
fn first_run_starts_a_clinic_with_its_name_the_first_staff_and_the_passphrase() {
    use crate::screen::first_run::Msg as F;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("c.db"), schema::CLINIC).unwrap());
    let mut w = Window::new(store.clone(), None, dir.path());
    assert!(matches!(w.app.screen, Screen::FirstRun(_)));
    let send = |w: &mut Window, m: F| {
        w.send(Message::FirstRun(m));
    };
    send(&mut w, F::NewClinic);
    send(&mut w, F::Clinic("Riverside Practice".into()));
    send(&mut w, F::Name("Rita".into()));
    send(&mut w, F::Passphrase("short".into()));
    send(&mut w, F::Start);
    let error = |w: &Window| match &w.app.screen {
        Screen::FirstRun(f) => f.error.clone(),
        _ => None,
    };
    assert!(error(&w).unwrap().contains("at least 10"));
    send(&mut w, F::Passphrase("a long clinic passphrase".into()));
    send(&mut w, F::Confirm("a long clinic passphrase!".into()));
    send(&mut w, F::Start);
    assert_eq!(error(&w).as_deref(), Some("The two passphrases differ"));
    assert!(clinic::staff::list(&store.writer()).unwrap().is_empty());
    send(&mut w, F::Confirm("a long clinic passphrase".into()));
    send(&mut w, F::Start);
    assert!(
        w.app.lock.is_some(),
        "the first person signs in, setting their PIN"
    );
    w.sign_in("Rita", PIN);
    assert_eq!(w.app.me.as_ref().map(|s| s.name.as_str()), Some("Rita"));
    assert!(matches!(w.app.screen, Screen::Patients));
    let db = store.writer();
    assert_eq!(
        clinic::profile::current(&db).unwrap().unwrap().name,
        "Riverside Practice"
    );
    // Remembered on this computer (a private file here: the tests keep off the keyring).
    let me = carebook_sync::identity::Identity::existing_id(dir.path())
        .unwrap()
        .unwrap();
    let kept = carebook_sync::backup::schedule::recall(dir.path(), &me).unwrap();
    assert!(kept.is_some());
}

mod simulated {
    //! Clicks and typing through the real widgets (iced_test's simulator, no window).

    use iced::widget::Id;
    use iced_test::simulator;

    use super::*;

    /// Feeds what the simulated user did back into the app.
    fn play(h: &mut Harness, messages: impl Iterator<Item = Message>) {
        for m in messages {
            h.send(m);
        }
    }

    #[test]
    fn click_through_creating_and_finding_a_patient() {
        let mut h = Harness::new();
        let mut ui = simulator(h.w.app.view());
        ui.click("New patient").expect("the button is there");
        let messages: Vec<Message> = ui.into_messages().collect();
        play(&mut h, messages.into_iter());
        assert_eq!(h.w.app.route, Route::NewPatient);

        let mut ui = simulator(h.w.app.view());
        for (field, value) in [
            ("given_name", "Zoë"),
            ("family_name", "Okafor"),
            ("date_of_birth", "1984-03-27"),
        ] {
            ui.click(Id::from(format!("field-{field}"))).expect("field");
            let _ = ui.typewrite(value);
        }
        ui.click("Save").expect("save button");
        let messages: Vec<Message> = ui.into_messages().collect();
        play(&mut h, messages.into_iter());
        assert!(
            matches!(h.w.app.route, Route::Patient(_)),
            "{:?}",
            h.w.app.screen
        );

        let mut ui = simulator(h.w.app.view());
        assert!(ui.find("Okafor, Zoë").is_ok(), "the new patient's page");
        assert!(ui.find("No known allergies recorded").is_ok());
        ui.click("Patients").expect("nav");
        let messages: Vec<Message> = ui.into_messages().collect();
        play(&mut h, messages.into_iter());

        let mut ui = simulator(h.w.app.view());
        ui.click(Id::new(patients::SEARCH)).expect("search box");
        let _ = ui.typewrite("okaf");
        let messages: Vec<Message> = ui.into_messages().collect();
        play(&mut h, messages.into_iter());
        let mut ui = simulator(h.w.app.view());
        assert!(
            ui.find("Okafor, Zoë").is_ok(),
            "found by typing in the search box"
        );
        assert!(ui.find("1 found — Enter opens the first").is_ok());
    }
}

#[test]
fn about_shows_what_the_it_helper_asks_for_and_copies_it() {
    use carebook_sync::identity::{Identity, Keyring};
    let mut h = Harness::new();
    let data = h.store.path().parent().unwrap().to_path_buf();
    assert_eq!(
        h.w.app.folders.data, data,
        "the data folder is the database's"
    );
    h.w.app.folders.logs = Some(data.join("logs"));
    h.send(Message::Go(Route::About));
    assert_eq!(h.w.app.route, Route::About);
    let Screen::About(about) = &h.w.app.screen else {
        panic!("not the About box: {:?}", h.w.app.screen)
    };
    assert_eq!(about.facts.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        about.facts.device_id,
        Err("not made yet (the first start makes it)".into())
    );

    // Once this computer has its identity, About shows its device ID.
    let id = Identity::load_or_create_with(&data, Keyring::Off)
        .unwrap()
        .id
        .to_string();
    h.send(Message::Back);
    h.send(Message::Go(Route::About));
    let Screen::About(about) = &h.w.app.screen else {
        panic!("not the About box")
    };
    let rows = about.facts.rows();
    assert_eq!(rows[1], ("data folder", data.display().to_string()));
    assert_eq!(
        rows[2],
        ("log folder", data.join("logs").display().to_string())
    );
    assert_eq!(rows[3], ("device ID", id.clone()));
    assert!(about.copied.is_none());

    h.send(Message::About(crate::screen::about::Msg::Copy));
    let Screen::About(about) = &h.w.app.screen else {
        panic!("Copy left the About box")
    };
    assert_eq!(
        about.copied.as_deref(),
        Some(
            format!(
                "carebook {}\ndata folder: {}\nlog folder: {}\ndevice ID: {id}\n",
                env!("CARGO_PKG_VERSION"),
                data.display(),
                data.join("logs").display()
            )
            .as_str()
        )
    );
}

/// The visit editor's first section as typed.
fn typed_complaint(h: &Harness) -> Option<String> {
    match &h.w.app.screen {
        Screen::Visit(v) => Some(v.sections[0].text()),
        _ => None,
    }
}

#[test]
fn an_idle_window_locks_without_patient_data_and_the_same_person_gets_their_typing_back() {
    let mut h = Harness::new();
    h.w.sign_in("Dr Ada Osei", PIN);
    h.create("Farid", "Haddad", "1960-05-05");
    h.send(Message::Patient(patient::Msg::StartVisit));
    let paste = text_editor::Action::Edit(text_editor::Edit::Paste(Arc::new(
        "headache for 3 da".into(),
    )));
    h.send(Message::Visit(visit::Msg::Edit(0, paste)));
    // Four minutes untouched: still open. Six: locked.
    let touched = h.w.app.last_activity;
    h.send(Message::IdleCheck(touched + Duration::from_secs(4 * 60)));
    assert!(h.w.app.lock.is_none());
    h.send(Message::IdleCheck(touched + Duration::from_secs(6 * 60)));
    assert!(h.w.app.lock.is_some(), "locked after five idle minutes");
    let mut shown = iced_test::simulator(h.w.app.view());
    assert!(shown.find("Carebook is locked").is_ok());
    for private in ["Haddad", "Farid", "headache"] {
        assert!(
            shown.find(private).is_err(),
            "{private} is not on the lock screen"
        );
    }
    drop(shown);
    // Navigation does nothing behind the lock.
    h.send(Message::Go(Route::Today));
    assert!(matches!(h.w.app.screen, Screen::Visit(_)));
    h.w.sign_in("Dr Ada Osei", PIN);
    assert_eq!(
        typed_complaint(&h).as_deref().map(str::trim_end),
        Some("headache for 3 da"),
        "the same person finds the half-typed note"
    );
}

#[test]
fn switching_person_needs_their_pin_and_shows_them_none_of_the_last_persons_typing() {
    let mut h = Harness::new();
    h.w.sign_in("Dr Ada Osei", PIN);
    h.create("Farid", "Haddad", "1960-05-05");
    h.send(Message::Patient(patient::Msg::StartVisit));
    let paste = text_editor::Action::Edit(text_editor::Edit::Paste(Arc::new("private".into())));
    h.send(Message::Visit(visit::Msg::Edit(0, paste)));
    let rita =
        h.w.app
            .staff
            .iter()
            .find(|s| s.name == "Rita Front")
            .cloned()
            .unwrap();
    h.send(Message::SwitchStaff(rita.clone()));
    assert!(h.w.app.lock.is_some(), "the new person's PIN is asked for");
    use crate::screen::sign_in::Msg as S;
    h.send(Message::SignIn(S::Secret("999999".into())));
    h.send(Message::SignIn(S::Submit));
    let lock = h.w.app.lock.as_ref().expect("a wrong PIN does not open");
    assert!(
        lock.message.as_deref().unwrap_or("").contains("not right"),
        "{lock:?}"
    );
    assert_eq!(
        h.w.app.me.as_ref().map(|s| s.name.as_str()),
        Some("Dr Ada Osei")
    );
    h.w.sign_in("Rita Front", PIN);
    assert_eq!(
        h.w.app.me.as_ref().map(|s| s.name.as_str()),
        Some("Rita Front")
    );
    assert!(matches!(h.w.app.screen, Screen::Patients), "a fresh start");
    assert!(typed_complaint(&h).is_none());
}

#[test]
fn wrong_pins_are_told_with_a_growing_wait_and_recorded() {
    let mut h = Harness::new();
    let touched = h.w.app.last_activity;
    h.send(Message::IdleCheck(touched + Duration::from_secs(3600)));
    use crate::screen::sign_in::Msg as S;
    let mut told = Vec::new();
    for _ in 0..3 {
        h.send(Message::SignIn(S::Secret("000000".into())));
        h.send(Message::SignIn(S::Submit));
        told.push(h.w.app.lock.as_ref().unwrap().message.clone().unwrap());
    }
    assert_eq!(told[0], "That PIN is not right. Try again.");
    assert!(told[1].contains("Wait 2 seconds"), "{told:?}");
    assert!(told[2].contains("wait"), "too soon: {told:?}");
    let recorded: i64 = h
        .store
        .writer()
        .query_row(
            "SELECT count(*) FROM access_log WHERE action = 'wrong PIN'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        recorded, 2,
        "both wrong PINs are recorded (the third came too soon)"
    );
}

#[test]
fn a_receptionist_is_told_the_computers_and_backups_are_for_administrators_and_openings_are_logged()
{
    let mut h = Harness::new();
    for route in [Route::Peers, Route::Backups] {
        h.send(Message::Go(route.clone()));
        assert_eq!(h.w.app.route, Route::Patients, "{route:?} does not open");
        let notice = h.w.app.notice.clone().unwrap_or_default();
        assert!(notice.starts_with("only administrators can"), "{notice}");
    }
    h.create("Farid", "Haddad", "1960-05-05");
    let opened: i64 = h
        .store
        .writer()
        .query_row(
            "SELECT count(*) FROM access_log a JOIN staff s ON s.id = a.staff_id
             WHERE a.action = 'opened patient' AND s.name = 'Rita Front'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        opened >= 1,
        "opening the patient's page is in the access log"
    );
}
