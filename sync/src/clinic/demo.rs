//! Made-up clinic data for trying Carebook and for benchmarks: staff, patients with names in
//! many scripts, today's appointments and some visit notes. Deterministic for a given seed; no
//! real person's data.

use rusqlite::{params, Connection};

use super::appointments::{self, Status};
use super::patients::{self, PatientFields};
use super::staff::{self, Role, Staff};
use super::{visits, Actor, Result};

const GIVEN: &[&str] = &[
    "Amina",
    "Björn",
    "Chloé",
    "Dmitri",
    "Eun-ji",
    "Farid",
    "Grace",
    "Hiroshi",
    "Inés",
    "José",
    "Kwame",
    "Leilani",
    "Mateus",
    "Nour",
    "Olga",
    "Priya",
    "Quentin",
    "Rania",
    "Søren",
    "Thảo",
    "Ugo",
    "Valentina",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoë",
    "أحمد",
    "فاطمة",
    "अर्जुन",
    "सीता",
    "美咲",
    "陽翔",
];
const FAMILY: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Dubois",
    "Ivanov",
    "Kim",
    "Haddad",
    "Murphy",
    "Tanaka",
    "García",
    "Silva",
    "Mensah",
    "Kahale",
    "Oliveira",
    "Nasser",
    "Petrova",
    "Sharma",
    "Moreau",
    "Aziz",
    "Jørgensen",
    "Nguyễn",
    "Eze",
    "Rossi",
    "Chen",
    "López",
    "Demir",
    "Müller",
    "الخطيب",
    "المصري",
    "शर्मा",
    "वर्मा",
    "佐藤",
    "高橋",
];
const STREETS: &[&str] = &[
    "Elm Street",
    "Harbour Road",
    "Mill Lane",
    "Station Avenue",
    "Rue des Lilas",
];
const ALLERGIES: &[&str] = &[
    "",
    "",
    "",
    "",
    "penicillin",
    "latex",
    "peanuts",
    "sulfonamides",
];
const REASONS: &[&str] = &[
    "check-up",
    "follow-up",
    "blood pressure",
    "vaccination",
    "cough",
    "back pain",
    "results",
];
const COMPLAINTS: &[&str] = &[
    "cough for a week",
    "headache",
    "sore throat",
    "knee pain",
    "rash on arm",
];
const DIAGNOSES: &[&str] = &[
    "viral URTI",
    "tension headache",
    "pharyngitis",
    "osteoarthritis",
    "contact dermatitis",
];

/// A small deterministic random number generator (xorshift).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

/// One made-up patient.
pub fn patient(rng: &mut Rng) -> PatientFields {
    let given = rng.pick(GIVEN);
    let family = rng.pick(FAMILY);
    PatientFields {
        given_name: given.into(),
        family_name: family.into(),
        date_of_birth: format!(
            "{}-{:02}-{:02}",
            1930 + rng.below(93),
            1 + rng.below(12),
            1 + rng.below(28)
        ),
        sex: ["F", "M", "F", "M", "X"][rng.below(5) as usize].into(),
        phone: format!("+1 555 {:03} {:04}", rng.below(1000), rng.below(10_000)),
        email: if rng.below(3) == 0 {
            String::new()
        } else {
            format!("patient{}@example.org", rng.below(1_000_000))
        },
        address: format!("{} {}", 1 + rng.below(300), rng.pick(STREETS)),
        emergency_contact: format!(
            "{} {} +1 555 {:03} {:04}",
            rng.pick(GIVEN),
            family,
            rng.below(1000),
            rng.below(10_000)
        ),
        allergies: rng.pick(ALLERGIES).into(),
        notes: String::new(),
    }
}

/// Fills a fresh clinic: four staff, `n` patients, today's appointments in several states and
/// some finalised visits. Returns the staff so the caller can pick who is at the keyboard.
pub fn fill(db: &Connection, n: usize, seed: u64) -> Result<Vec<Staff>> {
    let mut rng = Rng::new(seed);
    let team = [
        ("Rita Mwangi", Role::Receptionist),
        ("Dr Ada Osei", Role::Doctor),
        ("Dr Tomás Reyes", Role::Doctor),
        ("Sam Clinic-Admin", Role::Admin),
    ];
    let staff: Vec<Staff> = team
        .iter()
        .map(|(name, role)| staff::add(db, name, *role))
        .collect::<Result<_>>()?;
    let desk = Actor::at_this_device(db, &staff[0].id)?;
    let doctors = [&staff[1], &staff[2]];
    let mut ids = Vec::with_capacity(n);
    // Bulk: one transaction per 5,000 patients (each create nests as a savepoint).
    for chunk_start in (0..n).step_by(5_000) {
        let tx = super::Atomic::begin(db)?;
        for _ in chunk_start..n.min(chunk_start + 5_000) {
            ids.push(patients::create(&tx, &desk, &patient(&mut rng))?.id);
        }
        tx.commit()?;
    }
    let today = chrono::Local::now().date_naive();
    let booked = ids.len().min(12);
    for (i, id) in ids.iter().take(booked).enumerate() {
        let doctor = doctors[i % 2];
        let at = format!(
            "{}T{:02}:{:02}",
            today.format("%Y-%m-%d"),
            8 + i / 2,
            if i % 2 == 0 { 0 } else { 30 }
        );
        let appt = appointments::book(db, &desk, id, &doctor.id, &at, 20, rng.pick(REASONS))?;
        let path: &[Status] = match i % 6 {
            0 | 1 => &[Status::Arrived, Status::InRoom, Status::Seen],
            2 => &[Status::Arrived, Status::InRoom],
            3 => &[Status::Arrived],
            4 => &[Status::Cancelled],
            _ => &[],
        };
        for s in path {
            appointments::set_status(db, &desk, &appt, *s)?;
        }
        // Make arrivals look like they came in a while ago.
        if path.last() == Some(&Status::Arrived) {
            db.execute(
                "UPDATE appointments SET status_at = status_at - ?1 WHERE id = ?2",
                params![((5 + rng.below(30)) * 60) as i64, appt],
            )?;
        }
    }
    for (i, id) in ids.iter().take(n.min(40)).enumerate() {
        let doctor = doctors[i % 2];
        let as_doctor = Actor::at_this_device(db, &doctor.id)?;
        let date = (today - chrono::Days::new(7 + rng.below(300)))
            .format("%Y-%m-%d")
            .to_string();
        let v = visits::start(db, &as_doctor, id, &doctor.id, &date)?;
        let k = rng.below(COMPLAINTS.len() as u64) as usize;
        visits::save(
            db,
            &as_doctor,
            &v,
            &visits::VisitFields {
                complaint: COMPLAINTS[k].into(),
                findings: "alert, afebrile; see complaint".into(),
                diagnosis: DIAGNOSES[k].into(),
                plan: "review in two weeks if not better".into(),
                prescriptions: if k.is_multiple_of(2) {
                    "paracetamol 500 mg as needed".into()
                } else {
                    String::new()
                },
            },
        )?;
        if i % 3 != 2 {
            visits::finalize(db, &as_doctor, &v)?;
        }
    }
    Ok(staff)
}
