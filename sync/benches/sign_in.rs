//! Sign-in benchmark: how long one PIN check takes with the Argon2id parameters Carebook uses
//! (meant to be 100 to 500 ms on a small clinic PC). Prints `BENCH pin_verify_ms <median>` and
//! the fastest and slowest of the runs.

use std::time::Instant;

use carebook_sync::clinic::{pin, staff};
use carebook_sync::store::{schema, Store};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db"), schema::CLINIC).unwrap();
    let db = store.writer();
    let me = staff::add(&db, "Bench Person", staff::Role::Doctor).unwrap();
    pin::set_first(&db, &me.id, "402917").unwrap();
    let stored: String = db
        .query_row(
            "SELECT hash FROM credentials WHERE staff_id = ?1",
            [&me.id],
            |r| r.get(0),
        )
        .unwrap();
    let mut ms: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            assert!(pin::verify(&stored, "402917"));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!("BENCH pin_verify_ms {:.0}", ms[ms.len() / 2]);
    println!("BENCH pin_verify_min_ms {:.0}", ms[0]);
    println!("BENCH pin_verify_max_ms {:.0}", ms[ms.len() - 1]);
}
