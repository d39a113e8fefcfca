//! Reading the times the front desk types: "9", "9:30", "14.15", "2pm", "tomorrow 10",
//! "next tue 14:15", "fri 9", "24 dec 10:00", "2026-12-24 10:00". A time alone means its next
//! occurrence (today if it is still ahead, else tomorrow); a bare hour from 1 to 6 is in the
//! afternoon (no clinic books 3 in the morning); a weekday alone means the coming one (never
//! today), "next" the same. Anything else is refused with examples of what works.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

/// What is said when a typed time cannot be read.
fn unreadable(input: &str) -> String {
    format!(
        "could not read \u{201c}{}\u{201d} as a time: try 9, 9:30, 2pm, tomorrow 10, next tue 14:15 or 2026-12-24 10:00",
        input.trim()
    )
}

/// A clock time: "9", "09", "9:30", "9.30", "930", "1415", "2pm", "2:30 pm", "12am".
fn clock(word: &str) -> Option<NaiveTime> {
    let w = word.trim().to_ascii_lowercase();
    let (w, half) = if let Some(x) = w.strip_suffix("am") {
        (x.trim().to_string(), Some(false))
    } else if let Some(x) = w.strip_suffix("pm") {
        (x.trim().to_string(), Some(true))
    } else {
        (w, None)
    };
    let (h, m): (u32, u32) = if let Some((h, m)) = w.split_once([':', '.', 'h']) {
        let m = if m.is_empty() { "0" } else { m };
        if m.len() > 2 || !m.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        (h.parse().ok()?, m.parse().ok()?)
    } else if w.chars().all(|c| c.is_ascii_digit()) && (3..=4).contains(&w.len()) {
        let (h, m) = w.split_at(w.len() - 2);
        (h.parse().ok()?, m.parse().ok()?)
    } else if !w.is_empty() && w.len() <= 2 && w.chars().all(|c| c.is_ascii_digit()) {
        (w.parse().ok()?, 0)
    } else {
        return None;
    };
    let h = match half {
        Some(pm) if (1..=12).contains(&h) => (h % 12) + if pm { 12 } else { 0 },
        Some(_) => return None,
        // An hour from 1 to 6 without "am" is in the afternoon.
        None if (1..=6).contains(&h) => h + 12,
        None => h,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

/// "tue", "tues", "tuesday" are Tuesday; "tuxedo" is nothing.
fn weekday(word: &str) -> Option<Weekday> {
    const DAYS: [(&str, Weekday); 7] = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];
    let w = word.to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    DAYS.iter()
        .find(|(name, _)| name.starts_with(&w))
        .map(|(_, d)| *d)
}

fn month(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = word.to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&w))
        .map(|i| i as u32 + 1)
}

/// The coming `day` after `from` (never `from` itself).
fn coming(from: NaiveDate, day: Weekday) -> NaiveDate {
    let ahead =
        (7 + day.num_days_from_monday() as i64 - from.weekday().num_days_from_monday() as i64) % 7;
    from + Duration::days(if ahead == 0 { 7 } else { ahead })
}

/// A date said in words or digits, and the words left after it.
fn date<'a>(words: &'a [&'a str], today: NaiveDate) -> Option<(NaiveDate, &'a [&'a str])> {
    let first = words.first()?.to_ascii_lowercase();
    match first.as_str() {
        "today" => return Some((today, &words[1..])),
        "tomorrow" | "tmrw" | "tmr" => return Some((today + Duration::days(1), &words[1..])),
        "next" => {
            let day = weekday(words.get(1)?)?;
            return Some((coming(today, day), &words[2..]));
        }
        _ => {}
    }
    if let Some(day) = weekday(&first) {
        return Some((coming(today, day), &words[1..]));
    }
    if let Ok(d) = NaiveDate::parse_from_str(&first, "%Y-%m-%d") {
        return Some((d, &words[1..]));
    }
    // "24 dec" or "dec 24", this year or, when that is past, the next.
    let pair = |day: &str, mon: &str| -> Option<NaiveDate> {
        let d: u32 = day.trim_end_matches(['.', ',']).parse().ok()?;
        let m = month(mon.trim_end_matches(['.', ',']))?;
        let this = NaiveDate::from_ymd_opt(today.year(), m, d)?;
        if this < today {
            NaiveDate::from_ymd_opt(today.year() + 1, m, d)
        } else {
            Some(this)
        }
    };
    let second = words.get(1)?;
    pair(&first, second)
        .or_else(|| pair(second, &first))
        .map(|d| (d, &words[2..]))
}

/// Reads a typed time as of `now` (local time).
pub fn parse(input: &str, now: NaiveDateTime) -> Result<NaiveDateTime, String> {
    // "2026-12-24T10:00": the T between a date and a time is a space.
    let chars: Vec<char> = input.trim().chars().collect();
    let text: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let digits = i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if c == 'T' && digits {
                ' '
            } else {
                c
            }
        })
        .collect();
    let text = text
        .split_whitespace()
        .filter(|w| !w.eq_ignore_ascii_case("at"))
        .collect::<Vec<_>>()
        .join(" ");
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Err("type a time, for example 9:30 or tomorrow 10".into());
    }
    let today = now.date();
    // "2 pm": the half of the day as a word of its own.
    let joined;
    let words: Vec<&str> = match words.last().map(|w| w.to_ascii_lowercase()) {
        Some(w) if (w == "am" || w == "pm") && words.len() >= 2 => {
            joined = format!("{}{w}", words[words.len() - 2]);
            let mut v = words[..words.len() - 2].to_vec();
            v.push(&joined);
            v
        }
        _ => words,
    };
    let (day, rest) = match date(&words, today) {
        Some((d, rest)) => (Some(d), rest),
        None => (None, &words[..]),
    };
    let time = match rest {
        [] if day.is_some() => return Err(format!("{}: say at what time too", unreadable(input))),
        [t] => clock(t).ok_or_else(|| unreadable(input))?,
        _ => return Err(unreadable(input)),
    };
    Ok(match day {
        Some(d) => d.and_time(time),
        // A time alone: its next occurrence.
        None if today.and_time(time) > now => today.and_time(time),
        None => (today + Duration::days(1)).and_time(time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_times_are_read_forgivingly_and_refused_plainly() {
        // Wednesday 2 December 2026, 10:20.
        let now = NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_opt(10, 20, 0)
            .unwrap();
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("9", Ok("2026-12-03 09:00")),
            ("11", Ok("2026-12-02 11:00")),
            ("9:30", Ok("2026-12-03 09:30")),
            ("10:30", Ok("2026-12-02 10:30")),
            ("14.15", Ok("2026-12-02 14:15")),
            ("1415", Ok("2026-12-02 14:15")),
            ("930", Ok("2026-12-03 09:30")),
            ("2", Ok("2026-12-02 14:00")),
            ("2pm", Ok("2026-12-02 14:00")),
            ("2:30 pm", Ok("2026-12-02 14:30")),
            ("9am", Ok("2026-12-03 09:00")),
            ("12pm", Ok("2026-12-02 12:00")),
            ("tomorrow 10", Ok("2026-12-03 10:00")),
            ("Tomorrow at 8:45", Ok("2026-12-03 08:45")),
            ("today 16:00", Ok("2026-12-02 16:00")),
            ("next tue 14:15", Ok("2026-12-08 14:15")),
            ("fri 9", Ok("2026-12-04 09:00")),
            ("wednesday 9", Ok("2026-12-09 09:00")),
            ("24 dec 10:00", Ok("2026-12-24 10:00")),
            ("Jan 5 9:30", Ok("2027-01-05 09:30")),
            ("2026-12-24 10:00", Ok("2026-12-24 10:00")),
            ("2026-12-24T10:00", Ok("2026-12-24 10:00")),
            ("", Err("type a time")),
            ("soon", Err("could not read \u{201c}soon\u{201d}")),
            ("25:00", Err("could not read")),
            ("9:75", Err("could not read")),
            ("13pm", Err("could not read")),
            ("tomorrow", Err("say at what time too")),
            ("next 9", Err("could not read")),
            ("tuxedo 9", Err("could not read")),
            ("31 feb 9", Err("could not read")),
            ("9 30 45", Err("could not read")),
        ];
        let mut wrong = Vec::new();
        for (typed, want) in cases {
            let got = parse(typed, now).map(|t| t.format("%Y-%m-%d %H:%M").to_string());
            let ok = match (&got, want) {
                (Ok(g), Ok(w)) => g == w,
                (Err(g), Err(w)) => g.contains(w),
                _ => false,
            };
            if !ok {
                wrong.push(format!("{typed:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
