//! Carebook's library: everything that is not pixels. The store (SQLite with the CRR engine
//! loaded, migrations), and later replication, identity and backups. Never depends on iced.

pub mod store;
