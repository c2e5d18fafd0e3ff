//! The injection scanner's lexicon: trigger words and the word classes the
//! detectors test around them (target nouns, modifiers, directive verbs).
//!
//! These are *classes* of words (verbs that override, nouns that name
//! instructions), combined by structure in `injection.rs`; none is a
//! complete attack string. Entries are lowercase; matching is ASCII
//! case-insensitive.

use crate::injection::Trigger;

pub(crate) const OVERRIDE: &str = "injection.override";
pub(crate) const ROLE: &str = "injection.role";
pub(crate) const TEMPLATE: &str = "injection.template";
pub(crate) const ADDRESSED: &str = "injection.addressed";
pub(crate) const CONCEAL: &str = "injection.concealment";
pub(crate) const EXFIL: &str = "injection.exfiltration";

pub(crate) const OVERRIDE_VERBS: &[&str] = &[
    "ignore",
    "disregard",
    "forget",
    "bypass",
    "skip",
    "neglect",
    "overlook",
    "discard",
    "abandon",
    "drop",
    "suspend",
    "disable",
    "circumvent",
    "set aside",
    "put aside",
    "leave aside",
    "lay aside",
    "pay no attention to",
    "stop following",
    "stop obeying",
    "do not follow",
    "don't follow",
    "do not obey",
    "don't obey",
    "no longer follow",
    "no longer obey",
    "ditch",
    "scrap",
    "throw out",
    "throw away",
    "erase",
    "wipe",
    "forgo",
    "forego",
    "disobey",
    "unlearn",
    "break",
    "violate",
    "cancel",
    "nevermind",
    "never mind",
    "override",
    "reset",
    "clear",
    "delete",
    "remove",
    // German, French, Spanish, Italian, Portuguese, Dutch.
    "ignoriere",
    "ignorieren",
    "ignoriert",
    "vergiss",
    "vergessen",
    "vergesst",
    "missachte",
    "ignorez",
    "ignore",
    "oubliez",
    "oublie",
    "ignora",
    "ignorar",
    "ignoren",
    "olvida",
    "olvide",
    "olviden",
    "dimentica",
    "dimenticate",
    "ignorate",
    "esqueça",
    "esqueca",
    "esqueçam",
    "negeer",
    "vergeet",
];
#[rustfmt::skip]
const PRECEDENCE_VERBS: &[&str] = &[
    "supersede", "supersedes", "overrides", "override", "replace", "replaces", "take precedence
    over", "takes precedence over", "overrule", "overrules", "invalidate", "invalidates",
    "nullify", "nullifies", "cancel out", "cancels",
];

/// Nouns that name the model's instructions.
#[rustfmt::skip]
pub(crate) const STRONG_TARGETS: &[&str] = &[
    "instruction", "prompt", "directive", "guideline", "guardrail", "programming", "system
    message", "system prompt", "preprompt", "pre-prompt", "anweisung", "vorgabe", "richtlinie",
    "befehl", "consigne", "instruccion", "instrucción", "istruzion", "instruç", "instrucc",
    "instructie",
];
/// Nouns that name instructions only with a reference modifier.
#[rustfmt::skip]
pub(crate) const WEAK_TARGETS: &[&str] = &[
    "rule", "regel", "regla", "regole", "regra", "règle", "context", "order", "command", "task",
    "training", "safety", "filter", "restriction", "constraint", "limitation", "polic",
    "guidance", "configuration", "setup", "message", "direction", "conversation", "ethic",
    "moral", "principle", "protocol", "boundar", "content polic", "objective", "goal", "mission",
    "purpose", "assignment", "persona", "identity", "dut", "request", "question", "intent",
    "wish",
];
/// Modifiers that point back at the model's current instructions.
#[rustfmt::skip]
pub(crate) const MODIFIERS: &[&str] = &[
    "previous", "prior", "above", "earlier", "preceding", "all", "any", "your", "original",
    "initial", "existing", "old", "those", "these", "every", "system", "developer", "safety",
    "other", "former", "current", "given", "user's", "content", "usage", "ethical", "users'",
    "built-in", "internal", "alle", "vorherigen", "bisherigen", "deine", "toutes", "précédentes",
    "precedentes", "vos", "tus", "todas", "anteriores", "tutte", "precedenti", "le", "les",
    "todas", "as", "suas",
];
/// Bare references: "ignore the above", "forget everything".
#[rustfmt::skip]
pub(crate) const BARE_REFERENCES: &[&str] = &[
    "above", "everything", "anything", "alles", "tout", "todo", "tutto", "tudo",
];
/// Pronouns that refer back only when the clause ends after them
/// ("ignore that."), not before a noun ("ignore that email").
pub(crate) const BARE_PRONOUNS: &[&str] = &["that", "this", "it", "them", "those"];
/// Verbs whose stealthy execution is a concealment signal.
#[rustfmt::skip]
pub(crate) const STEALTH_VERBS: &[&str] = &[
    "send", "forward", "email", "upload", "post", "transfer", "delete", "remove", "pay", "wire",
    "execute", "run", "install", "add", "bcc", "cc", "copy", "share", "leak", "exfiltrate",
    "grant", "approve", "modify", "change", "disable", "move", "export", "purchase", "buy",
    "subscribe", "include", "insert", "append", "replace", "redirect", "download", "open",
    "visit", "click",
];
/// Negations before a telling verb.
#[rustfmt::skip]
pub(crate) const TELL_VERBS: &[&str] = &[
    "tell", "inform", "notify", "alert", "mention", "reveal", "disclose", "warn", "show", "let",
    "ask", "confirm", "acknowledge", "report",
];
/// AI nouns that also name people or products.
#[rustfmt::skip]
pub(crate) const AMBIGUOUS_AI_NOUNS: &[&str] = &[
    "agent", "agents", "bot", "bots", "model", "models", "assistant", "assistants",
];
pub(crate) const OVERRIDE_VERB_WORDS: &[&str] = OVERRIDE_VERBS;
/// Nouns that name an AI role in "you are a ... assistant".
#[rustfmt::skip]
pub(crate) const AI_ROLE_NOUNS: &[&str] = &[
    "assistant", "ai", "bot", "chatbot", "model", "agent", "llm", "gpt", "persona", "character",
    "terminal", "shell", "hacker", "dan", "jailbreak", "unrestricted", "unfiltered", "uncensored",
    "evil", "rogue", "system", "copilot", "intelligence",
];
#[rustfmt::skip]
pub(crate) const SELF_REFERENCE: &[&str] = &[
    "this", "these", "following", "new", "updated", "my", "below", "current", "latest",
];
#[rustfmt::skip]
pub(crate) const PERSONA_NEXT: &[&str] = &[
    "a", "an", "the", "my", "in", "no", "not", "free", "unrestricted", "unfiltered", "uncensored",
    "jailbroken", "operating", "acting", "called", "named", "known", "going", "evil", "allowed",
    "permitted", "playing", "roleplaying", "role-playing", "liberated", "unchained", "unbound",
    "unlocked",
];
#[rustfmt::skip]
pub(crate) const NO_LONGER_NEXT: &[&str] = &[
    "bound", "restricted", "limited", "required", "an", "a", "constrained", "subject",
    "obligated", "obliged", "governed", "held", "chatgpt", "claude", "assistant", "under",
];
#[rustfmt::skip]
pub(crate) const RESPONSE_CONTROL: &[&str] = &[
    "respond", "answer", "reply", "act", "behave", "pretend", "ignore", "obey", "follow", "only",
    "always", "never", "speak", "talk", "write", "output", "refuse", "not", "comply", "say",
    "print", "begin", "start", "stay", "remain", "roleplay", "play", "forget", "disregard",
    "answer",
];
#[rustfmt::skip]
pub(crate) const UNRESTRICTED: &[&str] = &[
    "zero restrictions", "zero limits", "zero filters", "restriction-free", "without any limits",
    "no content policy", "no safety", "unrestricted", "unfiltered", "uncensored", "no
    restrictions", "no limits", "no rules", "without restrictions", "without limits", "without any
    restrictions", "without rules", "no filter", "jailbroken", "jailbreak", "anything now",
    "developer mode", "no ethical", "no moral", "not bound", "no guidelines", "no boundaries",
    "any restrictions", "no longer bound",
];
#[rustfmt::skip]
pub(crate) const UPDATE_WORDS: &[&str] = &[
    "override", "overrides", "update", "updated", "updates", "changed", "replaced", "reset",
    "begins", "follows", "start", "starts", "v2", "new",
];
#[rustfmt::skip]
pub(crate) const LEAK_VERBS: &[&str] = &[
    "reveal", "print", "show", "output", "repeat", "display", "tell", "give", "write", "share",
    "leak", "dump", "recite", "return", "copy", "paste", "spell", "translate", "disclose",
    "expose", "list", "echo", "provide", "send",
];
#[rustfmt::skip]
pub(crate) const AUTHORITY_NOUNS: &[&str] = &[
    "developer", "developers", "creator", "creators", "administrator", "admin", "owner",
    "operator", "master", "programmer", "maker", "boss", "supervisor", "system", "sysadmin",
    "openai", "anthropic", "google", "security", "it",
];
#[rustfmt::skip]
pub(crate) const STRONG_MODES: &[&str] = &[
    "god", "jailbreak", "jailbroken", "unrestricted", "unfiltered", "uncensored", "evil", "dan",
    "sudo", "superuser",
];
#[rustfmt::skip]
pub(crate) const WEAK_MODES: &[&str] = &[
    "developer", "admin", "administrator", "debug", "maintenance", "root", "override", "test",
];
#[rustfmt::skip]
pub(crate) const END_OF_NOUNS: &[&str] = &[
    "document", "context", "input", "email", "message", "text", "data", "conversation", "file",
    "content", "user", "instructions", "prompt", "transcript", "page",
];
#[rustfmt::skip]
pub(crate) const CONCEAL_TARGETS: &[&str] = &[
    "user", "users", "human", "humans", "customer", "operator", "owner", "recipient", "requester",
    "sender", "admin", "administrator", "instruction", "instructions", "note", "that you", "your",
];
#[rustfmt::skip]
pub(crate) const DIRECTIVE_VERBS: &[&str] = &[
    "leave", "omit", "exclude", "hide", "emphasize", "highlight", "ensure", "claim", "insist",
    "treat", "consider", "prioritize", "close", "resolve", "keep", "stop", "act", "pretend",
    "assume", "answer", "do", "send", "forward", "email", "mail", "delete", "remove", "transfer",
    "wire", "pay", "execute", "run", "call", "invoke", "include", "add", "insert", "append",
    "reply", "respond", "answer", "output", "print", "write", "say", "tell", "reveal", "disclose",
    "share", "leak", "visit", "open", "click", "navigate", "browse", "fetch", "download",
    "upload", "post", "submit", "recommend", "rate", "approve", "grant", "give", "provide",
    "make", "create", "update", "change", "set", "use", "buy", "book", "mention", "state",
    "describe", "praise", "rank", "hire", "accept", "classify", "mark", "label", "copy",
    "exfiltrate", "encode", "append", "export", "read", "list", "grab", "collect", "extract",
    "store", "save", "respond", "ignore", "disregard", "forget", "follow",
];
#[rustfmt::skip]
pub(crate) const SENSITIVE_DATA: &[&str] = &[
    "financ", "record", "payroll", "salar", "medical", "health", "tax", "wallet", "seed", "log",
    "chat", "transcript", "keys", "password", "passwd", "credential", "api key", "apikey",
    "api_key", "token", "secret", "key", "conversation", "chat history", "history", "session",
    "cookie", "ssh", "env", "environment", "private", "contacts", "address book", "inbox",
    "emails", "files", "documents", "database", "customer data", "user data", "personal", "card",
    "bank", "account", "ssn", "login", "auth", "system prompt", "prompt", "instructions",
    "memory", "memories", "data", "content", "contents",
];
#[rustfmt::skip]
pub(crate) const AI_NOUN_TAIL: &[&str] = &[
    "assistant", "assistants", "agent", "agents", "model", "models", "system", "systems", "bot",
    "bots", "tool", "tools", "reader", "readers", "crawler", "crawlers", "scraper", "summarizer",
    "summariser",
];
#[rustfmt::skip]
pub(crate) const READING_VERBS: &[&str] = &[
    "reading", "processing", "parsing", "summarizing", "summarising", "analyzing", "analysing",
    "reviewing", "viewing", "handling", "seeing", "ingesting", "scanning", "that", "who", "reads",
    "read", "processes", "sees", "encountering", "indexing", "crawling",
];
pub(crate) const ADDRESS_MARKERS: &[&[&str]] = &[
    &["note", "to"],
    &["notice", "to"],
    &["message", "to"],
    &["message", "for"],
    &["note", "for"],
    &["instructions", "to"],
    &["reminder", "for"],
    &["reminder", "to"],
    &["memo", "to"],
    &["instructions", "for"],
    &["instruction", "for"],
    &["attention"],
    &["dear"],
    &["hey"],
    &["hi"],
    &["hello"],
    &["to", "the"],
    &["to", "any"],
    &["to", "all"],
    &["calling", "all"],
    &["for", "the"],
    &["for", "any"],
    &["all"],
    &["any"],
    &["every"],
    &["important", "for"],
    &["listen"],
    &["ok"],
    &["okay"],
    &["yo"],
];
pub(crate) const CONDITIONAL_MARKERS: &[&[&str]] = &[
    &["if", "an"],
    &["if", "any"],
    &["if", "the"],
    &["when", "an"],
    &["when", "any"],
    &["whenever", "an"],
    &["once", "the"],
    &["if", "you", "are", "an"],
    &["if", "you", "are", "a"],
    &["if", "you're", "an"],
    &["if", "you're", "a"],
    &["are", "you", "an"],
    &["are", "you", "a"],
    &["if", "you", "are"],
    &["if", "you're"],
    &["in", "case", "you", "are", "an"],
    &["when", "you", "are", "an"],
    &["since", "you", "are", "an"],
    &["as", "you", "are", "an"],
];

/// Declarations that earlier instructions no longer hold.
#[rustfmt::skip]
const INVALIDATIONS: &[&str] = &[
    "are void", "is void", "are null", "is null and void", "are null and void", "are invalid", "is
    invalid", "are cancelled", "are canceled", "is cancelled", "is canceled", "are revoked", "is
    revoked", "have been revoked", "are suspended", "are lifted", "have been lifted", "no longer
    apply", "no longer applies", "no longer valid", "no longer in effect", "do not apply", "don't
    apply", "does not apply", "doesn't apply", "have been disabled", "are disabled", "have been
    removed", "have been updated", "has been updated", "have changed", "has changed", "have been
    changed", "were updated", "have been modified", "have been revised", "have been replaced",
    "has been replaced", "are overridden", "have been overridden", "has been overridden", "are
    superseded", "have been superseded", "are no longer", "is no longer", "gelten nicht mehr",
    "sont annulées", "ya no aplican",
];

#[rustfmt::skip]
const AI_NOUNS: &[&str] = &[
    "ai", "a.i.", "assistant", "chatbot", "llm", "llms", "language model", "language models",
    "gpt", "chatgpt", "claude", "gemini", "copilot", "bot", "agent", "agents", "ai model", "ai
    models", "ai agent", "ai agents", "ai assistant", "ai assistants", "ai system", "ai systems",
    "model", "large language model", "large language models", "bots", "assistants",
    "models", "ai tool", "ai tools", "ai crawler", "ai crawlers", "llm agent", "llm agents",
];

/// Every trigger pattern with what it starts.
pub(crate) fn trigger_table() -> Vec<(String, Vec<Trigger>)> {
    let mut t: Vec<(String, Trigger)> = Vec::new();
    t.extend(
        OVERRIDE_VERBS
            .iter()
            .map(|v| ((*v).to_owned(), Trigger::Override)),
    );
    t.extend(
        PRECEDENCE_VERBS
            .iter()
            .map(|v| ((*v).to_owned(), Trigger::Precedence)),
    );
    for p in [
        "you are now",
        "you're now",
        "youre now",
        "you will now be",
        "you are going to be",
        "you shall now be",
        "you are officially",
        "du bist jetzt",
        "tu es maintenant",
        "ahora eres",
    ] {
        t.push(((p).to_owned(), Trigger::YouAreNow));
    }
    for p in [
        "you are no longer",
        "you're no longer",
        "you are not bound",
        "you're not bound",
        "you are free from",
        "you are freed from",
        "you have been freed",
        "you have been released",
        "you have no restrictions",
        "you have no rules",
        "you have no limits",
    ] {
        t.push(((p).to_owned(), Trigger::NoLonger));
    }
    for p in [
        "from now on",
        "from this point on",
        "from this point forward",
        "from here on",
        "henceforth",
        "going forward",
        "for the rest of this conversation",
        "for the remainder of this conversation",
        "ab jetzt",
        "à partir de maintenant",
        "de ahora en adelante",
    ] {
        t.push(((p).to_owned(), Trigger::FromNow));
    }
    for p in [
        "act as",
        "pretend to be",
        "pretend you are",
        "pretend you're",
        "pretend that you",
        "roleplay as",
        "role-play as",
        "role play as",
        "play the role of",
        "assume the role",
        "take on the role",
        "impersonate",
        "simulate being",
        "behave as",
        "behave like",
        "respond as",
        "answer as",
        "become",
    ] {
        t.push(((p).to_owned(), Trigger::ActAs));
    }
    for adj in [
        "new",
        "updated",
        "real",
        "actual",
        "true",
        "secret",
        "hidden",
        "additional",
        "revised",
        "important",
        "urgent",
        "special",
        "further",
        "correct",
        "latest",
        "override",
        "priority",
        "overriding",
        "supplementary",
        "admin",
        "administrator",
        "developer",
        "operator",
        "next",
    ] {
        for noun in [
            "instructions",
            "instruction",
            "rules",
            "task",
            "directive",
            "directives",
            "objective",
            "orders",
            "role",
            "system prompt",
            "guidelines",
            "mission",
            "goal",
            "prompt",
            "user message",
            "user input",
            "user request",
            "human message",
            "user turn",
        ] {
            t.push((format!("{adj} {noun}"), Trigger::NewInstructions));
        }
    }
    for p in [
        "system prompt",
        "system message",
        "system instruction",
        "system instructions",
        "developer message",
        "developer instructions",
        "system note",
        "system notice",
        "system update",
        "system override",
        "initial prompt",
        "original prompt",
        "hidden prompt",
        "meta prompt",
        "pre-prompt",
    ] {
        t.push(((p).to_owned(), Trigger::SystemPrompt));
    }
    for p in [
        "i am your",
        "i'm your",
        "im your",
        "this is your",
        "message from the",
        "message from your",
        "instruction from the",
        "instructions from the",
        "instructions from your",
        "authorized by the",
        "authorised by the",
        "on behalf of the",
        "this is the",
        "notice from the",
        "order from the",
        "orders from the",
        "directive from the",
        "i am the",
        "i'm the",
    ] {
        t.push(((p).to_owned(), Trigger::Authority));
    }
    t.push(("mode".to_owned(), Trigger::Mode));
    for p in [
        "<|",
        "[inst]",
        "[/inst]",
        "<<sys>>",
        "<</sys>>",
        "<start_of_turn>",
        "<end_of_turn>",
        "<|im_start|>",
        "<|im_end|>",
        "[/system]",
        "<|endoftext|>",
        "<eos>",
        "<bos>",
        "</s>",
        "<s>[inst]",
    ] {
        t.push(((p).to_owned(), Trigger::SpecialToken));
    }
    for name in [
        "system",
        "sys",
        "instructions",
        "instruction",
        "developer",
        "admin",
        "im_start",
        "system_prompt",
        "assistant",
        "human",
        "tool_call",
        "function_call",
        "user",
        "context",
        "prompt",
    ] {
        t.push((format!("<{name}"), Trigger::ChatTag));
        t.push((format!("</{name}"), Trigger::ChatTag));
    }
    for h in ["#", "##", "###", "####"] {
        for name in [
            "system",
            "system prompt",
            "instruction",
            "instructions",
            "new instructions",
            "developer",
            "assistant",
            "response",
            "user",
            "human",
            "input",
            "admin",
        ] {
            t.push((format!("{h} {name}"), Trigger::Heading));
            t.push((format!("{h}{name}"), Trigger::Heading));
        }
    }
    for b in [
        "[system",
        "[admin",
        "[developer",
        "[assistant",
        "[user",
        "[override",
        "(system",
        "{system",
        "[[system",
        "[sys",
        "[instructions",
        "[important",
        "[ai",
    ] {
        t.push(((b).to_owned(), Trigger::Bracket));
    }
    for r in [
        "system",
        "developer",
        "admin",
        "administrator",
        "root",
        "operator",
        "assistant",
        "human",
        "user",
        "ai",
        "system prompt",
    ] {
        t.push(((r).to_owned(), Trigger::LineRole));
    }
    t.push(("end of".to_owned(), Trigger::EndOf));
    for p in [
        "you are a",
        "you are an",
        "you're a",
        "you're an",
        "youre a",
        "you are the",
        "you're the",
    ] {
        t.push((p.to_owned(), Trigger::YouAreA));
    }
    for p in ["role", "\"role\"", "'role'"] {
        t.push((p.to_owned(), Trigger::RoleKey));
    }
    for p in ["begin", "start", "end", "beginning", "start of", "end of"] {
        t.push((p.to_owned(), Trigger::Block));
    }
    for p in TELL_VERBS {
        t.push(((*p).to_owned(), Trigger::Conceal));
    }
    for p in [
        "act like",
        "behave like",
        "talk like",
        "respond like",
        "speak like",
    ] {
        t.push((p.to_owned(), Trigger::ActAs));
    }
    for p in [
        "whatever you",
        "what you",
        "everything you",
        "anything you",
        "all you",
    ] {
        t.push((p.to_owned(), Trigger::WhatYouWereTold));
    }
    for p in [
        "export",
        "send",
        "forward",
        "upload",
        "exfiltrate",
        "post",
        "transmit",
        "leak",
        "email",
        "e-mail",
        "copy",
        "submit",
        "share",
        "paste",
        "dump",
        "sync",
    ] {
        t.push((p.to_owned(), Trigger::Exfil));
    }
    for p in INVALIDATIONS {
        t.push(((*p).to_owned(), Trigger::Invalidate));
    }
    t.extend(AI_NOUNS.iter().map(|n| ((*n).to_owned(), Trigger::AiNoun)));
    for p in [
        "do not tell",
        "don't tell",
        "do not inform",
        "don't inform",
        "do not mention",
        "don't mention",
        "do not reveal",
        "don't reveal",
        "do not disclose",
        "don't disclose",
        "do not notify",
        "don't notify",
        "do not alert",
        "don't alert",
        "do not let",
        "don't let",
        "never mention",
        "never tell",
        "never reveal",
        "never inform",
        "hide this from",
        "conceal this from",
        "keep this from",
        "keep this secret from",
        "must not know",
        "should not know",
        "must never know",
        "won't notice",
        "not visible to",
        "invisible to",
    ] {
        t.push(((p).to_owned(), Trigger::Conceal));
    }
    for p in [
        "without telling",
        "without informing",
        "without notifying",
        "without alerting",
        "without asking",
        "without the knowledge of",
        "without their knowledge",
        "without the user's",
        "without user",
        "without consulting",
        "without confirming",
        "without checking with",
    ] {
        t.push(((p).to_owned(), Trigger::Without));
    }
    for p in [
        "secretly",
        "silently",
        "covertly",
        "quietly",
        "discreetly",
        "stealthily",
        "invisibly",
        "in the background",
    ] {
        t.push(((p).to_owned(), Trigger::Stealth));
    }
    for p in [
        "send",
        "forward",
        "upload",
        "exfiltrate",
        "post",
        "transmit",
        "leak",
        "email",
        "e-mail",
        "copy",
        "submit",
        "share",
    ] {
        t.push(((p).to_owned(), Trigger::Exfil));
    }
    dedup(t)
}

/// Merges repeated patterns: one pattern may start several detectors.
fn dedup(t: Vec<(String, Trigger)>) -> Vec<(String, Vec<Trigger>)> {
    let mut merged: std::collections::BTreeMap<String, Vec<Trigger>> =
        std::collections::BTreeMap::new();
    for (p, trig) in t {
        let v = merged.entry(p.to_ascii_lowercase()).or_default();
        if !v.contains(&trig) {
            v.push(trig);
        }
    }
    merged.into_iter().collect()
}
