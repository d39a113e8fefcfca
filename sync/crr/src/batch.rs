//! The changeset format of `crsql_export_changes` / `crsql_merge_changes`: many changes in one
//! blob, so a merge can write each row once (not once per column) and the sync protocol can
//! carry changes compactly without knowing their layout.
//!
//! Layout (all integers LEB128 varints unless noted): a version byte (1), the change count,
//! then per change: a flags byte (bit 0: the key differs from the previous change's), the
//! table, cid and site as dictionary references (an index; an index equal to the dictionary's
//! size adds a new entry, written right after it: length-prefixed text, or 16 bytes for a
//! site), the key (length-prefixed, when flagged), the value (tag 0 null, 1 integer as a
//! zigzag varint, 2 real as 8 little-endian bytes, 3 text, 4 blob, length-prefixed), then
//! col_version, db_version, cl and seq.

use crate::ffi::{Error, Result};
use crate::value::{Value, ValueRef};
use crate::varint;

pub const VERSION: u8 = 1;

/// One change read from a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedChange {
    pub table: String,
    pub pk: Vec<u8>,
    pub cid: String,
    pub val: Value,
    pub col_version: i64,
    pub db_version: i64,
    pub site_id: Vec<u8>,
    pub cl: i64,
    pub seq: i64,
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    varint::put(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Builds a batch.
#[derive(Default)]
pub struct Encoder {
    out: Vec<u8>,
    count: u64,
    tables: Vec<Vec<u8>>,
    cids: Vec<Vec<u8>>,
    sites: Vec<Vec<u8>>,
    last_pk: Vec<u8>,
}

fn dict_ref(out: &mut Vec<u8>, dict: &mut Vec<Vec<u8>>, item: &[u8], fixed: bool) {
    match dict.iter().position(|d| d == item) {
        Some(i) => varint::put(out, i as u64),
        None => {
            varint::put(out, dict.len() as u64);
            if fixed {
                out.extend_from_slice(item);
            } else {
                put_bytes(out, item);
            }
            dict.push(item.to_vec());
        }
    }
}

impl Encoder {
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        table: &str,
        pk: &[u8],
        cid: &str,
        val: ValueRef,
        col_version: i64,
        db_version: i64,
        site_id: &[u8],
        cl: i64,
        seq: i64,
    ) {
        let new_pk = self.count == 0 || pk != self.last_pk.as_slice();
        self.out.push(u8::from(new_pk));
        dict_ref(&mut self.out, &mut self.tables, table.as_bytes(), false);
        dict_ref(&mut self.out, &mut self.cids, cid.as_bytes(), false);
        dict_ref(&mut self.out, &mut self.sites, site_id, true);
        if new_pk {
            put_bytes(&mut self.out, pk);
            self.last_pk = pk.to_vec();
        }
        match val {
            ValueRef::Null => self.out.push(0),
            ValueRef::Int(i) => {
                self.out.push(1);
                varint::put(&mut self.out, ((i << 1) ^ (i >> 63)) as u64);
            }
            ValueRef::Real(f) => {
                self.out.push(2);
                self.out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            ValueRef::Text(t) => {
                self.out.push(3);
                put_bytes(&mut self.out, t);
            }
            ValueRef::Blob(b) => {
                self.out.push(4);
                put_bytes(&mut self.out, b);
            }
        }
        for n in [col_version, db_version, cl, seq] {
            varint::put(&mut self.out, n as u64);
        }
        self.count += 1;
    }

    pub fn finish(self) -> Vec<u8> {
        let mut out = vec![VERSION];
        varint::put(&mut out, self.count);
        out.extend_from_slice(&self.out);
        out
    }
}

/// Reads a batch; every malformation is a clear error, never a panic.
pub struct Decoder<'a> {
    buf: &'a [u8],
    left: u64,
    tables: Vec<String>,
    cids: Vec<String>,
    sites: Vec<Vec<u8>>,
    pk: Vec<u8>,
}

fn bad(what: &str) -> Error {
    Error(format!("malformed change batch: {what}"))
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Result<Decoder<'a>> {
        let mut d = Decoder {
            buf,
            left: 0,
            tables: Vec::new(),
            cids: Vec::new(),
            sites: Vec::new(),
            pk: Vec::new(),
        };
        match d.take(1)?[0] {
            VERSION => {}
            v => {
                return Err(Error(format!(
                    "change batch version {v} is not supported (this engine reads {VERSION})"
                )))
            }
        }
        d.left = d.varint()?;
        Ok(d)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(bad("truncated"));
        }
        let (h, t) = self.buf.split_at(n);
        self.buf = t;
        Ok(h)
    }

    fn varint(&mut self) -> Result<u64> {
        varint::get(&mut self.buf).map_err(|e| bad(e.what()))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.varint()?;
        if n > self.buf.len() as u64 {
            return Err(bad("length past the end"));
        }
        self.take(n as usize)
    }

    fn text(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| bad("text is not UTF-8"))
    }

    fn dict_text(&mut self, which: fn(&mut Self) -> &mut Vec<String>) -> Result<String> {
        let i = self.varint()? as usize;
        let len = which(self).len();
        if i < len {
            return Ok(which(self)[i].clone());
        }
        if i > len {
            return Err(bad("dictionary reference out of range"));
        }
        let t = self.text()?;
        which(self).push(t.clone());
        Ok(t)
    }

    fn int(&mut self) -> Result<i64> {
        let v = self.varint()?;
        i64::try_from(v).map_err(|_| bad("number out of range"))
    }

    /// The next change, or None at the end.
    pub fn next_change(&mut self) -> Result<Option<OwnedChange>> {
        if self.left == 0 {
            if !self.buf.is_empty() {
                return Err(bad("trailing bytes"));
            }
            return Ok(None);
        }
        self.left -= 1;
        let flags = self.take(1)?[0];
        if flags > 1 {
            return Err(bad("unknown flags"));
        }
        let table = self.dict_text(|d| &mut d.tables)?;
        let cid = self.dict_text(|d| &mut d.cids)?;
        let si = self.varint()? as usize;
        let site_id = match si.cmp(&self.sites.len()) {
            std::cmp::Ordering::Less => self.sites[si].clone(),
            std::cmp::Ordering::Equal => {
                let s = self.take(16)?.to_vec();
                self.sites.push(s.clone());
                s
            }
            std::cmp::Ordering::Greater => return Err(bad("site reference out of range")),
        };
        if flags & 1 == 1 {
            self.pk = self.bytes()?.to_vec();
        } else if self.pk.is_empty() {
            return Err(bad("first change has no key"));
        }
        let val = match self.take(1)?[0] {
            0 => Value::Null,
            1 => {
                let z = self.varint()?;
                Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            2 => {
                let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| bad("real"))?;
                Value::Real(f64::from_bits(u64::from_le_bytes(b)))
            }
            3 => Value::Text(self.bytes()?.to_vec()),
            4 => Value::Blob(self.bytes()?.to_vec()),
            _ => return Err(bad("unknown value type")),
        };
        Ok(Some(OwnedChange {
            table,
            pk: self.pk.clone(),
            cid,
            val,
            col_version: self.int()?,
            db_version: self.int()?,
            site_id,
            cl: self.int()?,
            seq: self.int()?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<OwnedChange> {
        let site = vec![7u8; 16];
        let mk = |pk: &[u8], cid: &str, val: Value, seq| OwnedChange {
            table: "patients".into(),
            pk: pk.to_vec(),
            cid: cid.into(),
            val,
            col_version: 3,
            db_version: 1 << 40,
            site_id: site.clone(),
            cl: 1,
            seq,
        };
        vec![
            mk(b"\x01\x09\x01", "-1", Value::Null, 0),
            mk(b"\x01\x09\x01", "name", Value::text("Zoë"), 1),
            mk(b"\x01\x09\x02", "age", Value::Int(-5), 2),
            mk(b"\x01\x09\x02", "w", Value::Real(-0.0), 3),
            mk(b"\x01\x09\x02", "b", Value::Blob(vec![0, 255]), 4),
            mk(b"\x01\x09\x02", "i", Value::Int(i64::MIN), 5),
        ]
    }

    fn encode(changes: &[OwnedChange]) -> Vec<u8> {
        let mut e = Encoder::default();
        for c in changes {
            e.push(
                &c.table,
                &c.pk,
                &c.cid,
                c.val.as_ref(),
                c.col_version,
                c.db_version,
                &c.site_id,
                c.cl,
                c.seq,
            );
        }
        e.finish()
    }

    #[test]
    fn round_trips() {
        let changes = sample();
        let blob = encode(&changes);
        let mut d = Decoder::new(&blob).unwrap();
        let mut back = Vec::new();
        while let Some(c) = d.next_change().unwrap() {
            back.push(c);
        }
        assert_eq!(back.len(), changes.len());
        for (a, b) in back.iter().zip(&changes) {
            assert_eq!(
                a.val.as_ref().total_cmp(b.val.as_ref()),
                std::cmp::Ordering::Equal
            );
            assert_eq!(
                (&a.table, &a.pk, &a.cid, a.seq),
                (&b.table, &b.pk, &b.cid, b.seq)
            );
        }
    }

    #[test]
    fn every_truncation_and_flip_is_an_error_or_a_valid_batch() {
        let blob = encode(&sample());
        for n in 0..blob.len() {
            let mut d = match Decoder::new(&blob[..n]) {
                Ok(d) => d,
                Err(_) => continue,
            };
            let mut r = Ok(Some(()));
            while let Ok(Some(())) = r {
                r = d.next_change().map(|c| c.map(|_| ()));
            }
            assert!(r.is_err(), "a batch cut at {n} bytes was accepted");
        }
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0x41;
            if let Ok(mut d) = Decoder::new(&b) {
                while let Ok(Some(_)) = d.next_change() {}
            }
        }
    }
}
