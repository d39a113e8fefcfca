//! Every clinic operation against every role, in the library: allowed or refused with a plain
//! reason, whatever the screens show. Each cell runs on a fresh clinic, so one operation's
//! effects never decide another's.

use carebook_sync::clinic::appointments::{self, Status};
use carebook_sync::clinic::patients::{self, PatientFields};
use carebook_sync::clinic::staff::{self, Role, Roles};
use carebook_sync::clinic::visits::{self, VisitFields};
use carebook_sync::clinic::{access, history, pin, settings, Actor, ClinicError};
use carebook_sync::store::{schema, Store};
use rusqlite::Connection;

/// One clinic with a person of each kind and a record to act on.
struct Clinic {
    _dir: tempfile::TempDir,
    store: Store,
    admin: Actor,
    doctor: Actor,
    people: Vec<(&'static str, Actor)>,
    patient: String,
    other_patient: String,
    draft: String,
    finalised: String,
    appointment: String,
}

fn person(given: &str) -> PatientFields {
    PatientFields {
        given_name: given.into(),
        family_name: "Okafor".into(),
        date_of_birth: "1984-03-27".into(),
        ..Default::default()
    }
}

fn clinic() -> Clinic {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap();
    let db = store.writer();
    let first = staff::add(&db, "Sam Admin", Role::Admin).unwrap();
    let admin = Actor::at_this_device(&db, &first.id).unwrap();
    let mut people = vec![("admin", admin.clone())];
    for (label, roles) in [
        ("receptionist", Roles::from(Role::Receptionist)),
        ("nurse", Role::Nurse.into()),
        ("doctor", Role::Doctor.into()),
        ("doctor+admin", [Role::Doctor, Role::Admin].into()),
    ] {
        let s = staff::add_by(&db, &admin, label, roles).unwrap();
        people.push((label, Actor::at_this_device(&db, &s.id).unwrap()));
    }
    let doctor = people[3].1.clone();
    let p = patients::create(&db, &admin, &person("Chidi")).unwrap().id;
    let q = patients::create(&db, &admin, &person("Chidy")).unwrap().id;
    let draft = visits::start(&db, &doctor, &p, &doctor.staff_id, "2026-12-02").unwrap();
    let note = VisitFields {
        diagnosis: "tension headache".into(),
        ..Default::default()
    };
    visits::save(&db, &doctor, &draft, &note).unwrap();
    let finalised = visits::start(&db, &doctor, &p, &doctor.staff_id, "2026-12-01").unwrap();
    visits::save(&db, &doctor, &finalised, &note).unwrap();
    visits::finalize(&db, &doctor, &finalised).unwrap();
    let appointment = appointments::book(
        &db,
        &admin,
        &p,
        &doctor.staff_id,
        "2026-12-03T09:30",
        15,
        "follow-up",
    )
    .unwrap();
    drop(db);
    Clinic {
        _dir: dir,
        store,
        admin,
        doctor,
        people,
        patient: p,
        other_patient: q,
        draft,
        finalised,
        appointment,
    }
}

type Op = fn(&Connection, &Actor, &Clinic) -> Result<(), ClinicError>;

/// A read that hands back less than everything counts as refused.
fn withheld(yes: bool) -> Result<(), ClinicError> {
    if yes {
        Err(ClinicError::Refused("withheld".into()))
    } else {
        Ok(())
    }
}

const ADMIN: &str = "admin";

/// The operations and who may do them: receptionist, nurse, doctor, admin, doctor+admin.
const TABLE: &[(&str, Op, &str)] =
    &[
        (
            "create a patient",
            |db, a, _| patients::create(db, a, &person("Ana")).map(drop),
            "yyyyy",
        ),
        (
            "edit a patient",
            |db, a, c| patients::update(db, a, &c.patient, &person("Chidi")).map(drop),
            "yyyyy",
        ),
        (
            "archive a patient",
            |db, a, c| patients::set_archived(db, a, &c.patient, true),
            "yyyyy",
        ),
        (
            "merge two patients",
            |db, a, c| patients::merge(db, a, &c.patient, &c.other_patient).map(drop),
            "yyyyy",
        ),
        (
            "book an appointment",
            |db, a, c| {
                appointments::book(
                    db,
                    a,
                    &c.patient,
                    &c.doctor.staff_id,
                    "2026-12-04T10:00",
                    15,
                    "check",
                )
                .map(drop)
            },
            "yyyyy",
        ),
        (
            "check a patient in",
            |db, a, c| appointments::set_status(db, a, &c.appointment, Status::Arrived),
            "yyyyy",
        ),
        (
            "read a visit note",
            |db, a, c| withheld(visits::get(db, a, &c.draft)?.withheld),
            "-yy-y",
        ),
        (
            "read a patient's notes",
            |db, a, c| {
                withheld(
                    visits::for_patient(db, a, &c.patient)?
                        .iter()
                        .any(|v| v.withheld),
                )
            },
            "-yy-y",
        ),
        (
            "read the clinical history",
            |db, a, c| {
                withheld(history::for_patient(db, a, &c.patient)?.iter().any(|e| {
                    e.entity == "visit" && e.field == "diagnosis" && e.new_value.is_empty()
                }))
            },
            "-yy-y",
        ),
        (
            "record reading a note",
            |db, a, c| visits::record_reading(db, a, &c.draft),
            "-yy-y",
        ),
        (
            "open a visit note",
            |db, a, c| visits::start(db, a, &c.patient, &c.doctor.staff_id, "2026-12-02").map(drop),
            "-yy-y",
        ),
        (
            "write a draft",
            |db, a, c| {
                visits::save(
                    db,
                    a,
                    &c.draft,
                    &VisitFields {
                        plan: "rest".into(),
                        ..Default::default()
                    },
                )
                .map(drop)
            },
            "-yy-y",
        ),
        (
            "finalise a note",
            |db, a, c| visits::finalize(db, a, &c.draft),
            "--y-y",
        ),
        (
            "amend a finalised note",
            |db, a, c| visits::amend(db, a, &c.finalised, "revised"),
            "--y-y",
        ),
        (
            "see who looked at a record",
            |db, a, c| access::for_patient(db, a, &c.patient).map(drop),
            "--yyy",
        ),
        (
            "add a person",
            |db, a, _| staff::add_by(db, a, "New Person", Role::Nurse).map(drop),
            "---yy",
        ),
        (
            "change someone's roles",
            |db, a, c| {
                staff::edit(
                    db,
                    a,
                    &c.doctor.staff_id,
                    "Dr Osei",
                    [Role::Doctor, Role::Nurse].into(),
                )
                .map(drop)
            },
            "---yy",
        ),
        (
            "deactivate someone",
            |db, a, c| staff::set_active(db, a, &c.doctor.staff_id, false),
            "---yy",
        ),
        (
            "reset a PIN",
            |db, a, c| pin::reset(db, a, &c.doctor.staff_id),
            "---yy",
        ),
        (
            "review emergency accesses",
            |db, a, _| access::emergencies(db, a).map(drop),
            "---yy",
        ),
        (
            "export the access log",
            |db, a, _| access::export_csv(db, a).map(drop),
            "---yy",
        ),
        (
            "pair or remove computers",
            |db, a, _| access::require(db, a, access::Permission::Computers),
            "---yy",
        ),
        (
            "make or restore backups",
            |db, a, _| access::require(db, a, access::Permission::Backups),
            "---yy",
        ),
        (
            "change the clinic's idle lock",
            |db, a, _| settings::set_idle_lock_minutes(db, a, 10),
            "---yy",
        ),
    ];

#[test]
fn every_operation_against_every_role() {
    let order = ["receptionist", "nurse", "doctor", ADMIN, "doctor+admin"];
    let mut wrong = Vec::new();
    for (what, op, allowed) in TABLE {
        for (i, role) in order.iter().enumerate() {
            let c = clinic();
            let actor = &c.people.iter().find(|(l, _)| l == role).unwrap().1;
            let db = c.store.writer();
            let expect = allowed.as_bytes()[i] == b'y';
            match (op(&db, actor, &c), expect) {
                (Ok(()), true) => {}
                (Err(ClinicError::Refused(why)), false) => {
                    assert!(
                        why == "withheld" || why.starts_with("only "),
                        "{what} as {role}: the refusal says who may: {why}"
                    );
                }
                (got, _) => wrong.push(format!(
                    "{what} as {role}: expected {}, got {got:?}",
                    if expect { "allowed" } else { "refused" }
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_deactivated_person_can_do_nothing_and_the_last_admin_stays() {
    let c = clinic();
    let db = c.store.writer();
    staff::set_active(&db, &c.admin, &c.doctor.staff_id, false).unwrap();
    let err = patients::create(&db, &c.doctor, &person("Ana")).unwrap_err();
    assert!(err.to_string().contains("deactivated"), "{err}");
    assert!(!staff::list(&db)
        .unwrap()
        .iter()
        .any(|s| s.id == c.doctor.staff_id));
    assert!(staff::everyone(&db)
        .unwrap()
        .iter()
        .any(|s| s.id == c.doctor.staff_id && !s.active));
    staff::set_active(&db, &c.admin, &c.doctor.staff_id, true).unwrap();
    patients::create(&db, &c.doctor, &person("Ana")).unwrap();
    // Two administrators: one may go; the last one may not.
    let both = &c.people[4].1;
    staff::set_active(&db, &c.admin, &both.staff_id, false).unwrap();
    let err = staff::set_active(&db, &c.admin, &c.admin.staff_id, false).unwrap_err();
    assert!(
        err.to_string()
            .contains("at least one active administrator"),
        "{err}"
    );
    assert!(
        db.execute("DELETE FROM staff", []).is_err(),
        "never deleted"
    );
    // With an administrator, nobody may add themselves through the first-run door.
    assert!(staff::add(&db, "Walk-in", Role::Admin).is_err());
}

#[test]
fn emergency_access_opens_the_notes_and_is_recorded_for_review() {
    let c = clinic();
    let db = c.store.writer();
    let desk = &c.people[1].1;
    assert!(visits::get(&db, desk, &c.draft).unwrap().withheld);
    assert!(
        access::emergency(&db, desk, &c.patient, "").is_err(),
        "a reason is needed"
    );
    access::emergency(
        &db,
        desk,
        &c.patient,
        "patient collapsed at the desk, ambulance asks for allergies",
    )
    .unwrap();
    let v = visits::get(&db, desk, &c.draft).unwrap();
    assert!(!v.withheld && v.fields.diagnosis == "tension headache");
    assert!(visits::get(&db, desk, &c.draft).is_ok());
    let review = access::emergencies(&db, &c.admin).unwrap();
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].staff_name, "receptionist");
    assert!(review[0].detail.contains("ambulance"));
    let log = access::for_patient(&db, &c.doctor, &c.patient).unwrap();
    assert!(log.iter().any(|e| e.action == "emergency access"));
    assert!(
        db.execute("UPDATE access_log SET detail = ''", []).is_err(),
        "the log is append-only"
    );
    assert!(db.execute("DELETE FROM access_log", []).is_err());
}

#[test]
fn pins_are_hashed_wrong_ones_slow_down_and_resets_are_recorded() {
    let c = clinic();
    let db = c.store.writer();
    let id = &c.doctor.staff_id;
    assert_eq!(
        pin::sign_in(&db, id, "123456", 1_000).unwrap(),
        pin::SignIn::NeedsPin
    );
    assert!(pin::set_first(&db, id, "123").is_err(), "too short");
    pin::set_first(&db, id, "402917").unwrap();
    let stored: String = db
        .query_row(
            "SELECT hash FROM credentials WHERE staff_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$") && !stored.contains("402917"),
        "{stored}"
    );
    assert!(
        matches!(pin::sign_in(&db, id, "402917", 1_000).unwrap(), pin::SignIn::Welcome(a) if a.staff_id == *id)
    );
    // Wrong tries: the first two at once, then each waits twice as long.
    let mut t = 2_000;
    let mut waits = Vec::new();
    for _ in 0..4 {
        match pin::sign_in(&db, id, "000000", t).unwrap() {
            pin::SignIn::Wrong { wait_secs } => waits.push(wait_secs),
            other => panic!("{other:?}"),
        }
        t += *waits.last().unwrap();
    }
    assert_eq!(waits, vec![0, 2, 4, 8]);
    assert_eq!(
        pin::sign_in(&db, id, "402917", t - 1).unwrap(),
        pin::SignIn::Wait { secs: 1 },
        "even the right PIN waits"
    );
    assert!(matches!(
        pin::sign_in(&db, id, "402917", t).unwrap(),
        pin::SignIn::Welcome(_)
    ));
    let wrong: i64 = db
        .query_row(
            "SELECT count(*) FROM access_log WHERE action = 'wrong PIN' AND subject = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(wrong, 4, "wrong PINs are recorded");
    // An administrator's reset: the person sets a new PIN at the next sign-in.
    pin::reset(&db, &c.admin, id).unwrap();
    assert_eq!(
        pin::sign_in(&db, id, "402917", t).unwrap(),
        pin::SignIn::NeedsPin
    );
    let resets: i64 = db
        .query_row(
            "SELECT count(*) FROM access_log WHERE action = 'PIN reset'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(resets, 1);
}

#[test]
fn the_idle_lock_is_the_clinics_kept_in_range_and_recorded() {
    let c = clinic();
    let db = c.store.writer();
    assert_eq!(
        settings::idle_lock_minutes(&db).unwrap(),
        settings::DEFAULT_IDLE_MINUTES
    );
    settings::set_idle_lock_minutes(&db, &c.admin, 12).unwrap();
    assert_eq!(settings::idle_lock_minutes(&db).unwrap(), 12);
    for bad in [0, 61] {
        let err = settings::set_idle_lock_minutes(&db, &c.admin, bad).unwrap_err();
        assert!(err.to_string().contains("between 1 and 60"), "{err}");
    }
    assert_eq!(
        settings::idle_lock_minutes(&db).unwrap(),
        12,
        "refused values change nothing"
    );
    let log = access::export_csv(&db, &c.admin).unwrap();
    assert!(
        log.contains("setting changed,,idle_lock_minutes,12"),
        "{log}"
    );
    // A value that arrives from elsewhere out of range (an older or hostile computer) cannot
    // switch the lock off: it reads as the nearest allowed value.
    for (stored, read) in [("0", 1), ("-5", 1), ("100000", 60), ("soon", 5)] {
        db.execute(
            "UPDATE settings SET value = ?1 WHERE key = 'idle_lock_minutes'",
            [stored],
        )
        .unwrap();
        assert_eq!(settings::idle_lock_minutes(&db).unwrap(), read, "{stored}");
    }
}

/// A clinic operation takes the write lock when it begins: another program's write in the
/// middle (the app or `serve`, while `carebook staff ...` runs) waits for it, instead of the
/// operation's own write being refused afterwards ("database is locked").
#[test]
fn a_clinic_operation_holds_the_write_lock_from_its_start() {
    let c = clinic();
    let db = c.store.writer();
    let other = rusqlite::Connection::open(c._dir.path().join("carebook.db")).unwrap();
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    let op = carebook_sync::clinic::Atomic::begin(&db).unwrap();
    let err = other
        .execute(
            "INSERT INTO local_settings(key, value) VALUES ('x', 'y')",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("locked"), "{err}");
    op.commit().unwrap();
    other
        .execute(
            "INSERT INTO local_settings(key, value) VALUES ('x', 'y')",
            [],
        )
        .unwrap();
}
