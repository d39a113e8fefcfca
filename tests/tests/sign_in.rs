//! Signing in across the clinic, over real TLS on 127.0.0.1: a person added on one computer
//! signs in on another that was offline when they were added, once it has caught up, and a PIN
//! changed on one computer is the one every other computer asks for.

use carebook_sync::clinic::pin::{self, SignIn};
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::clinic::{now, Actor};
use carebook_tests::{eventually, Online};

/// A person's stored PIN hash on a computer (empty: none yet).
fn hash(c: &Online, staff_id: &str) -> String {
    c.node
        .store
        .writer()
        .query_row(
            "SELECT hash FROM credentials WHERE staff_id = ?1",
            [staff_id],
            |r| r.get(0),
        )
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_added_on_one_computer_signs_in_on_another_and_a_changed_pin_counts_everywhere() {
    let front = Online::start("Front desk").await;
    let laptop = Online::start("Laptop").await;
    // The laptop is away while the front desk adds Joy and she chooses her PIN there.
    let joy = {
        let db = front.node.store.writer();
        let sam = staff::add(&db, "Sam Admin", Role::Admin).unwrap();
        let admin = Actor::at_this_device(&db, &sam.id).unwrap();
        let joy = staff::add_by(&db, &admin, "Joy Mensah", Role::Nurse).unwrap();
        pin::set_first(&db, &joy.id, "402917").unwrap();
        joy.id
    };
    // Back in the clinic: the two are paired and catch up.
    front.trust(&laptop, "Laptop").await;
    laptop.trust(&front, "Front desk").await;
    laptop.stay_connected(&front);
    let first = hash(&front, &joy);
    eventually("the laptop has Joy's PIN hash", || {
        hash(&laptop, &joy) == first
    })
    .await;
    let at_laptop = |secret: &str| pin::sign_in(&laptop.node.store.writer(), &joy, secret, now());
    assert!(
        matches!(at_laptop("402917").unwrap(), SignIn::Welcome(a) if !a.device_id.is_empty()),
        "Joy signs in on the laptop with the PIN she chose at the front desk"
    );
    // She changes her PIN at the front desk: the laptop asks for the new one.
    {
        let db = front.node.store.writer();
        let me = Actor::at_this_device(&db, &joy).unwrap();
        pin::change(&db, &me, "402917", "771234").unwrap();
    }
    let changed = hash(&front, &joy);
    assert_ne!(changed, first);
    eventually("the laptop has the new hash", || {
        hash(&laptop, &joy) == changed
    })
    .await;
    assert_eq!(at_laptop("402917").unwrap(), SignIn::Wrong { wait_secs: 0 });
    assert!(matches!(at_laptop("771234").unwrap(), SignIn::Welcome(_)));
}
