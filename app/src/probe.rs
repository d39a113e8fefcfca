//! What the benchmarks ask of a running window: print when the first frame is drawn (with
//! the peak memory) and exit, or keep a patient's page open and print a digest of its phone
//! number each time the page shows a new one (the benchmark changes it from another process).
//! The digest, not the number, so no patient data reaches the output.

use std::hash::{DefaultHasher, Hash, Hasher};

/// What the benchmark wants to see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Probe {
    #[default]
    Off,
    FirstFrame,
    /// The page of this patient: `shown <digest>` on each new phone number.
    Patient(String),
}

/// The peak resident set size in KiB (Linux: VmHWM); None elsewhere.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A digest of a value shown on screen (the same in every build of this version).
pub fn digest(value: &str) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}
