//! Carebook's library: everything that is not pixels. The store (SQLite with the CRR engine
//! loaded, migrations), the clinic's records, replication, identity and backups.
//! Never depends on iced.

pub mod backup;
pub mod clinic;
pub mod identity;
pub mod net;
pub mod pairing;
pub mod proto;
pub mod replica;
mod secret;
pub mod store;
