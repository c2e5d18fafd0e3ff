//! The `Scanner` trait and the default scanner set.
//!
//! `DefaultScanners::new()` compiles every built-in scanner once; `scan`
//! then runs them all over a text and returns the findings in canonical
//! order (span start, then kind). Content over the size limit is not
//! scanned at all: the caller gets `ScanError::TooLarge` and must
//! quarantine the content, never pass it on unscanned. Byte input that is
//! not valid UTF-8 is scanned chunk by chunk, and each invalid sequence is
//! itself reported as invisible text.

use crate::confusable::skeletons;
use crate::encoded::EncodedScanner;
use crate::error::ScanError;
use crate::finding::{normalise, Finding, Span};
use crate::injection::InjectionScanner;
use crate::invisible::{InvisibleTextScanner, INVISIBLE};
use crate::keywords::KeywordSet;
use crate::pii::PiiScanner;
use crate::secrets::SecretScanner;

/// A scanner: finds things in text. Implementations are pure and must not
/// panic on any input.
pub trait Scanner: std::fmt::Debug + Send + Sync {
    /// A short name, such as `pii` or `secret`.
    fn name(&self) -> &'static str;

    /// Appends this scanner's findings for `text` to `out`, in any order.
    fn scan_into(&self, text: &str, out: &mut Vec<Finding>);

    /// This scanner's findings for `text`, in canonical order.
    fn scan(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_into(text, &mut out);
        normalise(&mut out);
        out
    }
}

/// Limits on what is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    /// The largest content scanned, in bytes; larger content is `TooLarge`.
    pub max_bytes: usize,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            max_bytes: 16 << 20,
        }
    }
}

/// The default scanner set: PII, secrets, injection, invisible text and
/// encoded instructions, compiled once.
///
/// The secrets and injection scanners wait on keywords; the set finds
/// both scanners' keywords in one pass over the text (`keywords.rs`)
/// rather than one pass each.
#[derive(Debug)]
pub struct DefaultScanners {
    pii: PiiScanner,
    secrets: SecretScanner,
    injection: InjectionScanner,
    invisible: InvisibleTextScanner,
    encoded: EncodedScanner,
    /// The keywords of `secrets` and `injection`; `None` only if the
    /// automaton could not be built, and then each scanner runs alone.
    keywords: Option<KeywordSet>,
    /// The caller's own scanners, after the built-in ones.
    extra: Vec<Box<dyn Scanner>>,
    limits: ScanLimits,
}

impl Default for DefaultScanners {
    fn default() -> Self {
        DefaultScanners::new()
    }
}

impl DefaultScanners {
    /// Every built-in scanner, with the default limits.
    pub fn new() -> Self {
        DefaultScanners::with_secret_scanner(SecretScanner::new())
    }

    /// The built-in scanners plus user secret rules in gitleaks' TOML
    /// format.
    pub fn with_gitleaks_rules(toml_text: &str) -> Result<Self, ScanError> {
        Ok(DefaultScanners::with_secret_scanner(
            SecretScanner::with_gitleaks_toml(toml_text)?,
        ))
    }

    fn with_secret_scanner(secrets: SecretScanner) -> Self {
        let injection = InjectionScanner::new();
        let keywords = KeywordSet::new(&injection.patterns(), &secrets.keywords());
        DefaultScanners {
            pii: PiiScanner::new(),
            secrets,
            encoded: EncodedScanner::with_injection(injection.clone()),
            injection,
            invisible: InvisibleTextScanner::new(),
            keywords,
            extra: Vec::new(),
            limits: ScanLimits::default(),
        }
    }

    /// The same scanners with other limits.
    #[must_use]
    pub fn with_limits(mut self, limits: ScanLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds a scanner of the caller's own.
    #[must_use]
    pub fn with_scanner(mut self, scanner: Box<dyn Scanner>) -> Self {
        self.extra.push(scanner);
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> ScanLimits {
        self.limits
    }

    /// The scanners, in the order they run.
    pub fn scanners(&self) -> impl Iterator<Item = &dyn Scanner> {
        let builtin: [&dyn Scanner; 5] = [
            &self.pii,
            &self.secrets,
            &self.injection,
            &self.invisible,
            &self.encoded,
        ];
        builtin
            .into_iter()
            .chain(self.extra.iter().map(|s| s.as_ref()))
    }

    /// Runs every scanner over `text`. Content over the limit is not
    /// scanned: quarantine it.
    pub fn scan(&self, text: &str) -> Result<Vec<Finding>, ScanError> {
        self.check_size(text.len())?;
        let mut out = Vec::new();
        self.scan_all(text, &mut out);
        normalise(&mut out);
        Ok(out)
    }

    /// Every scanner's findings for `text`, appended to `out` unsorted.
    fn scan_all(&self, text: &str, out: &mut Vec<Finding>) {
        self.pii.scan_into(text, out);
        if let Some(keywords) = &self.keywords {
            let mut windows = self.secrets.new_windows(text.len());
            let mut cands = Vec::new();
            keywords.for_each(text.as_bytes(), |triggers, secrets| {
                self.secrets.add_windows(&mut windows, secrets, text.len());
                self.injection.add_candidates(text, triggers, &mut cands);
            });
            self.secrets.scan_windows(text, &windows, out);
            // Text with look-alike characters: triggers are also matched
            // on its skeleton, around the words that fold.
            let stretches = skeletons(text);
            if !stretches.is_empty() {
                self.injection
                    .add_skeleton_candidates(keywords, text, &stretches, &mut cands);
            }
            InjectionScanner::finish(cands, out);
        } else {
            self.secrets.scan_into(text, out);
            self.injection.scan_into(text, out);
        }
        self.invisible.scan_into(text, out);
        self.encoded.scan_into(text, out);
        for s in &self.extra {
            s.scan_into(text, out);
        }
    }

    /// Runs every scanner over bytes that may not be UTF-8. Valid runs are
    /// scanned in place (spans are offsets into `bytes`); each invalid
    /// sequence is reported as `injection.invisible_text`.
    pub fn scan_bytes(&self, bytes: &[u8]) -> Result<Vec<Finding>, ScanError> {
        self.check_size(bytes.len())?;
        if let Ok(text) = std::str::from_utf8(bytes) {
            return self.scan(text);
        }
        let mut out = Vec::new();
        let mut offset = 0usize;
        for chunk in bytes.utf8_chunks() {
            let valid = chunk.valid();
            let mut part = Vec::new();
            self.scan_all(valid, &mut part);
            out.extend(part.into_iter().map(|mut f| {
                f.span = f.span.shifted(offset);
                f
            }));
            offset += valid.len();
            let invalid = chunk.invalid().len();
            if invalid > 0 {
                // Adjacent invalid sequences make one finding.
                match out.last_mut() {
                    Some(last) if last.rule == "invalid-utf8" && last.span.end == offset => {
                        last.span.end = offset + invalid;
                    }
                    _ => out.push(Finding::new(
                        INVISIBLE,
                        "invalid-utf8",
                        Span::new(offset, offset + invalid),
                        0.5,
                    )),
                }
            }
            offset += invalid;
        }
        normalise(&mut out);
        Ok(out)
    }

    fn check_size(&self, len: usize) -> Result<(), ScanError> {
        if len > self.limits.max_bytes {
            return Err(ScanError::TooLarge {
                len,
                limit: self.limits.max_bytes,
            });
        }
        Ok(())
    }
}
