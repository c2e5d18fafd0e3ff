//! The provenance normaliser: pulls the values an action can be steered
//! by out of text, in a normal form, so that a value the model copies into
//! an argument matches the content it came from however it was written.
//!
//! - email addresses, case-folded (`Bob@Example.COM` → `bob@example.com`);
//! - URLs: scheme and host case-folded, default port, fragment and
//!   trailing `/` dropped; their hosts also count as domains;
//! - domains (bare or from emails and URLs), case-folded, `www.` dropped;
//! - IBANs (mod-97 valid), uppercase without spaces;
//! - numbers of six or more digits (accounts, cards, phones), digits only.

use std::sync::OnceLock;

use regex::bytes::Regex;

use crate::text::is_word_byte;
use crate::validate::{email_around, iban_valid};

/// What a normalised token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenKind {
    /// An email address.
    Email,
    /// A URL.
    Url,
    /// A domain name or URL host.
    Domain,
    /// An IBAN.
    Iban,
    /// An account, card or phone number (digits only).
    Number,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Email => "email:",
            TokenKind::Url => "url:",
            TokenKind::Domain => "domain:",
            TokenKind::Iban => "iban:",
            TokenKind::Number => "num:",
        }
    }
}

/// One normalised token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token {
    /// The kind.
    pub kind: TokenKind,
    /// The normal form.
    pub value: String,
}

impl Token {
    /// A key unique across kinds, such as `email:bob@example.com`.
    pub fn key(&self) -> String {
        format!("{}{}", self.kind.prefix(), self.value)
    }
}

const FILE_EXTENSIONS: &[&str] = &[
    "pdf",
    "txt",
    "rs",
    "py",
    "js",
    "ts",
    "md",
    "json",
    "csv",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "exe",
    "zip",
    "tar",
    "gz",
    "toml",
    "yaml",
    "yml",
    "go",
    "sh",
    "log",
    "html",
    "htm",
    "xml",
    "svg",
    "java",
    "rb",
    "php",
    "cpp",
    "hpp",
    "tsx",
    "jsx",
    "css",
    "lock",
    "bak",
    "tmp",
    "ini",
    "cfg",
    "conf",
    "mp3",
    "mp4",
    "wav",
    "mov",
    "ppt",
    "pptx",
    "key",
    "pem",
    "crt",
    "der",
    "bin",
    "dll",
    "so",
    "dylib",
    "wasm",
    "swift",
    "kt",
    "cs",
    "vue",
    "sql",
    "db",
    "env",
    "jar",
    "whl",
    "deb",
    "rpm",
    "msi",
    "dmg",
    "iso",
    "img",
    "tgz",
    "bz2",
    "xz",
    "zst",
    "eml",
    "msg",
    "ics",
    "vcf",
    "rtf",
    "odt",
    "ods",
    "epub",
    "heic",
    "webp",
    "bmp",
    "tiff",
    "ico",
    "ttf",
    "woff",
    "map",
    "min",
    "test",
    "spec",
    "config",
    "local",
    "internal",
    "lan",
    "example",
    "invalid",
    "localhost",
    "new",
    "old",
];

fn domain_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i-u)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b").ok()
    })
    .as_ref()
}

fn number_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?-u)\+?\(?\b\d[\d \-./()]{4,40}\d\b").ok())
        .as_ref()
}

fn iban_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i-u)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b").ok())
        .as_ref()
}

/// Normalises a domain: lowercase, no trailing dot, no `www.`.
fn norm_domain(d: &str) -> String {
    let d = d.trim_end_matches('.').to_ascii_lowercase();
    d.strip_prefix("www.").map(str::to_owned).unwrap_or(d)
}

fn push(out: &mut Vec<Token>, kind: TokenKind, value: String) {
    if !value.is_empty() {
        out.push(Token { kind, value });
    }
}

/// Every normalised token in `text`, sorted and without duplicates.
pub fn normalised_tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    // Emails.
    for at in memchr::memchr_iter(b'@', bytes) {
        if let Some((s, e)) = email_around(bytes, at) {
            if let Some(email) = text.get(s..e) {
                let email = email.to_ascii_lowercase();
                if let Some((_, domain)) = email.rsplit_once('@') {
                    push(&mut out, TokenKind::Domain, norm_domain(domain));
                }
                push(&mut out, TokenKind::Email, email);
            }
        }
    }
    // URLs.
    for sep in memchr::memmem::find_iter(bytes, b"://") {
        if let Some((url, host)) = url_at(text, sep) {
            push(&mut out, TokenKind::Url, url);
            push(&mut out, TokenKind::Domain, host);
        }
    }
    // Bare domains.
    if let Some(re) = domain_re() {
        for m in re.find_iter(bytes) {
            let before = m.start().checked_sub(1).and_then(|i| bytes.get(i)).copied();
            if before.is_some_and(|b| b == b'@' || b == b'.' || b == b'/') {
                continue;
            }
            let Some(d) = text.get(m.start()..m.end()) else {
                continue;
            };
            let tld = d.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
            if FILE_EXTENSIONS.contains(&tld.as_str()) {
                continue;
            }
            push(&mut out, TokenKind::Domain, norm_domain(d));
        }
    }
    // IBANs.
    if let Some(re) = iban_re() {
        for m in re.find_iter(bytes) {
            let compact: Vec<u8> = m
                .as_bytes()
                .iter()
                .copied()
                .filter(|b| *b != b' ')
                .map(|b| b.to_ascii_uppercase())
                .collect();
            // The match may run into following words: take the longest
            // valid prefix.
            let valid = (15..=compact.len().min(34))
                .rev()
                .filter_map(|n| compact.get(..n))
                .find(|c| iban_valid(c));
            if let Some(iban) = valid {
                push(
                    &mut out,
                    TokenKind::Iban,
                    String::from_utf8_lossy(iban).into_owned(),
                );
            }
        }
    }
    // Numbers.
    if let Some(re) = number_re() {
        for m in re.find_iter(bytes) {
            let digits: String = m
                .as_bytes()
                .iter()
                .filter(|b| b.is_ascii_digit())
                .map(|&b| char::from(b))
                .collect();
            if digits.len() >= 6 {
                push(&mut out, TokenKind::Number, digits);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The URL whose `://` is at `sep`, normalised, and its host.
fn url_at(text: &str, sep: usize) -> Option<(String, String)> {
    let bytes = text.as_bytes();
    let mut s = sep;
    while s > 0
        && bytes
            .get(s - 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        && sep - s < 16
    {
        s -= 1;
    }
    if s == sep || (s > 0 && bytes.get(s - 1).copied().is_some_and(is_word_byte)) {
        return None;
    }
    let mut e = sep + 3;
    while bytes.get(e).is_some_and(|&b| {
        b > 0x20
            && !matches!(
                b,
                b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\' | b'{' | b'}' | b'|' | b'^'
            )
    }) && e - sep < 2048
    {
        e += 1;
    }
    while e > sep + 3
        && bytes
            .get(e - 1)
            .is_some_and(|b| matches!(b, b'.' | b',' | b';' | b':' | b'!' | b'?' | b')' | b']'))
    {
        e -= 1;
    }
    let scheme = text.get(s..sep)?.to_ascii_lowercase();
    let rest = text.get(sep + 3..e)?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p))
            if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']')
                || hostport.starts_with('[') && hostport.ends_with(']') =>
        {
            if hostport.starts_with('[') && hostport.ends_with(']') {
                (hostport, "")
            } else {
                (h, p)
            }
        }
        _ => (hostport, ""),
    };
    let host = norm_domain(host);
    if host.is_empty() {
        return None;
    }
    let default_port = matches!(
        (scheme.as_str(), port),
        ("http", "80") | ("https", "443") | (_, "")
    );
    let mut url = format!("{scheme}://{host}");
    if !default_port {
        url.push(':');
        url.push_str(port);
    }
    url.push_str(path.trim_end_matches('/'));
    Some((url, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(t: &str) -> Vec<String> {
        normalised_tokens(t).iter().map(Token::key).collect()
    }

    #[test]
    fn normalises() {
        let k = keys("Mail Bob@Example.COM, see HTTPS://WWW.Acme.io:443/pay/?x=1#f and acme.io; IBAN DE89 3704 0044 0532 0130 00, tel +1 (415) 555-0132, report.pdf");
        for want in [
            "email:bob@example.com",
            "domain:example.com",
            "url:https://acme.io/pay/?x=1",
            "domain:acme.io",
            "iban:DE89370400440532013000",
            "num:14155550132",
        ] {
            assert!(k.contains(&want.to_owned()), "{want} not in {k:?}");
        }
        assert!(!k.iter().any(|x| x.contains("report")), "{k:?}");
    }
}
