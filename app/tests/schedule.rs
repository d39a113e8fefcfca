//! Automatic backups on an always-on box, as separate processes: `carebook backup schedule`
//! sets the folder, `carebook backup remember-passphrase` keeps the passphrase (a private file
//! here: the test runs without a keyring), and a running `carebook serve` makes the backup
//! without anyone typing anything; the file verifies as this computer's.

mod common;

use std::path::Path;
use std::process::Command;

use carebook_sync::clinic::demo;
use carebook_sync::store::{schema, Store};
use common::{eventually, Serve, BIN};

const PASSPHRASE: &str = "a box in the back office";

fn carebook(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CAREBOOK_LOG", "warn")
        .env("CAREBOOK_BACKUP_PASSPHRASE", PASSPHRASE)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", dir.parent().unwrap());
    common::as_admin(cmd, dir)
}

/// The finished backups in `folder` (not the temporary file of one being written).
fn backups_in(folder: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(folder)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "carebook-backup"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn serve_makes_the_scheduled_backup_with_the_remembered_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("box");
    let folder = tmp.path().join("nas").join("carebook");
    std::fs::create_dir_all(&dir).unwrap();
    {
        let store = Store::open(&dir.join("carebook.db"), schema::CLINIC).unwrap();
        demo::fill(&store.writer(), 20, 3).unwrap();
    }
    let (code, out, _) = carebook(&dir, &["backup", "schedule"]);
    assert_eq!(
        (code, out.lines().next()),
        (0, Some("automatic backups: off"))
    );

    let folder_arg = folder.to_str().unwrap();
    let (code, out, err) = carebook(
        &dir,
        &["backup", "schedule", "--folder", folder_arg, "--keep", "3"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "every 24 hours into {folder_arg}, keeping the newest 3"
        )),
        "{out}"
    );
    assert!(out.contains("last backup: none yet"), "{out}");
    assert!(
        out.contains("does not remember the backup passphrase"),
        "{out}"
    );
    assert_eq!(carebook(&dir, &["backup", "schedule", "--keep", "0"]).0, 2);

    let (code, out, err) = carebook(&dir, &["backup", "remember-passphrase"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("readable only by you"), "{out}");
    assert!(!out.contains(PASSPHRASE) && !err.contains(PASSPHRASE));

    let serve = Serve::start(&dir, "Back office");
    eventually("serve made and recorded the scheduled backup", || {
        carebook(&dir, &["backup", "schedule"])
            .1
            .contains(".carebook-backup")
    });
    drop(serve);
    let made = backups_in(&folder);
    assert_eq!(made.len(), 1, "{made:?}");
    let file = made[0].clone();
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("carebook-") && name.ends_with(".carebook-backup"),
        "{name}"
    );
    let (code, out, err) = carebook(&dir, &["backup", "verify", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signer is:  this computer"), "{out}");
    assert!(out.contains("patients 20"), "{out}");
    let (_, out, _) = carebook(&dir, &["backup", "schedule"]);
    assert!(
        out.contains("last backup: ") && out.contains(&name),
        "{out}"
    );
    assert!(!out.contains("warning"), "{out}");
}
