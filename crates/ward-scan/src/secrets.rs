//! The secrets scanner: built-in rules for cloud and SaaS credentials,
//! private keys, JWTs and generic high-entropy assignments, plus user rules
//! in gitleaks' TOML format (`gitleaks.rs`).
//!
//! As in gitleaks, each rule has keywords; one ASCII-case-insensitive
//! Aho-Corasick pass finds which keywords occur (in the default set, the
//! pass shared with the injection scanner, `keywords.rs`), and only the
//! rules whose keywords occur run their regex (`regex::bytes`, Unicode
//! off, so matching is byte-wise and linear), in windows around the hits.
//! A rule without keywords always runs. Post
//! checks remove documented placeholders (`AKIAIOSFODNN7EXAMPLE`), JWTs
//! whose header is not JSON with `alg`, and low-entropy values. When two
//! secret findings overlap, the more specific rule wins.

use std::sync::OnceLock;

use base64::Engine as _;
use regex::bytes::{Regex, RegexBuilder};

use crate::error::ScanError;
use crate::finding::{Finding, Span};
use crate::keywords::{Hit, KeywordSet};
use crate::scanner::Scanner;
use crate::text::shannon_entropy;

/// Extra checks a built-in rule applies to its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostCheck {
    None,
    /// Drop AWS documentation placeholders (`...EXAMPLE...`).
    NotExample,
    /// The first part must decode to a JSON object with `alg`.
    JwtHeader,
    /// The value must look like a real credential, not a placeholder.
    GenericValue,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) kind: String,
    regex: Regex,
    keywords: Vec<String>,
    entropy: Option<f64>,
    /// The capture group holding the secret (0: the whole match).
    secret_group: usize,
    confidence: f64,
    /// Lower wins when findings overlap.
    priority: u8,
    post: PostCheck,
    /// How far after a keyword hit a match may end.
    window_after: usize,
}

/// How far before a keyword hit a match may start.
const WINDOW_BEFORE: usize = 256;

/// A rule before compilation.
#[derive(Debug, Clone)]
pub(crate) struct RuleSpec {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) regex: String,
    pub(crate) keywords: Vec<String>,
    pub(crate) entropy: Option<f64>,
    pub(crate) secret_group: Option<usize>,
    pub(crate) confidence: f64,
    pub(crate) priority: u8,
    pub(crate) post: PostCheck,
}

impl RuleSpec {
    pub(crate) fn compile(&self) -> Result<Rule, ScanError> {
        let regex = RegexBuilder::new(&self.regex)
            .unicode(false)
            .size_limit(1 << 22)
            .dfa_size_limit(1 << 22)
            .build()
            .or_else(|_| {
                // Some gitleaks rules need Unicode classes; fall back.
                RegexBuilder::new(&self.regex)
                    .size_limit(1 << 22)
                    .dfa_size_limit(1 << 22)
                    .build()
            })
            .map_err(|e| ScanError::RuleRegex {
                id: self.id.clone(),
                message: e.to_string(),
            })?;
        let groups = regex.captures_len().saturating_sub(1);
        // gitleaks: an unset secretGroup means the first group if any.
        let secret_group = self
            .secret_group
            .unwrap_or(usize::from(groups > 0))
            .min(groups);
        Ok(Rule {
            id: self.id.clone(),
            kind: self.kind.clone(),
            regex,
            keywords: self
                .keywords
                .iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            entropy: self.entropy,
            secret_group,
            confidence: self.confidence,
            priority: self.priority,
            post: self.post,
            // Key blocks are long; everything else is a line or two.
            window_after: if self.regex.contains("PRIVATE KEY") {
                64 << 10
            } else {
                2048
            },
        })
    }
}

#[expect(clippy::too_many_arguments, reason = "a table row")]
fn spec(
    id: &str,
    kind: &str,
    regex: &str,
    keywords: &[&str],
    entropy: Option<f64>,
    confidence: f64,
    priority: u8,
    post: PostCheck,
) -> RuleSpec {
    RuleSpec {
        id: id.to_owned(),
        kind: kind.to_owned(),
        regex: regex.to_owned(),
        keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
        entropy,
        secret_group: None,
        confidence,
        priority,
        post,
    }
}

/// The built-in rules.
pub(crate) fn builtin_specs() -> Vec<RuleSpec> {
    use PostCheck as P;
    vec![
        spec("aws-access-key-id", "secret.aws_access_key",
            r"\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b",
            &["akia", "asia", "abia", "acca", "a3t"], None, 0.9, 10, P::NotExample),
        spec("aws-secret-access-key", "secret.aws_secret_key",
            r#"(?i)(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)["']?\s{0,5}(?::|=>|=)\s{0,5}["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)"#,
            &["secret_access_key", "secretaccesskey", "aws_secret", "awssecret", "secret_key"],
            Some(3.0), 0.9, 10, P::NotExample),
        spec("gcp-api-key", "secret.gcp_api_key",
            r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)", &["aiza"], None, 0.9, 10, P::None),
        spec("gcp-service-account", "secret.gcp_service_account",
            r#""private_key"\s*:\s*"(-----BEGIN[A-Z ]{0,20}PRIVATE KEY-----[^"]{64,})""#,
            &["private_key"], None, 0.95, 5, P::None),
        spec("azure-storage-connection-string", "secret.azure_storage_key",
            r"(?i)(DefaultEndpointsProtocol=https?;AccountName=[A-Za-z0-9]{3,24};AccountKey=[A-Za-z0-9+/]{86}==(?:;EndpointSuffix=[A-Za-z0-9.]+)?)",
            &["defaultendpointsprotocol"], None, 0.95, 5, P::None),
        spec("azure-storage-account-key", "secret.azure_storage_key",
            r"(?i)AccountKey\s*=\s*([A-Za-z0-9+/]{86}==)", &["accountkey"], None, 0.9, 10, P::None),
        spec("azure-sas-token", "secret.azure_sas_token",
            r"(?i)[?&]sv=\d{4}-\d{2}-\d{2}[^\s]{0,300}?&sig=([A-Za-z0-9%+/=]{40,})",
            &["sig="], None, 0.8, 10, P::None),
        spec("github-token", "secret.github_token",
            r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36})\b",
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], None, 0.95, 10, P::None),
        spec("github-fine-grained-pat", "secret.github_token",
            r"\b(github_pat_[A-Za-z0-9_]{82})\b", &["github_pat_"], None, 0.95, 10, P::None),
        spec("gitlab-pat", "secret.gitlab_token",
            r"\b(glpat-[A-Za-z0-9_\-]{20,})(?:[^A-Za-z0-9_\-]|$)", &["glpat-"], None, 0.95, 10, P::None),
        spec("slack-token", "secret.slack_token",
            r"\b(xox[baprs]-[0-9A-Za-z]{8,}-[0-9A-Za-z\-]{8,})",
            &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"], None, 0.9, 10, P::NotExample),
        spec("slack-webhook", "secret.slack_webhook",
            r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{8,}/[A-Za-z0-9+/]{8,}/[A-Za-z0-9+/]{16,})",
            &["hooks.slack.com"], None, 0.9, 10, P::NotExample),
        spec("stripe-live-key", "secret.stripe_key",
            r"\b((?:sk|rk)_live_[0-9A-Za-z]{20,99})\b", &["sk_live_", "rk_live_"], None, 0.95, 10, P::None),
        spec("stripe-test-key", "secret.stripe_key",
            r"\b((?:sk|rk)_test_[0-9A-Za-z]{20,99})\b", &["sk_test_", "rk_test_"], None, 0.5, 10, P::None),
        spec("anthropic-api-key", "secret.anthropic_key",
            r"\b(sk-ant-[A-Za-z0-9_\-]{32,})", &["sk-ant-"], None, 0.95, 8, P::None),
        spec("openai-project-key", "secret.openai_key",
            r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,})", &["sk-proj-", "sk-svcacct-", "sk-admin-"],
            None, 0.95, 8, P::None),
        spec("openai-api-key", "secret.openai_key",
            r"\b(sk-[A-Za-z0-9]{32,64})\b", &["sk-"], Some(3.5), 0.85, 9, P::None),
        spec("private-key", "secret.private_key",
            r"(-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s:,.-]|\\[nr]){64,}?-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----)",
            &["private key"], None, 0.95, 6, P::None),
        spec("private-key-truncated", "secret.private_key",
            r"(-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:\s|\\[nr])*[A-Za-z0-9+/=]{64,})",
            &["private key"], None, 0.85, 7, P::None),
        spec("jwt", "secret.jwt",
            r"\b(eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*)", &["eyj"], None, 0.85, 10,
            P::JwtHeader),
        spec("generic-credential-assignment", "secret.generic",
            r#"(?i)\b((?:[a-z0-9_.-]{0,24}[_.-])?(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|client[_-]?secret|credentials?)s?)["']?\s{0,3}(?::=|=>|:|=)\s{0,3}["']?([^\s"'`,;<>{}()\[\]\\]{8,200})"#,
            &["password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey", "api-key",
              "access_key", "access-key", "auth_key", "private_key", "credential"],
            None, 0.6, 50, P::GenericValue),
    ]
    .into_iter()
    .map(|mut s| {
        if s.id == "generic-credential-assignment" {
            s.secret_group = Some(2);
        }
        s
    })
    .collect()
}

/// The secrets scanner: built-in rules plus any user rules.
#[derive(Debug, Clone)]
pub struct SecretScanner {
    rules: Vec<Rule>,
    /// The distinct keywords, lowercase and non-empty.
    keywords: Vec<String>,
    /// For each keyword, the rules it enables.
    keyword_rules: Vec<Vec<usize>>,
    /// Rules that always run.
    unconditional: Vec<usize>,
    /// This scanner's own keyword automaton, for use alone; the default
    /// set finds the keywords in its shared pass instead.
    own: OnceLock<Option<KeywordSet>>,
}

impl Default for SecretScanner {
    fn default() -> Self {
        SecretScanner::new()
    }
}

impl SecretScanner {
    /// The built-in rules.
    pub fn new() -> Self {
        let rules: Vec<Rule> = builtin_specs()
            .iter()
            .filter_map(|s| s.compile().ok())
            .collect();
        SecretScanner::from_rules(rules)
    }

    /// The built-in rules plus the rules of a gitleaks TOML file.
    pub fn with_gitleaks_toml(toml_text: &str) -> Result<Self, ScanError> {
        let mut rules: Vec<Rule> = builtin_specs()
            .iter()
            .filter_map(|s| s.compile().ok())
            .collect();
        for s in crate::gitleaks::parse_rules(toml_text)? {
            rules.push(s.compile()?);
        }
        Ok(SecretScanner::from_rules(rules))
    }

    pub(crate) fn from_rules(rules: Vec<Rule>) -> Self {
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut unconditional = Vec::new();
        for (ri, rule) in rules.iter().enumerate() {
            // An empty keyword occurs everywhere: the rule always runs.
            if rule.keywords.is_empty() || rule.keywords.iter().any(String::is_empty) {
                unconditional.push(ri);
                continue;
            }
            for k in &rule.keywords {
                if let Some(pos) = keywords.iter().position(|x| x == k) {
                    if let Some(v) = keyword_rules.get_mut(pos) {
                        v.push(ri);
                    }
                } else {
                    keywords.push(k.clone());
                    keyword_rules.push(vec![ri]);
                }
            }
        }
        SecretScanner {
            rules,
            keywords,
            keyword_rules,
            unconditional,
            own: OnceLock::new(),
        }
    }

    /// The rule ids, in order.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id.as_str()).collect()
    }

    /// The keywords, for a shared keyword pass; hits refer to this list.
    pub(crate) fn keywords(&self) -> Vec<&str> {
        self.keywords.iter().map(String::as_str).collect()
    }

    /// For each rule: `None` if it does not run, else the byte windows to
    /// run it in. Rules without keywords run over the whole text; the
    /// others get windows around their keyword hits (`add_windows`).
    pub(crate) fn new_windows(&self, len: usize) -> Windows {
        let mut windows: Windows = vec![None; self.rules.len()];
        for &ri in &self.unconditional {
            if let Some(w) = windows.get_mut(ri) {
                *w = Some(vec![(0, len)]);
            }
        }
        windows
    }

    /// Adds the windows around keyword `hits`, which come in the order of
    /// an overlapping search (by end offset); close windows merge.
    pub(crate) fn add_windows(&self, windows: &mut Windows, hits: &[Hit], len: usize) {
        for m in hits {
            let index = usize::try_from(m.index).unwrap_or(usize::MAX);
            for &ri in self.keyword_rules.get(index).map_or(&[][..], Vec::as_slice) {
                let (Some(rule), Some(slot)) = (self.rules.get(ri), windows.get_mut(ri)) else {
                    continue;
                };
                let lo = m.start.saturating_sub(WINDOW_BEFORE);
                let hi = m.end.saturating_add(rule.window_after).min(len);
                let list = slot.get_or_insert_with(Vec::new);
                match list.last_mut() {
                    Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                    _ => list.push((lo, hi)),
                }
            }
        }
    }

    /// Runs each rule in its windows of `text`.
    pub(crate) fn scan_windows(&self, text: &str, windows: &Windows, out: &mut Vec<Finding>) {
        let bytes = text.as_bytes();
        let mut found: Vec<(u8, Finding)> = Vec::new();
        for (rule, wins) in self.rules.iter().zip(windows) {
            let Some(wins) = wins else { continue };
            for &(lo, hi) in wins {
                let lo = crate::text::floor_boundary(text, lo);
                let hi = crate::text::ceil_boundary(text, hi);
                let Some(window) = bytes.get(lo..hi) else {
                    continue;
                };
                scan_window(text, rule, window, lo, &mut found);
            }
        }
        resolve_overlaps(found, out);
    }
}

/// Per rule, the byte windows it runs in (`None`: it does not run).
pub(crate) type Windows = Vec<Option<Vec<(usize, usize)>>>;

impl Scanner for SecretScanner {
    fn name(&self) -> &'static str {
        "secret"
    }

    fn scan_into(&self, text: &str, out: &mut Vec<Finding>) {
        let own = self
            .own
            .get_or_init(|| KeywordSet::new(&[], &self.keywords()));
        let mut windows = self.new_windows(text.len());
        match own {
            Some(own) => own.for_each(text.as_bytes(), |_, hits| {
                self.add_windows(&mut windows, hits, text.len());
            }),
            // No keyword automaton (it could not be built): every rule
            // runs over the whole text rather than none.
            None => windows.fill(Some(vec![(0, text.len())])),
        }
        self.scan_windows(text, &windows, out);
    }
}

/// Runs one rule over one window; spans are offsets into `text`.
fn scan_window(
    text: &str,
    rule: &Rule,
    window: &[u8],
    offset: usize,
    found: &mut Vec<(u8, Finding)>,
) {
    {
        {
            for caps in rule.regex.captures_iter(window) {
                let Some(m) = caps.get(rule.secret_group).or_else(|| caps.get(0)) else {
                    continue;
                };
                let secret = m.as_bytes();
                if secret.is_empty() {
                    continue;
                }
                if let Some(min) = rule.entropy {
                    if shannon_entropy(secret) < min {
                        continue;
                    }
                }
                let Some(confidence) = post_check(rule, secret) else {
                    continue;
                };
                // Spans must sit on char boundaries of the text.
                let (start, end) = (m.start() + offset, m.end() + offset);
                if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                    continue;
                }
                found.push((
                    rule.priority,
                    Finding::new(&rule.kind, &rule.id, Span::new(start, end), confidence),
                ));
            }
        }
    }
}

fn post_check(rule: &Rule, secret: &[u8]) -> Option<f64> {
    match rule.post {
        PostCheck::None => Some(rule.confidence),
        PostCheck::NotExample => {
            let upper = secret.to_ascii_uppercase();
            let example = memchr::memmem::find(&upper, b"EXAMPLE").is_some();
            (!example).then_some(rule.confidence)
        }
        PostCheck::JwtHeader => jwt_header_ok(secret).then_some(rule.confidence),
        PostCheck::GenericValue => generic_value_confidence(secret),
    }
}

fn jwt_header_ok(token: &[u8]) -> bool {
    let Some(header) = token.split(|&b| b == b'.').next() else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.strip_suffix(b"=").unwrap_or(header))
    else {
        return false;
    };
    match serde_json::from_slice::<serde_json::Value>(&decoded) {
        Ok(serde_json::Value::Object(map)) => map.contains_key("alg"),
        _ => false,
    }
}

/// A generic `password=...` value must look like a credential: not a
/// placeholder, a reference or a plain word, and with enough entropy.
fn generic_value_confidence(value: &[u8]) -> Option<f64> {
    const PLACEHOLDERS: &[&str] = &[
        "${",
        "{{",
        "$(",
        "%(",
        "xxx",
        "***",
        "...",
        "example",
        "changeme",
        "change_me",
        "your_",
        "your-",
        "placeholder",
        "redacted",
        "dummy",
        "sample",
        "fake",
        "null",
        "none",
        "undefined",
        "env.",
        "process.",
        "environ",
        "getenv",
        "secret",
        "password",
        "token",
        "<",
        "todo",
        "replace",
        "string",
        "bool",
        "true",
        "false",
    ];
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDERS
        .iter()
        .any(|p| memchr::memmem::find(&lower, p.as_bytes()).is_some())
    {
        return None;
    }
    let first = *value.first()?;
    if matches!(first, b'$' | b'%' | b'/' | b'.' | b'@' | b'&' | b'*' | b'#')
        || lower.starts_with(b"http")
    {
        return None;
    }
    let has = |f: fn(&u8) -> bool| value.iter().any(f);
    let lower_c = has(u8::is_ascii_lowercase);
    let upper_c = has(u8::is_ascii_uppercase);
    let digit = has(u8::is_ascii_digit);
    let symbol = value.iter().any(|b| !b.is_ascii_alphanumeric());
    let classes = [lower_c, upper_c, digit, symbol]
        .iter()
        .filter(|&&x| x)
        .count();
    let letters = lower_c || upper_c;
    let entropy = shannon_entropy(value);
    let len = value.len() as f64;
    let threshold = if classes >= 3 {
        2.5
    } else {
        (len.log2() * 0.9).min(3.2)
    };
    let shaped =
        classes >= 3 || (letters && digit) || (value.len() >= 20 && classes >= 2 && entropy >= 3.8);
    if !shaped || entropy < threshold {
        return None;
    }
    Some(if entropy >= 3.5 { 0.7 } else { 0.6 })
}

/// Keeps, among overlapping findings, the one with the lowest priority
/// number (then the longest span, then the earliest).
fn resolve_overlaps(mut found: Vec<(u8, Finding)>, out: &mut Vec<Finding>) {
    found.sort_by(|(pa, a), (pb, b)| {
        pa.cmp(pb)
            .then_with(|| b.span.len().cmp(&a.span.len()))
            .then_with(|| a.span.start.cmp(&b.span.start))
            .then_with(|| a.rule.cmp(&b.rule))
    });
    let mut kept: Vec<Finding> = Vec::new();
    for (_, f) in found {
        if !kept.iter().any(|k| k.span.overlaps(&f.span)) {
            kept.push(f);
        }
    }
    out.extend(kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<(String, String)> {
        let s = SecretScanner::new();
        let mut out = Vec::new();
        s.scan_into(text, &mut out);
        out.iter()
            .map(|f| (f.kind.clone(), text[f.span.start..f.span.end].to_owned()))
            .collect()
    }

    #[test]
    fn all_builtin_rules_compile() {
        for s in builtin_specs() {
            s.compile().unwrap();
        }
    }

    #[test]
    fn finds_tokens_and_drops_placeholders() {
        let got = scan("key AKIAZ3MUGBJ4XKQ2T7PA and AKIAIOSFODNN7EXAMPLE");
        assert_eq!(
            got,
            vec![(
                "secret.aws_access_key".into(),
                "AKIAZ3MUGBJ4XKQ2T7PA".into()
            )]
        );
        let got = scan("token ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5 end");
        assert_eq!(got.len(), 1, "{got:?}");
        let got = scan("password=hunter2Zx9!q");
        assert_eq!(got, vec![("secret.generic".into(), "hunter2Zx9!q".into())]);
        assert!(scan("password=${DB_PASSWORD}").is_empty());
        assert!(scan("password: changeme123").is_empty());
    }

    #[test]
    fn jwt_needs_a_json_header() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(scan(jwt).len(), 1);
        assert!(scan("eyJub3RqdXN0.eyJhbGciOiJIUzI1.abcdefghijklmn").is_empty());
    }
}
