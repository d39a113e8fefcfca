//! What conflict detection costs a merge: one computer changed the phone of 20,000 patients
//! while another changed 2,000 of the same phones; the first's changes are merged into copies of
//! the second, with the conflict check and with it switched off (its triggers dropped, the
//! search index's batch statements kept). Prints `BENCH merge_changes_per_s_with_conflict_detection`,
//! the figure without it, and their ratio (target: within 10%).

use std::path::Path;
use std::time::Instant;

use carebook_sync::clinic::patients::{self, PatientFields};
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::clinic::{conflicts, Actor};
use carebook_sync::store::{schema, Store};

const PATIENTS: usize = 20_000;
const ROUNDS: usize = 3;

fn export(store: &Store, since: i64) -> Vec<u8> {
    store
        .writer()
        .query_row("SELECT crsql_export_changes(?1)", [since], |r| r.get(0))
        .unwrap()
}

/// Changes the phone of the given patients on `store`, in one transaction.
fn change_phones(store: &Store, actor: &Actor, ids: &[String], prefix: &str) {
    let db = store.writer();
    db.execute_batch("BEGIN").unwrap();
    for (i, id) in ids.iter().enumerate() {
        let mut f = patients::get(&db, id).unwrap().fields;
        f.phone = format!("{prefix} {i:05}");
        patients::update(&db, actor, id, &f).unwrap();
    }
    db.execute_batch("COMMIT").unwrap();
}

/// Merges `batch` into a fresh copy of `pristine`; changes per second.
fn merge_into_copy(pristine: &Path, at: &Path, batch: &[u8], detect: bool) -> f64 {
    let _ = std::fs::remove_file(at);
    std::fs::copy(pristine, at).unwrap();
    let store = Store::open(at, schema::CLINIC).unwrap();
    let db = store.writer();
    if !detect {
        db.execute_batch(
            "DROP TRIGGER history_merged_edit; DROP TRIGGER history_merged_edit_column;",
        )
        .unwrap();
    }
    let t = Instant::now();
    let n: i64 = db
        .query_row("SELECT crsql_merge_changes(?1)", [batch], |r| r.get(0))
        .unwrap();
    let rate = n as f64 / t.elapsed().as_secs_f64();
    if detect {
        let found = conflicts::open(&db).unwrap().len();
        assert!(found > 0, "the concurrent phones are found");
        println!("BENCH conflicts_found {found}");
    }
    rate
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let front = Store::open(&dir.path().join("front.db"), schema::CLINIC).unwrap();
    let laptop_path = dir.path().join("laptop.db");
    let laptop = Store::open(&laptop_path, schema::CLINIC).unwrap();
    let rita = staff::add(&front.writer(), "Rita", Role::Receptionist)
        .unwrap()
        .id;
    let actor = Actor::at_this_device(&front.writer(), &rita).unwrap();
    let ids: Vec<String> = {
        let db = front.writer();
        db.execute_batch("BEGIN").unwrap();
        let ids = (0..PATIENTS)
            .map(|i| {
                let f = PatientFields {
                    given_name: format!("Given{i}"),
                    family_name: format!("Family{i}"),
                    date_of_birth: "1980-01-01".into(),
                    phone: format!("+1 555 {i:05}"),
                    ..Default::default()
                };
                patients::create(&db, &actor, &f).unwrap().id
            })
            .collect();
        db.execute_batch("COMMIT").unwrap();
        ids
    };
    let shared = export(&front, 0);
    laptop
        .writer()
        .query_row("SELECT crsql_merge_changes(?1)", [&shared], |_| Ok(()))
        .unwrap();
    let since: i64 = front
        .writer()
        .query_row("SELECT crsql_db_version()", [], |r| r.get(0))
        .unwrap();
    // Apart: the front desk changes every phone, the laptop one in ten of the same.
    change_phones(&front, &actor, &ids, "+44 20");
    let laptop_actor = Actor::at_this_device(&laptop.writer(), &rita).unwrap();
    change_phones(&laptop, &laptop_actor, &ids[..PATIENTS / 10], "+33 1");
    drop(laptop);
    let batch = export(&front, since);
    let copy = dir.path().join("copy.db");
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        without.push(merge_into_copy(&laptop_path, &copy, &batch, false));
        with.push(merge_into_copy(&laptop_path, &copy, &batch, true));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (w, wo) = (median(&mut with), median(&mut without));
    println!("BENCH merge_changes_per_s_with_conflict_detection {w:.0}");
    println!("BENCH merge_changes_per_s_without_conflict_detection {wo:.0}");
    println!("BENCH conflict_detection_cost_ratio {:.3}", wo / w);
}
