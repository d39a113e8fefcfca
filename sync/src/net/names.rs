//! Names that strangers give their computers, made safe to show: control characters,
//! bidirectional overrides and invisible characters are dropped (so a name cannot reorder or
//! hide the text around it), runs of spaces become one, and the length is capped.

/// The most characters of a name shown.
pub const MAX_CHARS: usize = 60;

/// Characters that change how text around them is drawn or are not drawn at all.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// `name` as it may be shown and stored.
pub fn shown(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().filter(|c| !invisible(*c)) {
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if !c.is_control() {
            out.push(c);
        }
    }
    let capped: String = out.trim_end().chars().take(MAX_CHARS).collect();
    capped.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_direction_overrides_go_and_length_is_capped() {
        assert_eq!(shown("Front desk"), "Front desk");
        assert_eq!(shown("Front\u{202E}ksed\u{202C} desk"), "Frontksed desk");
        assert_eq!(shown("a\u{2066}b\u{2069}\u{200F}c"), "abc");
        assert_eq!(shown("line\nbreak\t\x1b[31mred"), "line break [31mred");
        assert_eq!(shown("  two   spaces  "), "two spaces");
        assert_eq!(shown("zero\u{200B}width\u{FEFF}"), "zerowidth");
        assert_eq!(shown(&"é".repeat(500)).chars().count(), MAX_CHARS);
        assert_eq!(shown("Ärztin Müller 診療所"), "Ärztin Müller 診療所");
    }
}
