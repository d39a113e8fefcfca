//! `carebook staff ...` from the command line: authorised by an administrator's name and PIN on
//! standard input, refused with a clear message (and exit code 1) otherwise.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use carebook_sync::clinic::pin;
use carebook_sync::clinic::staff::{self, Role};
use carebook_sync::store::{schema, Store};

/// Runs `carebook staff ARGS` over `dir` with `input` on standard input.
fn staff_cmd(dir: &Path, input: &str, args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_carebook"))
        .arg("staff")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CAREBOOK_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_administrator_manages_staff_from_the_command_line_and_nobody_else_can() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap();
        let db = store.writer();
        let sam = staff::add(&db, "Sam Admin", Role::Admin).unwrap();
        pin::set_first(&db, &sam.id, "402917").unwrap();
        let rita = staff::add_by(
            &db,
            &carebook_sync::clinic::Actor::at_this_device(&db, &sam.id).unwrap(),
            "Rita Front",
            Role::Receptionist,
        )
        .unwrap();
        pin::set_first(&db, &rita.id, "111222").unwrap();
    }
    let admin = "Sam Admin\n402917\n";
    let (code, out, err) = staff_cmd(
        dir.path(),
        admin,
        &[
            "add",
            "Joy Nurse",
            "--role",
            "nurse",
            "--role",
            "receptionist",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("added Joy Nurse (Receptionist, Nurse)"),
        "{out}"
    );
    let (code, out, _) = staff_cmd(dir.path(), admin, &["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("Joy Nurse\tReceptionist, Nurse"), "{out}");
    let (code, _, _) = staff_cmd(dir.path(), admin, &["deactivate", "Joy Nurse"]);
    assert_eq!(code, 0);
    let (_, out, _) = staff_cmd(dir.path(), admin, &["list"]);
    assert!(
        out.contains("Joy Nurse\tReceptionist, Nurse  (deactivated)"),
        "{out}"
    );
    let (code, out, _) = staff_cmd(dir.path(), admin, &["reset-pin", "Rita Front"]);
    assert_eq!(code, 0, "{out}");

    // A wrong PIN, a person who is not an administrator, nothing on standard input.
    let (code, out, err) = staff_cmd(dir.path(), "Sam Admin\n000000\n", &["list"]);
    assert_eq!(code, 1);
    assert!(err.contains("that PIN is not right"), "{out}{err}");
    assert!(!err.contains("000000"), "the PIN is never printed");
    let (code, _, err) = staff_cmd(dir.path(), "Rita Front\n111222\n", &["list"]);
    assert_eq!(code, 1);
    assert!(err.contains("has no PIN yet"), "reset, so refused: {err}");
    let (code, _, err) = staff_cmd(dir.path(), "", &["list"]);
    assert_eq!(code, 1);
    assert!(err.contains("administrator's name"), "{err}");
    let (code, _, err) = staff_cmd(dir.path(), admin, &["add", "X", "--role", "admin"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = staff_cmd(dir.path(), "X\n\n", &["list"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn a_receptionist_is_refused_with_who_may() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap();
        let db = store.writer();
        let rita = staff::add(&db, "Rita Front", Role::Receptionist).unwrap();
        pin::set_first(&db, &rita.id, "111222").unwrap();
    }
    let (code, _, err) = staff_cmd(dir.path(), "Rita Front\n111222\n", &["list"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("only administrators can manage the staff list"),
        "{err}"
    );
}
