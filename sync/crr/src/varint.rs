//! LEB128 varints, as the change batches and the clock records write their integers: seven
//! bits a byte, least significant first, the top bit set on every byte but the last.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The bytes ended inside it.
    Truncated,
    /// More bytes than any 64-bit value needs.
    TooLong,
}

impl VarintError {
    /// A few words for an error message.
    pub fn what(self) -> &'static str {
        match self {
            VarintError::Truncated => "truncated",
            VarintError::TooLong => "varint too long",
        }
    }
}

/// Appends `v`.
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one varint from the front of `buf` and moves `buf` past it.
pub fn get(buf: &mut &[u8]) -> Result<u64, VarintError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first().ok_or(VarintError::Truncated)?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(VarintError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_in_the_fewest_bytes() {
        for (v, len) in [
            (0u64, 1),
            (1, 1),
            (0x7f, 1),
            (0x80, 2),
            (300, 2),
            (1 << 40, 6),
            (u64::MAX, 10),
        ] {
            let mut out = vec![];
            put(&mut out, v);
            assert_eq!(out.len(), len, "{v}");
            out.push(0xAA);
            let mut buf = &out[..];
            assert_eq!(get(&mut buf), Ok(v));
            assert_eq!(buf, &[0xAA], "only the varint is taken");
        }
        let mut out = vec![];
        put(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
    }

    #[test]
    fn truncated_and_overlong_varints_are_refused() {
        assert_eq!(get(&mut &[][..]), Err(VarintError::Truncated));
        assert_eq!(get(&mut &[0x80, 0x80][..]), Err(VarintError::Truncated));
        assert_eq!(get(&mut &[0xFF; 11][..]), Err(VarintError::TooLong));
    }
}
