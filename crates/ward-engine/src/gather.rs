//! Gathering facts for evaluation: scanner findings on the arguments or
//! content, the provenance of each string argument, and limit counters.
//! The scanning and classification are pure; limit counters come from the
//! state store.

use serde_json::{Map, Value};
use ward_core::{ArgProvenance, Intervention, ProvenanceLabel, ReasonCode, Request};
use ward_policy::{Compiled, Finding, LimitDecl, Scanners};
use ward_scan::{DefaultScanners, ProvenanceIndex, ScanError};

/// A stage's deny: the reason code and the sentence.
pub(crate) type Stop = (ReasonCode, String);

/// Scans the request's content (for content events) or each string
/// argument, keeping findings at or above the bundle's thresholds. Content
/// that cannot be scanned is quarantined: the stage denies.
pub(crate) fn scan(
    scanners: &DefaultScanners,
    settings: &Scanners,
    request: &Request,
) -> Result<(Vec<Finding>, Vec<ward_scan::Finding>), Stop> {
    let limit = settings
        .max_content_bytes
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(scanners.limits().max_bytes);
    let threshold = settings.injection_threshold.unwrap_or(0.0);
    let keep = |f: &ward_scan::Finding| f.family() != "injection" || f.confidence >= threshold;
    let quarantine = |what: &str, e: ScanError| {
        (
            ReasonCode::ScanFinding,
            format!("{what} was quarantined: {e}"),
        )
    };
    let mut findings = Vec::new();
    let mut raw = Vec::new();
    if let Some(content) = &request.content {
        if content.len() > limit {
            return Err((
                ReasonCode::ScanFinding,
                format!(
                    "content of {} bytes is over the {limit}-byte scan limit and was quarantined",
                    content.len()
                ),
            ));
        }
        let found = scanners
            .scan(content)
            .map_err(|e| quarantine("content", e))?;
        for f in found.into_iter().filter(keep) {
            findings.push(to_fact(&f, None));
            raw.push(f);
        }
    }
    let mut total = 0usize;
    for (name, value) in &request.args {
        let mut err = None;
        visit_strings(value, &mut |s| {
            total = total.saturating_add(s.len());
            if err.is_some() {
                return;
            }
            if total > limit {
                err = Some((
                    ReasonCode::ScanFinding,
                    format!("arguments over the {limit}-byte scan limit were quarantined"),
                ));
                return;
            }
            match scanners.scan(s) {
                Ok(found) => findings.extend(
                    found
                        .iter()
                        .filter(|f| keep(f))
                        .map(|f| to_fact(f, Some(name))),
                ),
                Err(e) => err = Some(quarantine(&format!("argument `{name}`"), e)),
            }
        });
        if let Some(stop) = err {
            return Err(stop);
        }
    }
    Ok((findings, raw))
}

fn to_fact(f: &ward_scan::Finding, arg: Option<&str>) -> Finding {
    Finding {
        kind: f.kind.clone(),
        rule: f.rule.clone(),
        confidence: f.confidence,
        arg: arg.map(str::to_owned),
    }
}

fn visit_strings(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| visit_strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

/// The provenance of each string argument (by top-level name), as seen in
/// this tenant's session. An argument holding several strings takes the
/// least trusted label among them.
pub(crate) fn provenance(
    index: &ProvenanceIndex,
    request: &Request,
    now: i64,
) -> std::collections::BTreeMap<String, ArgProvenance> {
    let actor = &request.actor;
    let mut out = std::collections::BTreeMap::new();
    for (name, value) in &request.args {
        let mut worst: Option<ArgProvenance> = None;
        visit_strings(value, &mut |s| {
            let p = index.classify(&actor.tenant, &actor.session, s, now);
            let rank = |l: ProvenanceLabel| match l {
                ProvenanceLabel::Trusted => 0,
                ProvenanceLabel::New => 1,
                ProvenanceLabel::Untrusted => 2,
            };
            if worst.as_ref().is_none_or(|w| rank(p.label) > rank(w.label)) {
                worst = Some(p);
            }
        });
        if let Some(p) = worst {
            out.insert(name.clone(), p);
        }
    }
    out
}

/// The limits that apply to a call.
pub(crate) fn limits_in_scope<'a>(compiled: &'a Compiled, request: &Request) -> Vec<&'a LimitDecl> {
    if request.intervention != Intervention::PreToolCall {
        return Vec::new();
    }
    let tool = request.tool.as_deref().unwrap_or("");
    compiled
        .limits()
        .iter()
        .filter(|l| l.tools.is_empty() || l.tools.iter().any(|t| t == tool))
        .collect()
}

/// The counter key of a limit for a call: the limit id and its key fields.
pub(crate) fn limit_key(limit: &LimitDecl, request: &Request) -> String {
    let actor = &request.actor;
    let mut key = limit.id.clone();
    for field in &limit.key {
        let value = match field.as_str() {
            "principal" => actor.principal.id.as_str(),
            "tenant" => actor.tenant.as_str(),
            "agent" => actor.agent.id.as_str(),
            "tool" => request.tool.as_deref().unwrap_or(""),
            _ => "",
        };
        key.push('|');
        key.push_str(field);
        key.push('=');
        key.push_str(value);
    }
    key
}

/// The start of the limit's current window, in Unix seconds.
pub(crate) fn window_start(limit: &LimitDecl, now: i64) -> i64 {
    let w = i64::try_from(limit.window_secs.max(1)).unwrap_or(i64::MAX);
    now - now.rem_euclid(w)
}

/// What one call takes from a limit: 1, or the summed argument. `None`
/// when the summed argument is missing or not a non-negative number.
pub(crate) fn limit_amount(limit: &LimitDecl, args: &Map<String, Value>) -> Option<f64> {
    match &limit.sum_arg {
        None => Some(1.0),
        Some(path) => {
            let path = path.strip_prefix("args.").unwrap_or(path);
            let mut v: Option<&Value> = None;
            for (i, part) in path.split('.').enumerate() {
                v = if i == 0 { args.get(part) } else { v?.get(part) };
            }
            v.and_then(Value::as_f64)
                .filter(|x| x.is_finite() && *x >= 0.0)
        }
    }
}
