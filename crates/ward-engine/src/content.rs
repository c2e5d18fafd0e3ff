//! Content entering the agent's context, remembered for provenance with the
//! trust the gate (never the caller) gives it.

use ward_core::{Decision, Intervention, Outcome, Request};
use ward_scan::{Content, Trust};

use crate::engine::{ActiveBundle, Engine};
use crate::gather::Stop;
use crate::pipeline::internal;

impl Engine {
    /// Content that enters the agent's context is remembered for provenance,
    /// unless it was quarantined.
    ///
    /// Trust is the gate's call, never the caller's: the user's own `input`
    /// (no source, or source kind `user`) is trusted; a tool's output is
    /// trusted only as far as the catalog vouches for it (`output.trusted`,
    /// or `output.trusted_fields` of a JSON output); everything else is
    /// untrusted. A caller may narrow a label to `untrusted`, never widen it.
    pub(crate) fn record_content(
        &self,
        b: &ActiveBundle,
        request: &Request,
        decision: &Decision,
        now: i64,
    ) -> Result<(), Stop> {
        let Some(content) = &request.content else {
            return Ok(());
        };
        if !matches!(
            request.intervention,
            Intervention::Input | Intervention::PostToolCall
        ) || decision.outcome == Outcome::Deny
        {
            return Ok(());
        }
        let text = decision
            .rewritten_args
            .as_ref()
            .and_then(|a| a.get("content"))
            .and_then(|v| v.as_str())
            .unwrap_or(content);
        let source = request.source.as_ref();
        let narrowed = source.and_then(|s| s.trust) == Some(ward_core::Trust::Untrusted);
        let no_fields = ward_policy::OutputTrust::default();
        let (trust, output) = match request.intervention {
            Intervention::Input => {
                let users_own = source.is_none_or(|s| s.kind == "user");
                (users_own && !narrowed, &no_fields)
            }
            _ => {
                let output = request
                    .tool
                    .as_deref()
                    .and_then(|t| b.compiled.output_trust(t))
                    .unwrap_or(&no_fields);
                (output.all && !narrowed, output)
            }
        };
        let trust = if trust {
            Trust::Trusted
        } else {
            Trust::Untrusted
        };
        let label = match source {
            Some(s) => match (&s.tool, &s.uri) {
                (Some(t), _) => format!("tool:{t}"),
                (None, Some(u)) => format!("{}:{u}", s.kind),
                _ => s.kind.clone(),
            },
            None => request
                .tool
                .as_ref()
                .map_or_else(|| "input".into(), |t| format!("tool:{t}")),
        };
        let json = (!narrowed && !output.fields.is_empty())
            .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
            .flatten()
            .filter(|v| v.is_object() || v.is_array());
        let paths: Vec<&str> = output.fields.iter().map(String::as_str).collect();
        let recorded = match &json {
            Some(value) => Content::Json {
                value,
                trusted_paths: &paths,
            },
            None => Content::Text(text),
        };
        let actor = &request.actor;
        self.inner
            .provenance
            .lock()
            .map_err(|_| internal("provenance index", "lock poisoned"))?
            .record(&actor.tenant, &actor.session, recorded, trust, &label, now);
        Ok(())
    }
}
