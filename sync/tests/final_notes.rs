//! A finalised note only gains amendments, on every computer: an edit made on another computer
//! before the lock reached it merges (copies stay equal) but never changes the finalised text,
//! and is shown beside it as a late edit; a tampered computer cannot rewrite the finalised text
//! elsewhere either.

use carebook_sync::clinic::patients::PatientFields;
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::clinic::visits::{self, VisitFields};
use carebook_sync::clinic::{attention, patients, Actor};
use carebook_sync::store::{schema, Store};
use carebook_tests::{exchange, Computer};

/// Everything `from` has, merged into `to` (the batch path, as replication does).
fn send(from: &Computer, to: &Computer) {
    exchange(&from.store.writer(), &to.store.writer());
}

fn note(plan: &str) -> VisitFields {
    VisitFields {
        complaint: "headache for three days".into(),
        diagnosis: "tension headache".into(),
        plan: plan.into(),
        ..Default::default()
    }
}

/// A doctor, a patient and an empty visit note on `db`: the visit id, the doctor's id and the
/// doctor as the one acting.
fn open_visit(db: &rusqlite::Connection) -> (String, String, Actor) {
    let doctor = staff::add(db, "Dr Ada Osei", Role::Doctor).unwrap().id;
    let actor = Actor::at_this_device(db, &doctor).unwrap();
    let fields = PatientFields {
        given_name: "Chidi".into(),
        family_name: "Okafor".into(),
        date_of_birth: "1984-03-27".into(),
        ..Default::default()
    };
    let p = patients::create(db, &actor, &fields).unwrap();
    let v = visits::start(db, &actor, &p.id, &doctor, "2026-12-02").unwrap();
    (v, doctor, actor)
}

/// A draft visit written on `a` and known to `b`; returns the visit id and the doctor's id.
fn draft_on_both(a: &Computer, b: &Computer) -> (String, String) {
    let db = a.store.writer();
    let (v, doctor, actor) = open_visit(&db);
    visits::save(&db, &actor, &v, &note("rest, fluids")).unwrap();
    drop(db);
    send(a, b);
    (v, doctor)
}

#[test]
fn a_late_edit_from_another_computer_never_changes_a_finalised_note() {
    let (surgery, laptop) = (Computer::new(), Computer::new());
    let (visit, doctor) = draft_on_both(&surgery, &laptop);
    // Apart: the laptop edits the draft's plan; the surgery finalises the note.
    {
        let db = laptop.store.writer();
        let actor = Actor::at_this_device(&db, &doctor).unwrap();
        visits::save(&db, &actor, &visit, &note("ibuprofen 400 mg")).unwrap();
    }
    {
        let db = surgery.store.writer();
        let actor = Actor::at_this_device(&db, &doctor).unwrap();
        visits::finalize(&db, &actor, &visit).unwrap();
    }
    // They meet, in both orders.
    send(&laptop, &surgery);
    send(&surgery, &laptop);
    let seen: Vec<visits::Visit> = [&surgery, &laptop]
        .iter()
        .map(|c| {
            let db = c.store.writer();
            let actor = Actor::at_this_device(&db, &doctor).unwrap();
            visits::get(&db, &actor, &visit).unwrap()
        })
        .collect();
    for (name, v) in ["surgery", "laptop"].iter().zip(&seen) {
        assert!(v.is_final(), "final on the {name}");
        assert_eq!(
            v.fields.plan, "rest, fluids",
            "the {name} shows the note as it was finalised"
        );
        assert_eq!(
            v.late_edits,
            vec![("plan", "ibuprofen 400 mg".to_string())],
            "the {name} names the late edit"
        );
    }
    assert_eq!(seen[0], seen[1], "both computers show the same note");

    // Both list it as needing a doctor's look; looked at on one, it leaves both lists.
    for c in [&surgery, &laptop] {
        let late = attention::list(&c.store.writer()).unwrap().late_edits;
        assert_eq!(late.len(), 1);
        assert_eq!(
            (late[0].visit_id.as_str(), late[0].parts.clone()),
            (visit.as_str(), vec!["Plan"])
        );
    }
    {
        let db = laptop.store.writer();
        let actor = Actor::at_this_device(&db, &doctor).unwrap();
        attention::late_edit_seen(&db, &actor, &visit).unwrap();
        assert!(attention::list(&db).unwrap().late_edits.is_empty());
    }
    send(&laptop, &surgery);
    assert!(attention::list(&surgery.store.writer())
        .unwrap()
        .late_edits
        .is_empty());
}

#[test]
fn a_tampered_computer_cannot_rewrite_a_finalised_note_elsewhere() {
    let (surgery, tampered) = (Computer::new(), Computer::new());
    let (visit, doctor) = draft_on_both(&surgery, &tampered);
    {
        let db = surgery.store.writer();
        let actor = Actor::at_this_device(&db, &doctor).unwrap();
        visits::finalize(&db, &actor, &visit).unwrap();
    }
    send(&surgery, &tampered);
    // Its own rules refuse it; past them (triggers dropped) it rewrites the finalised copy and
    // unlocks the visit row.
    {
        let db = tampered.store.writer();
        let refused = db
            .execute("UPDATE final_notes SET plan = 'nothing to see'", [])
            .unwrap_err();
        assert!(refused.to_string().contains("finalised"), "{refused}");
        db.execute_batch(
            "DROP TRIGGER final_notes_never_change; DROP TRIGGER final_notes_are_kept;
             UPDATE final_notes SET plan = 'nothing to see';
             DROP TRIGGER finalised_visits_are_locked;
             UPDATE visits SET finalized_at = 0, plan = 'nothing to see';",
        )
        .unwrap();
    }
    send(&tampered, &surgery);
    let db = surgery.store.writer();
    let actor = Actor::at_this_device(&db, &doctor).unwrap();
    let v = visits::get(&db, &actor, &visit).unwrap();
    assert!(v.is_final(), "still locked");
    assert_eq!(v.fields.plan, "rest, fluids", "the finalised text is kept");
    assert!(
        visits::save(&db, &actor, &visit, &note("edited after all")).is_err(),
        "and it cannot be edited here"
    );
    let held: i64 = db
        .query_row(
            "SELECT count(*) FROM crr_quarantine WHERE \"table\" = 'final_notes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(held >= 1, "the rewrite is held back with its reason");
}

#[test]
fn notes_finalised_before_the_upgrade_keep_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carebook.db");
    let before_final_copies = &schema::CLINIC[..5];
    let (visit, doctor) = {
        let older = Store::open(&path, before_final_copies).unwrap();
        let db = older.writer();
        let (v, doctor, _) = open_visit(&db);
        // As the previous version finalised a note: the lock on the visit row only.
        db.execute(
            "UPDATE visits SET plan = 'rest, fluids', finalized_at = 1764660000, finalized_by = ?1",
            [&doctor],
        )
        .unwrap();
        (v, doctor)
    };
    let store = Store::open(&path, schema::CLINIC).unwrap();
    let db = store.writer();
    db.execute_batch(
        "DROP TRIGGER finalised_visits_are_locked; UPDATE visits SET plan = 'changed later'",
    )
    .unwrap();
    let actor = Actor::at_this_device(&db, &doctor).unwrap();
    let v = visits::get(&db, &actor, &visit).unwrap();
    assert!(v.is_final());
    assert_eq!(v.fields.plan, "rest, fluids");
    assert_eq!(v.late_edits, vec![("plan", "changed later".to_string())]);
}
