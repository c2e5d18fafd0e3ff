//! One client session: the MCP server the client talks to (an rmcp
//! `ServerHandler`), over stdio or Streamable HTTP.
//!
//! The identity behind a session is fixed by the channel: the gateway's
//! config for stdio, the bearer token of each HTTP request (checked by the
//! HTTP layer, which also binds the session to the identity that opened
//! it). `tools/list` shows the identity only the tools the policy could
//! permit it; `tools/call` goes through [`super::call`].

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, ErrorData, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{RoleServer, ServerHandler};
use ward_core::{Actor, AgentRef, Intervention, Outcome, Principal, Request};
use ward_engine::Credentials;

use super::call::{self, Caller, Pending, UNAUTHENTICATED};
use super::catalog::{policy_tag, Cursor};
use super::http::Authenticated;
use super::Shared;

/// The revisions the gateway speaks, oldest first.
pub(crate) const VERSIONS: [ProtocolVersion; 2] =
    [ProtocolVersion::V_2025_06_18, ProtocolVersion::V_2025_11_25];

/// Where a session's identity comes from.
#[derive(Debug, Clone)]
pub(crate) enum Channel {
    /// The gateway's own config: one identity for the whole session.
    Stdio { creds: Credentials, session: String },
    /// Each HTTP request's bearer token (authenticated by the HTTP layer).
    Http,
}

/// One client session.
pub(crate) struct Session {
    shared: Arc<Shared>,
    channel: Channel,
    peer_id: u64,
    approvals: Pending,
    /// The HTTP session id, once the client sent `initialized` on it.
    http_session: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.forget_peer(self.peer_id);
        if let Some(id) = self.http_session.lock().ok().and_then(|mut s| s.take()) {
            self.shared.bindings.forget(&id);
        }
    }
}

fn unauthenticated(message: impl Into<Cow<'static, str>>) -> ErrorData {
    ErrorData::new(rmcp::model::ErrorCode(UNAUTHENTICATED), message, None)
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, channel: Channel) -> Session {
        let peer_id = shared.next_peer_id();
        Session {
            shared,
            channel,
            peer_id,
            approvals: Pending::default(),
            http_session: std::sync::Mutex::new(None),
        }
    }

    /// The caller of one request.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        let (creds, identity, session) = match &self.channel {
            Channel::Stdio { creds, session } => {
                let identity = self
                    .shared
                    .engine
                    .authenticate(creds)
                    .map_err(|e| unauthenticated(e.to_string()))?;
                (creds.clone(), identity, session.clone())
            }
            Channel::Http => {
                let parts = context
                    .extensions
                    .get::<axum::http::request::Parts>()
                    .ok_or_else(|| unauthenticated("no HTTP request behind this call"))?;
                let authed = parts
                    .extensions
                    .get::<Authenticated>()
                    .ok_or_else(|| unauthenticated("the request was not authenticated"))?;
                let session = parts
                    .headers
                    .get("mcp-session-id")
                    .and_then(|v| v.to_str().ok())
                    .map(|s| format!("mcp-{s}"))
                    .ok_or_else(|| {
                        ErrorData::invalid_request(
                            "an MCP session is needed: initialize first",
                            None,
                        )
                    })?;
                (authed.creds.clone(), authed.identity.clone(), session)
            }
        };
        if identity.tenant == "*" {
            return Err(unauthenticated(
                "an operator key (tenant `*`) cannot act as an MCP client; use a key of one tenant",
            ));
        }
        let agent = &self.shared.config.agent;
        let actor = Actor {
            principal: Principal {
                id: identity.principal.id.clone(),
                kind: identity.principal.kind,
                roles: Vec::new(),
                attrs: Default::default(),
            },
            tenant: identity.tenant.clone(),
            session,
            agent: AgentRef {
                id: identity.agent.clone().unwrap_or_else(|| agent.id.clone()),
                version: agent.version.clone(),
            },
        };
        Ok(Caller { creds, actor })
    }

    async fn list(
        &self,
        caller: &Caller,
        cursor: Option<String>,
    ) -> Result<ListToolsResult, ErrorData> {
        let shared = &self.shared;
        let engine = &shared.engine;
        let catalog = shared.catalog();
        let bundle = engine.active_bundle();
        let policy = bundle
            .as_ref()
            .map(|b| policy_tag(&b.record.digest))
            .unwrap_or_default();
        let offset = match cursor {
            None => 0,
            Some(text) => match Cursor::decode(&text) {
                Some(c) if c.generation == catalog.generation && c.policy == policy => c.offset,
                Some(_) => return Err(ErrorData::invalid_params(
                    "the tool list changed since this cursor was made; list again from the start",
                    None,
                )),
                None => {
                    return Err(ErrorData::invalid_params(
                        "not a cursor of this gateway",
                        None,
                    ))
                }
            },
        };
        let mut listing = Request {
            intervention: Intervention::ListTools,
            actor: caller.actor.clone(),
            tool: None,
            action: None,
            target: None,
            args: Default::default(),
            context: Default::default(),
            content: None,
            source: None,
            idempotency_key: None,
            approval_id: None,
            trace: None,
        };
        let decided = engine
            .decide(&caller.creds, listing.clone())
            .await
            .map_err(|e| unauthenticated(e.to_string()))?;
        // Never cached, and never for anyone else (the revision-2026 hints;
        // older clients ignore them, and HTTP says `no-store`).
        let mut result = ListToolsResult {
            ttl_ms: Some(0),
            cache_scope: Some(CacheScope::Private),
            ..Default::default()
        };
        let mut meta = rmcp::model::MetaObject::new();
        meta.insert(
            call::META_DECISION.into(),
            serde_json::json!({
                "decision_id": decided.decision.decision_id,
                "outcome": decided.decision.outcome.as_str(),
                "reasons": decided.decision.reasons,
            }),
        );
        result.meta = Some(meta);
        let (Some(bundle), true) = (bundle, decided.decision.outcome.permits()) else {
            return Ok(result);
        };
        let agents = engine.agents().await.unwrap_or_default();
        let actor = &decided.request.actor;
        let registered = agents
            .iter()
            .find(|a| a.id == actor.agent.id && a.version == actor.agent.version && a.active);
        let facts = ward_policy::Facts {
            now: engine.now_ms().div_euclid(1000),
            ..Default::default()
        };
        let compiled = &bundle.compiled;
        let visible = catalog.entries.iter().filter(|e| {
            if !e.enabled || !registered.is_some_and(|a| a.allows_tool(&e.exposed)) {
                return false;
            }
            listing.actor = actor.clone();
            listing.tool = Some(e.exposed.clone());
            listing.intervention = Intervention::ListTools;
            if ward_policy::evaluate(compiled, &listing, &facts).outcome == Outcome::Deny {
                return false;
            }
            listing.intervention = Intervention::PreToolCall;
            ward_policy::could_permit(compiled, &listing, &facts)
        });
        let page = shared.config.page_size;
        let mut tools: Vec<_> = visible
            .skip(offset)
            .take(page + 1)
            .map(|e| e.tool.clone())
            .collect();
        if tools.len() > page {
            tools.truncate(page);
            result.next_cursor = Some(
                Cursor {
                    generation: catalog.generation,
                    policy,
                    offset: offset + page,
                }
                .encode(),
            );
        }
        result.tools = tools;
        Ok(result)
    }
}

impl ServerHandler for Session {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
        .with_server_info(Implementation::new(
            "ward-mcp-gateway",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Tools here are governed by Ward. A call may be denied, need an approval, run with \
             rewritten arguments or with constraints; the result says which, with a decision id.",
        )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(&VERSIONS)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.caller(&context)?;
        self.list(&caller, request.and_then(|r| r.cursor)).await
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context)?;
        if request.meta.is_none() && !context.meta.is_empty() {
            request.meta = Some(context.meta.clone());
        }
        let ct = context.ct.clone();
        let cancelled = Box::pin(async move { ct.cancelled().await });
        call::call_tool(&self.shared, &caller, &self.approvals, request, cancelled)
            .await
            .map(CallToolResponse::Complete)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        if let Some(id) = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.headers.get("mcp-session-id"))
            .and_then(|v| v.to_str().ok())
        {
            if let Ok(mut slot) = self.http_session.lock() {
                *slot = Some(id.to_owned());
            }
        }
        self.shared
            .remember_peer(self.peer_id, context.peer.clone());
    }
}
