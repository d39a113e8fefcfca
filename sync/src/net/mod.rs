//! Computers talking to computers: the roster of trusted devices, TLS with pinned device IDs,
//! and the node that listens, dials and runs replication sessions.

pub mod discovery;
pub mod node;
pub mod roster;
pub mod tls;
