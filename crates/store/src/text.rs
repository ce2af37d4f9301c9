//! Text from outside (file names, paths, names typed by people or written by devices) shown in
//! a terminal or a log line: control characters are escaped so that a name cannot break the
//! line format or send escape sequences to the terminal. JSON output never goes through here
//! (serde escapes exactly).

use std::borrow::Cow;
use std::fmt::Write;

fn needs_escape(c: char) -> bool {
    // C0, DEL, C1, and the bidirectional overrides and isolates (text that reads differently
    // from what it is).
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    if !s.chars().any(|c| needs_escape(c) && !keep.contains(&c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if keep.contains(&c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// One field or one line: every control character escaped (`\n`, `\t`, `\x1b`, `\u{202e}`…).
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    escape(s, &[])
}

/// A block of text whose own line breaks and tabs are its layout: every other control
/// character escaped.
pub fn escape_controls_in_block(s: &str) -> Cow<'_, str> {
    escape(s, &['\n', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_plain_text_is_untouched() {
        assert!(matches!(escape_controls("Ada Lovelace — ü.jpg"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape_controls("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
        assert_eq!(escape_controls("gpj.\u{202e}exe"), "gpj.\\u{202e}exe");
        assert_eq!(escape_controls("\u{9b}2J"), "\\x9b2J");
        assert_eq!(escape_controls_in_block("a\tb\nc\x07"), "a\tb\nc\\x07");
    }
}
