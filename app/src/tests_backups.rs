//! The Backups screen and the first question's restore, without a window: real database files,
//! real backup files, the tasks run on a tokio runtime. The file dialogs' answers are sent as the messages
//! the dialogs would send.

use std::path::Path;
use std::sync::Arc;

use carebook_sync::backup::schedule;
use carebook_sync::clinic::patients::PatientFields;
use carebook_sync::clinic::staff::Role;
use carebook_sync::clinic::{self, Actor};
use carebook_sync::identity::Identity;
use carebook_sync::store::{schema, Store};

use crate::app::{Message, Screen};
use crate::nav::{Route, Setup};
use crate::screen::backups::{Backups, Msg};
use crate::screen::first_run::Msg as FirstRun;
use crate::testing::{Window, PIN};

const PASSPHRASE: &str = "river stones and tea";

/// A computer: its folder, its database, and the app over them.
struct Computer {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    w: Window,
}

impl Computer {
    fn new() -> Computer {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap());
        let w = Window::new(store.clone(), None, dir.path());
        Computer { dir, store, w }
    }

    /// A clinic started through the first question, with one patient.
    fn clinic(name: &str) -> Computer {
        let mut c = Computer::new();
        for m in [
            FirstRun::NewClinic,
            FirstRun::Clinic(name.into()),
            FirstRun::Name("Dr Ada Osei".into()),
            FirstRun::Role(Role::Doctor),
            FirstRun::Passphrase(PASSPHRASE.into()),
            FirstRun::Confirm(PASSPHRASE.into()),
            FirstRun::Start,
        ] {
            c.send(Message::FirstRun(m));
        }
        c.w.sign_in("Dr Ada Osei", PIN);
        assert!(matches!(c.w.app.screen, Screen::Patients), "started");
        let me = c.w.app.me.clone().unwrap();
        let actor = Actor::at_this_device(&c.store.writer(), &me.id).unwrap();
        c.add_patient(&actor, "Okafor");
        c
    }

    fn add_patient(&self, actor: &Actor, family: &str) {
        let fields = PatientFields {
            given_name: "Chidi".into(),
            family_name: family.into(),
            date_of_birth: "1984-03-27".into(),
            ..Default::default()
        };
        clinic::patients::create(&self.store.writer(), actor, &fields).unwrap();
    }

    fn send(&mut self, m: Message) {
        self.w.send(m);
    }

    fn backups(&mut self, m: Msg) {
        self.send(Message::Backups(m));
    }

    fn screen(&self) -> &Backups {
        match &self.w.app.screen {
            Screen::Backups(b) => b,
            other => panic!("not on Backups: {other:?}"),
        }
    }

    fn outcome(&self) -> String {
        self.screen().outcome.clone().unwrap_or_default()
    }

    fn families(&self) -> Vec<String> {
        let db = self.store.writer();
        let mut st = db
            .prepare("SELECT family_name FROM patients ORDER BY family_name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

#[test]
fn save_check_and_merge_a_backup_from_the_screen() {
    let mut a = Computer::clinic("Riverside Practice");
    a.send(Message::Go(Route::Backups));
    let loaded = a.screen().data.clone().unwrap();
    assert_eq!(loaded.clinic.as_deref(), Some("Riverside Practice"));
    assert_eq!(loaded.remembered, Ok(true), "kept at the first question");
    assert!(loaded.last.ok.is_none());

    // The Save dialog answers with a file; the remembered passphrase is used.
    let file = a.path("riverside.carebook-backup");
    a.backups(Msg::SaveTo(Some(file.clone())));
    assert!(
        a.outcome().starts_with("Saved a backup of 1 patients"),
        "{}",
        a.outcome()
    );
    assert!(a.screen().running.is_none());
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"Okafor"),
        "no name in the file"
    );
    let last = a.screen().data.clone().unwrap().last;
    assert_eq!(last.ok.map(|(_, f)| f), Some(file.display().to_string()));

    // Open: who signed it, when, what it holds; nothing changes yet.
    a.backups(Msg::Verify(Some(file.clone())));
    let opened = a.screen().opened.clone().expect("verified");
    assert_eq!(opened.report.manifest.rows_of("patients"), 1);
    assert_eq!(
        opened.report.standing,
        carebook_sync::backup::Standing::ThisComputer
    );
    // Merging it back changes nothing: this computer holds all of it.
    a.backups(Msg::Import);
    assert!(a.outcome().starts_with("Nothing new"), "{}", a.outcome());
    assert_eq!(a.families(), ["Okafor"]);

    // A wrong passphrase and a damaged file are refused with the reason.
    a.backups(Msg::Passphrase("not the passphrase".into()));
    a.backups(Msg::Verify(Some(file.clone())));
    assert!(
        a.outcome().contains("passphrase is wrong"),
        "{}",
        a.outcome()
    );
    assert!(a.screen().opened.is_none());
    a.backups(Msg::Passphrase(String::new()));
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 1;
    let bad = a.path("damaged.carebook-backup");
    std::fs::write(&bad, &damaged).unwrap();
    a.backups(Msg::Verify(Some(bad)));
    assert!(a.outcome().contains("was refused"), "{}", a.outcome());
    assert!(a.screen().opened.is_none());
}

#[test]
fn a_fresh_computer_restores_the_clinic_with_its_own_identity_after_accepting_the_signer() {
    let a = Computer::clinic("Riverside Practice");
    let file = a.path("riverside.carebook-backup");
    let me_a =
        Identity::load_or_create_with(a.dir.path(), carebook_sync::identity::Keyring::Off).unwrap();
    let p = carebook_sync::backup::Passphrase::new(PASSPHRASE.into()).unwrap();
    carebook_sync::backup::export(&a.store, &me_a, &p, &file, &Default::default()).unwrap();

    let mut b = Computer::new();
    assert!(matches!(b.w.app.screen, Screen::FirstRun(_)));
    b.send(Message::FirstRun(FirstRun::Restore));
    assert_eq!(b.w.app.route, Route::Backups);
    b.backups(Msg::Passphrase(PASSPHRASE.into()));
    b.backups(Msg::Verify(Some(file.clone())));
    let opened = b.screen().opened.clone().expect("verified");
    assert_eq!(
        opened.report.standing,
        carebook_sync::backup::Standing::Unknown
    );
    // The signer is not known here: importing needs the person's explicit yes.
    b.backups(Msg::Import);
    assert!(b.outcome().contains("does not know"), "{}", b.outcome());
    assert!(b.families().is_empty(), "nothing changed");
    b.backups(Msg::Verify(Some(file)));
    b.backups(Msg::AcceptSigner(true));
    b.backups(Msg::Import);
    assert_eq!(b.families(), ["Okafor"]);
    // The staff arrived with the records, their PINs too: the same PIN signs in here.
    b.w.sign_in("Dr Ada Osei", PIN);
    assert!(
        matches!(b.w.app.screen, Screen::Patients),
        "{:?}",
        b.w.app.screen
    );
    assert!(b.w.app.setup.is_none());
    assert_eq!(
        b.w.app.me.as_ref().map(|s| s.name.as_str()),
        Some("Dr Ada Osei")
    );
    let site = |s: &Store| carebook_sync::store::site_id(&s.writer()).unwrap();
    assert_ne!(site(&a.store), site(&b.store), "a new site id");
    // The passphrase that opened it is now remembered for automatic backups.
    let me_b = Identity::existing_id(b.dir.path()).unwrap().unwrap();
    assert!(schedule::recall(b.dir.path(), &me_b).unwrap().is_some());
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn automatic_backups_run_when_due_and_say_when_they_cannot() {
    let mut a = Computer::clinic("Riverside Practice");
    let folder = a.path("nightly");
    a.send(Message::Go(Route::Backups));
    a.backups(Msg::Folder(folder.display().to_string()));
    a.backups(Msg::Keep("two".into()));
    a.backups(Msg::SaveSchedule);
    assert!(a.outcome().contains("a number"), "{}", a.outcome());
    a.backups(Msg::Keep("2".into()));
    a.backups(Msg::SaveSchedule);
    let s = schedule::load(&a.store.writer()).unwrap();
    assert_eq!((s.folder.as_deref(), s.keep), (Some(folder.as_path()), 2));

    // The app's minute: the first look finds a backup due and makes it.
    a.w.backup_look();
    let made = files_in(&folder);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].ends_with(".carebook-backup"));
    assert!(!a.w.app.backups_overdue);
    // The next look finds none due (one a day).
    a.w.backup_look();
    assert_eq!(files_in(&folder).len(), 1);

    // Without a remembered passphrase it cannot run: that is recorded and shown.
    let b = Computer::clinic("Hillside");
    std::fs::remove_file(b.dir.path().join("backup-passphrase")).unwrap();
    schedule::save(
        &b.store.writer(),
        &schedule::Schedule {
            folder: Some(b.path("nightly")),
            ..Default::default()
        },
    )
    .unwrap();
    let mut b = b;
    b.w.backup_look();
    assert!(b.w.app.backups_overdue, "the top bar warns");
    assert!(files_in(&b.path("nightly")).is_empty());
    let last = schedule::last(&b.store.writer()).unwrap();
    assert!(last.failed.unwrap().1.contains("passphrase"));
}

#[test]
fn joining_waits_on_the_computers_screen_until_the_clinic_s_records_arrive() {
    let mut c = Computer::new();
    // Without the network a computer cannot join: said plainly, and the question stays.
    c.send(Message::FirstRun(FirstRun::Join));
    assert!(matches!(c.w.app.screen, Screen::FirstRun(_)));
    assert!(c
        .w
        .app
        .notice
        .clone()
        .unwrap()
        .contains("without the network"));

    let identity =
        Identity::load_or_create_with(c.dir.path(), carebook_sync::identity::Keyring::Off).unwrap();
    let node = carebook_sync::net::node::Node::new(identity, c.store.clone(), "Laptop").unwrap();
    c.w.app.node = Some(node);
    // No real camera in a test, whatever this machine has.
    c.w.app.camera = crate::screen::scan::OpenCamera::new(|| {
        Err(carebook_sync::pairing::camera::WebcamError::NoCamera)
    });
    c.send(Message::FirstRun(FirstRun::Join));
    assert_eq!(c.w.app.route, Route::Peers);
    assert_eq!(c.w.app.setup, Some(Setup::Join));
    // The code can be scanned from there, and Back returns to the pairing, no further.
    c.send(Message::Go(Route::Scan));
    assert_eq!(c.w.app.route, Route::Scan);
    c.send(Message::Go(Route::Patients));
    assert_eq!(c.w.app.route, Route::Scan, "no records to show yet");
    c.send(Message::Back);
    assert_eq!(c.w.app.route, Route::Peers);
    // Esc does not leave the pairing; nothing has arrived yet.
    c.send(Message::Back);
    assert_eq!(c.w.app.route, Route::Peers);
    assert!(c.w.app.me.is_none());

    // The clinic's staff arrive (as a merge from the computer that accepted this one).
    clinic::staff::add(&c.store.writer(), "Rita Front", Role::Receptionist).unwrap();
    c.w.settle();
    c.w.sign_in("Rita Front", PIN);
    assert!(
        matches!(c.w.app.screen, Screen::Patients),
        "{:?}",
        c.w.app.screen
    );
    assert_eq!(
        c.w.app.me.as_ref().map(|s| s.name.as_str()),
        Some("Rita Front")
    );
    assert!(c.w.app.setup.is_none());
}

#[test]
fn back_to_the_first_question_from_restoring() {
    let mut c = Computer::new();
    c.send(Message::FirstRun(FirstRun::Restore));
    assert_eq!(c.w.app.setup, Some(Setup::Restore));
    c.send(Message::StartOver);
    assert!(matches!(c.w.app.screen, Screen::FirstRun(_)));
    assert!(c.w.app.setup.is_none());
}

#[test]
fn a_backup_saved_with_a_typed_passphrase_needs_it_twice_and_long_enough() {
    let mut a = Computer::clinic("Riverside Practice");
    a.send(Message::Go(Route::Backups));
    let file = a.path("typed.carebook-backup");
    a.backups(Msg::Passphrase("short".into()));
    a.backups(Msg::SaveTo(Some(file.clone())));
    assert!(a.outcome().contains("at least 10"), "{}", a.outcome());
    a.backups(Msg::Passphrase("a new clinic passphrase".into()));
    a.backups(Msg::Confirm("a new clinic passphrase?".into()));
    a.backups(Msg::SaveTo(Some(file.clone())));
    assert_eq!(a.outcome(), "The two passphrases differ");
    assert!(!file.exists(), "nothing saved");
    a.backups(Msg::Confirm("a new clinic passphrase".into()));
    a.backups(Msg::SaveTo(Some(file.clone())));
    assert!(a.outcome().starts_with("Saved a backup"), "{}", a.outcome());
    // The backup opens with the new passphrase (typed once: opening needs no second typing).
    a.backups(Msg::Passphrase("a new clinic passphrase".into()));
    a.backups(Msg::Verify(Some(file)));
    assert!(a.screen().opened.is_some(), "{}", a.outcome());
}
