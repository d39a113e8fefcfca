//! `carebook pair` and `carebook accept` as a separate process: a computer already in a clinic
//! says which computer it is about to add clinic-wide and adds it only when told `--yes`
//! (a script has no one to ask), and accepting a removed computer fails with a clear reason.

use std::path::Path;
use std::process::{Command, Stdio};

use carebook_sync::identity::DeviceId;
use carebook_sync::net::roster;
use carebook_sync::store::{schema, Store};

const BIN: &str = env!("CARGO_BIN_EXE_carebook");

fn carebook(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CAREBOOK_LOG", "warn")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn store(dir: &Path) -> Store {
    Store::open(&dir.join("carebook.db"), schema::CLINIC).unwrap()
}

fn trusted(dir: &Path, id: &DeviceId) -> bool {
    roster::members(&store(dir).writer())
        .unwrap()
        .iter()
        .any(|m| m.id == *id && !m.revoked)
}

#[test]
fn adding_a_computer_to_a_clinic_asks_first_and_yes_answers_for_a_script() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_eq!(carebook(dir, &["id"]).0, 0);
    let colleague = DeviceId::of_certificate(b"a colleague already in the clinic");
    roster::add(&store(dir).writer(), &colleague, "Exam room", "").unwrap();
    let newcomer = DeviceId::of_certificate(b"a new computer");
    // Nothing listens there: pairing itself fails, but the trust is given (or not) first.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let id = newcomer.to_text();

    let (code, out, err) = carebook(dir, &["pair", &nobody, "--id", &id]);
    assert_ne!(code, 0);
    assert!(out.contains(&id), "says who would be added: {out}");
    assert!(out.contains("1 other computer"), "{out}");
    assert!(err.contains("--yes"), "{err}");
    assert!(!trusted(dir, &newcomer), "not added without a yes");

    let (code, _, err) = carebook(dir, &["pair", &nobody, "--id", &id, "--yes"]);
    assert_eq!(code, 1, "unreachable, so pairing fails: {err}");
    assert!(trusted(dir, &newcomer), "added when told yes");
}

#[test]
fn accepting_a_removed_computer_fails_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_eq!(carebook(dir, &["id"]).0, 0);
    let laptop = DeviceId::of_certificate(b"a stolen laptop");
    {
        let s = store(dir);
        let db = s.writer();
        roster::request(
            &db,
            &laptop,
            "Laptop",
            "10.0.0.9:7462",
            "10.0.0.9".parse().unwrap(),
        )
        .unwrap();
        roster::revoke(&db, &laptop).unwrap();
    }
    let (code, out, err) = carebook(dir, &["accept", &laptop.to_text()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("accepted"), "{out}");
    assert!(err.contains("was removed from the clinic"), "{err}");
    assert!(!trusted(dir, &laptop));
}
