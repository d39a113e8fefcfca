//! `carebook --version` tells the clinic's IT helper the version, the data folder and the
//! device ID, and makes nothing on a computer where Carebook never ran.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_carebook");

fn version(dir: &std::path::Path) -> String {
    let out = Command::new(BIN)
        .arg("--version")
        .arg("--data-dir")
        .arg(dir)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn version_shows_the_data_folder_and_device_id_and_makes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let before = version(&dir);
    assert!(
        before.starts_with(&format!("carebook {}\n", env!("CARGO_PKG_VERSION"))),
        "{before}"
    );
    assert!(before.contains(&format!("data folder: {}", dir.display())));
    assert!(before.contains("device ID: not made yet"), "{before}");
    assert!(!dir.exists(), "--version made nothing");

    let id = Command::new(BIN)
        .arg("id")
        .arg("--data-dir")
        .arg(&dir)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap();
    let id = String::from_utf8(id.stdout).unwrap();
    assert_eq!(id.trim().len(), 63, "{id}");
    assert!(version(&dir).contains(&format!("device ID: {}", id.trim())));
}
