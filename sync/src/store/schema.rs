//! The clinic's schema, as numbered migrations. Every record table is a CRR (primary keys are
//! UUIDs, never counters), so any two computers' copies merge. The search index is local: each
//! computer builds its own from its rows, so it is not replicated.
//!
//! Rules that protect medical records are triggers that refuse *local* writes only
//! (`crsql_internal_sync_bit() = 0`): what another computer already did must merge, or copies
//! would drift apart.

use super::Migration;

/// The searchable text of a patient row (in the search triggers): of `NEW`, or of the row
/// named as given, with its string literals quoted by `$q` (`'`, or `''` inside a literal).
macro_rules! patient_terms {
    () => {
        patient_terms!("NEW", "'")
    };
    ($row:literal, $q:literal) => {
        concat!(
            $row,
            ".given_name || ",
            $q,
            " ",
            $q,
            " || ",
            $row,
            ".family_name || ",
            $q,
            " ",
            $q,
            " || ",
            $row,
            ".chart_no || ",
            $q,
            " ",
            $q,
            " || ",
            $row,
            ".date_of_birth || ",
            $q,
            " ",
            $q,
            " || replace(replace(replace(replace(replace(replace(",
            $row,
            ".phone, ",
            $q,
            " ",
            $q,
            ", ",
            $q,
            $q,
            "), ",
            $q,
            "-",
            $q,
            ", ",
            $q,
            $q,
            "), ",
            $q,
            "(",
            $q,
            ", ",
            $q,
            $q,
            "), ",
            $q,
            ")",
            $q,
            ", ",
            $q,
            $q,
            "), ",
            $q,
            ".",
            $q,
            ", ",
            $q,
            $q,
            "), ",
            $q,
            "+",
            $q,
            ", ",
            $q,
            $q,
            ")"
        )
    };
}

/// The search index's statements run after a merged batch (version 8), quoted for
/// `crsql_after_batch('...')`.
macro_rules! search_after_batch {
    () => {
        concat!(
            "DELETE FROM patient_words WHERE rowid IN (SELECT patient FROM search_pending); ",
            "DELETE FROM patient_grams WHERE rowid IN (SELECT patient FROM search_pending); ",
            "INSERT INTO patient_words(rowid, terms) SELECT p.rowid, ",
            patient_terms!("p", "''"),
            " FROM search_pending s JOIN patients p ON p.rowid = s.patient; ",
            "INSERT INTO patient_grams(rowid, terms) SELECT p.rowid, ",
            patient_terms!("p", "''"),
            " FROM search_pending s JOIN patients p ON p.rowid = s.patient; ",
            "DELETE FROM search_pending;"
        )
    };
}

/// A trigger that refuses a local write (`crsql_internal_sync_bit() = 0`, and the condition
/// after `when`, if any) with a message; `head` is the trigger's name and event.
macro_rules! refuse_local {
    ($head:literal, $message:literal) => {
        concat!(
            "CREATE TRIGGER ",
            $head,
            "\n    WHEN crsql_internal_sync_bit() = 0\n    BEGIN SELECT RAISE(ABORT, '",
            $message,
            "'); END;"
        )
    };
    ($head:literal, when $condition:literal, $message:literal) => {
        concat!(
            "CREATE TRIGGER ",
            $head,
            "\n    WHEN ",
            $condition,
            " AND crsql_internal_sync_bit() = 0\n    BEGIN SELECT RAISE(ABORT, '",
            $message,
            "'); END;"
        )
    };
}

const V1: &str = concat!("
CREATE TABLE staff (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT 'receptionist',
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE patients (
    id TEXT PRIMARY KEY NOT NULL,
    chart_no TEXT NOT NULL DEFAULT '',
    given_name TEXT NOT NULL DEFAULT '',
    family_name TEXT NOT NULL DEFAULT '',
    date_of_birth TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    emergency_contact TEXT NOT NULL DEFAULT '',
    allergies TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    archived INTEGER NOT NULL DEFAULT 0,
    merged_into TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX patients_chart_no ON patients(chart_no);
CREATE INDEX patients_dob ON patients(date_of_birth);

CREATE TABLE appointments (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL DEFAULT '',
    clinician_id TEXT NOT NULL DEFAULT '',
    starts_at TEXT NOT NULL DEFAULT '',
    duration_min INTEGER NOT NULL DEFAULT 15,
    reason TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'booked',
    status_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX appointments_starts_at ON appointments(starts_at);
CREATE INDEX appointments_patient ON appointments(patient_id);

CREATE TABLE visits (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL DEFAULT '',
    clinician_id TEXT NOT NULL DEFAULT '',
    visit_date TEXT NOT NULL DEFAULT '',
    complaint TEXT NOT NULL DEFAULT '',
    findings TEXT NOT NULL DEFAULT '',
    diagnosis TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '',
    prescriptions TEXT NOT NULL DEFAULT '',
    finalized_at INTEGER NOT NULL DEFAULT 0,
    finalized_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX visits_patient ON visits(patient_id);

CREATE TABLE amendments (
    id TEXT PRIMARY KEY NOT NULL,
    visit_id TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    staff_id TEXT NOT NULL DEFAULT '',
    device_id TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX amendments_visit ON amendments(visit_id);

CREATE TABLE merges (
    id TEXT PRIMARY KEY NOT NULL,
    kept_id TEXT NOT NULL DEFAULT '',
    absorbed_id TEXT NOT NULL DEFAULT '',
    moved TEXT NOT NULL DEFAULT '',
    staff_id TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL DEFAULT 0,
    undone_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE history (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL DEFAULT '',
    entity TEXT NOT NULL DEFAULT '',
    entity_id TEXT NOT NULL DEFAULT '',
    field TEXT NOT NULL DEFAULT '',
    old_value TEXT NOT NULL DEFAULT '',
    new_value TEXT NOT NULL DEFAULT '',
    staff_id TEXT NOT NULL DEFAULT '',
    device_id TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX history_patient ON history(patient_id, at);

", refuse_local!("history_is_append_only BEFORE UPDATE ON history", "history cannot be changed"), "
", refuse_local!("history_is_kept BEFORE DELETE ON history", "history cannot be deleted"), "
", refuse_local!("amendments_are_append_only BEFORE UPDATE ON amendments", "an amendment cannot be changed; add another"), "
", refuse_local!("amendments_are_kept BEFORE DELETE ON amendments", "amendments cannot be deleted"), "
", refuse_local!("visits_are_kept BEFORE DELETE ON visits", "visits are never deleted"), "
", refuse_local!("finalised_visits_are_locked\n    BEFORE UPDATE OF clinician_id, visit_date, complaint, findings, diagnosis, plan,\n        prescriptions, finalized_at, finalized_by ON visits", when "OLD.finalized_at != 0", "this visit note is finalised; add an amendment instead"), "

-- The search index: word prefixes of names, chart number, date of birth and phone digits
-- (diacritics folded), and trigrams of the same text for search inside words. Plain SQL, so
-- that writes from a stock sqlite3 shell keep it up to date too.
CREATE VIRTUAL TABLE patient_words USING fts5(terms, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3');
CREATE VIRTUAL TABLE patient_grams USING fts5(terms, tokenize = 'trigram');
CREATE TRIGGER patients_search_insert AFTER INSERT ON patients BEGIN
    INSERT INTO patient_words(rowid, terms) VALUES (NEW.rowid, ", patient_terms!(), ");
    INSERT INTO patient_grams(rowid, terms) VALUES (NEW.rowid, ", patient_terms!(), ");
END;
CREATE TRIGGER patients_search_update AFTER UPDATE OF given_name, family_name, chart_no, phone, date_of_birth ON patients BEGIN
    DELETE FROM patient_words WHERE rowid = OLD.rowid;
    DELETE FROM patient_grams WHERE rowid = OLD.rowid;
    INSERT INTO patient_words(rowid, terms) VALUES (NEW.rowid, ", patient_terms!(), ");
    INSERT INTO patient_grams(rowid, terms) VALUES (NEW.rowid, ", patient_terms!(), ");
END;
CREATE TRIGGER patients_search_delete AFTER DELETE ON patients BEGIN
    DELETE FROM patient_words WHERE rowid = OLD.rowid;
    DELETE FROM patient_grams WHERE rowid = OLD.rowid;
END;
");

/// The clinic's devices (see `net::roster`): replicated, so trust spreads and removals too.
const V2: &str = concat!(
    "
CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    added_at INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER NOT NULL DEFAULT 0
);
-- Local only (not replicated): devices asking to join, and how each peer's sessions go.
CREATE TABLE pair_requests (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE local_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL DEFAULT ''
);
CREATE TABLE peer_status (
    id TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL DEFAULT 'offline',
    last_contact INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    lag INTEGER NOT NULL DEFAULT 0,
    site_id BLOB
);
",
    refuse_local!("removed_devices_stay_removed BEFORE UPDATE OF revoked_at ON devices", when "OLD.revoked_at != 0 AND NEW.revoked_at = 0", "a removed device cannot be re-admitted; pair it again as a new device"),
    "
"
);

/// The clinic's identity (see `clinic::profile`): replicated, so every computer of a clinic
/// knows it and a backup can tell whether it belongs here. One row per identity the clinic has
/// had: two computers that each made one before they were paired keep both, so backups made on
/// either still belong.
const V3: &str = "
CREATE TABLE clinic (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT 0
);
";

/// Removals of devices (see `net::roster`): a grow-only set, so a removal is permanent and wins
/// every merge. The roster row of a removed device can be deleted and written again (by that
/// device, to look trusted), but this row can never go: a delete, whether typed here or merged
/// from another computer, is refused (a merged one is held back in the engine's quarantine with
/// the reason), and its time can only move, never clear.
const V4: &str = "
CREATE TABLE revocations (
    id TEXT PRIMARY KEY NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 1 CHECK (revoked_at != 0)
);
INSERT OR IGNORE INTO revocations(id, revoked_at) SELECT id, revoked_at FROM devices WHERE revoked_at != 0;
CREATE TRIGGER revocations_are_permanent BEFORE DELETE ON revocations
    BEGIN SELECT RAISE(ABORT, 'removing a computer is permanent: the removal cannot be deleted'); END;
";

/// The records' rules hold for merged changes too, not only for this computer's own writes (a
/// trusted computer with a bug, or a tampered one, cannot break them): history and amendments
/// are append-only, and visits are never deleted. A change that breaks one is held back in the
/// engine's quarantine with the reason, on every computer alike.
const V5: &str = "
SELECT crsql_protect('history', 'append-only');
SELECT crsql_protect('amendments', 'append-only');
SELECT crsql_protect('visits', 'keep-rows');
SELECT crsql_protect('revocations', 'keep-rows');
";

/// A finalised note keeps what it said when it was finalised, on every computer (see
/// `clinic::visits`). Finalising writes the note's text into this append-only table, in the same
/// change as the lock; the note shown from then on is that copy. An edit made on another computer
/// before the lock reached it still merges into the visit row (copies must stay equal), but it
/// never changes the finalised text: it is shown beside it as a late edit for a doctor to look
/// at. Each copy's id names the visit and the computer that finalised it, so two computers that
/// finalise the same note while apart keep both copies, and every computer shows the earliest.
const V6: &str = concat!(
    "
CREATE TABLE final_notes (
    id TEXT PRIMARY KEY NOT NULL,
    visit_id TEXT NOT NULL DEFAULT '',
    complaint TEXT NOT NULL DEFAULT '',
    findings TEXT NOT NULL DEFAULT '',
    diagnosis TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '',
    prescriptions TEXT NOT NULL DEFAULT '',
    finalized_at INTEGER NOT NULL DEFAULT 0,
    finalized_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX final_notes_visit ON final_notes(visit_id);
INSERT INTO final_notes(id, visit_id, complaint, findings, diagnosis, plan, prescriptions,
        finalized_at, finalized_by)
    SELECT id || ':' || lower(hex(crsql_site_id())), id, complaint, findings, diagnosis, plan,
        prescriptions, finalized_at, finalized_by
    FROM visits WHERE finalized_at != 0;
SELECT crsql_as_crr('final_notes');
SELECT crsql_protect('final_notes', 'append-only');
",
    refuse_local!(
        "final_notes_are_kept BEFORE DELETE ON final_notes",
        "a finalised note cannot be deleted"
    ),
    "
",
    refuse_local!(
        "final_notes_never_change BEFORE UPDATE ON final_notes",
        "this visit note is finalised; add an amendment instead"
    ),
    "
"
);

/// Who may do what (see `clinic::access`, `clinic::pin`): each person's PIN as a salted Argon2id
/// hash, replicated so every computer checks it without the network; the access log (who opened
/// which record, from which computer), append-only here and on merge; clinic-wide settings such as
/// the idle time before the window locks. Wrong PINs are counted per person on each computer
/// only (`pin_failures`, not replicated).
const V7: &str = concat!(
    "
CREATE TABLE credentials (
    staff_id TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL DEFAULT '',
    set_at INTEGER NOT NULL DEFAULT 0,
    set_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE access_log (
    id TEXT PRIMARY KEY NOT NULL,
    at INTEGER NOT NULL DEFAULT 0,
    staff_id TEXT NOT NULL DEFAULT '',
    device_id TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL DEFAULT '',
    patient_id TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_patient ON access_log(patient_id, at);
CREATE INDEX access_log_staff ON access_log(staff_id, action, at);
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL DEFAULT ''
);
CREATE TABLE pin_failures (
    staff_id TEXT PRIMARY KEY NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    last_at INTEGER NOT NULL DEFAULT 0
);
SELECT crsql_as_crr('credentials');
SELECT crsql_as_crr('access_log');
SELECT crsql_as_crr('settings');
SELECT crsql_protect('access_log', 'append-only');
SELECT crsql_protect('staff', 'keep-rows');
",
    refuse_local!(
        "access_log_is_append_only BEFORE UPDATE ON access_log",
        "the access log cannot be changed"
    ),
    "
",
    refuse_local!(
        "access_log_is_kept BEFORE DELETE ON access_log",
        "the access log cannot be deleted"
    ),
    "
",
    refuse_local!(
        "staff_are_never_deleted BEFORE DELETE ON staff",
        "staff are deactivated, never deleted"
    ),
    "
"
);

/// A batch merged from another computer (`crsql_merge_changes`) updates the search index once
/// for the whole batch, not row by row: FTS5 writes its pending terms out at every statement of
/// a transaction, so a row-by-row index made merges several times slower. While a batch
/// merges, the triggers only note which patients it touched (`search_pending`, local), and the
/// engine runs the statements registered with `crsql_after_batch` at the end of the batch, in
/// its transaction: they index those patients again, in one statement per index. Local writes
/// and single merged changes keep the row-by-row triggers.
const V8: &str = concat!(
    "
CREATE TABLE search_pending (patient INTEGER PRIMARY KEY NOT NULL);
DROP TRIGGER patients_search_insert;
DROP TRIGGER patients_search_update;
DROP TRIGGER patients_search_delete;
CREATE TRIGGER patients_search_insert AFTER INSERT ON patients WHEN crsql_merging_batch() = 0 BEGIN
    INSERT INTO patient_words(rowid, terms) VALUES (NEW.rowid, ", patient_terms!(), ");
    INSERT INTO patient_grams(rowid, terms) VALUES (NEW.rowid, ", patient_terms!(), ");
END;
CREATE TRIGGER patients_search_update AFTER UPDATE OF given_name, family_name, chart_no, phone, date_of_birth ON patients
    WHEN crsql_merging_batch() = 0 BEGIN
    DELETE FROM patient_words WHERE rowid = OLD.rowid;
    DELETE FROM patient_grams WHERE rowid = OLD.rowid;
    INSERT INTO patient_words(rowid, terms) VALUES (NEW.rowid, ", patient_terms!(), ");
    INSERT INTO patient_grams(rowid, terms) VALUES (NEW.rowid, ", patient_terms!(), ");
END;
CREATE TRIGGER patients_search_delete AFTER DELETE ON patients WHEN crsql_merging_batch() = 0 BEGIN
    DELETE FROM patient_words WHERE rowid = OLD.rowid;
    DELETE FROM patient_grams WHERE rowid = OLD.rowid;
END;
CREATE TRIGGER patients_search_insert_later AFTER INSERT ON patients WHEN crsql_merging_batch() = 1 BEGIN
    INSERT OR IGNORE INTO search_pending(patient) VALUES (NEW.rowid);
END;
CREATE TRIGGER patients_search_update_later AFTER UPDATE OF given_name, family_name, chart_no, phone, date_of_birth ON patients
    WHEN crsql_merging_batch() = 1 BEGIN
    INSERT OR IGNORE INTO search_pending(patient) VALUES (OLD.rowid);
END;
CREATE TRIGGER patients_search_delete_later AFTER DELETE ON patients WHEN crsql_merging_batch() = 1 BEGIN
    INSERT OR IGNORE INTO search_pending(patient) VALUES (OLD.rowid);
END;
SELECT crsql_after_batch('",
    search_after_batch!(),
    "');
"
);

/// Conflicts made visible (see `clinic::conflicts`). Each edit of a patient's field names, in
/// `history.base`, the edits it replaced: the heads of that field's edits on the computer that
/// made it, comma-separated, or '-' for the first one ('' on rows from before this version,
/// which take no part). Two edits conflict when neither replaced the other, directly or through
/// later edits, and their values differ: at the end of each merge, for every field a merged
/// edit touched, each head of another value than the one the field holds is recorded beside the
/// head that holds it. A record's id is made of the two edits' ids, so every computer that finds
/// the same clash writes the same row, once. Late edits to finalised notes and possible
/// duplicates are reviewed through `attention` (replicated); quarantined changes are read from
/// the engine.
const V9: &str = concat!(
    "
ALTER TABLE history ADD COLUMN base TEXT NOT NULL DEFAULT '';
CREATE INDEX history_field ON history(entity_id, field);
CREATE TABLE conflicts (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL DEFAULT '',
    entity TEXT NOT NULL DEFAULT '',
    entity_id TEXT NOT NULL DEFAULT '',
    field TEXT NOT NULL DEFAULT '',
    a_edit TEXT NOT NULL DEFAULT '',
    a_value TEXT NOT NULL DEFAULT '',
    a_staff TEXT NOT NULL DEFAULT '',
    a_device TEXT NOT NULL DEFAULT '',
    a_at INTEGER NOT NULL DEFAULT 0,
    b_edit TEXT NOT NULL DEFAULT '',
    b_value TEXT NOT NULL DEFAULT '',
    b_staff TEXT NOT NULL DEFAULT '',
    b_device TEXT NOT NULL DEFAULT '',
    b_at INTEGER NOT NULL DEFAULT 0,
    resolved_at INTEGER NOT NULL DEFAULT 0,
    resolved_by TEXT NOT NULL DEFAULT '',
    resolved_on TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX conflicts_patient ON conflicts(patient_id);
CREATE TABLE attention (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    resolved_at INTEGER NOT NULL DEFAULT 0,
    resolved_by TEXT NOT NULL DEFAULT '',
    resolved_on TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE TABLE conflict_pending (edit INTEGER PRIMARY KEY NOT NULL);
CREATE TRIGGER history_merged_edit AFTER INSERT ON history
    WHEN NEW.base != '' AND crsql_internal_sync_bit() = 1 BEGIN
    INSERT OR IGNORE INTO conflict_pending(edit) VALUES (NEW.rowid);
END;
CREATE TRIGGER history_merged_edit_column AFTER UPDATE ON history
    WHEN NEW.base != '' AND crsql_internal_sync_bit() = 1 BEGIN
    INSERT OR IGNORE INTO conflict_pending(edit) VALUES (NEW.rowid);
END;
CREATE VIEW conflict_check AS SELECT 0 AS run;
CREATE TRIGGER conflict_check_run INSTEAD OF INSERT ON conflict_check BEGIN
    INSERT OR IGNORE INTO conflicts(id, patient_id, entity, entity_id, field,
            a_edit, a_value, a_staff, a_device, a_at, b_edit, b_value, b_staff, b_device, b_at)
        SELECT x.id || '+' || y.id, x.patient_id, x.entity, x.entity_id, x.field,
            x.id, x.new_value, x.staff_id, x.device_id, x.at,
            y.id, y.new_value, y.staff_id, y.device_id, y.at
        FROM (SELECT min(w.id, o.id) AS lo, max(w.id, o.id) AS hi
        FROM (SELECT DISTINCT h.entity_id, h.field FROM conflict_pending q
                JOIN history h ON h.rowid = q.edit
                WHERE h.entity = 'patient' AND h.base != '') t
        JOIN patients p ON p.id = t.entity_id
        JOIN history w ON w.id = (SELECT hd.id FROM history hd
            WHERE hd.entity_id = t.entity_id AND hd.field = t.field AND hd.base != ''
                AND hd.new_value = (CASE t.field WHEN 'given_name' THEN p.given_name WHEN 'family_name' THEN p.family_name WHEN 'date_of_birth' THEN p.date_of_birth WHEN 'sex' THEN p.sex WHEN 'phone' THEN p.phone WHEN 'email' THEN p.email WHEN 'address' THEN p.address WHEN 'emergency_contact' THEN p.emergency_contact WHEN 'allergies' THEN p.allergies WHEN 'notes' THEN p.notes END)
                AND NOT EXISTS (SELECT 1 FROM history c WHERE c.entity_id = hd.entity_id
                    AND c.field = hd.field AND instr(',' || c.base || ',', ',' || hd.id || ',') > 0)
            ORDER BY hd.id LIMIT 1)
        JOIN history o ON o.entity_id = t.entity_id AND o.field = t.field AND o.base != ''
            AND o.new_value != w.new_value
            AND NOT EXISTS (SELECT 1 FROM history c WHERE c.entity_id = o.entity_id
                AND c.field = o.field AND instr(',' || c.base || ',', ',' || o.id || ',') > 0)) pair
        JOIN history x ON x.id = pair.lo
        JOIN history y ON y.id = pair.hi;
    DELETE FROM conflict_pending;
END;
SELECT crsql_as_crr('conflicts');
SELECT crsql_as_crr('attention');
SELECT crsql_protect('conflicts', 'keep-rows');
SELECT crsql_protect('attention', 'keep-rows');
SELECT crsql_after_batch('",
    search_after_batch!(),
    " INSERT INTO conflict_check VALUES (1);');
"
);

/// All migrations, oldest first. Append; never edit one that has shipped.
pub const CLINIC: &[Migration] = &[
    Migration {
        version: 1,
        sql: V1,
        alters: &[],
        track: &[
            "staff",
            "patients",
            "appointments",
            "visits",
            "amendments",
            "merges",
            "history",
        ],
    },
    Migration {
        version: 2,
        sql: V2,
        alters: &[],
        track: &["devices"],
    },
    Migration {
        version: 3,
        sql: V3,
        alters: &[],
        track: &["clinic"],
    },
    Migration {
        version: 4,
        sql: V4,
        alters: &[],
        track: &["revocations"],
    },
    Migration {
        version: 5,
        sql: V5,
        alters: &[],
        track: &[],
    },
    Migration {
        version: 6,
        sql: V6,
        alters: &[],
        track: &[],
    },
    Migration {
        version: 7,
        sql: V7,
        alters: &[],
        track: &[],
    },
    Migration {
        version: 8,
        sql: V8,
        alters: &[],
        track: &[],
    },
    Migration {
        version: 9,
        sql: V9,
        alters: &["history"],
        track: &[],
    },
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_search_terms_are_those_version_1_shipped_with() {
        assert_eq!(
            patient_terms!(),
            "NEW.given_name || ' ' || NEW.family_name || ' ' || NEW.chart_no || ' ' || NEW.date_of_birth || ' ' || replace(replace(replace(replace(replace(replace(NEW.phone, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', '')"
        );
        assert_eq!(
            patient_terms!("p", "''"),
            patient_terms!().replace("NEW.", "p.").replace('\'', "''")
        );
    }
}
