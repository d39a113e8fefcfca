//! The records' rules hold for merged changes, not only for this computer's own writes.
//! Removing a computer is permanent and wins every merge: a removed laptop that deletes and
//! re-inserts its roster row, or deletes the removal itself, is still refused on every
//! computer once the removal and its tricks have been merged in any order. And a trusted
//! computer that was tampered with cannot delete visits or rewrite history elsewhere.

use carebook_sync::clinic::patients::PatientFields;
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::clinic::{patients, visits, Actor};
use carebook_sync::identity::DeviceId;
use carebook_sync::net::roster::{self, Roster, Verdict};
use carebook_sync::store::{schema, Store};

struct Computer {
    _dir: tempfile::TempDir,
    store: Store,
}

fn computer() -> Computer {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap();
    Computer { _dir: dir, store }
}

/// Everything `from` has, merged into `to` (the batch path, as replication does).
fn send(from: &Computer, to: &Computer) {
    let batch: Vec<u8> = from
        .store
        .writer()
        .query_row("SELECT crsql_export_changes(0)", [], |r| r.get(0))
        .unwrap();
    to.store
        .writer()
        .query_row("SELECT crsql_merge_changes(?1)", [batch], |_| Ok(()))
        .unwrap();
}

fn verdict(c: &Computer, id: &DeviceId) -> Verdict {
    let roster = Roster::default();
    roster.refresh(&c.store.writer()).unwrap();
    roster.verdict(id)
}

/// A clinic of A and B that both know laptop L.
fn clinic() -> (Computer, Computer, Computer, DeviceId) {
    let (a, b, l) = (computer(), computer(), computer());
    let laptop = DeviceId::of_certificate(b"the laptop that went home");
    roster::add(&a.store.writer(), &laptop, "Laptop", "10.0.0.9:7462").unwrap();
    send(&a, &b);
    send(&a, &l);
    (a, b, l, laptop)
}

#[test]
fn a_removed_computer_that_recreates_its_roster_row_stays_removed() {
    let (a, b, l, laptop) = clinic();
    assert!(roster::revoke(&a.store.writer(), &laptop).unwrap());
    // The laptop, not yet told, deletes its roster row and writes a fresh one (a new
    // generation of the row, which would outrank the removal's edit).
    {
        let db = l.store.writer();
        db.execute("DELETE FROM devices WHERE id = ?1", [laptop.to_text()])
            .unwrap();
        roster::add(&db, &laptop, "Laptop", "10.0.0.9:7462").unwrap();
    }
    // B hears from the laptop first, then from A; then everyone hears from everyone.
    send(&l, &b);
    send(&a, &b);
    send(&b, &a);
    send(&a, &l);
    for (name, c) in [("A", &a), ("B", &b)] {
        assert_eq!(verdict(c, &laptop), Verdict::Revoked, "on {name}");
        let m = roster::members(&c.store.writer()).unwrap();
        assert!(
            m.iter().any(|m| m.id == laptop && m.revoked),
            "{name} lists it as removed"
        );
    }
}

#[test]
fn a_removal_deleted_by_the_removed_computer_is_kept_everywhere() {
    let (a, b, l, laptop) = clinic();
    roster::revoke(&a.store.writer(), &laptop).unwrap();
    send(&a, &l);
    send(&a, &b);
    // The laptop has the removal; it deletes it by hand, past any local rule, and deletes
    // its roster row too.
    {
        let db = l.store.writer();
        db.execute_batch(
            "DROP TRIGGER IF EXISTS revocations_are_permanent;
             DROP TRIGGER IF EXISTS revocations_only_grow;
             DELETE FROM revocations;
             DELETE FROM devices;",
        )
        .unwrap_or_else(|_| {
            db.execute_batch("DELETE FROM devices").unwrap();
        });
    }
    send(&l, &b);
    send(&b, &a);
    for (name, c) in [("A", &a), ("B", &b)] {
        assert_eq!(verdict(c, &laptop), Verdict::Revoked, "on {name}");
    }
    // A local attempt to undo a removal is refused with the reason.
    let undo = a
        .store
        .writer()
        .execute("DELETE FROM revocations WHERE id = ?1", [laptop.to_text()]);
    let why = undo.unwrap_err().to_string();
    assert!(why.contains("permanent"), "{why}");
}

#[test]
fn a_tampered_computer_cannot_delete_visits_or_rewrite_history_elsewhere() {
    let (front, tampered) = (computer(), computer());
    let (visit, patient, actor) = {
        let db = front.store.writer();
        let doctor = staff::add(&db, "Dr Ada Osei", Role::Doctor).unwrap().id;
        let actor = Actor::at_this_device(&db, &doctor).unwrap();
        let fields = PatientFields {
            given_name: "Chidi".into(),
            family_name: "Okafor".into(),
            date_of_birth: "1984-03-27".into(),
            ..Default::default()
        };
        let p = patients::create(&db, &actor, &fields).unwrap();
        let v = visits::start(&db, &actor, &p.id, &doctor, "2026-12-02").unwrap();
        (v, p.id, actor)
    };
    send(&front, &tampered);
    // Past its own rules (triggers dropped), the tampered computer deletes the visit and
    // rewrites the patient's history.
    {
        let db = tampered.store.writer();
        db.execute_batch(
            "DROP TRIGGER visits_are_kept; DROP TRIGGER history_is_append_only;
             DELETE FROM visits;
             UPDATE history SET new_value = 'nothing happened';",
        )
        .unwrap();
    }
    send(&tampered, &front);
    let db = front.store.writer();
    assert!(
        visits::get(&db, &actor, &visit).is_ok(),
        "the visit is kept"
    );
    let values: Vec<String> = db
        .prepare("SELECT new_value FROM history WHERE patient_id = ?1")
        .unwrap()
        .query_map([&patient], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!values.is_empty());
    assert!(
        !values.iter().any(|v| v == "nothing happened"),
        "{values:?}"
    );
    let held: i64 = db
        .query_row("SELECT count(*) FROM crr_quarantine", [], |r| r.get(0))
        .unwrap();
    assert!(
        held >= 2,
        "the offending changes are held back with their reason"
    );
}
