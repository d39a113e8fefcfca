//! One module per screen: its state, messages, update and view.

pub mod about;
pub mod backups;
pub mod first_run;
pub mod form;
pub mod patient;
pub mod patients;
pub mod peers;
pub mod scan;
pub mod sign_in;
pub mod staff;
pub mod today;
pub mod visit;
