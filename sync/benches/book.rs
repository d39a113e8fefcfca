//! The appointment book's benchmark: building the week view's data (`clinic::book::days`, what
//! the Book screen reads) for 4 clinicians with two years of appointments on file (about
//! 20,000), target under 20 ms. Prints `BENCH book_week_render_ms <median>` and the slowest.

use std::time::Instant;

use carebook_sync::clinic::patients::PatientFields;
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::clinic::{book, patients, Actor};
use carebook_sync::store::{schema, Store};
use chrono::{Duration, NaiveDate};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db"), schema::CLINIC).unwrap();
    let db = store.writer();
    let sam = staff::add(&db, "Bench Admin", Role::Admin).unwrap();
    let admin = Actor::at_this_device(&db, &sam.id).unwrap();
    let doctors: Vec<String> = (0..4)
        .map(|i| {
            staff::add_by(&db, &admin, &format!("Dr {i}"), Role::Doctor)
                .unwrap()
                .id
        })
        .collect();
    let fields = PatientFields {
        given_name: "Bench".into(),
        family_name: "Patient".into(),
        date_of_birth: "1980-01-01".into(),
        ..Default::default()
    };
    let patient = patients::create(&db, &admin, &fields).unwrap().id;
    // Two years of weekdays, 4 clinicians with 10 appointments a day each: about 20,000.
    let first = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
    db.execute_batch("BEGIN").unwrap();
    let mut n = 0;
    for day in 0..730 {
        let d = first + Duration::days(day);
        if chrono::Datelike::weekday(&d).number_from_monday() > 5 {
            continue;
        }
        for slot in 0..40 {
            let minutes = 8 * 60 + (slot / 4) * 45;
            let at = format!("{d}T{:02}:{:02}", minutes / 60, minutes % 60);
            db.execute(
                "INSERT INTO appointments(id, patient_id, clinician_id, starts_at, duration_min, reason, status, status_at)
                 VALUES (?1, ?2, ?3, ?4, 15, 'check', 'booked', 0)",
                rusqlite::params![format!("a{n}"), patient, doctors[slot % 4], at],
            )
            .unwrap();
            n += 1;
        }
    }
    db.execute_batch("COMMIT").unwrap();
    println!("BENCH book_appointments_on_file {n}");
    let week = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
    let mut ms: Vec<f64> = (0..21)
        .map(|i| {
            let from = week + Duration::days(7 * (i % 7));
            let t = Instant::now();
            let days = book::days(&db, from, from + Duration::days(6)).unwrap();
            let took = t.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(days.clinicians.len(), 4);
            assert!(days.appointments.len() >= 40, "{}", days.appointments.len());
            took
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!("BENCH book_week_render_ms {:.2}", ms[ms.len() / 2]);
    println!("BENCH book_week_render_max_ms {:.2}", ms[ms.len() - 1]);
}
