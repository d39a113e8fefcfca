//! Where a person can be in the window (routes), how a computer with no records yet is being
//! set up, and what a screen reports upward after an update (events). Screens speak in these
//! terms; only the app turns them into navigation.

/// Where the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Patients,
    Patient(String),
    NewPatient,
    EditPatient(String),
    Today,
    /// The appointment book.
    Book,
    Visit(String),
    Peers,
    Backups,
    /// The staff list and the clinic's settings (administrators).
    Staff,
    About,
    Scan,
}

/// How a computer with no records yet is being set up, after the first question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Pairing with a computer of the clinic; the records arrive once it accepts.
    Join,
    /// Restoring the clinic's records from a backup.
    Restore,
}

/// What a screen asks of the app after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Open a route, remembering this one for Back.
    Open(Route),
    /// Open a route in this one's place (Back skips it): a saved form opens the record.
    Replace(Route),
    /// Go back where the person came from.
    Back,
    /// A line for the notice bar: a confirmation, or why something was refused.
    Notice(String),
    /// The first question was answered "join" or "restore".
    Begin(Setup),
    /// The clinic was made on this computer: its staff can be loaded.
    Started,
    /// This person proved who they are (PIN): they are at the keyboard now.
    SignedIn(carebook_sync::clinic::staff::Staff),
}

/// The event for the result of a write: where to go next, or why it failed. A write needs no
/// reload of its own: committed changes are announced to every screen.
pub fn written(result: Result<Option<Route>, String>) -> Option<Event> {
    match result {
        Ok(next) => next.map(Event::Open),
        Err(e) => Some(Event::Notice(e)),
    }
}
