//! Pairing another computer: the pairing link and its QR code, scanning it from a webcam or a
//! picture, and joining the computer it names.

pub(crate) mod base32;
pub mod camera;
pub mod join;
pub mod pairing_link;
pub mod qr;
pub mod scan;
