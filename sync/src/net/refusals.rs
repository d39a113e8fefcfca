//! Logging refused connections without letting a flood fill the disk: the first refusal for
//! each reason in an interval is written, the rest are counted and said in one line when the
//! interval is over.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One line per reason per this long.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// Refusals seen per reason.
#[derive(Debug, Default)]
pub struct Refusals {
    seen: Mutex<HashMap<&'static str, Window>>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    suppressed: u64,
}

/// What to write for one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Write it, after saying how many of this reason went unwritten before it.
    Write { suppressed: u64 },
    /// Count it only.
    Quiet,
}

impl Refusals {
    /// Notes a refusal for `reason` (a fixed phrase, never a peer's words) at `now`.
    pub fn note(&self, reason: &'static str, now: Instant) -> Line {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get_mut(reason) {
            Some(w) if now.duration_since(w.started) < INTERVAL => {
                w.suppressed += 1;
                Line::Quiet
            }
            Some(w) => {
                let suppressed = std::mem::take(&mut w.suppressed);
                w.started = now;
                Line::Write { suppressed }
            }
            None => {
                seen.insert(
                    reason,
                    Window {
                        started: now,
                        suppressed: 0,
                    },
                );
                Line::Write { suppressed: 0 }
            }
        }
    }

    /// Logs a failure under `reason`, at most once per interval; `detail` is written only on
    /// the lines that are written.
    pub fn log(&self, reason: &'static str, detail: impl std::fmt::Display) {
        if let Line::Write { suppressed } = self.note(reason, Instant::now()) {
            tracing::warn!("{reason}: {detail}{}", Self::more(suppressed));
        }
    }

    /// Logs a refused or failed connection from `addr` under `reason`, at most once per
    /// interval, with the address as the line's `addr` field (so a log can be searched by it).
    pub fn log_from(
        &self,
        reason: &'static str,
        addr: std::net::SocketAddr,
        detail: impl std::fmt::Display,
    ) {
        if let Line::Write { suppressed } = self.note(reason, Instant::now()) {
            tracing::warn!(%addr, "{reason}: {detail}{}", Self::more(suppressed));
        }
    }

    fn more(suppressed: u64) -> String {
        if suppressed == 0 {
            String::new()
        } else {
            format!(
                " ({suppressed} more like it in the last {} s not written)",
                INTERVAL.as_secs()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_reason_per_interval_with_a_count_of_the_rest() {
        let r = Refusals::default();
        let t = Instant::now();
        assert_eq!(r.note("a", t), Line::Write { suppressed: 0 });
        for _ in 0..1000 {
            assert_eq!(r.note("a", t + Duration::from_secs(1)), Line::Quiet);
        }
        assert_eq!(r.note("b", t), Line::Write { suppressed: 0 });
        assert_eq!(r.note("a", t + INTERVAL), Line::Write { suppressed: 1000 });
        assert_eq!(r.note("a", t + INTERVAL), Line::Quiet);
    }
}
