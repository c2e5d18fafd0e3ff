//! The provenance index: what entered an agent's context, labelled trusted
//! or untrusted, and where a tool-call argument's value came from.
//!
//! This is the check that must hold when every scanner misses: an attacker
//! who plants an IBAN in an email body cannot make it look like the user
//! typed it. Records are keyed by (tenant, session) and one session's
//! content is never visible from another. Each record is indexed twice:
//! normalised tokens (`extract.rs`: emails, URLs, domains, IBANs, numbers)
//! in a hash map, and word positions so that a whole short value is found
//! by checking the bytes at the positions of its rarest word instead of
//! searching all content.
//!
//! `classify` labels an argument from its tokens when it has any (any
//! token seen only in untrusted content makes it untrusted; else any token
//! never seen makes it new; else trusted), and otherwise from the whole
//! value. Memory is bounded per session and overall (oldest content is
//! evicted first) and content expires after a TTL; the clock is always a
//! value passed in.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::extract::normalised_tokens;
use crate::text::floor_boundary;

/// A fixed-key hasher: deterministic (no randomness in a pure crate).
type Fixed = BuildHasherDefault<DefaultHasher>;

/// How far content is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// The user's own input, trusted tools.
    Trusted,
    /// Retrieval, web pages, email bodies, other tools' outputs.
    Untrusted,
}

/// Content entering the agent's context.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// Plain text: one trust for all of it.
    Text(&'a str),
    /// A structured tool output. Fields at `trusted_paths` (`$.contacts[*].email`,
    /// `$.name`; a path also covers everything under it) are trusted; all
    /// other fields are untrusted, unless the record's trust is `Trusted`.
    Json {
        /// The output.
        value: &'a Value,
        /// JSON paths declared trusted.
        trusted_paths: &'a [&'a str],
    },
}

pub use ward_core::{ArgProvenance, ProvenanceLabel};

/// Bounds of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvenanceConfig {
    /// Accounted bytes per session before its oldest content is evicted.
    pub max_bytes_per_session: usize,
    /// Accounted bytes overall before the oldest content anywhere is evicted.
    pub max_bytes_total: usize,
    /// Seconds content stays visible after it was recorded.
    pub ttl_secs: i64,
    /// Longest argument value looked up as a whole (tokens are always
    /// looked up).
    pub max_whole_value_bytes: usize,
}

impl Default for ProvenanceConfig {
    fn default() -> Self {
        ProvenanceConfig {
            max_bytes_per_session: 8 << 20,
            max_bytes_total: 512 << 20,
            ttl_secs: 24 * 3600,
            max_whole_value_bytes: 4096,
        }
    }
}

/// What `record` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordOutcome {
    /// Entries evicted to stay within bounds.
    pub evicted: usize,
    /// Whether the content was cut to fit the per-session bound.
    pub truncated: bool,
}

const POSTING_CAP: usize = 4096;
const MAX_SOURCES: usize = 8;

#[derive(Debug)]
struct Entry {
    seq: u64,
    at: i64,
    trust: Trust,
    source: String,
    text: String,
    words: Vec<u64>,
    tokens: Vec<String>,
    cost: usize,
}

#[derive(Debug, Default)]
struct Postings {
    list: VecDeque<(u64, u32)>,
    dropped: usize,
}

#[derive(Debug, Default)]
struct Session {
    entries: VecDeque<Entry>,
    bytes: usize,
    words: HashMap<u64, Postings, Fixed>,
    tokens: HashMap<String, TokenPost, Fixed>,
    /// The earliest `at` of any entry: when it is live, every entry is, and
    /// token lookups use the per-source counts without visiting entries.
    min_at: i64,
}

/// Where one normalised token occurs: entry sequences (oldest first, for
/// eviction and TTL filtering) and counts by (trust, source).
#[derive(Debug, Default)]
struct TokenPost {
    seqs: VecDeque<u64>,
    by_source: BTreeMap<(Trust, String), u32>,
}

/// The per-(tenant, session) record of content.
#[derive(Debug, Default)]
pub struct ProvenanceIndex {
    config: ProvenanceConfig,
    sessions: BTreeMap<String, BTreeMap<String, Session>>,
    /// Entry sequence → (tenant, session), oldest first.
    order: BTreeMap<u64, (String, String)>,
    total_bytes: usize,
    next_seq: u64,
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::default();
    h.write(bytes);
    h.finish()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Word tokens of `text` with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &[u8])> {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while b.get(i).is_some_and(|&c| !is_word(c)) {
            i += 1;
        }
        let s = i;
        while b.get(i).copied().is_some_and(is_word) {
            i += 1;
        }
        (i > s).then(|| (s, b.get(s..i).unwrap_or(&[])))
    })
}

impl ProvenanceIndex {
    /// An empty index.
    pub fn new(config: ProvenanceConfig) -> Self {
        ProvenanceIndex {
            config,
            ..ProvenanceIndex::default()
        }
    }

    /// Accounted bytes overall.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// Accounted bytes of one session.
    pub fn session_bytes(&self, tenant: &str, session: &str) -> usize {
        self.sessions
            .get(tenant)
            .and_then(|t| t.get(session))
            .map_or(0, |s| s.bytes)
    }

    /// Records content entering the agent's context.
    pub fn record(
        &mut self,
        tenant: &str,
        session: &str,
        content: Content<'_>,
        trust: Trust,
        source: &str,
        now: i64,
    ) -> RecordOutcome {
        let mut outcome = RecordOutcome::default();
        self.purge_expired_session(tenant, session, now, &mut outcome);
        let parts: Vec<(Trust, String)> = match content {
            Content::Text(t) => vec![(trust, t.to_owned())],
            Content::Json {
                value,
                trusted_paths,
            } => split_json(value, trusted_paths, trust),
        };
        for (t, text) in parts {
            if !text.is_empty() {
                self.add_entry(tenant, session, t, source, text, now, &mut outcome);
            }
        }
        outcome
    }

    #[expect(clippy::too_many_arguments, reason = "internal plumbing of record")]
    fn add_entry(
        &mut self,
        tenant: &str,
        session: &str,
        trust: Trust,
        source: &str,
        mut text: String,
        now: i64,
        outcome: &mut RecordOutcome,
    ) {
        // Words cost ~16 bytes of postings each; reserve for them.
        let budget = self.config.max_bytes_per_session / 3;
        if text.len() > budget {
            text.truncate(floor_boundary(&text, budget));
            outcome.truncated = true;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let sess = self
            .sessions
            .entry(tenant.to_owned())
            .or_default()
            .entry(session.to_owned())
            .or_default();
        let mut distinct = BTreeSet::new();
        let mut word_count = 0usize;
        for (off, w) in words(&text) {
            let h = fnv(w);
            distinct.insert(h);
            word_count += 1;
            let p = sess.words.entry(h).or_default();
            if p.list.len() < POSTING_CAP {
                p.list
                    .push_back((seq, u32::try_from(off).unwrap_or(u32::MAX)));
            } else {
                p.dropped += 1;
            }
        }
        let tokens: Vec<String> = normalised_tokens(&text)
            .iter()
            .map(crate::extract::Token::key)
            .collect();
        for k in &tokens {
            let tp = sess.tokens.entry(k.clone()).or_default();
            tp.seqs.push_back(seq);
            *tp.by_source.entry((trust, source.to_owned())).or_insert(0) += 1;
        }
        let cost =
            text.len() + 16 * word_count + tokens.iter().map(|t| t.len() + 32).sum::<usize>() + 128;
        sess.bytes += cost;
        sess.min_at = if sess.entries.is_empty() {
            now
        } else {
            sess.min_at.min(now)
        };
        sess.entries.push_back(Entry {
            seq,
            at: now,
            trust,
            source: source.to_owned(),
            text,
            words: distinct.into_iter().collect(),
            tokens,
            cost,
        });
        self.total_bytes += cost;
        self.order
            .insert(seq, (tenant.to_owned(), session.to_owned()));
        // Bounds: this session first, then everything.
        while self.session_bytes(tenant, session) > self.config.max_bytes_per_session {
            if !self.evict_oldest_of(tenant, session) {
                break;
            }
            outcome.evicted += 1;
        }
        while self.total_bytes > self.config.max_bytes_total {
            let Some((_, (t, s))) = self.order.first_key_value().map(|(k, v)| (*k, v.clone()))
            else {
                break;
            };
            if !self.evict_oldest_of(&t, &s) {
                break;
            }
            outcome.evicted += 1;
        }
    }

    /// Drops content past its TTL everywhere.
    pub fn purge_expired(&mut self, now: i64) -> usize {
        let keys: Vec<(String, String)> = self
            .sessions
            .iter()
            .flat_map(|(t, m)| m.keys().map(move |s| (t.clone(), s.clone())))
            .collect();
        let mut outcome = RecordOutcome::default();
        for (t, s) in keys {
            self.purge_expired_session(&t, &s, now, &mut outcome);
        }
        outcome.evicted
    }

    fn purge_expired_session(
        &mut self,
        tenant: &str,
        session: &str,
        now: i64,
        outcome: &mut RecordOutcome,
    ) {
        loop {
            let expired = self
                .sessions
                .get(tenant)
                .and_then(|t| t.get(session))
                .and_then(|s| s.entries.front())
                .is_some_and(|e| !self.live(e, now));
            if !expired || !self.evict_oldest_of(tenant, session) {
                break;
            }
            outcome.evicted += 1;
        }
    }

    fn live(&self, e: &Entry, now: i64) -> bool {
        now.saturating_sub(e.at) < self.config.ttl_secs
    }

    fn evict_oldest_of(&mut self, tenant: &str, session: &str) -> bool {
        let Some(tmap) = self.sessions.get_mut(tenant) else {
            return false;
        };
        let Some(sess) = tmap.get_mut(session) else {
            return false;
        };
        let Some(entry) = sess.entries.pop_front() else {
            return false;
        };
        for h in &entry.words {
            let empty = match sess.words.get_mut(h) {
                Some(p) => {
                    while p.list.front().is_some_and(|(s, _)| *s == entry.seq) {
                        p.list.pop_front();
                    }
                    if p.list.is_empty() {
                        p.dropped = 0;
                    }
                    p.list.is_empty()
                }
                None => false,
            };
            if empty {
                sess.words.remove(h);
            }
        }
        for k in &entry.tokens {
            let empty = match sess.tokens.get_mut(k) {
                Some(tp) => {
                    while tp.seqs.front() == Some(&entry.seq) {
                        tp.seqs.pop_front();
                    }
                    let key = (entry.trust, entry.source.clone());
                    if let Some(c) = tp.by_source.get_mut(&key) {
                        *c = c.saturating_sub(1);
                        if *c == 0 {
                            tp.by_source.remove(&key);
                        }
                    }
                    tp.seqs.is_empty()
                }
                None => false,
            };
            if empty {
                sess.tokens.remove(k);
            }
        }
        if entry.at <= sess.min_at {
            sess.min_at = sess.entries.iter().map(|e| e.at).min().unwrap_or(i64::MAX);
        }
        sess.bytes = sess.bytes.saturating_sub(entry.cost);
        self.total_bytes = self.total_bytes.saturating_sub(entry.cost);
        self.order.remove(&entry.seq);
        if sess.entries.is_empty() {
            tmap.remove(session);
            if tmap.is_empty() {
                self.sessions.remove(tenant);
            }
        }
        true
    }

    /// Where an argument value came from, as seen from this session only.
    pub fn classify(&self, tenant: &str, session: &str, value: &str, now: i64) -> ArgProvenance {
        let new = ArgProvenance {
            label: ProvenanceLabel::New,
            sources: Vec::new(),
        };
        let Some(sess) = self.sessions.get(tenant).and_then(|t| t.get(session)) else {
            return new;
        };
        let tokens = normalised_tokens(value);
        if tokens.is_empty() {
            let whole = value.trim();
            if whole.is_empty() || whole.len() > self.config.max_whole_value_bytes {
                return new;
            }
            let seen = self.whole_value(sess, whole, now);
            return label_one(&seen);
        }
        let mut untrusted_only: BTreeSet<&str> = BTreeSet::new();
        let mut trusted: BTreeSet<&str> = BTreeSet::new();
        let mut any_new = false;
        for t in &tokens {
            let seen = self.token_seen(sess, &t.key(), now);
            if seen.trusted.is_empty() && seen.untrusted.is_empty() {
                any_new = true;
            } else if seen.trusted.is_empty() {
                untrusted_only.extend(seen.untrusted);
            } else {
                trusted.extend(seen.trusted);
            }
        }
        let cap = |s: BTreeSet<&str>| s.into_iter().take(MAX_SOURCES).map(str::to_owned).collect();
        if !untrusted_only.is_empty() {
            ArgProvenance {
                label: ProvenanceLabel::Untrusted,
                sources: cap(untrusted_only),
            }
        } else if any_new {
            new
        } else {
            ArgProvenance {
                label: ProvenanceLabel::Trusted,
                sources: cap(trusted),
            }
        }
    }

    fn entry(sess: &Session, seq: u64) -> Option<&Entry> {
        let first = sess.entries.front()?.seq;
        // Sequences in a session are increasing but not contiguous.
        let guess = usize::try_from(seq.checked_sub(first)?).ok()?;
        if let Some(e) = sess.entries.get(guess) {
            if e.seq == seq {
                return Some(e);
            }
        }
        let i = sess.entries.binary_search_by_key(&seq, |e| e.seq).ok()?;
        sess.entries.get(i)
    }

    fn token_seen<'s>(&self, sess: &'s Session, key: &str, now: i64) -> Seen<'s> {
        let mut seen = Seen::default();
        let Some(tp) = sess.tokens.get(key) else {
            return seen;
        };
        if now.saturating_sub(sess.min_at) < self.config.ttl_secs {
            for (trust, source) in tp.by_source.keys() {
                seen.add_parts(*trust, source);
            }
            return seen;
        }
        {
            let q = &tp.seqs;
            for &seq in q {
                if let Some(e) = Self::entry(sess, seq).filter(|e| self.live(e, now)) {
                    seen.add(e);
                }
            }
        }
        seen
    }

    fn whole_value<'s>(&self, sess: &'s Session, value: &str, now: i64) -> Seen<'s> {
        let mut seen = Seen::default();
        let vb = value.as_bytes();
        let mut best: Option<(usize, &Postings)> = None;
        for (off, w) in words(value) {
            let Some(p) = sess.words.get(&fnv(w)) else {
                return seen; // a word never seen: the value cannot occur.
            };
            if best.is_none_or(|(_, b)| p.list.len() + p.dropped < b.list.len() + b.dropped) {
                best = Some((off, p));
            }
        }
        let mut found = 0usize;
        match best {
            Some((off, p)) if p.dropped == 0 => {
                for &(seq, pos) in &p.list {
                    let Some(e) = Self::entry(sess, seq).filter(|e| self.live(e, now)) else {
                        continue;
                    };
                    let Some(start) = usize::try_from(pos).ok().and_then(|p| p.checked_sub(off))
                    else {
                        continue;
                    };
                    if e.text.as_bytes().get(start..start + vb.len()) == Some(vb) {
                        seen.add(e);
                        found += 1;
                        // A trusted occurrence decides the label; a few more
                        // matches only add sources.
                        if seen.complete() || (!seen.trusted.is_empty() && found >= 16) {
                            break;
                        }
                    }
                }
            }
            _ => {
                // No words, or only very common ones: search the content.
                for e in sess.entries.iter().filter(|e| self.live(e, now)) {
                    if memchr::memmem::find(e.text.as_bytes(), vb).is_some() {
                        seen.add(e);
                        if seen.complete() {
                            break;
                        }
                    }
                }
            }
        }
        seen
    }
}

#[derive(Debug, Default)]
struct Seen<'s> {
    trusted: BTreeSet<&'s str>,
    untrusted: BTreeSet<&'s str>,
}

impl<'s> Seen<'s> {
    fn add(&mut self, e: &'s Entry) {
        self.add_parts(e.trust, &e.source);
    }

    fn add_parts(&mut self, trust: Trust, source: &'s str) {
        match trust {
            Trust::Trusted => self.trusted.insert(source),
            Trust::Untrusted => self.untrusted.insert(source),
        };
    }

    fn complete(&self) -> bool {
        self.trusted.len() >= MAX_SOURCES && !self.untrusted.is_empty()
    }
}

fn label_one(seen: &Seen<'_>) -> ArgProvenance {
    let take = |s: &BTreeSet<&str>| {
        s.iter()
            .take(MAX_SOURCES)
            .map(|x| (*x).to_owned())
            .collect()
    };
    if !seen.trusted.is_empty() {
        ArgProvenance {
            label: ProvenanceLabel::Trusted,
            sources: take(&seen.trusted),
        }
    } else if !seen.untrusted.is_empty() {
        ArgProvenance {
            label: ProvenanceLabel::Untrusted,
            sources: take(&seen.untrusted),
        }
    } else {
        ArgProvenance {
            label: ProvenanceLabel::New,
            sources: Vec::new(),
        }
    }
}

/// A step of a JSON path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
    AnyKey,
    AnyIndex,
}

/// Parses `$.a.b[*].c`, `$.a[0]`, `$.a.*`; `None` if malformed (a
/// malformed path trusts nothing).
fn parse_path(p: &str) -> Option<Vec<Seg>> {
    let rest = p.trim().strip_prefix('$').unwrap_or(p.trim());
    let mut segs = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&(_, n)) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    key.push(n);
                    chars.next();
                }
                if key.is_empty() {
                    return None;
                }
                segs.push(if key == "*" {
                    Seg::AnyKey
                } else {
                    Seg::Key(key)
                });
            }
            '[' => {
                let mut inner = String::new();
                for (_, n) in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    inner.push(n);
                }
                let inner = inner.trim();
                segs.push(if inner == "*" {
                    Seg::AnyIndex
                } else if let Ok(i) = inner.parse() {
                    Seg::Index(i)
                } else {
                    Seg::Key(inner.trim_matches(['\'', '"']).to_owned())
                });
            }
            _ => return None,
        }
    }
    Some(segs)
}

#[derive(Debug, Clone)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn path_matches(pattern: &[Seg], path: &[Step<'_>]) -> bool {
    // A pattern covers its own node and everything below it.
    pattern.len() <= path.len()
        && pattern
            .iter()
            .zip(path)
            .all(|(seg, step)| match (seg, step) {
                (Seg::Key(k), Step::Key(s)) => k == s,
                (Seg::Index(i), Step::Index(j)) => i == j,
                (Seg::AnyKey, Step::Key(_)) | (Seg::AnyIndex, Step::Index(_)) => true,
                _ => false,
            })
}

/// Splits a JSON value into trusted and untrusted text (leaves joined by
/// newlines), per the declared trusted paths.
fn split_json(value: &Value, trusted_paths: &[&str], trust: Trust) -> Vec<(Trust, String)> {
    let patterns: Vec<Vec<Seg>> = trusted_paths.iter().filter_map(|p| parse_path(p)).collect();
    let mut trusted = String::new();
    let mut untrusted = String::new();
    let mut stack: Vec<(&Value, Vec<Step<'_>>)> = vec![(value, Vec::new())];
    while let Some((v, path)) = stack.pop() {
        let leaf = match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(_) | Value::Null => None,
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    let mut p = path.clone();
                    p.push(Step::Index(i));
                    stack.push((item, p));
                }
                None
            }
            Value::Object(map) => {
                let entries: Vec<_> = map.iter().collect();
                for (k, item) in entries.into_iter().rev() {
                    let mut p = path.clone();
                    p.push(Step::Key(k));
                    stack.push((item, p));
                }
                None
            }
        };
        if let Some(s) = leaf {
            let is_trusted =
                trust == Trust::Trusted || patterns.iter().any(|p| path_matches(p, &path));
            let buf = if is_trusted {
                &mut trusted
            } else {
                &mut untrusted
            };
            buf.push_str(&s);
            buf.push('\n');
        }
    }
    vec![(Trust::Trusted, trusted), (Trust::Untrusted, untrusted)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = parse_path("$.contacts[*].email").unwrap();
        assert!(path_matches(
            &p,
            &[Step::Key("contacts"), Step::Index(3), Step::Key("email")]
        ));
        assert!(!path_matches(
            &p,
            &[Step::Key("contacts"), Step::Index(3), Step::Key("body")]
        ));
        assert!(parse_path("contacts").is_none());
    }
}
