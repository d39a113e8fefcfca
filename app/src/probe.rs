//! What the benchmarks ask of a running window: print when the first frame is drawn (with
//! the peak memory) and exit, or keep a patient's page open and print a digest of its phone
//! number each time the page shows a new one (the benchmark changes it from another process).
//! The digest, not the number, so no patient data reaches the output. A patient probe signs in
//! like anyone else: the benchmark writes a name and that person's PIN to standard input.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::screen::patient::PatientPage;

/// What the benchmark wants to see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Probe {
    #[default]
    Off,
    FirstFrame,
    /// The page of this patient: `shown <digest>` on each new phone number.
    Patient(String),
}

/// Reads "name<TAB>PIN" from standard input and signs that person in with the PIN.
pub fn sign_in_from_stdin(
    store: &carebook_sync::store::Store,
) -> anyhow::Result<carebook_sync::clinic::staff::Staff> {
    use carebook_sync::clinic::{now, pin, staff};
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let (name, secret) = line
        .trim_end_matches(['\r', '\n'])
        .split_once('\t')
        .ok_or_else(|| anyhow::anyhow!("the probe reads a name and a PIN, tab-separated"))?;
    let db = store.writer();
    let who = staff::list(&db)?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| anyhow::anyhow!("no such person on the staff list"))?;
    match pin::sign_in(&db, &who.id, secret, now())? {
        pin::SignIn::Welcome(_) => Ok(who),
        _ => anyhow::bail!("the PIN did not sign in"),
    }
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

/// The patient probe: a line each time the open page (if any) shows a new phone number;
/// `probed` is the digest printed last.
pub fn patient_page(probe: &Probe, page: Option<&PatientPage>, probed: &mut Option<u64>) {
    let Probe::Patient(_) = probe else {
        return;
    };
    let Some(shown) = page
        .and_then(|p| p.data.as_ref())
        .map(|d| digest(&d.patient.fields.phone))
    else {
        return;
    };
    if *probed != Some(shown) {
        *probed = Some(shown);
        println!("shown {shown:016x}");
    }
}
