//! Computers talking to computers: the roster of trusted devices, TLS with pinned device IDs,
//! the node that listens, dials and runs replication sessions, and starting it all in one
//! call (`serve`).

pub mod discovery;
pub mod gate;
pub mod members;
pub mod names;
pub mod node;
pub mod refusals;
pub mod roster;
pub mod serve;
pub mod tls;
