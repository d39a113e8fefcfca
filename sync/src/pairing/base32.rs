//! Crockford's base 32 (no I, L, O or U to confuse with 1, 0 or V) and a Luhn mod 32 check
//! symbol: the readable form of chart numbers and device IDs.

pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The value of a symbol, accepting lower case and the usual look-alikes (O for 0, I and L
/// for 1).
pub fn value(c: char) -> Option<u32> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|a| *a as char == c)
        .map(|p| p as u32)
}

pub fn symbol(v: u32) -> char {
    ALPHABET[(v & 31) as usize] as char
}

/// The Luhn mod 32 check symbol over `body`'s symbols (dashes ignored); None if `body` has
/// something that is not a symbol.
pub fn check_symbol(body: &str) -> Option<char> {
    let symbols: Vec<u32> = body
        .chars()
        .filter(|c| *c != '-')
        .map(value)
        .collect::<Option<_>>()?;
    let mut sum = 0u32;
    for (i, v) in symbols.iter().rev().enumerate() {
        let x = if i % 2 == 0 { v * 2 } else { *v };
        sum += x / 32 + x % 32;
    }
    Some(symbol((32 - sum % 32) % 32))
}

/// Encodes bytes, five bits a symbol, the last symbol padded with zero bits.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(symbol(acc >> bits));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(symbol(acc << (5 - bits)));
    }
    out
}

/// Decodes `encode`'s output back into `len` bytes; None if a symbol is wrong or the padding
/// bits are not zero.
pub fn decode(text: &str, len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.chars() {
        acc = (acc << 5) | value(c)?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (out.len() == len && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks() {
        for len in [1usize, 3, 16, 32] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = encode(&bytes);
            assert_eq!(decode(&text, len), Some(bytes.clone()));
            assert_eq!(decode(&text.to_lowercase(), len), Some(bytes));
        }
        assert_eq!(check_symbol("K7QD-000123"), check_symbol("k7qd000123"));
        assert_ne!(check_symbol("K7QD-000123"), check_symbol("K7QD-000132"));
        assert!(check_symbol("K7QD-U").is_none());
    }
}
