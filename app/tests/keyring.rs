//! The device key in a real OS keyring: a Secret Service (gnome-keyring) on a private D-Bus
//! session made for the test. With a keyring the key never touches the disk; without one it
//! goes to a private file and the log says why; a key that was in a keyring that no longer
//! answers is an error, never a silently new identity.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_carebook");

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `carebook id` with no D-Bus session at all (as on a headless box).
fn id_without_keyring(dir: &Path) -> Output {
    Command::new(BIN)
        .args(["id", "--data-dir"])
        .arg(dir)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        // Nor the per-user bus a D-Bus client would look for next.
        .env("XDG_RUNTIME_DIR", dir.parent().unwrap())
        .output()
        .unwrap()
}

#[test]
fn the_key_lives_in_the_keyring_when_one_runs_and_in_a_private_file_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let with = tmp.path().join("with-keyring");
    // One D-Bus session with an unlocked keyring: `id` twice, the second finding the key.
    let script = format!(
        "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || exit 90; \
         '{BIN}' id --data-dir '{d}' && echo ---- && '{BIN}' id --data-dir '{d}'",
        d = with.display()
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("dbus-run-session (packaging/setup-build-deps.sh installs it)");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let ids: Vec<&str> = stdout.split("----").map(str::trim).collect();
    assert_eq!(ids.len(), 2, "{stdout}");
    assert_eq!(ids[0].len(), 63, "a device ID: {stdout}");
    assert_eq!(ids[0], ids[1], "the key was found again in the keyring");
    assert!(stderr.contains("kept in the system keyring"), "{stderr}");
    assert!(with.join("device-certificate.der").exists());
    assert!(
        !with.join("device-key.der").exists(),
        "with a keyring the key is not on disk"
    );

    // That keyring is gone (its session ended): a clear error, and no new identity made.
    let gone = id_without_keyring(&with);
    let (stdout, stderr) = text(&gone);
    assert_eq!(gone.status.code(), Some(1), "{stdout}");
    assert!(
        stderr.contains("neither in a key file nor in the keyring"),
        "{stderr}"
    );
    assert!(!with.join("device-key.der").exists());

    // No keyring at all: a private file, and the log says so and why.
    let without = tmp.path().join("without-keyring");
    let first = id_without_keyring(&without);
    let second = id_without_keyring(&without);
    let ((a, stderr), (b, _)) = (text(&first), text(&second));
    assert!(first.status.success(), "{stderr}");
    assert_eq!(a, b);
    assert!(
        stderr.contains("device-key.der (readable only by you; no keyring:"),
        "{stderr}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(without.join("device-key.der"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only this user can read the key file");
    }
}
