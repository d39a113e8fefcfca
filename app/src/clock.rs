//! Times as people read them: seconds since 1970, in this computer's time zone.

/// To the minute: "2026-12-01 10:42".
pub const MINUTE: &str = "%Y-%m-%d %H:%M";

/// To the second, for the IT helper: "2026-12-01 10:42:07".
pub const SECOND: &str = "%Y-%m-%d %H:%M:%S";

/// `at` (seconds since 1970, UTC) in local time as `format` says (empty if out of range).
pub fn local(at: i64, format: &str) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&chrono::Local).format(format).to_string())
        .unwrap_or_default()
}
