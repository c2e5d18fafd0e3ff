//! Injection detectors for chat-template structure: special tokens
//! (`<|im_start|>`, `[INST]`), role tags (`</system>`), role headings
//! (`### System:`), bracketed roles (`[system]`), line-start role labels,
//! and requests to update or leak the system prompt. Tokens *named* in
//! prose or inline code ("tags like `<|im_start|>`") are discounted.

use crate::clause::{position, tokens_after, tokens_before, Position, Tok};
use crate::injection::{at_line_start, cand, Cand};
use crate::injection_lex as lex;
use crate::text::is_word_byte;

pub(crate) fn system_prompt(
    text: &str,
    s: usize,
    e: usize,
    sent: (usize, usize),
    after: &[(Tok<'_>, usize)],
    pos: Position,
    disc: f64,
) -> Option<Cand> {
    let colon = after
        .first()
        .is_some_and(|(t, _)| matches!(t, Tok::Punct(b':' | b'=' | b']')));
    let update = after
        .iter()
        .take(4)
        .any(|(t, _)| t.is_any(lex::UPDATE_WORDS));
    if colon || update {
        let raw = if colon { 0.6 } else { 0.55 };
        return cand(lex::ROLE, "system-prompt-update", s, e, raw * disc);
    }
    // A request to leak it: "reveal your system prompt".
    let before = tokens_before(text, s, sent.0, 4);
    let leak = before.iter().position(|t| t.is_any(lex::LEAK_VERBS))?;
    let verb_pos = {
        let mut p = s;
        for t in before.iter().take(leak + 1) {
            if let Tok::Word(w) = t {
                p = text.get(..p).and_then(|h| h.rfind(w)).unwrap_or(p);
            }
        }
        p
    };
    let vpos = position(text, verb_pos, sent.0);
    let _ = pos;
    cand(
        lex::OVERRIDE,
        "system-prompt-leak",
        verb_pos,
        e,
        (0.6 + vpos.bonus()) * vpos.factor() * disc,
    )
}

pub(crate) fn special_token(text: &str, s: usize, e: usize, disc: f64) -> Option<Cand> {
    let bytes = text.as_bytes();
    // `<|name|>`
    if text.get(s..e) == Some("<|") {
        let mut i = e;
        while bytes
            .get(i)
            .copied()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b' ')
            && i - e <= 32
        {
            i += 1;
        }
        if i > e && bytes.get(i..i + 2) == Some(b"|>") {
            return cand(
                lex::TEMPLATE,
                "special-token",
                s,
                i + 2,
                0.9 * code_discount(text, s) * mention_discount(text, s, i + 2) * disc,
            );
        }
        return None;
    }
    cand(
        lex::TEMPLATE,
        "instruction-delimiter",
        s,
        e,
        0.85 * code_discount(text, s) * mention_discount(text, s, e) * disc,
    )
}

/// A token named in prose ("tags like <|im_start|> or [INST]") rather
/// than used: prose words right before or after it.
pub(crate) fn mention_discount(text: &str, s: usize, e: usize) -> f64 {
    const PROSE: &[&str] = &[
        "like",
        "as",
        "the",
        "a",
        "an",
        "of",
        "with",
        "containing",
        "contains",
        "include",
        "includes",
        "use",
        "uses",
        "such",
        "or",
        "and",
        "tokens",
        "token",
        "tags",
        "tag",
        "is",
        "are",
        "was",
        "were",
        "to",
        "in",
        "before",
        "after",
        "markers",
        "marker",
        "delimiters",
        "delimiter",
        "which",
        "that",
        "from",
        "strip",
        "remove",
        "escape",
        "detect",
        "flag",
        "block",
    ];
    let before = tokens_before(text, s, s.saturating_sub(40), 1);
    let after = tokens_after(text, e, e.saturating_add(40).min(text.len()), 1);
    let prose_before = before.first().is_some_and(|t| t.is_any(PROSE));
    let prose_after = after.first().is_some_and(|(t, _)| t.is_any(PROSE));
    if prose_before && prose_after {
        0.4
    } else if prose_before || prose_after {
        0.7
    } else {
        1.0
    }
}

/// Inside inline code (odd number of backticks on the line so far), tags
/// are being written about.
pub(crate) fn code_discount(text: &str, s: usize) -> f64 {
    let head = text.get(..s).unwrap_or("");
    let line = head.rsplit('\n').next().unwrap_or(head);
    if line.matches('`').count() % 2 == 1 {
        0.5
    } else {
        1.0
    }
}

pub(crate) fn chat_tag(text: &str, s: usize, e: usize, disc: f64) -> Option<Cand> {
    let bytes = text.as_bytes();
    // `<name` or `</name` must continue with `>` or attributes then `>`.
    if bytes.get(e).copied().is_some_and(is_word_byte) {
        return None;
    }
    let mut i = e;
    while i < e + 60 {
        match bytes.get(i) {
            Some(b'>') => break,
            Some(b'<' | b'\n') | None => return None,
            _ => i += 1,
        }
    }
    if bytes.get(i) != Some(&b'>') {
        return None;
    }
    let name = text
        .get(s..e)?
        .trim_start_matches(['<', '/'])
        .to_ascii_lowercase();
    let raw = match name.as_str() {
        "system" | "sys" | "instructions" | "instruction" | "developer" | "admin" | "im_start"
        | "system_prompt" => 0.7,
        "assistant" | "human" | "tool_call" | "function_call" => 0.55,
        _ => 0.4,
    };
    cand(
        lex::TEMPLATE,
        "role-tag",
        s,
        i + 1,
        raw * code_discount(text, s) * disc.max(0.5),
    )
}

pub(crate) fn heading(text: &str, s: usize, e: usize, disc: f64) -> Option<Cand> {
    let after_sentence = text
        .get(..s)
        .map(str::trim_end)
        .is_some_and(|h| h.ends_with(['.', '!', '?', ':']));
    if !at_line_start(text, s) && !after_sentence {
        return None;
    }
    let rest_of_line = text.get(e..).unwrap_or("").split('\n').next().unwrap_or("");
    let rest_of_line = rest_of_line
        .split("\\n")
        .next()
        .unwrap_or(rest_of_line)
        .trim();
    let role_only = rest_of_line.is_empty()
        || rest_of_line.starts_with(':')
        || [
            "prompt",
            "message",
            "instructions",
            "note",
            "override",
            "update",
        ]
        .iter()
        .any(|w| {
            rest_of_line
                .to_ascii_lowercase()
                .trim_end_matches(':')
                .trim()
                == *w
        });
    if !role_only {
        return None;
    }
    let raw = if text.get(s..e).is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t.contains("system") || t.contains("instruction") || t.contains("developer")
    }) {
        0.6
    } else {
        0.45
    };
    cand(lex::TEMPLATE, "role-heading", s, e, raw * disc.max(0.6))
}

pub(crate) fn bracket(text: &str, s: usize, e: usize, disc: f64) -> Option<Cand> {
    let bytes = text.as_bytes();
    let close = (e..e + 30).find(|&i| matches!(bytes.get(i), Some(b']' | b')' | b'}')))?;
    if (e..close).any(|i| bytes.get(i).is_some_and(|&b| b == b'\n' || b == b'[')) {
        return None;
    }
    let word = text.get(s..e)?.to_ascii_lowercase();
    let raw = if word.contains("system") || word.contains("developer") || word.contains("override")
    {
        0.6
    } else {
        0.4
    };
    cand(
        lex::TEMPLATE,
        "role-bracket",
        s,
        close + 1,
        raw * disc.max(0.6),
    )
}

pub(crate) fn line_role(text: &str, s: usize, e: usize, disc: f64) -> Option<Cand> {
    if !at_line_start(text, s) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut i = e;
    while bytes.get(i).is_some_and(|&b| b == b' ' || b == b'*') {
        i += 1;
    }
    if bytes.get(i) != Some(&b':') {
        return None;
    }
    let word = text.get(s..e)?.to_ascii_lowercase();
    let raw = match word.as_str() {
        "system" | "developer" | "admin" | "administrator" | "root" | "operator"
        | "system prompt" => 0.45,
        _ => 0.3,
    };
    cand(
        lex::TEMPLATE,
        "line-role-label",
        s,
        i + 1,
        raw * disc.max(0.6),
    )
}
