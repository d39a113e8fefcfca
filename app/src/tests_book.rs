//! The appointment book without a window: booking by clicking a free slot and by a typed time,
//! a typed time that cannot be read, the overlap warning (and booking anyway), moving and
//! cancelling, working hours and the next free slot, and the book following another
//! computer's booking without losing what is typed; and, on the same front desk, a patient's
//! age and finding archived records again.

use std::sync::Arc;

use carebook_sync::clinic::appointments::{self, Status};
use carebook_sync::clinic::hours::{self, Hours, Span};
use carebook_sync::clinic::patients::{self, PatientFields};
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::clinic::{history, Actor};
use carebook_sync::store::{schema, Store};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::app::{Message, Screen};
use crate::nav::Route;
use crate::screen::book::{Book, Msg, Whose};
use crate::testing::{Window, PIN};

struct Desk {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    w: Window,
    osei: String,
    admin: Actor,
    patient: String,
}

/// Next week's Monday (always ahead, so every slot of it is bookable).
fn monday() -> NaiveDate {
    let today = chrono::Local::now().date_naive();
    today + Duration::days(7 - today.weekday().num_days_from_monday() as i64)
}

fn at(day: NaiveDate, hhmm: &str) -> NaiveDateTime {
    day.and_time(NaiveTime::parse_from_str(hhmm, "%H:%M").unwrap())
}

/// A clinic with an administrator, a receptionist (signed in), Dr Osei and a patient; the
/// book open on next Monday.
fn desk() -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("clinic.db"), schema::CLINIC).unwrap());
    let (osei, admin, patient) = {
        let db = store.writer();
        let sam = staff::add(&db, "Sam Admin", Role::Admin).unwrap();
        let admin = Actor::at_this_device(&db, &sam.id).unwrap();
        staff::add_by(&db, &admin, "Rita Front", Role::Receptionist).unwrap();
        let osei = staff::add_by(&db, &admin, "Dr Ada Osei", Role::Doctor)
            .unwrap()
            .id;
        let fields = PatientFields {
            given_name: "Farid".into(),
            family_name: "Haddad".into(),
            date_of_birth: "1960-05-05".into(),
            ..Default::default()
        };
        let patient = patients::create(&db, &admin, &fields).unwrap().id;
        (osei, admin, patient)
    };
    let mut w = Window::new(store.clone(), None, dir.path());
    w.sign_in("Rita Front", PIN);
    w.send(Message::Go(Route::Book));
    let mut d = Desk {
        _dir: dir,
        store,
        w,
        osei,
        admin,
        patient,
    };
    d.book(Msg::OpenDay(monday()));
    d
}

impl Desk {
    fn book(&mut self, m: Msg) {
        self.w.send(Message::Book(m));
    }

    fn screen(&self) -> &Book {
        match &self.w.app.screen {
            Screen::Book(b) => b,
            other => panic!("not on the book: {other:?}"),
        }
    }

    fn message(&self) -> String {
        self.screen().message.clone().unwrap_or_default()
    }

    /// Searches for the patient in the booking form and picks them.
    fn pick_patient(&mut self) {
        self.book(Msg::Query("Haddad".into()));
        let hit = self.screen().booking.as_ref().unwrap().hits[0].clone();
        assert_eq!(hit.id, self.patient);
        self.book(Msg::Patient(hit));
    }

    /// Books Dr Osei for the patient next Monday at `hhmm` behind the window's back (as
    /// another computer or program would); the appointment's id.
    fn booked(&self, hhmm: &str, minutes: i64, reason: &str) -> String {
        let at = format!("{}T{hhmm}", monday());
        appointments::book(
            &self.store.writer(),
            &self.admin,
            &self.patient,
            &self.osei,
            &at,
            minutes,
            reason,
        )
        .unwrap()
    }

    fn appointments(&self) -> Vec<appointments::Appointment> {
        appointments::for_patient(&self.store.writer(), &self.patient).unwrap()
    }

    fn shows(&self, what: &str) -> bool {
        self.w.shows(what)
    }
}

#[test]
fn booking_by_clicking_a_free_slot() {
    let mut d = desk();
    assert!(d.shows("Dr Ada Osei"), "a column per clinician");
    assert!(d.shows("free"));
    d.book(Msg::Slot(d.osei.clone(), at(monday(), "10:00")));
    let b = d.screen().booking.clone().unwrap();
    assert_eq!(b.at, format!("{} 10:00", monday()));
    assert_eq!(b.with.map(|s| s.name), Some("Dr Ada Osei".into()));
    assert_eq!(b.minutes, "15", "the last type (follow-up) is the default");
    d.pick_patient();
    d.book(Msg::Reason("blood pressure".into()));
    d.book(Msg::Save);
    assert!(
        d.message()
            .starts_with("Booked Haddad, Farid with Dr Ada Osei"),
        "{}",
        d.message()
    );
    assert!(d.screen().booking.is_none(), "the form closes");
    let a = &d.appointments()[0];
    assert_eq!(a.starts_at, format!("{}T10:00", monday()));
    assert_eq!((a.duration_min, a.reason.as_str()), (15, "blood pressure"));
    assert!(d.shows("10:00 Haddad, Farid"), "the block is on the grid");
}

#[test]
fn booking_by_a_typed_time_with_the_types_duration_and_refusing_what_cannot_be_read() {
    let mut d = desk();
    d.book(Msg::NewBooking);
    let osei =
        d.w.app
            .staff
            .iter()
            .find(|s| s.id == d.osei)
            .cloned()
            .unwrap();
    d.book(Msg::With(osei));
    d.pick_patient();
    d.book(Msg::At("soon".into()));
    d.book(Msg::Save);
    assert!(
        d.message()
            .starts_with("Could not read \u{201c}soon\u{201d} as a time"),
        "{}",
        d.message()
    );
    assert!(d.appointments().is_empty());
    let new_patient = hours::kinds(&d.store.writer()).unwrap()[0].clone();
    d.book(Msg::Kind(new_patient));
    assert_eq!(d.screen().booking.as_ref().unwrap().minutes, "30");
    d.book(Msg::At("next mon 9:30".into()));
    d.book(Msg::Save);
    let a = &d.appointments()[0];
    assert_eq!(
        a.starts_at,
        format!("{}T09:30", monday()),
        "{}",
        d.message()
    );
    assert_eq!((a.duration_min, a.reason.as_str()), (30, "New patient"));
}

#[test]
fn double_booking_is_warned_about_and_allowed_when_confirmed_and_shown_plainly() {
    let mut d = desk();
    d.booked("11:00", 30, "check");
    d.w.settle();
    d.book(Msg::Slot(d.osei.clone(), at(monday(), "11:00")));
    d.pick_patient();
    d.book(Msg::At(format!("{} 11:15", monday())));
    d.book(Msg::Save);
    let overlap = d.screen().booking.as_ref().unwrap().overlap.clone();
    assert_eq!(
        overlap.as_deref(),
        Some("Dr Ada Osei already has Haddad, Farid at 11:00 (30 min). Book anyway?")
    );
    assert_eq!(d.appointments().len(), 1, "nothing saved yet");
    assert!(d.shows("Book anyway"));
    d.book(Msg::BookAnyway);
    assert_eq!(d.appointments().len(), 2);
    assert!(d.shows("Overlap"), "the book frames the two");
}

#[test]
fn moving_and_cancelling_from_the_book() {
    let mut d = desk();
    let id = d.booked("09:00", 15, "check");
    d.w.settle();
    d.book(Msg::Select(id.clone()));
    assert!(d.shows("Cancel appointment"));
    d.book(Msg::Move(id.clone()));
    assert_eq!(
        d.screen().booking.as_ref().unwrap().at,
        format!("{} 09:00", monday())
    );
    d.book(Msg::At(format!("{} 14:15", monday() + Duration::days(1))));
    d.book(Msg::Save);
    let a = appointments::get(&d.store.writer(), &id).unwrap();
    assert_eq!(
        a.starts_at,
        format!("{}T14:15", monday() + Duration::days(1)),
        "{}",
        d.message()
    );
    let moved = history::for_patient(&d.store.writer(), &d.admin, &d.patient)
        .unwrap()
        .into_iter()
        .any(|e| {
            e.field == "moved" && e.old_value.ends_with("T09:00") && e.new_value.ends_with("T14:15")
        });
    assert!(moved, "recorded with the old and new times");
    d.book(Msg::Select(id.clone()));
    d.book(Msg::Cancel(id.clone()));
    assert_eq!(
        appointments::get(&d.store.writer(), &id).unwrap().status,
        Status::Cancelled
    );
    assert_eq!(d.message(), "The appointment was cancelled");
}

#[test]
fn working_hours_shape_the_day_and_the_next_free_slot_follows_them() {
    let mut d = desk();
    // Dr Osei works Tuesdays only, 09:00 to 12:00, with a break at 10:00.
    let h = Hours {
        days: [false, true, false, false, false, false, false],
        open: Span::new(
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
        ),
        breaks: vec![Span::new(
            NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(10, 30, 0).unwrap(),
        )],
    };
    hours::set_for(&d.store.writer(), &d.admin, &d.osei, &h).unwrap();
    d.w.settle();
    assert!(
        !d.shows("free"),
        "no free slot on a Monday she does not work"
    );
    d.book(Msg::Next);
    assert!(
        d.shows("free") && d.shows("break"),
        "Tuesday: her hours and her break"
    );
    d.book(Msg::Previous);
    d.book(Msg::Slot(d.osei.clone(), at(monday(), "09:00")));
    d.book(Msg::Minutes("75".into()));
    d.book(Msg::NextFree);
    let b = d.screen().booking.clone().unwrap();
    assert_eq!(
        b.at,
        format!("{} 10:30", monday() + Duration::days(1)),
        "75 minutes do not fit before the break: 10:30 on Tuesday"
    );
    assert_eq!(
        d.screen().date,
        monday() + Duration::days(1),
        "the book shows that day"
    );
    // One clinician, and the week.
    let osei =
        d.w.app
            .staff
            .iter()
            .find(|s| s.id == d.osei)
            .cloned()
            .unwrap();
    d.book(Msg::Whose(Whose::One(osei)));
    d.book(Msg::Week(true));
    assert_eq!(d.screen().span(), (monday(), monday() + Duration::days(6)));
}

#[test]
fn the_book_follows_another_computers_booking_and_keeps_what_is_typed() {
    let mut d = desk();
    d.book(Msg::Slot(d.osei.clone(), at(monday(), "15:00")));
    d.book(Msg::Reason("half typed".into()));
    // Another program (another computer, merged) books the same morning.
    d.booked("08:30", 15, "booked elsewhere");
    d.w.settle();
    assert!(d.shows("08:30 Haddad, Farid"), "shown without a reload");
    assert_eq!(d.screen().date, monday(), "still the same day");
    assert_eq!(d.screen().booking.as_ref().unwrap().reason, "half typed");
}

#[test]
fn a_patients_age_is_shown_beside_the_date_of_birth() {
    let mut d = desk();
    let age = patients::age("1960-05-05", chrono::Local::now().date_naive()).unwrap();
    d.w.send(Message::Go(Route::Patient(d.patient.clone())));
    assert!(
        d.shows(&format!("born 1960-05-05 ({age})")),
        "on the patient's page"
    );
    d.w.send(Message::Go(Route::Patients));
    assert!(
        d.shows(&format!("1960-05-05 ({age})")),
        "in the patient list"
    );
}

/// Two computers over mutual TLS on 127.0.0.1 that book Dr Osei's same slot while apart: once
/// they are connected, both appointments are on both, and both books frame the overlap.
#[test]
fn two_computers_book_one_slot_while_apart_and_both_books_mark_the_overlap() {
    use carebook_tests::{eventually_blocking, exchange, Computer};
    let rt = crate::testing::runtime();
    let (front, laptop) = (Computer::new(), Computer::new());
    // The clinic, made at the front desk and known to the laptop from an earlier sync.
    let (osei, patient, desk) = {
        let db = front.store.writer();
        let sam = staff::add(&db, "Sam Admin", Role::Admin).unwrap();
        let admin = Actor::at_this_device(&db, &sam.id).unwrap();
        let rita = staff::add_by(&db, &admin, "Rita Front", Role::Receptionist).unwrap();
        let osei = staff::add_by(&db, &admin, "Dr Ada Osei", Role::Doctor)
            .unwrap()
            .id;
        let fields = PatientFields {
            given_name: "Farid".into(),
            family_name: "Haddad".into(),
            date_of_birth: "1960-05-05".into(),
            ..Default::default()
        };
        (
            osei,
            patients::create(&db, &admin, &fields).unwrap().id,
            rita.id,
        )
    };
    exchange(&front.store.writer(), &laptop.store.writer());
    // Apart, each books Monday 10:00 with Dr Osei.
    let slot = format!("{}T10:00", monday());
    for (c, reason) in [(&front, "front desk"), (&laptop, "laptop")] {
        let db = c.store.writer();
        let actor = Actor::at_this_device(&db, &desk).unwrap();
        appointments::book(&db, &actor, &patient, &osei, &slot, 15, reason).unwrap();
    }
    // Connected again, over TLS.
    let (front, laptop) = rt.block_on(async {
        let front = front.online("Front desk").await;
        let laptop = laptop.online("Laptop").await;
        front.trust(&laptop, "Laptop").await;
        laptop.trust(&front, "Front desk").await;
        laptop.stay_connected(&front);
        (front, laptop)
    });
    let both = |store: &Store| {
        appointments::overlapping(&store.writer(), &osei, at(monday(), "10:00"), 15, None)
            .unwrap()
            .len()
            == 2
    };
    eventually_blocking("both appointments on both computers", || {
        both(&front.node.store) && both(&laptop.node.store)
    });
    for c in [&front, &laptop] {
        let mut w = Window::new(c.node.store.clone(), None, c.dir.path());
        w.sign_in("Rita Front", PIN);
        w.send(Message::Go(Route::Book));
        w.send(Message::Book(Msg::OpenDay(monday())));
        use iced_test::selector::Candidate;
        let framed = iced_test::simulator(w.app.view())
            .find(|c: Candidate<'_>| match c {
                Candidate::Text {
                    content: "Overlap", ..
                } => Some(()),
                _ => None,
            })
            .is_ok();
        assert!(framed, "the book marks the overlap on every computer");
    }
    drop(rt);
}

#[test]
fn archived_and_merged_away_records_are_found_with_the_filter_and_restored() {
    use crate::screen::{patient, patients as list};
    let mut d = desk();
    let found =
        |d: &Desk| -> Vec<String> { d.w.app.patients.hits.iter().map(|h| h.id.clone()).collect() };
    d.w.send(Message::Go(Route::Patient(d.patient.clone())));
    d.w.send(Message::Patient(patient::Msg::Archive(true)));
    d.w.send(Message::Go(Route::Patients));
    d.w.send(Message::Patients(list::Msg::Query("Haddad".into())));
    assert!(
        found(&d).is_empty(),
        "an archived record is not in the ordinary search"
    );
    d.w.send(Message::Patients(list::Msg::Archived(true)));
    assert_eq!(found(&d), [d.patient.clone()], "the filter finds it");
    assert!(d.shows("open one to restore it"));
    d.w.send(Message::Patients(list::Msg::Open(d.patient.clone())));
    d.w.send(Message::Patient(patient::Msg::Archive(false)));
    d.w.send(Message::Go(Route::Patients));
    assert!(
        found(&d).is_empty(),
        "restored: no longer among the archived"
    );
    d.w.send(Message::Patients(list::Msg::Archived(false)));
    assert_eq!(found(&d), [d.patient.clone()]);
}
