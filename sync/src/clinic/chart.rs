//! Chart numbers people can read aloud and type, unique without a server: a 4-symbol prefix
//! drawn from this computer's site id, a 6-digit counter, and a check symbol that catches any
//! single mistyped symbol and most swaps (Luhn mod 32), e.g. `K7QD-000123-X`.

use rusqlite::Connection;

use crate::pairing::base32::{check_symbol, symbol};

/// This computer's prefix: 20 bits of its site id in base 32.
pub fn device_prefix(site_id: &[u8]) -> String {
    let bits = site_id
        .iter()
        .take(3)
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
        >> 4;
    (0..4).rev().map(|i| symbol(bits >> (i * 5))).collect()
}

/// A chart number from a prefix and a counter.
pub fn format(prefix: &str, counter: u32) -> String {
    let body = format!("{prefix}-{counter:06}");
    let check = check_symbol(&body).unwrap_or('0');
    format!("{body}-{check}")
}

/// True for a well-formed chart number whose check symbol matches.
pub fn is_valid(chart: &str) -> bool {
    let parts: Vec<&str> = chart.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 6 || parts[2].len() != 1 {
        return false;
    }
    if !parts[1].bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let body = format!("{}-{}", parts[0], parts[1]);
    check_symbol(&body).map(|c| c.to_string()) == Some(parts[2].to_ascii_uppercase())
}

/// The next chart number this computer hands out.
pub fn next(db: &Connection) -> rusqlite::Result<String> {
    let site: Vec<u8> = db.query_row("SELECT crsql_site_id()", [], |r| r.get(0))?;
    let prefix = device_prefix(&site);
    let highest: Option<String> = db.query_row(
        "SELECT max(chart_no) FROM patients WHERE chart_no >= ?1 AND chart_no < ?2",
        [format!("{prefix}-"), format!("{prefix}.")],
        |r| r.get(0),
    )?;
    let counter = highest
        .and_then(|c| c.split('-').nth(1).and_then(|n| n.parse::<u32>().ok()))
        .unwrap_or(0);
    Ok(format(&prefix, counter + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_check_and_catch_typos() {
        let n = format("K7QD", 123);
        assert!(n.starts_with("K7QD-000123-"));
        assert!(is_valid(&n));
        assert!(is_valid(&n.to_lowercase()));
        // Every single-symbol change is caught.
        for (i, c) in n.char_indices().filter(|(_, c)| *c != '-') {
            for a in crate::pairing::base32::ALPHABET
                .iter()
                .map(|a| *a as char)
                .filter(|a| *a != c)
            {
                let mut typo = n.clone();
                typo.replace_range(i..i + 1, &a.to_string());
                if typo
                    .split('-')
                    .nth(1)
                    .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
                {
                    assert!(!is_valid(&typo), "{typo} passed");
                }
            }
        }
        assert!(!is_valid("K7QD-000123"));
        assert!(!is_valid("hello"));
    }

    #[test]
    fn prefixes_differ_between_sites() {
        assert_eq!(device_prefix(&[0; 16]), "0000");
        assert_ne!(device_prefix(&[1, 2, 3]), device_prefix(&[1, 2, 4 << 4]));
        assert_eq!(device_prefix(&[0xff; 16]).len(), 4);
    }
}
