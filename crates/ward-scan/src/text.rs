//! Small text helpers shared by the scanners: ASCII word tests, case-folded
//! search in a window, char-boundary-safe slicing and Shannon entropy.
//!
//! Everything here works on bytes and never panics: windows are clamped to
//! the text and to UTF-8 boundaries.

/// Whether `b` can be part of an ASCII word (`[A-Za-z0-9_]`).
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The byte at `i`, or `None` past either end.
pub(crate) fn byte_at(bytes: &[u8], i: usize) -> Option<u8> {
    bytes.get(i).copied()
}

/// Whether the bytes before `start` and at `end` are not word bytes.
pub(crate) fn word_bounded(bytes: &[u8], start: usize, end: usize) -> bool {
    let before = start
        .checked_sub(1)
        .and_then(|i| byte_at(bytes, i))
        .is_some_and(is_word_byte);
    let after = byte_at(bytes, end).is_some_and(is_word_byte);
    !before && !after
}

/// Moves `i` down to the nearest char boundary of `text`.
pub(crate) fn floor_boundary(text: &str, mut i: usize) -> usize {
    if i >= text.len() {
        return text.len();
    }
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Moves `i` up to the nearest char boundary of `text`.
pub(crate) fn ceil_boundary(text: &str, mut i: usize) -> usize {
    if i >= text.len() {
        return text.len();
    }
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The window `start.saturating_sub(before)..end + after`, clamped to the
/// text and to char boundaries.
pub(crate) fn window(text: &str, start: usize, end: usize, before: usize, after: usize) -> &str {
    let lo = floor_boundary(text, start.saturating_sub(before));
    let hi = ceil_boundary(text, end.saturating_add(after));
    text.get(lo..hi).unwrap_or("")
}

/// ASCII case-insensitive substring test; `needle` must be lowercase.
pub(crate) fn contains_ci(haystack: &str, needle: &str) -> bool {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    if h.len() < n.len() {
        return false;
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Whether any of the lowercase `words` occurs in `haystack` as a whole
/// word (ASCII case-insensitive).
pub(crate) fn contains_any_word_ci(haystack: &str, words: &[&str]) -> bool {
    let h = haystack.as_bytes();
    words.iter().any(|w| {
        let n = w.as_bytes();
        if n.is_empty() || h.len() < n.len() {
            return false;
        }
        h.windows(n.len())
            .enumerate()
            .any(|(i, win)| win.eq_ignore_ascii_case(n) && word_bounded(h, i, i + n.len()))
    })
}

/// Shannon entropy of the bytes, in bits per byte.
pub(crate) fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_and_constant() {
        assert!(shannon_entropy(b"aaaa") < 0.01);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn windows_respect_char_boundaries() {
        let t = "héllo wörld";
        assert_eq!(window(t, 3, 4, 3, 1), "héll");
        assert_eq!(window(t, 2, 3, 0, 0), "é");
        assert!(contains_ci("The SSN is", "ssn"));
        assert!(contains_any_word_ci("my card: 4111", &["card"]));
        assert!(!contains_any_word_ci("discard", &["card"]));
    }
}
