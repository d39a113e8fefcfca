//! The packed primary key of cr-sqlite 0.16 (the `pk` column of `crsql_changes`), byte for byte:
//! a column count, then per column a type byte (low 3 bits: type, high 5 bits: a byte count)
//! and the value's bytes.

use crate::ffi::{Error, Result};
use crate::value::{Value, ValueRef};

const INT: u8 = 1;
const REAL: u8 = 2;
const TEXT: u8 = 3;
const BLOB: u8 = 4;
const NULL: u8 = 5;

/// Fewest big-endian bytes that hold `n` (0 for 0, 8 for negatives).
fn int_len(n: u64) -> usize {
    (64 - n.leading_zeros() as usize).div_ceil(8)
}

fn put_len_prefixed(out: &mut Vec<u8>, ty: u8, bytes: &[u8]) {
    let n = int_len(bytes.len() as u64);
    out.push(((n as u8) << 3) | ty);
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes()[8 - n..]);
    out.extend_from_slice(bytes);
}

/// Packs primary key values.
pub fn pack<'a>(values: impl ExactSizeIterator<Item = ValueRef<'a>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    out.push(values.len() as u8);
    for v in values {
        match v {
            ValueRef::Null => out.push(NULL),
            ValueRef::Int(i) => {
                let n = if i < 0 { 8 } else { int_len(i as u64) };
                out.push(((n as u8) << 3) | INT);
                out.extend_from_slice(&i.to_be_bytes()[8 - n..]);
            }
            ValueRef::Real(f) => {
                out.push(REAL);
                out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            ValueRef::Text(t) => put_len_prefixed(&mut out, TEXT, t),
            ValueRef::Blob(b) => put_len_prefixed(&mut out, BLOB, b),
        }
    }
    out
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if buf.len() < n {
        return Err(Error::new("malformed packed primary key: truncated"));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn be_u64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// Unpacks a packed primary key; refuses malformed input with a clear error.
pub fn unpack(mut buf: &[u8]) -> Result<Vec<Value>> {
    let count = take(&mut buf, 1)?[0] as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let tag = take(&mut buf, 1)?[0];
        let n = (tag >> 3) as usize;
        if n > 8 {
            return Err(Error::new("malformed packed primary key: bad length"));
        }
        let v = match tag & 7 {
            NULL => Value::Null,
            INT => {
                // Positive values use the fewest bytes; negative ones always use all eight.
                Value::Int(be_u64(take(&mut buf, n)?) as i64)
            }
            REAL => {
                let b = take(&mut buf, 8)?;
                Value::Real(f64::from_bits(be_u64(b)))
            }
            ty @ (TEXT | BLOB) => {
                let len = be_u64(take(&mut buf, n)?) as usize;
                let bytes = take(&mut buf, len)?.to_vec();
                if ty == TEXT {
                    Value::Text(bytes)
                } else {
                    Value::Blob(bytes)
                }
            }
            _ => return Err(Error::new("malformed packed primary key: unknown type")),
        };
        out.push(v);
    }
    if !buf.is_empty() {
        return Err(Error::new("malformed packed primary key: trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn packs_like_cr_sqlite() {
        let cases: &[(ValueRef, &str)] = &[
            (ValueRef::Int(0), "0101"),
            (ValueRef::Int(128), "010980"),
            (ValueRef::Int(256), "01110100"),
            (ValueRef::Int(-1), "0141FFFFFFFFFFFFFFFF"),
            (ValueRef::Real(-0.0), "01028000000000000000"),
            (ValueRef::Text(b""), "0103"),
            (ValueRef::Text(b"abc"), "010B03616263"),
            (ValueRef::Null, "0105"),
        ];
        for (v, want) in cases {
            let packed = pack(std::iter::once(*v));
            assert_eq!(hex(&packed), *want, "{v:?}");
            assert_eq!(unpack(&packed).unwrap(), vec![v.to_value()]);
        }
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            &b""[..],
            b"\x01",
            b"\x01\x0B\x05ab",
            b"\x01\x07",
            b"\x01\x05\x00",
        ] {
            assert!(unpack(bad).is_err(), "{bad:?}");
        }
    }
}
