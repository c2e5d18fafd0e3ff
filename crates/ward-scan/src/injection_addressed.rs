//! Injection detectors for text addressed to an AI ("Note to AI agents:",
//! "If you are an LLM reading this, ...") and for directives to send data
//! out. An address needs a marker (vocative, conditional, a reading-this
//! clause) and, for words that also name people ("agent", "assistant"), a
//! stated directive.

use crate::clause::{tokens_after, tokens_before, Position, Tok};
use crate::injection::{cand, Cand};
use crate::injection_lex as lex;

pub(crate) fn addressed(
    text: &str,
    s: usize,
    e: usize,
    sent: (usize, usize),
    disc: f64,
) -> Option<Cand> {
    let before = tokens_before(text, s, sent.0, 6);
    // The directive often follows in the next sentence ("Hi Claude! ...").
    let hi = text
        .get(e..)
        .map_or(e, |t| e + t.find("\n\n").unwrap_or(t.len()).min(240));
    let after = tokens_after(text, e, hi, 24);
    // Markers may be one word away: "to the summarization bot".
    let skip_one: Vec<Tok<'_>> = before.iter().skip(1).copied().collect();
    let marked = |list: &[&[&str]]| {
        list.iter()
            .any(|m| phrase_before(&before, m) || phrase_before(&skip_one, m))
    };
    let vocative_marker = marked(lex::ADDRESS_MARKERS);
    let conditional = marked(lex::CONDITIONAL_MARKERS);
    let as_an = phrase_before(&before, &["as", "an"]) || phrase_before(&before, &["as", "a"]);
    let sentence_start = before.iter().all(|t| {
        matches!(t, Tok::Punct(_))
            || t.is_any(&[
                "hey",
                "hi",
                "hello",
                "ok",
                "okay",
                "dear",
                "attention",
                "yo",
            ])
    });
    // What follows: reading-this clause, punctuation, then a directive.
    let mut i = 0;
    let mut reading = false;
    let mut determiner = false;
    while let Some((t, _)) = after.get(i) {
        if t.is_any(lex::AI_NOUN_TAIL) || t.is_any(&["is", "are"]) {
            i += 1;
        } else if t.is_any(lex::READING_VERBS) {
            reading = true;
            i += 1;
        } else if reading
            && t.is_any(&[
                "this", "these", "that", "the", "my", "our", "your", "who", "which",
            ])
        {
            determiner = true;
            i += 1;
        } else if reading && determiner && matches!(t, Tok::Word(_)) {
            determiner = false;
            i += 1;
        } else {
            break;
        }
    }
    let mut punct = false;
    while let Some((Tok::Punct(p), _)) = after.get(i) {
        punct |= matches!(p, b',' | b':' | b'!' | b'-' | b';');
        i += 1;
    }
    let rest: Vec<Tok<'_>> = after.iter().skip(i).map(|(t, _)| *t).take(12).collect();
    // "agent", "bot", "model" and "assistant" also name people and
    // products: they need a stated directive, not just an address.
    let ambiguous = text.get(s..e).is_some_and(|n| {
        lex::AMBIGUOUS_AI_NOUNS
            .iter()
            .any(|a| n.eq_ignore_ascii_case(a))
    });
    let strict = directive_follows(&rest);
    let directive = strict || (punct && !ambiguous && bare_verb(rest.first()));
    if ambiguous && !strict && !conditional {
        return None;
    }
    let end = after
        .get(i + rest.len().min(3))
        .or(after.last())
        .map_or(e, |x| x.1);
    let raw = if conditional {
        if directive || punct {
            0.75
        } else {
            0.5
        }
    } else if as_an {
        if directive && !rest.first().is_some_and(|t| t.is_any(&["i", "i'm", "we"])) {
            0.6
        } else {
            return None;
        }
    } else if vocative_marker || reading {
        match (directive, reading && punct) {
            (true, _) => 0.75,
            (false, true) => 0.6,
            (false, false) => 0.4,
        }
    } else if sentence_start && punct && directive {
        0.65
    } else {
        return None;
    };
    cand(lex::ADDRESSED, "addressed-to-ai", s, end, raw * disc)
}

/// Without a part-of-speech tagger: a lowercase word that is not a
/// function word and does not look inflected is probably a bare verb
/// ("leave out the reviews", "close it").
pub(crate) fn bare_verb(t: Option<&Tok<'_>>) -> bool {
    const FUNCTION: &[&str] = &[
        "the", "a", "an", "this", "that", "these", "those", "it", "i", "we", "they", "he", "she",
        "my", "our", "their", "his", "her", "its", "there", "here", "is", "are", "was", "were",
        "and", "or", "but", "so", "thanks", "thank", "great", "good", "nice", "hello", "hi", "yes",
        "no", "ok", "what", "how", "why", "who", "which", "where", "when", "can", "could", "would",
        "will",
    ];
    match t {
        Some(Tok::Word(w)) => {
            let lower = w.to_ascii_lowercase();
            w.chars().next().is_some_and(char::is_lowercase)
                && !FUNCTION.contains(&lower.as_str())
                && !lower.ends_with("ing")
                && !lower.ends_with("ed")
                && (!lower.ends_with('s') || lower.ends_with("ss"))
        }
        _ => false,
    }
}

pub(crate) fn phrase_before(before: &[Tok<'_>], phrase: &[&str]) -> bool {
    // `before` is nearest-first; `phrase` is in reading order.
    let n = phrase.len();
    if before.len() < n {
        return false;
    }
    phrase.iter().rev().zip(before.iter()).all(|(w, t)| t.is(w))
}

pub(crate) fn directive_follows(rest: &[Tok<'_>]) -> bool {
    // "when you read this file, run ...": skip a leading subordinate clause.
    if rest.first().is_some_and(|t| {
        t.is_any(&[
            "when", "while", "after", "before", "if", "as", "once", "whenever", "upon",
        ])
    }) {
        if let Some(comma) = rest
            .iter()
            .position(|t| matches!(t, Tok::Punct(b',' | b':')))
        {
            return directive_follows(rest.get(comma + 1..).unwrap_or(&[]));
        }
    }
    // "the user has authorized you to share ...", "you must ...".
    let you_modal = rest.windows(2).take(10).any(|w| {
        w.first().is_some_and(|a| a.is_any(&["you", "u"]))
            && w.last().is_some_and(|b| {
                b.is_any(&[
                    "must", "should", "shall", "need", "have", "will", "are", "to", "may", "can",
                ])
            })
    }) || rest.windows(2).take(10).any(|w| {
        w.first().is_some_and(|a| {
            a.is_any(&[
                "authorized",
                "authorised",
                "allowed",
                "permitted",
                "instructed",
                "required",
            ])
        }) && w.last().is_some_and(|b| b.is_any(&["you", "to"]))
    });
    if you_modal {
        return true;
    }
    let mut it = rest.iter().skip_while(|t| {
        t.is_any(&[
            "please",
            "now",
            "kindly",
            "also",
            "then",
            "immediately",
            "first",
        ])
    });
    let Some(first) = it.next() else { return false };
    if first.is_any(lex::DIRECTIVE_VERBS)
        || first.is_any(&[
            "ignore",
            "disregard",
            "forget",
            "don't",
            "never",
            "always",
            "only",
            "do",
            "stop",
        ])
    {
        return true;
    }
    if first.is_any(&["you", "u"]) {
        return it.take(3).any(|t| {
            t.is_any(&[
                "must", "should", "shall", "need", "have", "will", "are", "may", "can",
            ])
        });
    }
    first.is_any(&["must", "should", "shall"])
}

pub(crate) fn exfil(
    text: &str,
    s: usize,
    e: usize,
    sent: (usize, usize),
    after: &[(Tok<'_>, usize)],
    pos: Position,
    disc: f64,
) -> Option<Cand> {
    let factor = match pos {
        Position::Imperative => 1.0,
        Position::Neutral => 0.85,
        Position::Descriptive | Position::Negated => return None,
    };
    let data = after
        .iter()
        .take(10)
        .any(|(t, _)| t.starts_any(lex::SENSITIVE_DATA));
    if !data {
        return None;
    }
    let tail = text.get(e..sent.1).unwrap_or("");
    let destination = tail.contains('@')
        || tail.contains("http")
        || crate::text::contains_any_word_ci(tail, &["to", "into", "at"]);
    if !destination {
        return None;
    }
    cand(
        lex::EXFIL,
        "exfiltrate-data",
        s,
        sent.1.max(e),
        0.65 * factor * disc,
    )
}
