//! The staff's flows without a window: an administrator's Staff screen (adding, editing,
//! deactivating, clearing a PIN, the clinic's idle lock, the access log as CSV), emergency
//! access to a record's notes, "who looked at this record", and a clinic without an
//! administrator offering the role to the person signed in.

use std::sync::Arc;
use std::time::Duration;

use carebook_sync::clinic::patients::{self, PatientFields};
use carebook_sync::clinic::staff::{self, Role, Roles};
use carebook_sync::clinic::visits::{self, VisitFields};
use carebook_sync::clinic::{pin, Actor};
use carebook_sync::store::{schema, Store};

use crate::app::{Message, Screen};
use crate::nav::Route;
use crate::screen::staff::{Msg, StaffScreen};
use crate::screen::{patient, sign_in};
use crate::testing::{Window, PIN};

struct Clinic {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    w: Window,
    /// A patient with a finalised visit whose diagnosis is "migraine with aura".
    patient: String,
}

/// A clinic of an administrator, a receptionist and a doctor (and a patient with a note), with
/// `who` signed in.
fn clinic(admin: bool, who: &str) -> Clinic {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("clinic.db"), schema::CLINIC).unwrap());
    let patient = {
        let db = store.writer();
        staff::add(&db, "Rita Front", Role::Receptionist).unwrap();
        let ada = staff::add(&db, "Dr Ada Osei", Role::Doctor).unwrap();
        if admin {
            staff::add(&db, "Sam Admin", Role::Admin).unwrap();
        }
        let doctor = Actor::at_this_device(&db, &ada.id).unwrap();
        let fields = PatientFields {
            given_name: "Farid".into(),
            family_name: "Haddad".into(),
            date_of_birth: "1960-05-05".into(),
            ..Default::default()
        };
        let p = patients::create(&db, &doctor, &fields).unwrap().id;
        let v = visits::start(&db, &doctor, &p, &ada.id, "2026-12-01").unwrap();
        let note = VisitFields {
            diagnosis: "migraine with aura".into(),
            ..Default::default()
        };
        visits::save(&db, &doctor, &v, &note).unwrap();
        visits::finalize(&db, &doctor, &v).unwrap();
        p
    };
    let mut w = Window::new(store.clone(), None, dir.path());
    w.sign_in(who, PIN);
    Clinic {
        dir,
        store,
        w,
        patient,
    }
}

impl Clinic {
    fn staff(&mut self, m: Msg) {
        self.w.send(Message::Staff(m));
    }

    fn screen(&self) -> &StaffScreen {
        match &self.w.app.screen {
            Screen::Staff(s) => s,
            other => panic!("not on the Staff screen: {other:?}"),
        }
    }

    fn outcome(&self) -> String {
        self.screen().outcome.clone().unwrap_or_default()
    }

    fn person(&self, name: &str) -> staff::Staff {
        let db = self.store.writer();
        staff::everyone(&db)
            .unwrap()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is on the staff list"))
    }

    fn page(&self) -> &patient::Loaded {
        match &self.w.app.screen {
            Screen::Patient(p) => p.data.as_ref().expect("page loaded"),
            other => panic!("not on a patient page: {other:?}"),
        }
    }

    fn shows(&self, what: &str) -> bool {
        self.w.shows(what)
    }
}

#[test]
fn an_administrator_adds_edits_deactivates_and_clears_a_pin_on_the_staff_screen() {
    let mut c = clinic(true, "Sam Admin");
    assert!(c.shows("Staff"), "the top bar offers the Staff screen");
    c.w.send(Message::Go(Route::Staff));
    assert!(c.screen().data.is_some());

    // Adding a nurse who is also a receptionist.
    c.staff(Msg::NewName("Nia Nurse".into()));
    c.staff(Msg::NewRole(Role::Nurse, true));
    c.staff(Msg::Add);
    assert!(
        c.outcome().contains("Nia Nurse was added"),
        "{}",
        c.outcome()
    );
    assert!(c.screen().new_name.is_empty(), "the form is cleared");
    let nia = c.person("Nia Nurse");
    assert_eq!(nia.roles, Roles::from([Role::Receptionist, Role::Nurse]));
    assert!(
        c.screen().data.as_ref().unwrap().everyone.contains(&nia),
        "the list shows the new person"
    );
    // A name is required, and the refusal is shown.
    c.staff(Msg::Add);
    assert!(
        c.outcome().contains("a name is required"),
        "{}",
        c.outcome()
    );

    // Changing Rita's roles.
    let rita = c.person("Rita Front");
    c.staff(Msg::Edit(rita.clone()));
    c.staff(Msg::EditRole(Role::Nurse, true));
    c.staff(Msg::SaveEdit);
    assert_eq!(
        c.person("Rita Front").roles,
        Roles::from([Role::Receptionist, Role::Nurse])
    );
    assert!(c.screen().editing.is_none());

    // Deactivated: kept on the list, gone from those who can sign in.
    c.staff(Msg::SetActive(rita.id.clone(), false));
    assert!(!c.person("Rita Front").active);
    assert!(c.w.app.staff.iter().all(|s| s.id != rita.id));
    c.staff(Msg::SetActive(rita.id.clone(), true));
    assert!(c.w.app.staff.iter().any(|s| s.id == rita.id));

    // The last administrator cannot take their own role away.
    let sam = c.person("Sam Admin");
    c.staff(Msg::Edit(sam.clone()));
    c.staff(Msg::EditRole(Role::Admin, false));
    c.staff(Msg::EditRole(Role::Doctor, true));
    c.staff(Msg::SaveEdit);
    assert!(
        c.outcome().contains("at least one active administrator"),
        "{}",
        c.outcome()
    );
    assert!(c.person("Sam Admin").roles.has(Role::Admin));

    // Clearing a PIN asks first.
    let ada = c.person("Dr Ada Osei");
    pin::set_first(&c.store.writer(), &ada.id, PIN).unwrap();
    c.w.settle();
    c.staff(Msg::ResetPin(ada.id.clone()));
    assert!(pin::has_pin(&c.store.writer(), &ada.id).unwrap(), "not yet");
    assert!(c.outcome().contains("again"), "{}", c.outcome());
    c.staff(Msg::ResetPin(ada.id.clone()));
    assert!(!pin::has_pin(&c.store.writer(), &ada.id).unwrap());
    assert!(c.outcome().contains("PIN was cleared"), "{}", c.outcome());
}

#[test]
fn the_clinics_idle_lock_is_set_on_the_staff_screen_and_the_window_follows_it() {
    let mut c = clinic(true, "Sam Admin");
    assert_eq!(c.w.app.idle_lock, Duration::from_secs(5 * 60));
    c.w.send(Message::Go(Route::Staff));
    assert_eq!(c.screen().idle, "5");
    c.staff(Msg::Idle("0".into()));
    c.staff(Msg::SaveIdle);
    assert!(c.outcome().contains("between 1 and 60"), "{}", c.outcome());
    c.staff(Msg::Idle("two".into()));
    c.staff(Msg::SaveIdle);
    assert!(c.outcome().contains("number of minutes"), "{}", c.outcome());
    c.staff(Msg::Idle("2".into()));
    c.staff(Msg::SaveIdle);
    assert!(c.outcome().contains("after 2 minutes"), "{}", c.outcome());
    assert_eq!(c.w.app.idle_lock, Duration::from_secs(2 * 60));
    let touched = c.w.app.last_activity;
    c.w.send(Message::IdleCheck(touched + Duration::from_secs(150)));
    assert!(
        c.w.app.lock.is_some(),
        "locked after the clinic's two minutes"
    );
}

#[test]
fn the_access_log_is_saved_as_csv_from_the_staff_screen() {
    let mut c = clinic(true, "Sam Admin");
    c.w.send(Message::Go(Route::Patient(c.patient.clone())));
    c.w.send(Message::Go(Route::Staff));
    let file = c.dir.path().join("audit.csv");
    c.staff(Msg::ExportTo(Some(file.clone())));
    assert!(
        c.outcome().contains("access log was saved"),
        "{}",
        c.outcome()
    );
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(csv.starts_with("time_utc,person,computer,action"), "{csv}");
    assert!(csv.contains("Sam Admin"), "{csv}");
    assert!(
        csv.contains(&format!("opened patient,{}", c.patient)),
        "{csv}"
    );
    // A folder that does not exist: a plain error, and no file.
    let nowhere = c.dir.path().join("no-such-folder").join("audit.csv");
    c.staff(Msg::ExportTo(Some(nowhere.clone())));
    assert!(c.outcome().contains("Could not save"), "{}", c.outcome());
    assert!(!nowhere.exists());
}

#[test]
fn a_receptionist_sees_that_a_visit_exists_opens_it_in_an_emergency_and_admins_review_it() {
    let mut c = clinic(true, "Rita Front");
    assert!(!c.shows("Staff"), "no Staff button for a receptionist");
    assert!(!c.shows("Computers"), "no Computers button either");
    c.w.send(Message::Go(Route::Staff));
    assert!(matches!(c.w.app.screen, Screen::Patients));
    let notice = c.w.app.notice.clone().unwrap_or_default();
    assert_eq!(notice, "only administrators can manage the staff list");

    c.w.send(Message::Go(Route::Patient(c.patient.clone())));
    assert!(c.page().notes_withheld);
    assert!(
        c.page().looked.is_none(),
        "the access log is not hers to see"
    );
    assert!(c.shows("Open in an emergency"));
    assert!(!c.page().writes_notes && !c.shows("New visit note"));
    assert!(c.shows("final note (its text is for nurses and doctors)"));
    assert!(!c.shows("migraine"), "no clinical text");

    // A reason is needed.
    c.w.send(Message::Patient(patient::Msg::EmergencyReason("x".into())));
    c.w.send(Message::Patient(patient::Msg::Emergency));
    assert!(c.page().notes_withheld);
    let notice = c.w.app.notice.clone().unwrap_or_default();
    assert!(notice.contains("say why"), "{notice}");
    let why = "collapsed in the waiting room";
    c.w.send(Message::Patient(patient::Msg::EmergencyReason(why.into())));
    c.w.send(Message::Patient(patient::Msg::Emergency));
    assert!(!c.page().notes_withheld, "opened in an emergency");
    assert_eq!(c.page().visits[0].fields.diagnosis, "migraine with aura");
    assert!(c.shows("migraine"));

    // The administrator sees it to review, and who looked at the record.
    c.w.sign_in("Sam Admin", PIN);
    c.w.send(Message::Go(Route::Staff));
    let review = &c.screen().data.as_ref().unwrap().emergencies;
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].entry.staff_name, "Rita Front");
    assert_eq!(review[0].entry.detail, why);
    assert_eq!(review[0].patient, "Haddad, Farid");
    assert!(c.shows(why));
    c.w.send(Message::Go(Route::Patient(c.patient.clone())));
    let looked = c.page().looked.clone().expect("an administrator sees it");
    let rows: Vec<(&str, &str)> = looked
        .iter()
        .map(|e| (e.staff_name.as_str(), e.action.as_str()))
        .collect();
    assert!(rows.contains(&("Rita Front", "opened patient")), "{rows:?}");
    assert!(
        rows.contains(&("Rita Front", "emergency access")),
        "{rows:?}"
    );
    assert!(rows.contains(&("Sam Admin", "opened patient")), "{rows:?}");
    assert!(c.shows("Who looked at this record"));
}

#[test]
fn a_clinic_without_an_administrator_offers_the_role_to_the_person_signed_in() {
    let mut c = clinic(false, "Rita Front");
    assert!(c.shows("Become the administrator"));
    c.w.send(Message::Go(Route::Staff));
    assert!(matches!(c.w.app.screen, Screen::Patients), "not yet");
    c.w.send(Message::BecomeAdmin);
    let me = c.w.app.me.clone().unwrap();
    assert!(me.roles.has(Role::Admin) && me.roles.has(Role::Receptionist));
    assert!(!c.shows("Become the administrator"), "offered no more");
    c.w.send(Message::Go(Route::Staff));
    assert!(matches!(c.w.app.screen, Screen::Staff(_)));
    // Someone else cannot take it too (the library refuses once there is one).
    c.w.sign_in("Dr Ada Osei", PIN);
    c.w.send(Message::BecomeAdmin);
    let notice = c.w.app.notice.clone().unwrap_or_default();
    assert!(notice.contains("already has an administrator"), "{notice}");
    assert!(!c.w.app.me.unwrap().roles.has(Role::Admin));
}

#[test]
fn a_deactivated_person_is_locked_out_of_the_window_too() {
    let mut c = clinic(true, "Sam Admin");
    let rita = c.person("Rita Front");
    pin::set_first(&c.store.writer(), &rita.id, PIN).unwrap();
    c.w.send(Message::Go(Route::Staff));
    c.staff(Msg::SetActive(rita.id.clone(), false));
    // The sign-in screen no longer offers her; a stale choice is refused by the library.
    c.w.send(Message::SwitchStaff(rita.clone()));
    for m in [sign_in::Msg::Secret(PIN.into()), sign_in::Msg::Submit] {
        c.w.send(Message::SignIn(m));
    }
    let lock = c.w.app.lock.as_ref().expect("not signed in");
    assert!(
        lock.message
            .as_deref()
            .unwrap_or("")
            .contains("deactivated"),
        "{lock:?}"
    );
}

#[test]
fn the_library_refuses_computers_and_backups_work_to_others_even_past_the_screens() {
    use crate::screen::{backups, peers};
    let mut c = clinic(true, "Rita Front");
    // As if a screen had been reached some other way: the work itself is refused.
    let task = c.w.app.show(Route::Peers);
    c.w.drive(task);
    let someone = carebook_sync::identity::DeviceId::of_certificate(b"a laptop");
    c.w.send(Message::Peers(peers::Msg::Accept(someone)));
    assert_eq!(
        c.w.app.notice.as_deref(),
        Some("only administrators can pair or remove computers")
    );
    let task = c.w.app.show(Route::Backups);
    c.w.drive(task);
    let file = c.dir.path().join("clinic.carebook-backup");
    c.w.send(Message::Backups(backups::Msg::SaveTo(Some(file.clone()))));
    let outcome = match &c.w.app.screen {
        Screen::Backups(b) => b.outcome.clone().unwrap_or_default(),
        other => panic!("not on Backups: {other:?}"),
    };
    assert!(
        outcome.contains("only administrators can make or restore backups"),
        "{outcome}"
    );
    assert!(!file.exists(), "no backup was written");
}

#[test]
fn an_administrator_sets_opening_hours_working_hours_and_appointment_types() {
    use crate::screen::hours::{Msg as H, Whose};
    use carebook_sync::clinic::hours;
    let mut c = clinic(true, "Sam Admin");
    c.w.send(Message::Go(Route::Staff));
    let h = |c: &mut Clinic, m: H| c.staff(Msg::Hours(m));
    assert_eq!(c.screen().hours.from, "08:00", "the clinic's, until set");
    h(&mut c, H::Day(5, true));
    h(&mut c, H::To("13:00".into()));
    h(&mut c, H::Save);
    let clinic_hours = hours::clinic(&c.store.writer()).unwrap();
    assert!(clinic_hours.days[5], "open on Saturdays now");
    assert_eq!(hours::hhmm(clinic_hours.open.end), "13:00");
    // Dr Osei: a break; a break outside the day is refused plainly.
    let ada = c.person("Dr Ada Osei");
    h(&mut c, H::Whose(Whose::One(ada.clone())));
    h(&mut c, H::BreakFrom("12:30".into()));
    h(&mut c, H::BreakTo("13:30".into()));
    h(&mut c, H::Save);
    let outcome = c.screen().hours.outcome.clone().unwrap_or_default();
    assert!(outcome.contains("within the day"), "{outcome}");
    h(&mut c, H::BreakFrom("11:00".into()));
    h(&mut c, H::BreakTo("11:30".into()));
    h(&mut c, H::Save);
    let osei = hours::of(&c.store.writer(), &ada.id).unwrap();
    assert_eq!(osei.breaks.len(), 1);
    assert_eq!(hours::hhmm(osei.breaks[0].start), "11:00");
    h(&mut c, H::Kinds("Vaccination=10; Long consult=45".into()));
    h(&mut c, H::SaveKinds);
    let kinds = hours::kinds(&c.store.writer()).unwrap();
    assert_eq!(
        kinds.iter().map(|k| k.minutes).collect::<Vec<_>>(),
        [10, 45]
    );
    h(&mut c, H::Kinds("Vaccination".into()));
    h(&mut c, H::SaveKinds);
    let outcome = c.screen().hours.outcome.clone().unwrap_or_default();
    assert!(outcome.contains("minutes after ="), "{outcome}");
}
