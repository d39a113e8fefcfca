//! The clinic's records on real database files: validation, chart numbers, search, history,
//! duplicates and merges, the front desk's statuses, visit notes that lock, and records that
//! arrive from another computer.

use carebook_sync::clinic::appointments::{self, Status};
use carebook_sync::clinic::patients::{self, PatientFields};
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::clinic::{chart, history, search, visits, Actor, ClinicError};
use carebook_sync::store::{schema, Store};

struct Desk {
    _dir: tempfile::TempDir,
    store: Store,
    actor: Actor,
    doctor: String,
}

fn desk() -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("clinic.db"), schema::CLINIC).unwrap();
    let (actor, doctor) = {
        let db = store.writer();
        // The front desk, who also sees patients (a small clinic).
        let me = staff::add(&db, "Rita Front", [Role::Receptionist, Role::Doctor]).unwrap();
        let doc = staff::add(&db, "Dr Ada Osei", Role::Doctor).unwrap();
        (Actor::at_this_device(&db, &me.id).unwrap(), doc.id)
    };
    Desk {
        _dir: dir,
        store,
        actor,
        doctor,
    }
}

fn person(given: &str, family: &str, dob: &str) -> PatientFields {
    PatientFields {
        given_name: given.into(),
        family_name: family.into(),
        date_of_birth: dob.into(),
        phone: "+1 (555) 123-4567".into(),
        ..PatientFields::default()
    }
}

fn count(d: &Desk, table: &str) -> i64 {
    d.store
        .writer()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn invalid_fields_are_refused_with_messages_and_nothing_is_written() {
    let d = desk();
    let db = d.store.writer();
    let mut f = person("Zoë", "", "2999-01-01");
    f.email = "not an email".into();
    f.phone = "call me".into();
    f.sex = "Q".into();
    let Err(ClinicError::Invalid(problems)) = patients::create(&db, &d.actor, &f) else {
        panic!("expected validation errors");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        ["family_name", "date_of_birth", "sex", "phone", "email"]
    );
    assert!(
        problems.iter().all(|p| !p.message.contains("Zoë")),
        "no patient data in messages"
    );
    drop(db);
    assert_eq!(count(&d, "patients"), 0);
    assert_eq!(count(&d, "history"), 0);
}

#[test]
fn patients_get_valid_chart_numbers_and_edits_are_in_history() {
    let d = desk();
    let db = d.store.writer();
    let a = patients::create(&db, &d.actor, &person("Zoë", "Okafor", "1984-03-27")).unwrap();
    let b = patients::create(&db, &d.actor, &person("Kenji", "Tanaka", "1990-12-01")).unwrap();
    assert!(chart::is_valid(&a.chart_no) && chart::is_valid(&b.chart_no));
    assert_ne!(a.chart_no, b.chart_no);
    assert!(a
        .chart_no
        .ends_with(&format!("-000001-{}", &a.chart_no[12..])));
    let mut f = a.fields.clone();
    f.phone = "+1 555 000 1111".into();
    f.allergies = "penicillin".into();
    let edited = patients::update(&db, &d.actor, &a.id, &f).unwrap();
    assert_eq!(edited.fields.allergies, "penicillin");
    let h = history::for_patient(&db, &d.actor, &a.id).unwrap();
    let changes: Vec<(&str, &str, &str)> = h
        .iter()
        .map(|e| (e.field.as_str(), e.old_value.as_str(), e.new_value.as_str()))
        .collect();
    assert!(changes.contains(&("allergies", "", "penicillin")));
    assert!(changes.contains(&("phone", "+1 (555) 123-4567", "+1 555 000 1111")));
    assert!(h
        .iter()
        .all(|e| e.staff_name == "Rita Front" && e.device_id == d.actor.device_id));
    // Saving without changes adds nothing.
    let before = h.len();
    patients::update(&db, &d.actor, &a.id, &f).unwrap();
    assert_eq!(
        history::for_patient(&db, &d.actor, &a.id).unwrap().len(),
        before
    );
    // History cannot be edited or deleted, even from SQL.
    for sql in ["UPDATE history SET new_value = 'x'", "DELETE FROM history"] {
        let err = db.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("history cannot be"), "{err}");
    }
}

#[test]
fn search_finds_by_name_prefix_accents_chart_phone_birth_date_and_inside_words() {
    let d = desk();
    let db = d.store.writer();
    let zoe = patients::create(&db, &d.actor, &person("Zoë", "Dubois", "1984-03-27")).unwrap();
    let mut other = person("Kenji", "Tanaka", "1990-12-01");
    other.phone = "020 7946 0958".into();
    let kenji = patients::create(&db, &d.actor, &other).unwrap();
    let gone = patients::create(&db, &d.actor, &person("Zora", "Dunn", "1970-01-01")).unwrap();
    patients::set_archived(&db, &d.actor, &gone.id, true).unwrap();
    let ids = |q: &str| -> Vec<String> {
        search::search(&db, q, 20)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    };
    assert_eq!(
        ids("zo"),
        vec![zoe.id.clone()],
        "prefix, accent folded, archived left out"
    );
    assert_eq!(ids("dub zoe"), vec![zoe.id.clone()]);
    assert_eq!(ids(&zoe.chart_no), vec![zoe.id.clone()]);
    assert_eq!(ids("(020) 7946-0958"), vec![kenji.id.clone()]);
    assert_eq!(ids("1990-12"), vec![kenji.id.clone()]);
    assert_eq!(ids("ubois"), vec![zoe.id.clone()], "inside a word");
    assert!(ids("nobody").is_empty());
    assert_eq!(ids("").len(), 2, "an empty query lists recent patients");
    patients::set_archived(&db, &d.actor, &gone.id, false).unwrap();
    assert_eq!(ids("zo").len(), 2, "restored from the archive");
}

#[test]
fn duplicates_are_flagged_and_a_merge_can_be_undone() {
    let d = desk();
    let db = d.store.writer();
    let keep = patients::create(&db, &d.actor, &person("Jonathan", "Smith", "1975-06-15")).unwrap();
    let dup = patients::create(&db, &d.actor, &person("Jon", "Smyth", "1975-06-15")).unwrap();
    patients::create(&db, &d.actor, &person("Jon", "Smyth", "1976-06-15")).unwrap();
    let flagged =
        patients::possible_duplicates(&db, &person("Jonathon", "Smith", "1975-06-15"), None)
            .unwrap();
    let mut flagged_ids: Vec<String> = flagged.into_iter().map(|p| p.id).collect();
    flagged_ids.sort();
    let mut want = vec![keep.id.clone(), dup.id.clone()];
    want.sort();
    assert_eq!(
        flagged_ids, want,
        "same birth date and a similar name; another birth date is not"
    );
    let appt = appointments::book(
        &db,
        &d.actor,
        &dup.id,
        &d.doctor,
        "2026-11-23T09:30",
        15,
        "check-up",
    )
    .unwrap();
    let visit = visits::start(&db, &d.actor, &dup.id, &d.doctor, "2026-11-20").unwrap();
    visits::save(
        &db,
        &d.actor,
        &visit,
        &visits::VisitFields {
            complaint: "cough".into(),
            ..Default::default()
        },
    )
    .unwrap();
    visits::finalize(&db, &d.actor, &visit).unwrap();

    let merge = patients::merge(&db, &d.actor, &keep.id, &dup.id).unwrap();
    assert_eq!(appointments::get(&db, &appt).unwrap().patient_id, keep.id);
    assert_eq!(
        visits::get(&db, &d.actor, &visit).unwrap().patient_id,
        keep.id
    );
    let absorbed = patients::get(&db, &dup.id).unwrap();
    assert!(absorbed.archived && absorbed.merged_into == keep.id);
    assert_eq!(
        patients::merge_of(&db, &dup.id).unwrap(),
        Some(merge.clone())
    );

    patients::undo_merge(&db, &d.actor, &merge).unwrap();
    assert_eq!(appointments::get(&db, &appt).unwrap().patient_id, dup.id);
    assert_eq!(
        visits::get(&db, &d.actor, &visit).unwrap().patient_id,
        dup.id
    );
    let back = patients::get(&db, &dup.id).unwrap();
    assert!(!back.archived && back.merged_into.is_empty());
    assert!(
        patients::undo_merge(&db, &d.actor, &merge).is_err(),
        "undone once only"
    );
    let fields: Vec<String> = history::for_patient(&db, &d.actor, &keep.id)
        .unwrap()
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert!(fields.contains(&"merged".to_string()) && fields.contains(&"merge undone".to_string()));
}

#[test]
fn the_front_desk_moves_appointments_through_their_statuses() {
    let d = desk();
    let db = d.store.writer();
    let p = patients::create(&db, &d.actor, &person("Amina", "Haddad", "2001-02-03")).unwrap();
    let late = appointments::book(
        &db,
        &d.actor,
        &p.id,
        &d.doctor,
        "2026-11-23T11:00",
        20,
        "follow-up",
    )
    .unwrap();
    let early = appointments::book(
        &db,
        &d.actor,
        &p.id,
        &d.doctor,
        "2026-11-23T09:00",
        15,
        "bloods",
    )
    .unwrap();
    appointments::book(
        &db,
        &d.actor,
        &p.id,
        &d.doctor,
        "2026-11-24T09:00",
        15,
        "other day",
    )
    .unwrap();
    let day = appointments::day(&db, "2026-11-23").unwrap();
    assert_eq!(
        day.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [early.as_str(), late.as_str()]
    );
    assert_eq!(day[0].clinician_name, "Dr Ada Osei");
    assert_eq!(day[0].patient_name, "Haddad, Amina");

    let err = appointments::set_status(&db, &d.actor, &early, Status::Seen).unwrap_err();
    assert!(
        err.to_string().contains("booked cannot become seen"),
        "{err}"
    );
    for s in [Status::Arrived, Status::InRoom, Status::Seen] {
        appointments::set_status(&db, &d.actor, &early, s).unwrap();
    }
    appointments::set_status(&db, &d.actor, &late, Status::Arrived).unwrap();
    let a = appointments::get(&db, &late).unwrap();
    assert_eq!(a.waiting_minutes(a.status_at + 17 * 60), Some(17));
    assert_eq!(appointments::get(&db, &early).unwrap().status, Status::Seen);
    assert!(appointments::book(&db, &d.actor, &p.id, &d.doctor, "tomorrow", 15, "").is_err());
}

#[test]
fn finalised_notes_are_locked_and_amended() {
    let d = desk();
    let db = d.store.writer();
    let p = patients::create(&db, &d.actor, &person("Farid", "Haddad", "1960-05-05")).unwrap();
    let v = visits::start(&db, &d.actor, &p.id, &d.doctor, "2026-11-22").unwrap();
    assert!(
        visits::finalize(&db, &d.actor, &v).is_err(),
        "an empty note is not finalised"
    );
    let mut f = visits::VisitFields {
        complaint: "headache".into(),
        diagnosis: "tension headache".into(),
        ..Default::default()
    };
    visits::save(&db, &d.actor, &v, &f).unwrap();
    assert!(
        visits::amend(&db, &d.actor, &v, "too early").is_err(),
        "drafts are edited, not amended"
    );
    visits::finalize(&db, &d.actor, &v).unwrap();
    f.diagnosis = "migraine".into();
    let err = visits::save(&db, &d.actor, &v, &f).unwrap_err().to_string();
    assert!(err.contains("finalised"), "{err}");
    let err = db
        .execute("UPDATE visits SET diagnosis = 'x' WHERE id = ?1", [&v])
        .unwrap_err()
        .to_string();
    assert!(err.contains("finalised"), "even from SQL: {err}");
    assert!(
        db.execute("DELETE FROM visits", []).is_err(),
        "visits are never deleted"
    );
    visits::amend(
        &db,
        &d.actor,
        &v,
        "Diagnosis revised to migraine after follow-up call",
    )
    .unwrap();
    let visit = visits::get(&db, &d.actor, &v).unwrap();
    assert_eq!(
        visit.fields.diagnosis, "tension headache",
        "the note itself is unchanged"
    );
    assert_eq!(visit.amendments.len(), 1);
    assert_eq!(visit.amendments[0].staff_name, "Rita Front");
    assert_eq!(visits::for_patient(&db, &d.actor, &p.id).unwrap().len(), 1);
}

/// Edits made on another computer merge even into a locked note's visit row (the lock refuses
/// local edits only, or the copies would drift apart) without changing the finalised text: they
/// are shown as late edits, and their history shows the other computer.
#[test]
fn records_from_another_computer_merge_past_local_locks_with_their_history() {
    let a = desk();
    let b = desk();
    let (patient, visit) = {
        let db = a.store.writer();
        let p = patients::create(&db, &a.actor, &person("Ines", "Silva", "1988-08-08")).unwrap();
        let v = visits::start(&db, &a.actor, &p.id, &a.doctor, "2026-11-22").unwrap();
        visits::save(
            &db,
            &a.actor,
            &v,
            &visits::VisitFields {
                complaint: "rash".into(),
                ..Default::default()
            },
        )
        .unwrap();
        (p, v)
    };
    let exchange = |from: &Desk, to: &Desk| {
        carebook_tests::exchange(&from.store.writer(), &to.store.writer());
    };
    exchange(&a, &b);
    // B edits the draft while A, offline, finalises it.
    visits::save(
        &b.store.writer(),
        &b.actor,
        &visit,
        &visits::VisitFields {
            complaint: "rash".into(),
            findings: "eczema on both hands".into(),
            ..Default::default()
        },
    )
    .unwrap();
    visits::finalize(&a.store.writer(), &a.actor, &visit).unwrap();
    exchange(&b, &a);
    exchange(&a, &b);
    let va = visits::get(&a.store.writer(), &a.actor, &visit).unwrap();
    let vb = visits::get(&b.store.writer(), &b.actor, &visit).unwrap();
    assert_eq!(va, vb, "both computers hold the same note");
    assert!(
        va.is_final() && va.fields.findings.is_empty(),
        "the note as finalised"
    );
    assert_eq!(
        va.late_edits,
        vec![("findings", "eczema on both hands".to_string())],
        "the edit made before the lock arrived is shown beside it"
    );
    let held: i64 = a
        .store
        .writer()
        .query_row("SELECT count(*) FROM crr_quarantine", [], |r| r.get(0))
        .unwrap();
    assert_eq!(held, 0);
    let devices: Vec<String> = history::for_patient(&a.store.writer(), &a.actor, &patient.id)
        .unwrap()
        .into_iter()
        .map(|e| e.device_id)
        .collect();
    assert!(
        devices.contains(&b.actor.device_id),
        "B's edit is in A's history"
    );
    assert!(devices.contains(&a.actor.device_id));
    assert_eq!(
        search::search(&b.store.writer(), "silva", 5).unwrap().len(),
        1,
        "B's search index has the merged patient"
    );
}

/// Patients that arrive from another computer are found by search, whether a whole batch
/// merged them (the index is brought up to date once, at the end of the batch) or single
/// changes did; a rename found under its new name and no longer under the old one.
#[test]
fn merged_patients_and_renames_are_found_by_search_under_their_current_names() {
    let a = desk();
    let b = desk();
    let find = |d: &Desk, q: &str| -> Vec<String> {
        search::search(&d.store.writer(), q, 10)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    };
    let (ines, kwame) = {
        let db = a.store.writer();
        let i = patients::create(&db, &a.actor, &person("Ines", "Silva", "1988-08-08")).unwrap();
        let k = patients::create(&db, &a.actor, &person("Kwame", "Mensah", "1990-02-03")).unwrap();
        (i.id, k.id)
    };
    carebook_tests::exchange(&a.store.writer(), &b.store.writer());
    assert_eq!(find(&b, "silva"), vec![ines.clone()]);
    assert_eq!(find(&b, "ensa"), vec![kwame.clone()], "inside a word");
    assert_eq!(find(&b, "1990-02"), vec![kwame.clone()], "by date of birth");

    let since = carebook_sync::store::db_version(&a.store.writer()).unwrap();
    let renamed = PatientFields {
        phone: "+44 20 7946 0018".into(),
        ..person("Ines", "Okonkwo", "1988-08-08")
    };
    patients::update(&a.store.writer(), &a.actor, &ines, &renamed).unwrap();
    let batch = carebook_tests::export(&a.store.writer(), since);
    carebook_tests::merge_batch(&b.store.writer(), &batch);
    assert_eq!(find(&b, "okonkwo"), vec![ines.clone()], "the new name");
    assert!(find(&b, "silva").is_empty(), "the old name is gone");
    assert_eq!(find(&b, "442079"), vec![ines.clone()], "the new phone");
    assert!(find(&b, "1555123").contains(&kwame) && !find(&b, "1555123").contains(&ines));
    assert_eq!(count(&b, "search_pending"), 0, "nothing left to index");

    // Single merged changes (not a batch) keep the index up to date row by row.
    let since = carebook_sync::store::db_version(&a.store.writer()).unwrap();
    patients::update(
        &a.store.writer(),
        &a.actor,
        &kwame,
        &person("Kwame", "Asante", "1990-02-03"),
    )
    .unwrap();
    let changes = carebook_tests::changes_since(&a.store.writer(), since);
    carebook_tests::apply(&b.store.writer(), &changes);
    assert_eq!(find(&b, "asante"), vec![kwame.clone()]);
    assert!(find(&b, "mensah").is_empty());
}
