//! The clinic's schema, as numbered migrations. Every table is a CRR (primary keys are UUIDs,
//! never counters), so any two computers' copies merge.

use super::Migration;

/// All migrations, oldest first. Append; never edit one that has shipped.
pub const CLINIC: &[Migration] = &[Migration {
    version: 1,
    sql: "CREATE TABLE patients (
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
        created_at INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL DEFAULT 0
    );",
    alters: &[],
    track: &["patients"],
}];
