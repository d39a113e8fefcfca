//! Carebook's library: everything that is not pixels. The store (SQLite with the CRR engine
//! loaded, migrations), the clinic's records, and later replication, identity and backups.
//! Never depends on iced.

pub mod clinic;
pub mod proto;
pub mod replica;
pub mod store;
