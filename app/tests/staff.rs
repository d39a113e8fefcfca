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
    let args: Vec<&str> = std::iter::once("staff")
        .chain(args.iter().copied())
        .collect();
    cmd(dir, input, &args)
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

/// Runs `carebook ARGS` over `dir` with `input` on standard input and a backup passphrase in
/// the environment.
fn cmd(dir: &Path, input: &str, args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_carebook"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CAREBOOK_LOG", "error")
        .env("CAREBOOK_BACKUP_PASSPHRASE", "staple battery horse correct")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pairing_and_backup_commands_need_an_administrator_once_the_computer_holds_staff() {
    // A computer that holds no staff yet (joining, or being restored) needs nobody.
    let fresh = tempfile::tempdir().unwrap();
    let (code, out, err) = cmd(fresh.path(), "", &["backup", "schedule"]);
    assert_eq!(code, 0, "{out}{err}");

    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap();
        let db = store.writer();
        let sam = staff::add(&db, "Sam Admin", Role::Admin).unwrap();
        pin::set_first(&db, &sam.id, "402917").unwrap();
        let admin = carebook_sync::clinic::Actor::at_this_device(&db, &sam.id).unwrap();
        let rita = staff::add_by(&db, &admin, "Rita Front", Role::Receptionist).unwrap();
        pin::set_first(&db, &rita.id, "111222").unwrap();
    }
    let file = dir.path().join("clinic.carebook-backup");
    let file = file.to_str().unwrap();
    let someone = carebook_sync::identity::DeviceId::of_certificate(b"a laptop").to_text();
    let commands: [&[&str]; 5] = [
        &["backup", "export", file],
        &["backup", "schedule"],
        &["accept", &someone],
        &["remove", &someone],
        &["pair", "127.0.0.1:9", "--id", &someone, "--yes"],
    ];
    for args in commands {
        let (code, _, err) = cmd(dir.path(), "", args);
        assert_eq!(code, 1, "{args:?} without anyone: {err}");
        assert!(
            err.contains("give an administrator's name"),
            "{args:?}: {err}"
        );
        let (code, _, err) = cmd(dir.path(), "Rita Front\n111222\n", args);
        assert_eq!(code, 1, "{args:?} as a receptionist: {err}");
        assert!(err.contains("only administrators can"), "{args:?}: {err}");
    }
    // A wrong PIN is refused (once: more would make the next try wait, as in the window).
    let (code, _, err) = cmd(dir.path(), "Sam Admin\n000000\n", commands[0]);
    assert_eq!(code, 1, "a wrong PIN: {err}");
    assert!(err.contains("PIN is not right"), "{err}");
    assert!(!Path::new(file).exists(), "nothing was written");
    let admin = "Sam Admin\n402917\n";
    let (code, out, err) = cmd(dir.path(), admin, &["backup", "export", file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(Path::new(file).exists());
    // Past the check, the command does its own work: nobody with that ID is asking to join.
    let (code, _, err) = cmd(dir.path(), admin, &["accept", &someone]);
    assert_eq!(code, 3, "{err}");
    let store = Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap();
    let ran: Vec<String> = store
        .writer()
        .prepare(
            "SELECT a.subject FROM access_log a JOIN staff s ON s.id = a.staff_id
             WHERE a.action = 'command line' AND s.name = 'Sam Admin' ORDER BY a.at, a.rowid",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        ran,
        ["backup export", "accept"],
        "recorded in the access log"
    );
}
