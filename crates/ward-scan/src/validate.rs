//! Validators that turn pattern candidates into findings: Luhn for card
//! numbers, the SSA's rules for SSNs, ISO 13616 mod-97 for IBANs and an
//! RFC 5321-shaped check for email addresses.
//!
//! A regex alone flags every 16-digit order number; a validator keeps the
//! false-positive rate to what the check digit allows (1 in 10 for Luhn,
//! 1 in 97 for IBAN), and the callers add issuer prefixes and context words.

/// Luhn check over the ASCII digits of `s` (other bytes are skipped).
pub(crate) fn luhn_valid(s: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    let mut n = 0usize;
    for &b in s.iter().rev() {
        if !b.is_ascii_digit() {
            continue;
        }
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
        n += 1;
    }
    n > 0 && sum.is_multiple_of(10)
}

/// The digits of `s`, as ASCII.
pub(crate) fn digits_of(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(u8::is_ascii_digit).collect()
}

fn parse_digits(d: &[u8]) -> u32 {
    d.iter().fold(0u32, |acc, &b| {
        acc.saturating_mul(10)
            .saturating_add(u32::from(b.wrapping_sub(b'0')))
    })
}

/// The SSA's validity rules for a nine-digit SSN: area not 000, 666 or
/// 900–999; group not 00; serial not 0000. Also rejects the numbers the SSA
/// voided after they were printed in advertising.
pub(crate) fn ssn_valid(digits: &[u8]) -> bool {
    let (Some(area), Some(group), Some(serial)) =
        (digits.get(0..3), digits.get(3..5), digits.get(5..9))
    else {
        return false;
    };
    if digits.len() != 9 {
        return false;
    }
    let area = parse_digits(area);
    let group = parse_digits(group);
    let serial = parse_digits(serial);
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    // 078-05-1120 (the Woolworth wallet card) and 123-45-6789 (advertising).
    !matches!((area, group, serial), (78, 5, 1120) | (123, 45, 6789))
}

/// Known card issuer prefixes (Visa, Mastercard, Amex, Discover, JCB,
/// Diners, UnionPay, Maestro) for the given digit string.
pub(crate) fn card_issuer_known(digits: &[u8]) -> bool {
    let p = |n: usize| digits.get(0..n).map_or(0, parse_digits);
    let len = digits.len();
    let two = p(2);
    let four = p(4);
    let three = p(3);
    let six = p(6);
    match digits.first() {
        Some(b'4') => matches!(len, 13 | 16 | 19),
        Some(b'5') => {
            (51..=55).contains(&two) && len == 16 || (two == 50 || two >= 56) && len >= 12
        }
        Some(b'2') => (2221..=2720).contains(&four) && len == 16,
        Some(b'3') => {
            ((two == 34 || two == 37) && len == 15)
                || ((3528..=3589).contains(&four) && len >= 16)
                || ((300..=305).contains(&three) || two == 36 || two == 38) && len >= 14
        }
        Some(b'6') => {
            four == 6011
                || two == 65
                || (644..=649).contains(&three)
                || (622_126..=622_925).contains(&six)
                || two == 62
                || two == 67
        }
        _ => false,
    }
}

/// Well-known test card numbers from processors' documentation. They pass
/// Luhn and are flagged, at a lower confidence.
pub(crate) fn card_is_test_number(digits: &[u8]) -> bool {
    const TEST: &[&[u8]] = &[
        b"4111111111111111",
        b"4242424242424242",
        b"4012888888881881",
        b"5555555555554444",
        b"5105105105105100",
        b"378282246310005",
        b"371449635398431",
        b"6011111111111117",
        b"4000056655665556",
        b"4000000000000002",
    ];
    TEST.contains(&digits)
}

/// ISO 13616 IBAN check: two letters, two check digits, up to 30
/// alphanumerics, mod 97 == 1. `s` must already be uppercase without spaces.
pub(crate) fn iban_valid(s: &[u8]) -> bool {
    if !(15..=34).contains(&s.len()) {
        return false;
    }
    let (Some(head), Some(rest)) = (s.get(0..4), s.get(4..)) else {
        return false;
    };
    if !head.iter().take(2).all(u8::is_ascii_uppercase)
        || !head.iter().skip(2).all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut rem = 0u32;
    for &b in rest.iter().chain(head) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'')
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// The email address around the `@` at `at`, as a byte range, if the
/// local part and the domain are well formed.
pub(crate) fn email_around(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > 0 && bytes.get(start - 1).copied().is_some_and(is_local_byte) && at - start < 64 {
        start -= 1;
    }
    while bytes
        .get(start)
        .is_some_and(|&b| matches!(b, b'.' | b'\'' | b'-'))
        && start < at
    {
        start += 1;
    }
    let mut end = at + 1;
    while bytes.get(end).copied().is_some_and(is_domain_byte) && end - at < 255 {
        end += 1;
    }
    while end > at + 1
        && bytes
            .get(end - 1)
            .is_some_and(|&b| matches!(b, b'.' | b'-'))
    {
        end -= 1;
    }
    if start == at {
        return None;
    }
    let local = bytes.get(start..at)?;
    let domain = bytes.get(at + 1..end)?;
    if local.starts_with(b".") || local.ends_with(b".") || local.windows(2).any(|w| w == b"..") {
        return None;
    }
    let mut labels = domain.split(|&b| b == b'.');
    let mut count = 0;
    let mut last: &[u8] = &[];
    for label in labels.by_ref() {
        if label.is_empty() || label.len() > 63 || label.starts_with(b"-") || label.ends_with(b"-")
        {
            return None;
        }
        count += 1;
        last = label;
    }
    if count < 2 || last.len() < 2 || !last.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn() {
        assert!(luhn_valid(b"4111 1111 1111 1111"));
        assert!(!luhn_valid(b"4111 1111 1111 1112"));
        assert!(luhn_valid(b"79927398713"));
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn_valid(b"536225476"));
        assert!(!ssn_valid(b"000225476"));
        assert!(!ssn_valid(b"666225476"));
        assert!(!ssn_valid(b"912225476"));
        assert!(!ssn_valid(b"536005476"));
        assert!(!ssn_valid(b"536220000"));
        assert!(!ssn_valid(b"123456789"));
    }

    #[test]
    fn iban() {
        assert!(iban_valid(b"DE89370400440532013000"));
        assert!(iban_valid(b"GB82WEST12345698765432"));
        assert!(!iban_valid(b"GB82WEST12345698765433"));
    }

    #[test]
    fn email() {
        let t = b"mail jane.doe+x@mail.example.com. now";
        let at = t.iter().position(|&b| b == b'@').unwrap();
        let (s, e) = email_around(t, at).unwrap();
        assert_eq!(&t[s..e], b"jane.doe+x@mail.example.com");
        let t = b"user@localhost";
        assert!(email_around(t, 4).is_none());
    }

    #[test]
    fn issuers() {
        assert!(card_issuer_known(b"4111111111111111"));
        assert!(card_issuer_known(b"378282246310005"));
        assert!(!card_issuer_known(b"1234567812345670"));
    }
}
