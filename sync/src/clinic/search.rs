//! Search as you type over names, chart number, phone digits and date of birth: word prefixes
//! from one FTS5 index, text inside words (three or more characters) from a trigram index.

use rusqlite::Connection;

use super::Result;

/// A search result: enough to show a line in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: String,
    pub chart_no: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub phone: String,
    pub allergies: String,
}

/// Words of a query as the index sees them: punctuation splits words.
fn words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The digits of a query that may be a phone number (digits and phone punctuation only).
fn phone_digits(query: &str) -> Option<String> {
    let q = query.trim();
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 5
        && q.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c)))
    .then_some(digits)
}

fn quoted(w: &str) -> String {
    format!("\"{}\"", w.replace('"', "\"\""))
}

const HIT: &str = "SELECT p.id, p.chart_no, p.given_name, p.family_name, p.date_of_birth, p.phone, p.allergies \
    FROM patients p WHERE p.rowid IN (SELECT rowid FROM {index} WHERE {index} MATCH ?1 LIMIT ?2) AND p.archived = ?3";

fn hit(r: &rusqlite::Row) -> rusqlite::Result<Hit> {
    Ok(Hit {
        id: r.get(0)?,
        chart_no: r.get(1)?,
        given_name: r.get(2)?,
        family_name: r.get(3)?,
        date_of_birth: r.get(4)?,
        phone: r.get(5)?,
        allergies: r.get(6)?,
    })
}

fn run(db: &Connection, index: &str, expr: &str, cap: usize, archived: bool) -> Result<Vec<Hit>> {
    let mut st = db.prepare_cached(&HIT.replace("{index}", index))?;
    let rows = st.query_map(rusqlite::params![expr, cap as i64, archived as i64], hit)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Active patients matching `query`, at most `limit`, sorted by name. An empty query lists the
/// most recently changed patients.
pub fn search(db: &Connection, query: &str, limit: usize) -> Result<Vec<Hit>> {
    search_in(db, query, limit, false)
}

/// Like [`search`], among the archived and merged-away records when `archived` (so Restore and
/// Undo merge stay reachable after leaving the page).
pub fn search_in(db: &Connection, query: &str, limit: usize, archived: bool) -> Result<Vec<Hit>> {
    let ws = words(query);
    if ws.is_empty() {
        let mut st = db.prepare_cached(
            "SELECT id, chart_no, given_name, family_name, date_of_birth, phone, allergies FROM patients \
             WHERE archived = ?2 ORDER BY updated_at DESC LIMIT ?1",
        )?;
        let rows = st.query_map(rusqlite::params![limit as i64, archived as i64], hit)?;
        return Ok(rows.collect::<rusqlite::Result<_>>()?);
    }
    // Gather a few screens' worth, then sort by name: sorting every match of a one-letter
    // query would cost more than the person waits for.
    let cap = limit.max(1) * 4;
    let mut prefix_expr = ws
        .iter()
        .map(|w| format!("{}*", quoted(w)))
        .collect::<Vec<_>>()
        .join(" AND ");
    if let Some(digits) = phone_digits(query) {
        // "1990-12" may be a birth date or the start of a phone number: look for both.
        prefix_expr = format!("{}* OR ({prefix_expr})", quoted(&digits));
    }
    let mut hits = run(db, "patient_words", &prefix_expr, cap, archived)?;
    let inner: Vec<&String> = ws.iter().filter(|w| w.chars().count() >= 3).collect();
    if hits.len() < limit && inner.len() == ws.len() {
        let gram_expr = inner
            .iter()
            .map(|w| quoted(w))
            .collect::<Vec<_>>()
            .join(" AND ");
        for h in run(db, "patient_grams", &gram_expr, cap, archived)? {
            if !hits.iter().any(|x| x.id == h.id) {
                hits.push(h);
            }
        }
    }
    hits.sort_by(|a, b| {
        (a.family_name.to_lowercase(), a.given_name.to_lowercase())
            .cmp(&(b.family_name.to_lowercase(), b.given_name.to_lowercase()))
    });
    hits.truncate(limit);
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::{phone_digits, words};

    #[test]
    fn phone_numbers_become_digits_and_names_split() {
        assert_eq!(
            phone_digits(" +1 (555) 123-4567 ").as_deref(),
            Some("15551234567")
        );
        assert_eq!(phone_digits("Smith 12345"), None);
        assert_eq!(words("O'Brien, Zoë"), vec!["O", "Brien", "Zoë"]);
        assert_eq!(words("1984-03-27"), vec!["1984", "03", "27"]);
        assert!(words("  ").is_empty());
    }
}
