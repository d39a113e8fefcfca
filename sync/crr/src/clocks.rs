//! The lean clock layout: one clock row per table row (not one per column, as in cr-sqlite),
//! holding the causal length and a compact blob of per-column clocks.
//!
//! Each entry is five LEB128 varints: slot (0 is the row's create/delete sentinel, other slots
//! are columns, numbered once per table and never reused), col_version, db_version, site
//! ordinal (0 is this database) and seq. Entries are kept sorted by slot.

use crate::ffi::{Error, Result};

pub const SENTINEL: u32 = 0;

/// One column's (or the sentinel's) clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub slot: u32,
    pub col_version: i64,
    pub db_version: i64,
    pub site: i64,
    pub seq: i64,
}

/// The clock state of one row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowClock {
    /// Causal length: odd while the row exists, even once deleted.
    pub cl: i64,
    pub entries: Vec<Entry>,
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut v = v as u64;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn get_varint(buf: &mut &[u8]) -> Result<i64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf
            .split_first()
            .ok_or_else(|| Error::new("corrupt clock record: truncated"))?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v as i64);
        }
    }
    Err(Error::new("corrupt clock record: varint too long"))
}

impl RowClock {
    pub fn decode(cl: i64, mut blob: &[u8]) -> Result<RowClock> {
        let mut entries = Vec::with_capacity(blob.len() / 5);
        while !blob.is_empty() {
            entries.push(Entry {
                slot: get_varint(&mut blob)? as u32,
                col_version: get_varint(&mut blob)?,
                db_version: get_varint(&mut blob)?,
                site: get_varint(&mut blob)?,
                seq: get_varint(&mut blob)?,
            });
        }
        Ok(RowClock { cl, entries })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 7);
        for e in &self.entries {
            put_varint(&mut out, i64::from(e.slot));
            put_varint(&mut out, e.col_version);
            put_varint(&mut out, e.db_version);
            put_varint(&mut out, e.site);
            put_varint(&mut out, e.seq);
        }
        out
    }

    pub fn get(&self, slot: u32) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&slot, |e| e.slot)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Inserts or replaces the entry for `e.slot`.
    pub fn set(&mut self, e: Entry) {
        match self.entries.binary_search_by_key(&e.slot, |x| x.slot) {
            Ok(i) => self.entries[i] = e,
            Err(i) => self.entries.insert(i, e),
        }
    }

    /// The highest db_version of any entry (the row's index key).
    pub fn max_db_version(&self) -> i64 {
        self.entries.iter().map(|e| e.db_version).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut c = RowClock {
            cl: 3,
            entries: vec![],
        };
        for slot in [4, 0, 2, 300] {
            c.set(Entry {
                slot,
                col_version: i64::from(slot) + 1,
                db_version: 1 << 40,
                site: 7,
                seq: 129,
            });
        }
        assert_eq!(
            c.entries.iter().map(|e| e.slot).collect::<Vec<_>>(),
            [0, 2, 4, 300]
        );
        let back = RowClock::decode(3, &c.encode()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.get(4).unwrap().col_version, 5);
        assert!(back.get(1).is_none());
        assert!(RowClock::decode(1, &[0x80]).is_err());
    }
}
