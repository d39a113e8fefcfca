//! Carebook's library: everything that is not pixels. The store (SQLite with the CRR engine
//! loaded, migrations), the clinic's records, replication, identity and backups.
//! Never depends on iced.

pub mod backup;
mod base32;
pub mod camera;
pub mod clinic;
pub mod identity;
pub mod join;
pub mod net;
pub mod pairing_link;
pub mod proto;
pub mod qr;
pub mod replica;
pub mod scan;
mod secret;
pub mod store;
