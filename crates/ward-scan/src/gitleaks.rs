//! User secret rules in gitleaks' TOML format.
//!
//! ```toml
//! [[rules]]
//! id = "acme-api-token"
//! description = "Acme API token"
//! regex = '''acme_[a-z0-9]{32}'''
//! keywords = ["acme_"]
//! entropy = 3.5
//! ```
//!
//! Supported fields: `id`, `description`, `regex`, `keywords`, `entropy`,
//! `secretGroup`, `tags` and `path` (ignored: Ward scans text, not files).
//! Any other field is an error, so a typo never silently disables a rule.
//! A rule's kind is `secret.<id>` with non-alphanumerics turned into `_`.
//! Regexes are compiled with Unicode off first (Go's RE2 classes such as
//! `\w` and `\s` are ASCII), with size limits so a hostile rule cannot
//! exhaust memory.

use serde::Deserialize;

use crate::error::ScanError;
use crate::secrets::{PostCheck, RuleSpec};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    rules: Vec<GitleaksRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GitleaksRule {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    path: Option<String>,
}

/// Parses a gitleaks rule file into rule specs (not yet compiled).
pub(crate) fn parse_rules(text: &str) -> Result<Vec<RuleSpec>, ScanError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| ScanError::RuleFile {
        message: e.to_string(),
    })?;
    let _ = file.title;
    file.rules
        .into_iter()
        .map(|r| {
            let _ = (&r.description, &r.tags, &r.path);
            let regex = r
                .regex
                .ok_or_else(|| ScanError::RuleMissingRegex { id: r.id.clone() })?;
            let kind_tail: String =
                r.id.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
            Ok(RuleSpec {
                kind: format!("secret.{kind_tail}"),
                id: r.id,
                regex,
                keywords: r.keywords,
                entropy: r.entropy,
                secret_group: r.secret_group,
                confidence: 0.8,
                priority: 20,
                post: PostCheck::None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::Scanner;
    use crate::secrets::SecretScanner;

    #[test]
    fn user_rules_are_gated_by_keywords() {
        let toml = r#"
title = "acme"
[[rules]]
id = "acme-api-token"
description = "Acme API token"
regex = '''\b(acme_[a-z0-9]{32})\b'''
keywords = ["acme_"]
entropy = 3.0
tags = ["acme"]
"#;
        let s = SecretScanner::with_gitleaks_toml(toml).unwrap();
        let mut out = Vec::new();
        s.scan_into("use acme_0123456789abcdefghijklmnopqrstuv now", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, "secret.acme_api_token");
        assert_eq!(out[0].rule, "acme-api-token");
    }

    #[test]
    fn unknown_fields_and_bad_regexes_are_errors() {
        assert!(matches!(
            parse_rules("[[rules]]\nid = \"x\"\nregx = \"a\"\n"),
            Err(ScanError::RuleFile { .. })
        ));
        assert!(matches!(
            SecretScanner::with_gitleaks_toml("[[rules]]\nid = \"x\"\nregex = \"(\"\n"),
            Err(ScanError::RuleRegex { .. })
        ));
        assert!(matches!(
            parse_rules("[[rules]]\nid = \"x\"\npath = \"a\"\n"),
            Err(ScanError::RuleMissingRegex { .. })
        ));
    }
}
