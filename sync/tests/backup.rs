//! Backups on real SQLite files: what the file shows without the passphrase (nothing), who
//! signed it, merge-import (idempotent, never rolling back newer edits, a fresh install keeping
//! its own site id), a snapshot taken while another thread writes, and every way a file is
//! refused without changing the database.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use carebook_sync::backup::{
    self, schedule, BackupError, ClinicMatch, Control, ImportOptions, Imported, Manifest,
    Passphrase, Standing,
};
use carebook_sync::clinic::{demo, profile};
use carebook_sync::identity::DeviceId;
use carebook_sync::net::roster;
use carebook_sync::store::{self, schema};

const PASSPHRASE: &str = "correct horse battery staple";
/// A family name that appears in no demo data, to look for in the file's bytes.
const FAMILY: &str = "Wiśniewska-Zbąszyńska";

/// A computer of the clinic, with what these tests do with it.
struct Computer(carebook_tests::Computer);

impl std::ops::Deref for Computer {
    type Target = carebook_tests::Computer;
    fn deref(&self) -> &carebook_tests::Computer {
        &self.0
    }
}

impl Computer {
    fn new() -> Computer {
        Computer(carebook_tests::Computer::new())
    }

    /// A computer of a clinic called `clinic` with some records.
    fn with_records(clinic: &str) -> Computer {
        let c = Computer::new();
        let db = c.store.writer();
        profile::ensure(&db, clinic).unwrap();
        demo::fill(&db, 30, 7).unwrap();
        db.execute(
            "INSERT INTO patients(id, given_name, family_name, date_of_birth) VALUES ('p-marked', 'Agnieszka', ?1, '1971-03-04')",
            [FAMILY],
        )
        .unwrap();
        drop(db);
        c
    }

    fn export(&self, name: &str) -> (PathBuf, Manifest) {
        let path = self.path(name);
        let m = backup::export(
            &self.store,
            &self.identity,
            &pass(),
            &path,
            &Control::default(),
        )
        .unwrap();
        (path, m)
    }

    fn import(&self, file: &Path, accept: Option<DeviceId>) -> Result<Imported, BackupError> {
        self.import_with(file, &pass(), accept)
    }

    fn import_with(
        &self,
        file: &Path,
        passphrase: &Passphrase,
        accept: Option<DeviceId>,
    ) -> Result<Imported, BackupError> {
        backup::import(
            &self.store,
            file,
            passphrase,
            &ImportOptions {
                this_device: self.identity.id,
                accept_signer: accept,
            },
            &Control::default(),
        )
    }

    fn verify(&self, file: &Path) -> Result<backup::Report, BackupError> {
        backup::verify(
            &self.store.reader().unwrap(),
            &self.identity.id,
            file,
            &pass(),
            &Control::default(),
        )
    }

    /// Every replicated row, as text, table by table.
    fn dump(&self) -> Vec<String> {
        dump(&self.store.writer())
    }

    fn db_version(&self) -> i64 {
        store::db_version(&self.store.writer()).unwrap()
    }

    fn family_of(&self, id: &str) -> String {
        self.store
            .writer()
            .query_row(
                "SELECT family_name FROM patients WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }
}

fn dump(db: &rusqlite::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for table in schema::CLINIC.iter().flat_map(|m| m.track) {
        let mut st = db
            .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY id"))
            .unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let cols: Vec<String> = (0..n)
                .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                .collect();
            out.push(format!("{table}: {}", cols.join(" | ")));
        }
    }
    out
}

/// The passphrase with a small scrypt work factor, so the tests run quickly.
fn pass() -> Passphrase {
    Passphrase::new(PASSPHRASE.into())
        .unwrap()
        .with_work_factor(10)
}

/// The state a refused import must leave untouched.
fn state(c: &Computer) -> (i64, Vec<String>) {
    (c.db_version(), c.dump())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_backup_shows_nothing_readable_and_verify_says_who_signed_it_and_what_it_holds() {
    let a = Computer::with_records("Harbour Family Practice");
    let (file, manifest) = a.export("a.carebook-backup");
    let bytes = std::fs::read(&file).unwrap();
    for plain in [
        FAMILY,
        "Agnieszka",
        "Harbour Family Practice",
        "Okafor",
        "CAREBOOK BACKUP",
    ] {
        assert!(
            !contains(&bytes, plain.as_bytes()),
            "{plain} is readable in the file"
        );
    }
    assert!(
        !contains(&bytes, &a.identity.certificate),
        "the certificate is inside, encrypted"
    );

    let report = a.verify(&file).unwrap();
    assert_eq!(report.signer, a.identity.id);
    assert_eq!(report.standing, Standing::ThisComputer);
    assert_eq!(report.clinic, ClinicMatch::Same);
    assert_eq!(report.bytes, bytes.len() as u64);
    assert_eq!(report.manifest, manifest);
    let db = a.store.writer();
    let clinic = profile::current(&db).unwrap().unwrap();
    assert_eq!(
        (manifest.clinic_id.as_str(), manifest.clinic_name.as_str()),
        (clinic.id.as_str(), "Harbour Family Practice")
    );
    assert_eq!(manifest.device_id, a.identity.id.to_text());
    assert_eq!(manifest.site_id, store::site_id(&db).unwrap());
    assert_eq!(manifest.db_version, store::db_version(&db).unwrap());
    assert_eq!(
        manifest.schema_version,
        store::current_version(&db).unwrap()
    );
    assert_eq!(manifest.format, backup::FORMAT);
    for t in &manifest.rows {
        let n: i64 = db
            .query_row(&format!("SELECT count(*) FROM \"{}\"", t.table), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, t.rows, "{}", t.table);
    }
    assert_eq!(manifest.rows_of("patients"), 31);
    let changes: i64 = db
        .query_row("SELECT count(*) FROM crsql_changes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(manifest.sites.len(), 1, "only this computer wrote");
    assert_eq!(manifest.sites[0].site_id, manifest.site_id);
    assert_eq!(manifest.sites[0].changes, changes);
    assert_eq!(manifest.sites[0].db_version, manifest.db_version);
}

#[test]
fn every_export_is_recorded_as_the_last_good_backup() {
    let a = Computer::with_records("Harbour Family Practice");
    assert_eq!(schedule::last(&a.store.writer()).unwrap().ok, None);
    let (file, manifest) = a.export("by-hand.carebook-backup");
    let file = std::fs::canonicalize(file).unwrap();
    assert_eq!(
        schedule::last(&a.store.writer()).unwrap().ok,
        Some((manifest.created_at, file.display().to_string()))
    );
}

#[test]
fn verify_tells_a_trusted_member_from_a_removed_or_unknown_signer_and_changes_nothing() {
    let a = Computer::with_records("Harbour");
    let (file, _) = a.export("a.backup");
    let b = Computer::new();
    let before = state(&b);
    let r = b.verify(&file).unwrap();
    assert_eq!(
        (r.standing, r.signer_name.clone()),
        (Standing::Unknown, None)
    );
    assert_eq!(r.clinic, ClinicMatch::NoneHere);
    roster::add(&b.store.writer(), &a.identity.id, "Front desk", "").unwrap();
    let r = b.verify(&file).unwrap();
    assert_eq!(
        (r.standing, r.signer_name.as_deref()),
        (Standing::Trusted, Some("Front desk"))
    );
    roster::revoke(&b.store.writer(), &a.identity.id).unwrap();
    let revoked = state(&b);
    assert_ne!(before, revoked);
    assert_eq!(b.verify(&file).unwrap().standing, Standing::Revoked);
    assert_eq!(state(&b), revoked, "verify changed nothing");
}

#[test]
fn restoring_on_a_fresh_install_brings_everything_under_a_new_site_id() {
    let a = Computer::with_records("Harbour");
    let (file, manifest) = a.export("a.backup");
    let fresh = Computer::new();
    let imported = fresh.import(&file, Some(a.identity.id)).unwrap();
    assert_eq!(imported.report.standing, Standing::Unknown);
    assert_eq!(imported.report.clinic, ClinicMatch::NoneHere);
    assert!(imported.changes > 0);
    assert_eq!(fresh.dump(), a.dump(), "every replicated row came back");
    assert_eq!(fresh.family_of("p-marked"), FAMILY);
    let (site_a, site_fresh) = (
        store::site_id(&a.store.writer()).unwrap(),
        store::site_id(&fresh.store.writer()).unwrap(),
    );
    assert_eq!(manifest.site_id, site_a);
    assert_ne!(
        site_fresh, site_a,
        "the restored database keeps its own site id"
    );
    assert_eq!(
        profile::current(&fresh.store.writer()).unwrap(),
        profile::current(&a.store.writer()).unwrap(),
        "the clinic's identity came with it"
    );
    // Now it is this clinic's: its own backups belong, and new edits replicate under its id.
    fresh
        .store
        .writer()
        .execute(
            "UPDATE patients SET phone = '+1 555 0100' WHERE id = 'p-marked'",
            [],
        )
        .unwrap();
    let (again, _) = fresh.export("fresh.backup");
    assert_eq!(fresh.verify(&again).unwrap().clinic, ClinicMatch::Same);
}

#[test]
fn importing_the_same_backup_twice_changes_nothing_and_keeps_local_records() {
    let a = Computer::with_records("Harbour");
    let (file, _) = a.export("a.backup");
    let b = Computer::new();
    b.store
        .writer()
        .execute(
            "INSERT INTO patients(id, family_name, date_of_birth) VALUES ('p-local', 'Local', '1990-01-01')",
            [],
        )
        .unwrap();
    b.import(&file, Some(a.identity.id)).unwrap();
    assert_eq!(b.family_of("p-local"), "Local", "nothing local is lost");
    assert_eq!(b.family_of("p-marked"), FAMILY);
    let once = state(&b);
    let twice = b.import(&file, Some(a.identity.id)).unwrap();
    assert!(twice.changes > 0);
    assert_eq!(twice.db_version_before, twice.db_version_after);
    assert_eq!(state(&b), once, "the second import changed nothing");
}

#[test]
fn an_old_backup_cannot_roll_back_newer_edits() {
    let a = Computer::with_records("Harbour");
    let (old, _) = a.export("old.backup");
    a.store
        .writer()
        .execute(
            "UPDATE patients SET family_name = 'Newer' WHERE id = 'p-marked'",
            [],
        )
        .unwrap();
    a.store
        .writer()
        .execute("DELETE FROM patients WHERE id NOT IN (SELECT patient_id FROM visits UNION SELECT patient_id FROM appointments) AND id != 'p-marked'", [])
        .unwrap();
    let (new, _) = a.export("new.backup");
    let edited = state(&a);

    // On the computer that made both: the old one brings nothing back.
    let r = a.import(&old, None).unwrap();
    assert_eq!(r.report.standing, Standing::ThisComputer);
    assert_eq!(state(&a), edited);
    assert_eq!(a.family_of("p-marked"), "Newer");

    // On a fresh install, in either order.
    let b = Computer::new();
    b.import(&new, Some(a.identity.id)).unwrap();
    b.import(&old, Some(a.identity.id)).unwrap();
    assert_eq!(b.dump(), a.dump());
    let c = Computer::new();
    c.import(&old, Some(a.identity.id)).unwrap();
    c.import(&new, Some(a.identity.id)).unwrap();
    assert_eq!(
        c.dump(),
        a.dump(),
        "deletions and edits win over the older backup"
    );
}

#[test]
fn unknown_and_removed_signers_are_refused_unless_accepted() {
    let a = Computer::with_records("Harbour");
    let (file, _) = a.export("a.backup");
    let b = Computer::new();
    let before = state(&b);
    let stranger = Computer::new();
    for accept in [None, Some(stranger.identity.id)] {
        match b.import(&file, accept) {
            Err(BackupError::UnknownSigner(id)) => assert_eq!(id, a.identity.id),
            other => panic!("expected UnknownSigner, got {other:?}"),
        }
        assert_eq!(state(&b), before);
    }

    // B restores, knows A, then A is removed from the clinic.
    b.import(&file, Some(a.identity.id)).unwrap();
    roster::add(&b.store.writer(), &a.identity.id, "Old laptop", "").unwrap();
    a.store
        .writer()
        .execute(
            "UPDATE patients SET phone = '+1 555 0199' WHERE id = 'p-marked'",
            [],
        )
        .unwrap();
    let (later, _) = a.export("later.backup");
    b.import(&later, None).unwrap();
    roster::revoke(&b.store.writer(), &a.identity.id).unwrap();
    a.store
        .writer()
        .execute(
            "UPDATE patients SET phone = '+1 555 0142' WHERE id = 'p-marked'",
            [],
        )
        .unwrap();
    let (after_removal, _) = a.export("after.backup");
    let before = state(&b);
    let err = b.import(&after_removal, None).unwrap_err();
    assert!(
        matches!(&err, BackupError::RevokedSigner { id, name } if *id == a.identity.id && name == "Old laptop"),
        "{err:?}"
    );
    assert!(err.to_string().contains("Old laptop"), "{err}");
    assert_eq!(state(&b), before);
    b.import(&after_removal, Some(a.identity.id)).unwrap();
    assert_ne!(state(&b), before, "accepted explicitly, it merges");
}

#[test]
fn a_backup_from_another_clinic_is_refused() {
    let ours = Computer::with_records("Harbour");
    let theirs = Computer::with_records("Hillside");
    let (file, _) = theirs.export("theirs.backup");
    let before = state(&ours);
    let err = ours.import(&file, Some(theirs.identity.id)).unwrap_err();
    assert!(
        matches!(&err, BackupError::AnotherClinic { backup, here } if backup == "Hillside" && here == "Harbour"),
        "{err:?}"
    );
    assert_eq!(
        ours.verify(&file).unwrap().clinic,
        ClinicMatch::Other {
            here: "Harbour".into()
        }
    );
    assert_eq!(state(&ours), before);
}

/// What pairing does to two databases: every change goes both ways.
fn replicate(a: &Computer, b: &Computer) {
    carebook_tests::exchange(&a.store.writer(), &b.store.writer());
    carebook_tests::exchange(&b.store.writer(), &a.store.writer());
}

#[test]
fn paired_computers_share_the_clinic_identity_so_each_ones_backups_belong() {
    // Two computers each made an identity before they were paired. Unpaired, each refuses the
    // other's backups; once paired, both identities are the clinic's, both computers show the
    // same one, and backups made on either before the pairing belong.
    let a = Computer::with_records("Harbour");
    let b = Computer::new();
    profile::ensure(&b.store.writer(), "Harbour (laptop)").unwrap();
    let (from_b, _) = b.export("b.backup");
    let (from_a, _) = a.export("a.backup");
    assert!(matches!(
        a.import(&from_b, Some(b.identity.id)),
        Err(BackupError::AnotherClinic { .. })
    ));
    replicate(&a, &b);
    assert_eq!(a.dump(), b.dump());
    assert_eq!(
        profile::current(&a.store.writer()).unwrap(),
        profile::current(&b.store.writer()).unwrap()
    );
    assert_eq!(a.verify(&from_b).unwrap().clinic, ClinicMatch::Same);
    assert_eq!(b.verify(&from_a).unwrap().clinic, ClinicMatch::Same);
    a.import(&from_b, Some(b.identity.id)).unwrap();
}

/// Where age's header ends in a file (after the `---` MAC line).
fn header_len(bytes: &[u8]) -> usize {
    let at = bytes.windows(4).position(|w| w == b"\n---").unwrap();
    at + bytes[at + 1..].iter().position(|b| *b == b'\n').unwrap() + 2
}

/// A clinic's backup read into memory (`header`: where age's header ends in it), to spoil
/// copies of, and a fresh computer `b` to offer them to, with its state before any.
struct Spoilt {
    a: Computer,
    bytes: Vec<u8>,
    header: usize,
    b: Computer,
    before: (i64, Vec<String>),
}

fn spoilt() -> Spoilt {
    let a = Computer::with_records("Harbour");
    let (file, _) = a.export("a.backup");
    let bytes = std::fs::read(&file).unwrap();
    let b = Computer::new();
    Spoilt {
        header: header_len(&bytes),
        before: state(&b),
        a,
        bytes,
        b,
    }
}

#[test]
fn a_changed_byte_anywhere_is_refused_and_changes_nothing() {
    let Spoilt {
        a,
        bytes,
        header,
        b,
        before,
    } = spoilt();
    let bad = b.path("bad.backup");
    let positions = [
        0,
        25,
        header - 5,
        header + 3, // the stream nonce
        header + 40,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 40,
        bytes.len() - 1,
    ];
    for at in positions {
        let mut changed = bytes.clone();
        changed[at] ^= 0x01;
        std::fs::write(&bad, &changed).unwrap();
        let err = b.import(&bad, Some(a.identity.id)).unwrap_err();
        let ok = if at < header {
            matches!(
                err,
                BackupError::NotABackup | BackupError::WrongPassphrase | BackupError::Damaged
            )
        } else {
            matches!(err, BackupError::Damaged)
        };
        assert!(
            ok,
            "byte {at} of {} (header {header}): {err:?}",
            bytes.len()
        );
        assert!(b.verify(&bad).is_err(), "verify refuses byte {at} too");
        assert_eq!(state(&b), before);
    }
}

#[test]
fn a_truncated_file_is_refused_and_changes_nothing() {
    let Spoilt {
        a,
        bytes,
        header,
        b,
        before,
    } = spoilt();
    let cut = b.path("cut.backup");
    // The payload is sealed in 64 KiB chunks (plus a 16-byte tag each) after a 16-byte nonce.
    let chunk_end = header + 16 + 65_536 + 16;
    assert!(
        bytes.len() > chunk_end + 1000,
        "the backup spans several chunks"
    );
    for len in [
        bytes.len() - 1,
        bytes.len() / 2,
        chunk_end,
        header + 16,
        header - 10,
    ] {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let err = b.import(&cut, Some(a.identity.id)).unwrap_err();
        let want = if len == chunk_end || len == header + 16 {
            matches!(err, BackupError::Truncated)
        } else {
            matches!(err, BackupError::Truncated | BackupError::Damaged)
        };
        assert!(want, "cut to {len} of {}: {err:?}", bytes.len());
        assert_eq!(state(&b), before);
    }
    std::fs::write(&cut, b"").unwrap();
    assert!(matches!(
        b.import(&cut, None).unwrap_err(),
        BackupError::NotABackup
    ));
}

fn decrypt(file: &Path) -> Vec<u8> {
    let bytes = std::fs::read(file).unwrap();
    let d = age::Decryptor::new(&bytes[..]).unwrap();
    let id = age::scrypt::Identity::new(PASSPHRASE.to_string().into());
    let mut out = Vec::new();
    d.decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn encrypt(plain: &[u8], file: &Path) {
    let mut r = age::scrypt::Recipient::new(PASSPHRASE.to_string().into());
    r.set_work_factor(10);
    let e = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = e.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    std::fs::write(file, out).unwrap();
}

/// A backup's plaintext split into its sections: magic and format, then every section
/// (manifest, certificate, batches), then the signature.
fn sections(plain: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>, Vec<u8>) {
    let head = plain[..20].to_vec();
    let mut at = 20;
    let mut out = Vec::new();
    loop {
        let len = u32::from_le_bytes(plain[at..at + 4].try_into().unwrap()) as usize;
        at += 4;
        if len == 0 {
            break;
        }
        out.push(plain[at..at + len].to_vec());
        at += len;
    }
    let sig_len = u32::from_le_bytes(plain[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(at + 4 + sig_len, plain.len());
    (head, out, plain[at + 4..].to_vec())
}

fn assemble(head: &[u8], parts: &[Vec<u8>], signature: &[u8]) -> Vec<u8> {
    let mut out = head.to_vec();
    for p in parts {
        out.extend((p.len() as u32).to_le_bytes());
        out.extend(p);
    }
    out.extend(0u32.to_le_bytes());
    out.extend((signature.len() as u32).to_le_bytes());
    out.extend(signature);
    out
}

#[test]
fn a_swapped_signature_or_signer_is_refused_even_with_the_passphrase() {
    let a = Computer::with_records("Harbour");
    let (file_a, _) = a.export("a.backup");
    a.store
        .writer()
        .execute(
            "UPDATE patients SET phone = '+1 555 0123' WHERE id = 'p-marked'",
            [],
        )
        .unwrap();
    let (file_a2, _) = a.export("a2.backup");
    let other = Computer::with_records("Harbour");
    let (file_o, _) = other.export("o.backup");
    let (head, parts, sig) = sections(&decrypt(&file_a));
    let (_, parts2, sig2) = sections(&decrypt(&file_a2));
    let (_, parts_o, sig_o) = sections(&decrypt(&file_o));

    let b = Computer::new();
    let before = state(&b);
    let forged = b.dir.path().join("forged.backup");
    // Re-encrypting the untouched plaintext is still a good backup (the test's tools work).
    encrypt(&assemble(&head, &parts, &sig), &forged);
    assert_eq!(b.verify(&forged).unwrap().signer, a.identity.id);

    let mut with_other_cert = parts.clone();
    with_other_cert[1] = parts_o[1].clone();
    let mut manifest: Manifest = postcard::from_bytes(&parts[0]).unwrap();
    manifest.device_id = other.identity.id.to_text();
    let mut claims_other = with_other_cert.clone();
    claims_other[0] = postcard::to_stdvec(&manifest).unwrap();
    let mut mixed = parts.clone();
    mixed.push(parts2[2].clone());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "the signature of A's other backup",
            assemble(&head, &parts, &sig2),
        ),
        (
            "another computer's signature",
            assemble(&head, &parts, &sig_o),
        ),
        (
            "A's content, another certificate",
            assemble(&head, &with_other_cert, &sig_o),
        ),
        (
            "A's content claiming another signer",
            assemble(&head, &claims_other, &sig_o),
        ),
        (
            "a batch added from another backup",
            assemble(&head, &mixed, &sig),
        ),
        ("a batch dropped", assemble(&head, &parts[..2], &sig)),
    ];
    for (what, plain) in cases {
        encrypt(&plain, &forged);
        let err = b.import(&forged, Some(a.identity.id)).unwrap_err();
        assert!(matches!(err, BackupError::BadSignature), "{what}: {err:?}");
        assert!(
            matches!(b.verify(&forged), Err(BackupError::BadSignature)),
            "{what}"
        );
        assert_eq!(state(&b), before, "{what}");
    }
    assert_eq!(parts2.len(), 3, "one batch in these small backups");

    // A section length running past the end (written by someone with the passphrase).
    let mut plain = assemble(&head, &parts, &sig);
    plain[20..24].copy_from_slice(&(1u32 << 29).to_le_bytes());
    encrypt(&plain, &forged);
    let err = b.import(&forged, Some(a.identity.id)).unwrap_err();
    assert!(matches!(err, BackupError::Damaged), "{err:?}");
    assert_eq!(state(&b), before);
}

#[test]
fn a_wrong_passphrase_and_files_that_are_not_backups_are_refused() {
    let a = Computer::with_records("Harbour");
    let (file, _) = a.export("a.backup");
    let b = Computer::new();
    let before = state(&b);
    let wrong = Passphrase::new("Correct horse battery staple".into()).unwrap();
    assert!(matches!(
        b.import_with(&file, &wrong, Some(a.identity.id)),
        Err(BackupError::WrongPassphrase)
    ));
    assert!(matches!(
        Passphrase::new(String::new()),
        Err(BackupError::EmptyPassphrase)
    ));
    let other = b.dir.path().join("notes.txt");
    std::fs::write(&other, "shopping list: milk, bread\n".repeat(100)).unwrap();
    assert!(matches!(
        b.import(&other, None),
        Err(BackupError::NotABackup)
    ));
    // An age file with the right passphrase, but not a backup.
    encrypt(b"just some text, long enough to hold a magic line", &other);
    assert!(matches!(
        b.import(&other, None),
        Err(BackupError::NotABackup)
    ));
    assert!(matches!(b.verify(&other), Err(BackupError::NotABackup)));
    assert!(matches!(
        b.import(&b.dir.path().join("missing.backup"), None),
        Err(BackupError::File(..))
    ));
    assert_eq!(state(&b), before);
}

#[test]
fn a_backup_asking_for_a_huge_key_derivation_is_refused_before_any_work() {
    let a = Computer::with_records("Harbour");
    let (file, _) = a.export("a.backup");
    // The header names the scrypt work factor in clear ("-> scrypt SALT 10"); a crafted file
    // asks for 2^21 rounds: 2 GiB of memory.
    let bytes = std::fs::read(&file).unwrap();
    let head = header_len(&bytes);
    let text = String::from_utf8(bytes[..head].to_vec()).unwrap();
    let line = text.lines().find(|l| l.starts_with("-> scrypt ")).unwrap();
    let crafted_line = format!("{} 21", line.rsplit_once(' ').unwrap().0);
    let mut crafted = text.replacen(line, &crafted_line, 1).into_bytes();
    crafted.extend_from_slice(&bytes[head..]);
    let crafted_file = a.path("crafted.backup");
    std::fs::write(&crafted_file, &crafted).unwrap();
    let b = Computer::new();
    let before = state(&b);
    let refused = b.verify(&crafted_file).unwrap_err();
    assert!(
        matches!(
            refused,
            BackupError::TooMuchWork {
                required: 21,
                allowed: 20
            }
        ),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("not made by Carebook"),
        "{refused}"
    );
    assert!(matches!(
        b.import(&crafted_file, Some(a.identity.id)),
        Err(BackupError::TooMuchWork { .. })
    ));
    assert_eq!(state(&b), before);
}

#[test]
fn a_cancelled_export_leaves_no_file_and_a_cancelled_import_changes_nothing() {
    let a = Computer::with_records("Harbour");
    let dest = a.path("out").join("cancelled.backup");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(&dest, "an older backup").unwrap();
    let control = Control::default();
    control.cancel();
    let err = backup::export(&a.store, &a.identity, &pass(), &dest, &control).unwrap_err();
    assert!(matches!(err, BackupError::Cancelled), "{err:?}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "an older backup");
    assert_eq!(
        std::fs::read_dir(dest.parent().unwrap()).unwrap().count(),
        1,
        "no temporary file left"
    );

    let (file, manifest) = a.export("a.backup");
    let control = Control::default();
    let b = Computer::new();
    let before = state(&b);
    control.cancel();
    let err = backup::import(
        &b.store,
        &file,
        &pass(),
        &ImportOptions {
            this_device: b.identity.id,
            accept_signer: Some(a.identity.id),
        },
        &control,
    )
    .unwrap_err();
    assert!(matches!(err, BackupError::Cancelled), "{err:?}");
    assert_eq!(state(&b), before);

    // Progress: an export ends at its snapshot's db_version, an import at the file's size.
    let control = Control::default();
    let again = a.path("again.backup");
    backup::export(&a.store, &a.identity, &pass(), &again, &control).unwrap();
    assert_eq!(
        control.progress(),
        (manifest.db_version as u64, manifest.db_version as u64)
    );
    let control = Control::default();
    backup::verify(
        &b.store.reader().unwrap(),
        &b.identity.id,
        &again,
        &pass(),
        &control,
    )
    .unwrap();
    let size = std::fs::metadata(&again).unwrap().len();
    assert_eq!(control.progress(), (size, size));
    assert_eq!(control.fraction(), 1.0);
}

#[test]
fn a_backup_taken_while_another_thread_writes_is_a_consistent_snapshot() {
    let a = Computer::new();
    // The clinic's identity exists already, so the export itself writes nothing.
    profile::ensure(&a.store.writer(), "Harbour").unwrap();
    demo::fill(&a.store.writer(), 3_000, 11).unwrap();
    let stop = AtomicBool::new(false);
    // (pair number, db_version right after its commit), in commit order.
    let committed = Mutex::new(Vec::<(i64, i64)>::new());
    let file = a.path("busy.backup");
    let manifest = std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let db = a.store.writer();
                let tx = db.unchecked_transaction().unwrap();
                for half in ["a", "b"] {
                    tx.execute(
                        "INSERT INTO patients(id, chart_no, family_name) VALUES (?1, ?2, 'Pair')",
                        rusqlite::params![format!("pair-{i:06}-{half}"), i.to_string()],
                    )
                    .unwrap();
                }
                tx.commit().unwrap();
                committed
                    .lock()
                    .unwrap()
                    .push((i, store::db_version(&db).unwrap()));
                drop(db);
                i += 1;
            }
        });
        while committed.lock().unwrap().len() < 5 {
            std::thread::yield_now();
        }
        let m = backup::export(&a.store, &a.identity, &pass(), &file, &Control::default());
        let during = committed.lock().unwrap().len();
        // Keep writing a little after the export, then stop.
        while committed.lock().unwrap().len() < during + 5 {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        m.unwrap()
    });
    let committed = committed.into_inner().unwrap();
    let restored = Computer::new();
    restored.import(&file, Some(a.identity.id)).unwrap();
    let db = restored.store.writer();
    let pairs: Vec<(String, i64)> = db
        .prepare(
            "SELECT chart_no, count(*) FROM patients WHERE family_name = 'Pair' GROUP BY chart_no",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(pairs.iter().all(|(_, n)| *n == 2), "every pair whole");
    let n = pairs.len();
    assert!(
        n >= 5 && n < committed.len(),
        "{n} of {} pairs",
        committed.len()
    );
    assert!(
        pairs
            .iter()
            .all(|(chart, _)| chart.parse::<usize>().unwrap() < n),
        "exactly the first {n} pairs"
    );
    assert_eq!(
        manifest.db_version,
        committed[n - 1].1,
        "the snapshot is the database exactly at one db_version"
    );
    assert_eq!(
        manifest.rows_of("patients"),
        db.query_row("SELECT count(*) FROM patients", [], |r| r.get::<_, i64>(0))
            .unwrap()
    );
}
