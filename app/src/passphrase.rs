//! The rule for choosing a new backup passphrase, the same wherever one is chosen (the first
//! launch, or a backup saved with a passphrase typed on the Backups screen): long enough, and
//! typed twice the same.

/// The shortest backup passphrase accepted.
pub const MIN: usize = 10;

/// What is wrong with a new passphrase and its second typing, in plain words.
pub fn problem(new: &str, again: &str) -> Option<String> {
    if new.chars().count() < MIN {
        return Some(format!(
            "The backup passphrase needs at least {MIN} characters"
        ));
    }
    if new != again {
        return Some("The two passphrases differ".into());
    }
    None
}
