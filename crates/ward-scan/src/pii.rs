//! The PII scanner: email addresses, phone numbers, US SSNs, payment card
//! numbers, IBANs and IP addresses.
//!
//! One pass over the bytes dispatches on `@`, on `:` next to a hex digit,
//! on digits, `+` and `(` that start a word and on IBAN heads (`DE89`),
//! testing 32 bytes at a time where nothing starts; each candidate is cut out by hand and then checked
//! by a validator (`validate.rs`), so a number that fails Luhn or mod 97 is
//! never reported. Context words near a match ("ssn", "card", "iban", ...)
//! raise the confidence, as Presidio's context enhancer does; some weak
//! shapes (a bare nine-digit number) are only reported with context.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::finding::{Finding, Span};
use crate::scanner::Scanner;
use crate::text::{contains_any_word_ci, is_word_byte, window};
use crate::validate::{
    card_is_test_number, card_issuer_known, digits_of, email_around, iban_valid, luhn_valid,
    ssn_valid,
};

/// Kind names of the PII scanner.
pub(crate) mod kinds {
    pub(crate) const EMAIL: &str = "pii.email";
    pub(crate) const PHONE: &str = "pii.phone";
    pub(crate) const SSN: &str = "pii.ssn";
    pub(crate) const CARD: &str = "pii.credit_card";
    pub(crate) const IBAN: &str = "pii.iban";
    pub(crate) const IP: &str = "pii.ip_address";
}

const CONTEXT_BOOST: f64 = 0.35;
const SSN_CONTEXT: &[&str] = &[
    "ssn",
    "ssns",
    "social security",
    "social",
    "taxpayer",
    "tin",
    "ss#",
];
const CARD_CONTEXT: &[&str] = &[
    "card",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "cc",
    "pan",
    "payment",
    "cardholder",
];
const PHONE_CONTEXT: &[&str] = &[
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "call",
    "fax",
    "contact",
    "whatsapp",
    "sms",
];
const IBAN_CONTEXT: &[&str] = &["iban", "account", "bank", "transfer", "wire", "beneficiary"];
const IP_CONTEXT: &[&str] = &[
    "ip", "address", "host", "server", "client", "addr", "ipv4", "ipv6",
];
const VERSION_CONTEXT: &[&str] = &["version", "v", "release", "build", "oid"];

/// The PII scanner.
#[derive(Debug, Default, Clone)]
pub struct PiiScanner {
    _private: (),
}

impl PiiScanner {
    /// A PII scanner with the built-in validators.
    pub fn new() -> Self {
        PiiScanner::default()
    }
}

impl Scanner for PiiScanner {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn scan_into(&self, text: &str, out: &mut Vec<Finding>) {
        scan_pii(text, out);
    }
}

fn has_context(text: &str, start: usize, end: usize, words: &[&str]) -> bool {
    contains_any_word_ci(window(text, start, end, 48, 24), words)
}

/// Whether a PII candidate starts at `i`: an `@`; a `:` next to a hex
/// digit, colon or dot (a lone `"key": value` colon is no IPv6 address);
/// a digit, `+` or `(` that does not continue a word; an uppercase letter
/// that does not continue a word and opens an IBAN head (`DE89`). Every
/// other position is one where the dispatch in `scan_pii` would find
/// nothing and step on by one byte, so skipping it changes no result.
fn candidate_at(bytes: &[u8], i: usize) -> bool {
    let at = |k: usize| bytes.get(k).copied();
    let Some(b) = at(i) else { return false };
    let prev = i.checked_sub(1).and_then(at);
    let after_word = prev.is_some_and(is_word_byte);
    match b {
        b'@' => true,
        b':' => prev.is_some_and(is_v6) || at(i + 1).is_some_and(is_v6),
        b'0'..=b'9' | b'+' | b'(' => !after_word,
        b'A'..=b'Z' => {
            !after_word
                && at(i + 1).is_some_and(|c| c.is_ascii_uppercase())
                && at(i + 2).is_some_and(|c| c.is_ascii_digit())
                && at(i + 3).is_some_and(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

fn is_v6(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// Byte classes for the candidate search: the stop bits of a byte
/// (`ANYWHERE`: `@` and `:`; `WORD_START`: digits, uppercase letters, `+`
/// and `(`) and, shifted by `NEXT_SHIFT`, the stop mask for the byte after
/// it (`ANYWHERE` alone after a word byte, both bits otherwise).
const ANYWHERE: u8 = 1;
const WORD_START: u8 = 2;
const NEXT_SHIFT: u32 = 2;
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut v = 0u8;
        if matches!(c, b'@' | b':') {
            v |= ANYWHERE;
        }
        if c.is_ascii_digit() || c.is_ascii_uppercase() || matches!(c, b'+' | b'(') {
            v |= WORD_START;
        }
        let next = if c.is_ascii_alphanumeric() || c == b'_' {
            ANYWHERE
        } else {
            ANYWHERE | WORD_START
        };
        v |= next << NEXT_SHIFT;
        #[expect(
            clippy::indexing_slicing,
            reason = "b < 256 by the loop condition, t has 256 entries"
        )]
        let slot = &mut t[b];
        *slot = v;
        b += 1;
    }
    t
};

/// The first candidate start at or after `from`: one table load per byte
/// finds the bytes that may start one (`CLASSES`), and `candidate_at`
/// decides.
fn next_candidate(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        i = next_stop(bytes, i)?;
        if candidate_at(bytes, i) {
            return Some(i);
        }
        i += 1;
    }
}

/// The first byte at or after `from` that may start a candidate. Kept
/// apart so that its loop holds one index and the mask in registers.
#[inline(never)]
fn next_stop(bytes: &[u8], from: usize) -> Option<usize> {
    let class = |b: u8| CLASSES.get(usize::from(b)).copied().unwrap_or(0);
    let mut mask = match from.checked_sub(1).and_then(|i| bytes.get(i)) {
        Some(&prev) => class(prev) >> NEXT_SHIFT,
        None => ANYWHERE | WORD_START,
    };
    let rest = bytes.get(from..)?;
    let mut k = 0;
    while let Some(&b) = rest.get(k) {
        let c = class(b);
        if c & mask != 0 {
            return Some(from + k);
        }
        mask = c >> NEXT_SHIFT;
        k += 1;
    }
    None
}

fn scan_pii(text: &str, out: &mut Vec<Finding>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = next_candidate(bytes, i) {
        let Some(&b) = bytes.get(at) else { break };
        let next = match b {
            b'@' => email_at(text, at, out),
            b'0'..=b'9' | b'+' | b'(' => numeric_at(text, at, out),
            b'A'..=b'Z' => iban_at(text, at, out),
            b':' => ipv6_at(text, at, out),
            _ => None,
        };
        i = next.filter(|&n| n > at).unwrap_or(at + 1);
    }
}

fn email_at(text: &str, at: usize, out: &mut Vec<Finding>) -> Option<usize> {
    let (start, end) = email_around(text.as_bytes(), at)?;
    let mut confidence = 0.85;
    if has_context(text, start, end, &["email", "e-mail", "mail", "contact"]) {
        confidence = 0.95;
    }
    out.push(Finding::new(
        kinds::EMAIL,
        "email-address",
        Span::new(start, end),
        confidence,
    ));
    Some(end)
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/')
}

/// Cuts the numeric candidate starting at `start`: digits and single
/// separators, at most 40 bytes, ending on a digit and not inside a word.
fn numeric_span(bytes: &[u8], start: usize) -> Option<usize> {
    let mut end = start;
    let mut last_digit_end = None;
    let mut i = start;
    while let Some(&b) = bytes.get(i) {
        if i - start > 40 {
            break;
        }
        if b.is_ascii_digit() {
            i += 1;
            last_digit_end = Some(i);
            continue;
        }
        let plus_lead = b == b'+' && i == start;
        let sep = is_sep(b) && i > start || b == b'(' && i == start;
        if !(plus_lead || sep) {
            break;
        }
        // A separator must be followed by a digit or an opening paren, after
        // at most one more separator (`) ` in `(555) 123-4567`).
        let n1 = bytes.get(i + 1).copied();
        let n2 = bytes.get(i + 2).copied();
        let ok = n1.is_some_and(|c| c.is_ascii_digit())
            || (n1.is_some_and(is_sep) && n2.is_some_and(|c| c.is_ascii_digit()));
        if !ok {
            break;
        }
        i += 1;
        end = i;
    }
    let stop = last_digit_end?;
    let _ = end;
    if bytes
        .get(stop)
        .copied()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
    {
        return None;
    }
    Some(stop)
}

fn numeric_at(text: &str, start: usize, out: &mut Vec<Finding>) -> Option<usize> {
    let bytes = text.as_bytes();
    let end = numeric_span(bytes, start)?;
    // Skip decimals and versions glued to a word on the left (`v1.2.3.4`).
    let cand = bytes.get(start..end)?;
    if classify_numeric(text, start, end, cand, out) {
        return Some(end);
    }
    // The whole run was nothing: try its space-separated pieces.
    let mut piece_start = start;
    let mut found = false;
    for (k, &b) in cand.iter().enumerate() {
        if b == b' ' {
            let piece_end = start + k;
            if piece_end > piece_start {
                if let Some(p) = bytes.get(piece_start..piece_end) {
                    found |= classify_numeric(text, piece_start, piece_end, p, out);
                }
            }
            piece_start = piece_end + 1;
        }
    }
    if found && piece_start < end {
        if let Some(p) = bytes.get(piece_start..end) {
            classify_numeric(text, piece_start, end, p, out);
        }
    }
    Some(end)
}

fn group_lengths(cand: &[u8]) -> Vec<usize> {
    cand.split(|b| !b.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .map(<[u8]>::len)
        .collect()
}

/// Tries each numeric kind on one candidate; true if one matched.
fn classify_numeric(
    text: &str,
    start: usize,
    end: usize,
    cand: &[u8],
    out: &mut Vec<Finding>,
) -> bool {
    // Most numbers in tool output are short (prices, ids, dates): skip
    // them before any allocation. IPv4 needs 4+ digits and three dots.
    let digit_count = cand.iter().filter(|b| b.is_ascii_digit()).count();
    let dots = cand.iter().filter(|&&b| b == b'.').count();
    if digit_count < 8 && dots != 3 {
        return false;
    }
    let digits = digits_of(cand);
    let n = digits.len();
    let groups = group_lengths(cand);
    let seps: Vec<u8> = cand
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_digit())
        .collect();
    let span = Span::new(start, end);

    // IPv4: four dotted groups that parse.
    if seps.iter().all(|&b| b == b'.') && groups.len() == 4 {
        if let Ok(s) = std::str::from_utf8(cand) {
            if s.parse::<Ipv4Addr>().is_ok() {
                let left_v = start > 0
                    && text
                        .as_bytes()
                        .get(start - 1)
                        .is_some_and(|&b| b == b'v' || b == b'V');
                if left_v || has_context(text, start, end, VERSION_CONTEXT) {
                    return true;
                }
                let mut c = 0.6;
                if has_context(text, start, end, IP_CONTEXT) {
                    c += CONTEXT_BOOST;
                }
                out.push(Finding::new(kinds::IP, "ipv4", span, c));
                return true;
            }
        }
        return false;
    }

    // Cards: 13–19 digits, uniform separators, Luhn.
    let uniform_sep = seps.iter().all(|&b| b == b' ') || seps.iter().all(|&b| b == b'-');
    if (13..=19).contains(&n) && uniform_sep && luhn_valid(&digits) && !all_same(&digits) {
        let grouped = groups.len() == 1 || groups.iter().all(|&g| (4..=6).contains(&g) || g <= 4);
        let ctx = has_context(text, start, end, CARD_CONTEXT);
        let issuer = card_issuer_known(&digits);
        if grouped && (issuer || ctx) {
            let mut c: f64 = if issuer { 0.75 } else { 0.45 };
            if ctx {
                c += CONTEXT_BOOST;
            }
            let rule = if card_is_test_number(&digits) {
                c = c.min(0.5);
                "card-luhn-test-number"
            } else {
                "card-luhn"
            };
            out.push(Finding::new(kinds::CARD, rule, span, c));
            return true;
        }
    }

    // SSN: 3-2-4 with one separator kind, or nine bare digits with context.
    if n == 9 && ssn_valid(&digits) {
        let ctx = has_context(text, start, end, SSN_CONTEXT);
        let shaped = groups == [3, 2, 4] && (seps == b"--" || seps == b"  ");
        if shaped || (groups.len() == 1 && ctx) {
            let mut c = if shaped { 0.6 } else { 0.4 };
            if ctx {
                c += CONTEXT_BOOST;
            }
            let rule = if shaped {
                "ssn-formatted"
            } else {
                "ssn-context"
            };
            out.push(Finding::new(kinds::SSN, rule, span, c));
            return true;
        }
    }

    // Phones.
    if let Some((rule, c)) = phone_shape(cand, n, &groups, &seps) {
        let mut c = c;
        let ctx = has_context(text, start, end, PHONE_CONTEXT);
        if ctx {
            c += CONTEXT_BOOST;
        }
        if c >= 0.5 {
            out.push(Finding::new(kinds::PHONE, rule, span, c));
            return true;
        }
    }
    false
}

fn all_same(d: &[u8]) -> bool {
    d.windows(2).all(|w| w.first() == w.last())
}

/// Phone shapes and their base confidence.
fn phone_shape(
    cand: &[u8],
    n: usize,
    groups: &[usize],
    seps: &[u8],
) -> Option<(&'static str, f64)> {
    if seps.contains(&b'/') || seps.iter().filter(|&&b| b == b'.').count() > 3 {
        return None;
    }
    let dates = groups.len() == 3
        && (groups == [4, 2, 2]
            || groups == [2, 2, 4]
            || groups == [4, 1, 1]
            || groups == [1, 1, 4]);
    if dates {
        return None;
    }
    if cand.first() == Some(&b'+') && (8..=15).contains(&n) && groups.len() >= 2 {
        return Some(("phone-e164", 0.7));
    }
    if cand.first() == Some(&b'+') && (10..=15).contains(&n) {
        return Some(("phone-e164", 0.6));
    }
    // NANP: (555) 123-4567, 555-123-4567, 555.123.4567, 1-555-123-4567.
    let nanp = groups == [3, 3, 4] || groups == [1, 3, 3, 4];
    if nanp && (!seps.contains(&b' ') || cand.first() == Some(&b'(')) {
        return Some(("phone-nanp", 0.6));
    }
    if nanp {
        return Some(("phone-nanp", 0.45));
    }
    // Other national formats: 9–13 digits in 3+ groups.
    if (9..=13).contains(&n) && groups.len() >= 3 && groups.iter().all(|&g| (2..=5).contains(&g)) {
        return Some(("phone-grouped", 0.4));
    }
    if (10..=11).contains(&n) && groups.len() == 1 {
        return Some(("phone-bare", 0.2));
    }
    None
}

fn iban_at(text: &str, start: usize, out: &mut Vec<Finding>) -> Option<usize> {
    let bytes = text.as_bytes();
    let head = bytes.get(start..start + 4)?;
    if !(head.iter().take(2).all(u8::is_ascii_uppercase)
        && head.iter().skip(2).all(u8::is_ascii_digit))
    {
        return None;
    }
    // Gather up to 34 alphanumerics, allowing single spaces between groups.
    let mut compact = Vec::with_capacity(34);
    let mut i = start;
    let mut end = start;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_uppercase() || b.is_ascii_digit() {
            compact.push(b);
            i += 1;
            end = i;
            if compact.len() > 34 {
                return None;
            }
        } else if b == b' '
            && bytes
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            i += 1;
        } else {
            break;
        }
    }
    if bytes.get(end).copied().is_some_and(is_word_byte) {
        return None;
    }
    // A space-grouped IBAN may be followed by an unrelated word: shrink to
    // the longest valid prefix that ends on a group boundary.
    let mut k = compact.len();
    let mut cut_end = end;
    while k >= 15 {
        if let Some(c) = compact.get(..k) {
            if iban_valid(c) {
                let mut c = 0.85;
                if has_context(text, start, cut_end, IBAN_CONTEXT) {
                    c = 1.0;
                }
                out.push(Finding::new(
                    kinds::IBAN,
                    "iban-mod97",
                    Span::new(start, cut_end),
                    c,
                ));
                return Some(cut_end);
            }
        }
        // Step back one space-separated group.
        let region = bytes.get(start..cut_end)?;
        let Some(sp) = region.iter().rposition(|&b| b == b' ') else {
            break;
        };
        let removed = region.len() - sp - 1;
        k = k.saturating_sub(removed);
        cut_end = start + sp;
    }
    None
}

fn ipv6_at(text: &str, colon: usize, out: &mut Vec<Finding>) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut start = colon;
    while start > 0 && bytes.get(start - 1).copied().is_some_and(is_v6) && colon - start < 40 {
        start -= 1;
    }
    let mut end = colon;
    while bytes.get(end).copied().is_some_and(is_v6) && end - start < 45 {
        end += 1;
    }
    while end > colon + 1 && bytes.get(end - 1) == Some(&b'.') {
        end -= 1;
    }
    let before = start.checked_sub(1).and_then(|i| bytes.get(i)).copied();
    let after = bytes.get(end).copied();
    if before.is_some_and(is_word_byte) || after.is_some_and(|b| is_word_byte(b) || b == b':') {
        return Some(end);
    }
    let cand = text.get(start..end)?;
    let colons = cand.bytes().filter(|&b| b == b':').count();
    let hex = cand.bytes().filter(u8::is_ascii_hexdigit).count();
    if colons < 2 || (hex < 3 && cand != "::1") || cand.parse::<Ipv6Addr>().is_err() {
        return Some(end);
    }
    let mut c = if cand.contains("::") { 0.6 } else { 0.8 };
    if has_context(text, start, end, IP_CONTEXT) {
        c += CONTEXT_BOOST;
    }
    out.push(Finding::new(kinds::IP, "ipv6", Span::new(start, end), c));
    Some(end)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The dispatch as it was before the candidate search: every byte
    /// that may start a candidate is tried.
    fn scan_pii_every_byte(text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            let prev_word = i > 0 && bytes.get(i - 1).copied().is_some_and(is_word_byte);
            let next = match b {
                b'@' => email_at(text, i, &mut out),
                b'0'..=b'9' | b'+' | b'(' if !prev_word => numeric_at(text, i, &mut out),
                b'A'..=b'Z' if !prev_word => iban_at(text, i, &mut out),
                b':' => ipv6_at(text, i, &mut out),
                _ => None,
            };
            i = next.filter(|&n| n > i).unwrap_or(i + 1);
        }
        out
    }

    const FRAGMENTS: &[&str] = &[
        "a",
        "Z",
        "DE",
        "89",
        "0",
        "7",
        "9",
        "1",
        "5",
        "_",
        " ",
        "-",
        ".",
        "(",
        ")",
        "+",
        "/",
        ":",
        "::",
        "@",
        "(555) 123-4567",
        "2001:db8::1",
        "912-64-3456",
        "5196 4017 5722 8468",
        "fe80",
        "ab",
        "x@ex.org",
        "DE89 3704 0044 0532 0130 00",
        "4539 1488 0343 6467",
        "536-22-5476",
        "+1 415 555 0132",
        "192.168.1.20",
        "\"id\": ",
        "é",
        "\n",
        "ssn",
        "card",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Skipping the positions the candidate search rules out changes
        /// no finding.
        #[test]
        fn candidate_search_skips_only_dead_positions(
            parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..60)
        ) {
            let text = parts.concat();
            let mut got = Vec::new();
            scan_pii(&text, &mut got);
            prop_assert_eq!(got, scan_pii_every_byte(&text));
        }
    }

    fn kinds_of(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        scan_pii(text, &mut out);
        out.iter()
            .map(|f| (f.kind.clone(), text[f.span.start..f.span.end].to_owned()))
            .collect()
    }

    #[test]
    fn finds_validated_pii() {
        let got = kinds_of(
            "SSN 536-22-5476, card 4929 1234 5678 9012 no, visa 4539 1488 0343 6467, \
             iban DE89 3704 0044 0532 0130 00, call +1 415 555 0132, mail a.b@ex-ample.org, \
             host 192.168.1.20 and fe80::1ff:fe23:4567:890a.",
        );
        let kinds: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert!(kinds.contains(&"pii.ssn"), "{got:?}");
        assert!(
            got.iter()
                .any(|(k, v)| k == "pii.credit_card" && v == "4539 1488 0343 6467"),
            "{got:?}"
        );
        assert!(
            !got.iter().any(|(_, v)| v == "4929 1234 5678 9012"),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(k, v)| k == "pii.iban" && v == "DE89 3704 0044 0532 0130 00"),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(k, v)| k == "pii.phone" && v == "+1 415 555 0132"),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(k, v)| k == "pii.email" && v == "a.b@ex-ample.org"),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(k, v)| k == "pii.ip_address" && v == "192.168.1.20"),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(k, v)| k == "pii.ip_address" && v == "fe80::1ff:fe23:4567:890a"),
            "{got:?}"
        );
    }

    #[test]
    fn rejects_invalid_shapes() {
        for t in [
            "SSN 000-12-3456",
            "SSN 666-12-3456",
            "SSN 912-12-3456",
            "SSN 123-00-4567",
            "SSN 123-45-0000",
            "card 4111 1111 1111 1112",
            "uuid 123e4567-e89b-12d3-a456-426614174000",
            "sha 3f786850e387550fdab836ed7e6dc881de23001b",
            "on 2024-01-15 at 12:30:45",
            "Vec::new() and std::io::Result",
            "version 1.2.3.4",
        ] {
            assert!(kinds_of(t).is_empty(), "{t}: {:?}", kinds_of(t));
        }
    }
}
