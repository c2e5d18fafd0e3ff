//! The invisible-text scanner: characters a human reviewer cannot see but
//! a model reads. General categories Cf (format: zero-width, bidi
//! controls), Co (private use) and Cn (unassigned), the Unicode tag block
//! U+E0000–E007F (used to smuggle ASCII) and runs of variation selectors.
//!
//! Legitimate uses are spared: a zero-width joiner between emoji, ZWNJ
//! between non-Latin letters, a byte-order mark at the start, a single
//! soft hyphen. Pure ASCII text is skipped with one SIMD-friendly check.

use regex::Regex;

use crate::finding::{Finding, Span};
use crate::scanner::Scanner;

pub(crate) const INVISIBLE: &str = "injection.invisible_text";

/// The invisible-text scanner.
#[derive(Debug, Clone)]
pub struct InvisibleTextScanner {
    runs: Option<Regex>,
}

impl Default for InvisibleTextScanner {
    fn default() -> Self {
        InvisibleTextScanner::new()
    }
}

impl InvisibleTextScanner {
    /// The scanner with its Unicode tables compiled.
    pub fn new() -> Self {
        let runs = Regex::new(r"[\p{Cf}\p{Co}\p{Cn}\x{FE00}-\x{FE0F}\x{E0100}-\x{E01EF}]+").ok();
        InvisibleTextScanner { runs }
    }
}

impl Scanner for InvisibleTextScanner {
    fn name(&self) -> &'static str {
        "invisible"
    }

    fn scan_into(&self, text: &str, out: &mut Vec<Finding>) {
        if text.is_ascii() {
            return;
        }
        let Some(re) = &self.runs else { return };
        for m in re.find_iter(text) {
            if let Some((rule, c)) = classify_run(text, m.start(), m.as_str()) {
                out.push(Finding::new(
                    INVISIBLE,
                    rule,
                    Span::new(m.start(), m.end()),
                    c,
                ));
            }
        }
    }
}

fn is_tag(c: char) -> bool {
    ('\u{E0000}'..='\u{E007F}').contains(&c)
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{180E}')
}

fn is_private(c: char) -> bool {
    matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

fn is_emoji_like(c: Option<char>) -> bool {
    c.is_some_and(|c| {
        let u = u32::from(c);
        (0x1F000..=0x1FAFF).contains(&u)
            || (0x2600..=0x27BF).contains(&u)
            || u == 0x2640
            || u == 0x2642
            || is_variation_selector(c)
    })
}

fn classify_run(text: &str, start: usize, run: &str) -> Option<(&'static str, f64)> {
    let prev = text.get(..start).and_then(|h| h.chars().next_back());
    let next = text.get(start + run.len()..).and_then(|t| t.chars().next());
    let n = run.chars().count();
    let all = |f: fn(char) -> bool| run.chars().all(f);
    let any = |f: fn(char) -> bool| run.chars().any(f);
    if any(is_tag) {
        return Some(("unicode-tag-characters", if n >= 2 { 0.95 } else { 0.7 }));
    }
    if any(is_bidi) {
        return Some(("bidi-control", 0.75));
    }
    if all(is_variation_selector) {
        // One selector after an emoji or CJK character is ordinary.
        return (n >= 3).then_some(("variation-selector-run", 0.8));
    }
    if all(is_zero_width) {
        if start == 0 && run == "\u{FEFF}" {
            return None;
        }
        if all(|c| c == '\u{200D}') && (is_emoji_like(prev) || is_emoji_like(next)) {
            return None;
        }
        let latin = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if all(|c| c == '\u{200C}' || c == '\u{200D}') && !(latin(prev) && latin(next)) {
            return None;
        }
        // Inside a word it splits a token a filter would have matched.
        let inside_word = latin(prev) && latin(next);
        return Some(("zero-width", if n >= 2 || inside_word { 0.8 } else { 0.45 }));
    }
    if all(|c| c == '\u{00AD}') {
        return (n >= 3).then_some(("soft-hyphen-run", 0.5));
    }
    if all(is_private) {
        return Some(("private-use", if n >= 3 { 0.6 } else { 0.4 }));
    }
    Some(("format-or-unassigned", if n >= 2 { 0.75 } else { 0.55 }))
}

/// Decodes a run of tag characters into the ASCII it hides.
pub(crate) fn decode_tags(run: &str) -> String {
    run.chars()
        .filter(|&c| is_tag(c))
        .filter_map(|c| char::from_u32(u32::from(c) - 0xE0000))
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(t: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        InvisibleTextScanner::new().scan_into(t, &mut out);
        out
    }

    #[test]
    fn flags_hidden_and_spares_emoji() {
        assert_eq!(scan("ig\u{200B}nore").len(), 1);
        assert_eq!(scan("abc\u{202E}fed").len(), 1);
        assert_eq!(scan("hi \u{E0069}\u{E0067}\u{E006E}").len(), 1);
        assert!(scan("family 👨\u{200D}👩\u{200D}👧 ok").is_empty());
        assert!(scan("\u{FEFF}hello").is_empty());
        assert!(scan("plain ascii").is_empty());
        assert!(scan("héllo wörld ✓").is_empty());
        assert_eq!(decode_tags("\u{E0069}\u{E0067}"), "ig");
    }
}
