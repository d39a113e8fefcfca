//! One module per screen: its state, messages, update and view; and the one way they all turn
//! the library's reasons into sentences.

pub mod about;
pub mod backups;
pub mod book;
pub mod first_run;
pub mod form;
pub mod hours;
pub mod patient;
pub mod patients;
pub mod peers;
pub mod scan;
pub mod sign_in;
pub mod staff;
pub mod today;
pub mod visit;

/// The library's reasons are written to follow a colon; on their own they start a sentence.
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
