//! The appointment book in the library: overlaps found (and two computers booking one slot
//! while apart both keep theirs, the overlap plain on both), moving recorded with the old and
//! new times, opening and working hours with breaks, the next free slot, the appointment types,
//! and a patient's age.

use carebook_sync::clinic::appointments::{self, Status};
use carebook_sync::clinic::hours::{self, Hours, Kind, Span};
use carebook_sync::clinic::patients::{self, PatientFields};
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::clinic::{history, Actor, ClinicError};
use carebook_tests::{exchange, Computer};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
}

fn t(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap()
}

/// A clinic with an administrator, a receptionist, two doctors and a patient.
struct Clinic {
    c: Computer,
    admin: Actor,
    desk: Actor,
    osei: String,
    reyes: String,
    patient: String,
}

fn clinic() -> Clinic {
    let c = Computer::new();
    let db = c.store.writer();
    let sam = staff::add(&db, "Sam Admin", Role::Admin).unwrap();
    let admin = Actor::at_this_device(&db, &sam.id).unwrap();
    let rita = staff::add_by(&db, &admin, "Rita Front", Role::Receptionist).unwrap();
    let osei = staff::add_by(&db, &admin, "Dr Ada Osei", Role::Doctor)
        .unwrap()
        .id;
    let reyes = staff::add_by(&db, &admin, "Dr Tomás Reyes", Role::Doctor)
        .unwrap()
        .id;
    let desk = Actor::at_this_device(&db, &rita.id).unwrap();
    let fields = PatientFields {
        given_name: "Chidi".into(),
        family_name: "Okafor".into(),
        date_of_birth: "1984-03-27".into(),
        ..Default::default()
    };
    let patient = patients::create(&db, &desk, &fields).unwrap().id;
    drop(db);
    Clinic {
        c,
        admin,
        desk,
        osei,
        reyes,
        patient,
    }
}

#[test]
fn overlaps_are_found_and_moves_are_recorded_with_old_and_new_times() {
    let k = clinic();
    let db = k.c.store.writer();
    let book = |start: &str, minutes: i64| {
        appointments::book(&db, &k.desk, &k.patient, &k.osei, start, minutes, "check").unwrap()
    };
    let first = book("2026-12-07T09:00", 30);
    let overlapping = |start: &str, minutes: i64, except: Option<&str>| {
        appointments::overlapping(&db, &k.osei, at(start), minutes, except)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        overlapping("2026-12-07T09:15", 15, None),
        std::slice::from_ref(&first)
    );
    assert_eq!(
        overlapping("2026-12-07T08:45", 30, None),
        std::slice::from_ref(&first)
    );
    assert!(
        overlapping("2026-12-07T09:30", 15, None).is_empty(),
        "back to back is fine"
    );
    assert!(overlapping("2026-12-07T08:45", 15, None).is_empty());
    assert!(
        overlapping("2026-12-07T09:00", 30, Some(&first)).is_empty(),
        "itself, moving"
    );
    assert!(
        appointments::overlapping(&db, &k.reyes, at("2026-12-07T09:00"), 30, None)
            .unwrap()
            .is_empty(),
        "another clinician's time"
    );
    // Booking over it is allowed (the screen warns first); a cancelled one takes no time.
    let second = book("2026-12-07T09:15", 15);
    assert_eq!(
        overlapping("2026-12-07T09:20", 5, None),
        [first.clone(), second.clone()]
    );
    appointments::set_status(&db, &k.desk, &second, Status::Cancelled).unwrap();
    assert_eq!(
        overlapping("2026-12-07T09:20", 5, None),
        std::slice::from_ref(&first)
    );
    let err =
        appointments::reschedule(&db, &k.desk, &second, "2026-12-08T10:00", &k.osei).unwrap_err();
    assert!(err.to_string().contains("book a new one"), "{err}");

    // Moved to another day and doctor: both recorded, old and new.
    appointments::reschedule(&db, &k.desk, &first, "2026-12-08T11:00", &k.reyes).unwrap();
    let a = appointments::get(&db, &first).unwrap();
    assert_eq!(
        (a.starts_at.as_str(), a.clinician_id.as_str()),
        ("2026-12-08T11:00", k.reyes.as_str())
    );
    let h = history::for_patient(&db, &k.desk, &k.patient).unwrap();
    let moved: Vec<(&str, &str, &str)> = h
        .iter()
        .filter(|e| e.entity == "appointment" && (e.field == "moved" || e.field == "clinician"))
        .map(|e| (e.field.as_str(), e.old_value.as_str(), e.new_value.as_str()))
        .collect();
    assert!(
        moved.contains(&("moved", "2026-12-07T09:00", "2026-12-08T11:00")),
        "{moved:?}"
    );
    assert!(
        moved.contains(&("clinician", "Dr Ada Osei", "Dr Tomás Reyes")),
        "{moved:?}"
    );
    let err = appointments::reschedule(&db, &k.desk, &first, "next week", &k.reyes).unwrap_err();
    assert!(matches!(err, ClinicError::Invalid(_)), "{err}");
    // The week's appointments, in order.
    let week = appointments::range(
        &db,
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 13).unwrap(),
    )
    .unwrap();
    assert_eq!(
        week.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        [second, first]
    );
}

#[test]
fn two_computers_booking_one_slot_while_apart_both_keep_theirs_and_both_see_the_overlap() {
    let k = clinic();
    let laptop = Computer::new();
    exchange(&k.c.store.writer(), &laptop.store.writer());
    // Apart: each books Dr Osei at 10:00 on Monday.
    let here = appointments::book(
        &k.c.store.writer(),
        &k.desk,
        &k.patient,
        &k.osei,
        "2026-12-07T10:00",
        15,
        "here",
    )
    .unwrap();
    let there = {
        let db = laptop.store.writer();
        let desk = Actor::at_this_device(&db, &k.desk.staff_id).unwrap();
        appointments::book(
            &db,
            &desk,
            &k.patient,
            &k.osei,
            "2026-12-07T10:00",
            15,
            "there",
        )
        .unwrap()
    };
    exchange(&k.c.store.writer(), &laptop.store.writer());
    exchange(&laptop.store.writer(), &k.c.store.writer());
    for computer in [&k.c, &laptop] {
        let db = computer.store.writer();
        let mut found: Vec<String> =
            appointments::overlapping(&db, &k.osei, at("2026-12-07T10:00"), 15, None)
                .unwrap()
                .into_iter()
                .map(|a| a.id)
                .collect();
        found.sort();
        let mut both = vec![here.clone(), there.clone()];
        both.sort();
        assert_eq!(found, both, "neither is dropped, on either computer");
    }
}

#[test]
fn working_hours_breaks_and_the_next_free_slot() {
    let k = clinic();
    let db = k.c.store.writer();
    // Until set: Monday to Friday, 08:00 to 18:00, for the clinic and everyone.
    assert_eq!(hours::clinic(&db).unwrap(), Hours::default());
    assert_eq!(hours::of(&db, &k.osei).unwrap(), Hours::default());
    // Dr Osei works Monday, Tuesday and Thursday, 09:00 to 13:00, with a break at 11:00.
    let osei = Hours {
        days: [true, true, false, true, false, false, false],
        open: Span::new(t("09:00"), t("13:00")),
        breaks: vec![Span::new(t("11:00"), t("11:30"))],
    };
    let err = hours::set_for(&db, &k.desk, &k.osei, &osei).unwrap_err();
    assert!(err.to_string().starts_with("only administrators"), "{err}");
    hours::set_for(&db, &k.admin, &k.osei, &osei).unwrap();
    assert_eq!(hours::of(&db, &k.osei).unwrap(), osei);
    let bad = Hours {
        breaks: vec![Span::new(t("08:00"), t("09:30"))],
        ..osei.clone()
    };
    let err = hours::set_for(&db, &k.admin, &k.osei, &bad).unwrap_err();
    assert!(err.to_string().contains("within the day"), "{err}");
    assert!(
        osei.covers(at("2026-12-07T10:30"), 30),
        "Monday 10:30-11:00"
    );
    assert!(
        !osei.covers(at("2026-12-07T10:45"), 30),
        "runs into the break"
    );
    assert!(
        !osei.covers(at("2026-12-07T12:45"), 30),
        "past the end of the day"
    );
    assert!(
        !osei.covers(at("2026-12-09T10:00"), 15),
        "not on Wednesdays"
    );

    // The next free slot: Monday 10:30 is taken, the break follows, so 11:30.
    let desk_book = |who: &str, start: &str, minutes: i64| {
        appointments::book(&db, &k.desk, &k.patient, who, start, minutes, "check").unwrap()
    };
    desk_book(&k.osei, "2026-12-07T09:00", 90);
    desk_book(&k.osei, "2026-12-07T10:30", 30);
    let free = |who: &[String], after: &str, minutes: i64| {
        appointments::next_free(&db, who, at(after), minutes, 14).unwrap()
    };
    assert_eq!(
        free(std::slice::from_ref(&k.osei), "2026-12-07T08:10", 30),
        Some((k.osei.clone(), at("2026-12-07T11:30")))
    );
    // After Monday's hours: Tuesday 09:00 (Wednesday is not hers).
    assert_eq!(
        free(std::slice::from_ref(&k.osei), "2026-12-07T12:50", 30),
        Some((k.osei.clone(), at("2026-12-08T09:00")))
    );
    // Any clinician: Dr Reyes (the clinic's hours) is free at 08:15 (rounded up).
    assert_eq!(
        free(&[k.osei.clone(), k.reyes.clone()], "2026-12-07T08:10", 30),
        Some((k.reyes.clone(), at("2026-12-07T08:15")))
    );
    // The clinic closed on Saturday: nothing that day, Monday's opening instead.
    assert_eq!(
        free(std::slice::from_ref(&k.reyes), "2026-12-12T09:00", 15),
        Some((k.reyes.clone(), at("2026-12-14T08:00")))
    );
}

#[test]
fn appointment_types_have_usual_durations_set_by_administrators() {
    let k = clinic();
    let db = k.c.store.writer();
    let names = |db: &rusqlite::Connection| {
        hours::kinds(db)
            .unwrap()
            .into_iter()
            .map(|k| (k.name, k.minutes))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&db),
        [("New patient".into(), 30), ("Follow-up".into(), 15)]
    );
    let kinds = [
        Kind {
            name: "Vaccination".into(),
            minutes: 10,
        },
        Kind {
            name: "Long consult".into(),
            minutes: 45,
        },
    ];
    assert!(hours::set_kinds(&db, &k.desk, &kinds).is_err());
    hours::set_kinds(&db, &k.admin, &kinds).unwrap();
    assert_eq!(
        names(&db),
        [("Vaccination".into(), 10), ("Long consult".into(), 45)]
    );
    let bad = [Kind {
        name: "x=y".into(),
        minutes: 10,
    }];
    assert!(hours::set_kinds(&db, &k.admin, &bad).is_err());
    // An unreadable value from elsewhere reads as the defaults.
    db.execute(
        "UPDATE settings SET value = 'garbage' WHERE key = 'appointment_types'",
        [],
    )
    .unwrap();
    assert_eq!(names(&db).len(), 2);
}

#[test]
fn ages_are_years_or_months_under_two() {
    let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let cases = [
        ("1984-03-27", Some("42 years")),
        ("1984-12-02", Some("42 years")),
        ("1984-12-03", Some("41 years")),
        ("2024-12-02", Some("2 years")),
        ("2024-12-03", Some("23 months")),
        ("2026-11-01", Some("1 month")),
        ("2026-11-20", Some("0 months")),
        ("2027-01-01", None),
        ("not a date", None),
        ("", None),
    ];
    for (dob, want) in cases {
        assert_eq!(patients::age(dob, today).as_deref(), want, "{dob}");
    }
}
