//! Log files: a command run with `--data-dir DIR` writes its log to a daily file in DIR/logs,
//! the patient names the clinic's computers exchange never reach it, `--version` names the
//! folder, and a log folder that cannot be made does not stop the program.

mod common;

use std::path::{Path, PathBuf};

use carebook_sync::clinic::patients::PatientFields;
use carebook_sync::clinic::staff::Role;
use carebook_sync::clinic::{self, Actor};
use carebook_sync::store::{schema, Store};
use common::{carebook, eventually, Serve};

const FAMILY: &str = "Quackenbush-Żółć";
const GIVEN: &str = "Wilhelmina";

/// The log files in a data folder: (file name, contents).
fn logs(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir.join("logs")) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let path: PathBuf = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

fn patients(dir: &Path) -> i64 {
    let store = Store::open(&dir.join("carebook.db"), schema::CLINIC).unwrap();
    let count = clinic::patients::count_active(&store.writer()).unwrap();
    count
}

#[test]
fn serve_logs_to_the_data_folder_without_patient_names() {
    let tmp = tempfile::tempdir().unwrap();
    let (front, back) = (tmp.path().join("front"), tmp.path().join("back"));
    {
        let store = Store::open(&front.join("carebook.db"), schema::CLINIC).unwrap();
        let db = store.writer();
        let sam = clinic::staff::add(&db, common::ADMIN, Role::Admin).unwrap();
        let actor = Actor {
            staff_id: sam.id,
            device_id: clinic::device_id(&db).unwrap(),
        };
        let fields = PatientFields {
            given_name: GIVEN.into(),
            family_name: FAMILY.into(),
            date_of_birth: "1961-02-03".into(),
            ..Default::default()
        };
        clinic::patients::create(&db, &actor, &fields).unwrap();
    }

    // Everything at debug, while the patient travels from one computer to the other.
    let mut host = Serve::start_logging(&front, "Front desk", "debug");
    let mut joiner = Serve::start_logging(&back, "Back office", "debug");
    let (code, out, err) = carebook(&back, &["pair", &host.addr, "--id", &host.id]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = carebook(&front, &["accept", &joiner.id]);
    assert_eq!(code, 0, "{out}{err}");
    eventually("the patient reached the back office", || {
        patients(&back) == 1
    });
    host.interrupt();
    joiner.interrupt();

    for dir in [&front, &back] {
        let files = logs(dir);
        // One file a day, named by its (UTC) date (two if the test ran across midnight).
        assert!(!files.is_empty() && files.len() <= 2, "{files:?}");
        for (name, _) in &files {
            let date = name
                .strip_prefix("carebook.")
                .and_then(|n| n.strip_suffix(".log"))
                .unwrap_or_default();
            assert!(
                chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
                "{name}"
            );
        }
        let text: String = files.into_iter().map(|(_, t)| t).collect();
        assert!(text.contains("DEBUG"), "the file has serve's debug lines");
        assert!(text.contains("private key is kept"), "{text}");
        assert!(!text.contains('\u{1b}'), "no terminal colours in the file");
        for secret in [FAMILY, GIVEN, "1961-02-03"] {
            assert!(
                !text.contains(secret),
                "{secret} is in the log of {}",
                dir.display()
            );
        }
    }
}

#[test]
fn version_names_the_log_folder_and_a_bad_one_does_not_stop_the_program() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (code, out, _) = carebook(&dir, &["--version"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("log folder: {}\n", dir.join("logs").display())),
        "{out}"
    );
    assert!(!dir.exists(), "--version made nothing");

    // A file where the log folder should be.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("logs"), "not a folder").unwrap();
    let (code, out, err) = carebook(&dir, &["status"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("patients:       0"), "{out}");
    assert!(err.contains("cannot make the log folder"), "{err}");
    assert!(err.contains("logging to stderr only"), "{err}");
}
