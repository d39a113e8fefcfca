//! Backup benchmark on a clinic of N patients (default 100,000; `BACKUP_BENCH_PATIENTS`), each
//! with a visit note: export, verify, and import into a fresh database. Prints
//! `BENCH <name> <value>` lines, in MB (10^6 bytes) of backup file per second. Each measured
//! operation includes one scrypt key derivation at age's default work factor (about a second
//! on the machine that made the file).

use std::time::Instant;

use carebook_sync::backup::{self, Control, ImportOptions, Passphrase};
use carebook_sync::clinic::{demo, profile};
use carebook_sync::identity::{Identity, Keyring};
use carebook_sync::store::{schema, Store};

fn main() {
    let n: usize = std::env::var("BACKUP_BENCH_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db"), schema::CLINIC).unwrap();
    let identity = Identity::load_or_create_with(&dir.path().join("a"), Keyring::Off).unwrap();
    {
        let db = store.writer();
        profile::ensure(&db, "Bench Clinic").unwrap();
        demo::fill(&db, n, 9).unwrap();
        // A visit note for every patient (demo data has only a few).
        db.execute_batch(
            "BEGIN;
             INSERT INTO visits(id, patient_id, clinician_id, visit_date, complaint, findings, diagnosis, plan)
               SELECT 'v-' || id, id, 'bench', '2026-01-15', 'cough for a week',
                      'alert, afebrile; chest clear', 'viral URTI', 'fluids, rest, review if worse'
               FROM patients;
             COMMIT;",
        )
        .unwrap();
    }
    let passphrase = Passphrase::new("bench passphrase for the clinic".into()).unwrap();
    let file = dir.path().join("clinic.carebook-backup");

    let t = Instant::now();
    let manifest =
        backup::export(&store, &identity, &passphrase, &file, &Control::default()).unwrap();
    let export_s = t.elapsed().as_secs_f64();
    let mb = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    let changes: i64 = manifest.sites.iter().map(|s| s.changes).sum();
    println!(
        "backup of {n} patients: {changes} changes, {mb:.1} MB ({:.1} bytes a change)",
        mb * 1e6 / changes as f64
    );

    let t = Instant::now();
    backup::verify(
        &store.reader().unwrap(),
        &identity.id,
        &file,
        &passphrase,
        &Control::default(),
    )
    .unwrap();
    let verify_s = t.elapsed().as_secs_f64();

    let fresh = Store::open(&dir.path().join("b.db"), schema::CLINIC).unwrap();
    let me = Identity::load_or_create_with(&dir.path().join("b"), Keyring::Off).unwrap();
    let t = Instant::now();
    backup::import(
        &fresh,
        &file,
        &passphrase,
        &ImportOptions {
            this_device: me.id,
            accept_signer: Some(identity.id),
        },
        &Control::default(),
    )
    .unwrap();
    let import_s = t.elapsed().as_secs_f64();
    let restored: i64 = fresh
        .writer()
        .query_row("SELECT count(*) FROM visits", [], |r| r.get(0))
        .unwrap();
    assert_eq!(restored, manifest.rows_of("visits"));

    println!("export {export_s:.2} s, verify {verify_s:.2} s, import {import_s:.2} s");
    println!("BENCH backup_export_mb_per_s {:.1}", mb / export_s);
    println!("BENCH backup_verify_mb_per_s {:.1}", mb / verify_s);
    println!("BENCH backup_import_mb_per_s {:.1}", mb / import_s);
}
