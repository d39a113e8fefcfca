//! Native file dialogs (rfd): whether this computer can show one at all, so a screen can say
//! so and point at its typed path instead of a button that silently does nothing.

/// Whether a native file dialog can be shown: on Linux rfd needs the desktop portal (over the
/// session's D-Bus) or the zenity program; other systems always have one.
pub fn available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("zenity").is_file()))
}

/// Said when a dialog was asked for where none can be shown.
pub const NONE: &str = "This computer cannot show a file dialog: type the path below instead";
