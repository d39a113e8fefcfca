//! `carebook backup export|verify|import` run as a separate process: the passphrase from a file
//! or the environment (never echoed), an export recorded as the last good backup, a restore on
//! a fresh install that needs the signer accepted, and the exit codes.

use std::path::Path;
use std::process::Command;

mod common;

use carebook_sync::clinic::demo;
use carebook_sync::store::{schema, CrrConnection, Store};

use common::BIN;
const PASSPHRASE: &str = "staple battery horse correct";

/// Runs carebook with `args`; the passphrase in the environment when `env` is set.
fn carebook(dir: &Path, args: &[&str], env: bool) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CAREBOOK_LOG", "warn")
        .env_remove("CAREBOOK_BACKUP_PASSPHRASE");
    if env {
        cmd.env("CAREBOOK_BACKUP_PASSPHRASE", PASSPHRASE);
    }
    common::as_admin(cmd, dir)
}

fn patients(dir: &Path) -> i64 {
    let db = CrrConnection::open(&dir.join("carebook.db"), true).unwrap();
    db.query_row("SELECT count(*) FROM patients", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn export_verify_and_import_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    {
        let store = Store::open(&a.join("carebook.db"), schema::CLINIC).unwrap();
        demo::fill(&store.writer(), 50, 3).unwrap();
    }
    let file = tmp.path().join("clinic.carebook-backup");
    let file_arg = file.to_str().unwrap();
    let pass_file = tmp.path().join("passphrase.txt");
    std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
    let pass_arg = pass_file.to_str().unwrap();

    // No passphrase given: a usage error.
    let (code, _, err) = carebook(&a, &["backup", "export", file_arg], false);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("CAREBOOK_BACKUP_PASSPHRASE"), "{err}");
    assert!(!file.exists());

    let (code, out, err) = carebook(&a, &["backup", "export", file_arg], true);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("patients 50"), "{out}");
    // Recorded as this computer's last good backup, as one saved from the window is.
    let (_, out, _) = carebook(&a, &["backup", "schedule"], false);
    let recorded = std::fs::canonicalize(&file).unwrap();
    assert!(
        out.contains("last backup: ") && out.contains(recorded.to_str().unwrap()),
        "{out}"
    );
    let (_, a_id, _) = carebook(&a, &["id"], false);
    let a_id = a_id.trim();

    let (code, out, err) = carebook(&a, &["backup", "verify", file_arg], true);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("signature:  valid"), "{out}");
    assert!(out.contains("this computer"), "{out}");
    assert!(out.contains(a_id), "{out}");
    assert!(
        out.contains("clinic:") && out.contains("this clinic"),
        "{out}"
    );

    // A fresh install: the signer is unknown until accepted.
    let (code, out, err) = carebook(
        &b,
        &["backup", "import", file_arg, "--passphrase-file", pass_arg],
        false,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("--accept-signer"), "{err}");
    assert!(err.contains("nothing changed"), "{err}");
    assert_eq!(patients(&b), 0);
    let (code, out, err) = carebook(
        &b,
        &[
            "backup",
            "import",
            file_arg,
            "--passphrase-file",
            pass_arg,
            "--accept-signer",
            a_id,
        ],
        false,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("UNKNOWN to this clinic"), "{out}");
    assert!(out.contains("changes merged"), "{out}");
    assert_eq!(patients(&b), 50);
    let (code, out, _) = carebook(
        &b,
        &["backup", "import", file_arg, "--accept-signer", a_id],
        true,
    );
    assert_eq!(code, 0);
    assert!(out.contains("nothing new"), "{out}");

    // Refusals.
    std::fs::write(&pass_file, "not the passphrase").unwrap();
    let (code, out, err) = carebook(
        &b,
        &["backup", "verify", file_arg, "--passphrase-file", pass_arg],
        false,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("passphrase is wrong"), "{err}");
    let (code, _, _) = carebook(&b, &["backup", "verify", "/nonexistent/x.backup"], true);
    assert_eq!(code, 3);
    let (code, _, _) = carebook(
        &b,
        &["backup", "import", file_arg, "--accept-signer", "nope"],
        true,
    );
    assert_eq!(code, 1);

    for (code, out, err) in [
        carebook(&a, &["backup", "verify", file_arg], true),
        carebook(&b, &["backup", "import", file_arg], true),
    ] {
        assert!(
            !out.contains(PASSPHRASE) && !err.contains(PASSPHRASE),
            "the passphrase is never printed ({code})"
        );
    }
}

/// A disk that fills up part-way through a backup (the file size limit of the shell makes
/// writes fail, as a full disk does): a clear error, no file left behind, nothing changed.
#[cfg(unix)]
#[test]
fn a_backup_to_a_full_disk_fails_plainly_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    std::fs::create_dir_all(&a).unwrap();
    {
        let store = Store::open(&a.join("carebook.db"), schema::CLINIC).unwrap();
        demo::fill(&store.writer(), 400, 3).unwrap();
    }
    let before = std::fs::read(a.join("carebook.db")).unwrap().len();
    let usb = tmp.path().join("usb");
    std::fs::create_dir_all(&usb).unwrap();
    let file = usb.join("clinic.carebook-backup");
    // 256 KiB at most per file: room for the write-ahead log of the administrator's sign-in
    // (recorded in the access log), not for the backup.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -f 512; trap '' XFSZ; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(["backup", "export"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&a)
        .env("CAREBOOK_LOG", "warn")
        .env("CAREBOOK_BACKUP_PASSPHRASE", PASSPHRASE);
    let (code, _, err) = common::as_admin(cmd, &a);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("writing the backup"), "{err}");
    assert!(err.contains("too large") || err.contains("space"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&usb).unwrap().collect();
    assert!(left.is_empty(), "nothing half-written stays: {left:?}");
    assert_eq!(patients(&a), 400);
    assert!(std::fs::read(a.join("carebook.db")).unwrap().len() >= before);
    // With room again, the same command works.
    let (code, out, err) = carebook(&a, &["backup", "export", file.to_str().unwrap()], true);
    assert_eq!(code, 0, "{out}{err}");
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(
        size > 256 * 1024,
        "the backup ({size} bytes) is larger than the limit"
    );
}
