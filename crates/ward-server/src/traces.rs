//! OTLP traces of decisions, when an endpoint is configured.
//!
//! Each decision becomes one span named after the OpenTelemetry GenAI
//! semantic conventions, `execute_tool {gen_ai.tool.name}`, carrying the
//! guardrail outcome and Ward's own `ward.*` attributes, with one child span
//! per pipeline stage. When the request carries the agent's trace context,
//! the span joins the agent's trace as a child of the agent's span.
//!
//! Invariant: tracing never holds up a decision. [`Tracer::decided`] only
//! builds the spans and offers them to a bounded queue; when the queue is
//! full (or the exporter has shut down) they are dropped and counted, never
//! waited for. One background thread, with a single-threaded runtime of its
//! own, batches the queue and posts OTLP/HTTP protobuf to the collector, so a
//! collector that is down or slow costs spans, never decisions.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, SpanData, SpanEvents, SpanExporter as _, SpanLinks,
};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, oneshot};
use ward_engine::Decided;

/// Decisions whose spans may wait for export; more are dropped.
const QUEUE_DECISIONS: usize = 2048;
/// A batch is posted once it holds this many spans, or on the next tick.
const MAX_BATCH_SPANS: usize = 512;
/// How often a partial batch is posted.
const EXPORT_INTERVAL: Duration = Duration::from_secs(5);
/// How long one POST to the collector may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Tracer::flush`] and [`Tracer::shutdown`] wait for the
/// exporter: the queue ahead of them plus one export.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(15);
/// The OTLP/HTTP path of the traces signal.
const TRACES_PATH: &str = "/v1/traces";

/// Why a tracer could not be set up, or an export did not complete.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The endpoint is not an `http://` URL the exporter accepts.
    #[error("invalid OTLP endpoint `{endpoint}`: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The background exporter could not be started.
    #[error("cannot start the OTLP exporter: {0}")]
    Start(String),
    /// The collector did not take a batch.
    #[error("OTLP export to `{endpoint}` failed: {reason}")]
    Export {
        /// The traces URL posted to.
        endpoint: String,
        /// The exporter's error.
        reason: String,
    },
    /// The exporter did not answer in time, or has shut down.
    #[error("OTLP exporter for `{0}` is not running or did not answer in time")]
    Unavailable(String),
}

/// Exports one span per decision; disabled unless an endpoint is set.
pub struct Tracer {
    export: Option<Export>,
}

/// The decision path's end of an enabled tracer.
struct Export {
    /// The traces URL, for messages.
    url: String,
    queue: mpsc::Sender<Command>,
    /// Decisions whose spans were not queued.
    dropped: AtomicU64,
    ids: RandomIdGenerator,
    scope: InstrumentationScope,
}

enum Command {
    /// The spans of one decision.
    Spans(Vec<SpanData>),
    /// Post what is queued ahead of this, then answer.
    Flush(oneshot::Sender<Result<(), String>>),
    /// Post what is queued ahead of this, answer, and stop.
    Shutdown(oneshot::Sender<Result<(), String>>),
}

impl Tracer {
    /// A tracer that exports nothing.
    pub fn disabled() -> Tracer {
        Tracer { export: None }
    }

    /// A tracer that posts OTLP/HTTP protobuf to the collector at
    /// `endpoint`, the base URL as in `OTEL_EXPORTER_OTLP_ENDPOINT` (such as
    /// `http://127.0.0.1:4318`; `/v1/traces` is appended unless the URL
    /// already ends with it), as the service `service_name`.
    ///
    /// Only plain `http://` is supported: this build carries no TLS, so put
    /// a local collector or agent in front of a remote one. The exporter
    /// runs on a thread of its own, so this may be called inside or outside
    /// a Tokio runtime. The standard `OTEL_EXPORTER_OTLP_HEADERS` and
    /// `OTEL_RESOURCE_ATTRIBUTES` variables are honoured.
    pub fn otlp(endpoint: &str, service_name: &str) -> Result<Tracer, TraceError> {
        let url = traces_url(endpoint)?;
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(url.clone())
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TraceError::Endpoint {
                endpoint: endpoint.to_owned(),
                reason: e.to_string(),
            })?;
        exporter.set_resource(
            &Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        );
        let (queue, receiver) = mpsc::channel(QUEUE_DECISIONS);
        let worker_url = url.clone();
        // The runtime is built, run and dropped on its own thread: a Tokio
        // runtime must not be dropped inside another one, which is where
        // the caller may be.
        let (started, ready) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("ward-otlp".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = started.send(Ok(()));
                        runtime.block_on(run(exporter, receiver, &worker_url));
                    }
                    Err(e) => {
                        let _ = started.send(Err(e.to_string()));
                    }
                }
            })
            .map_err(|e| TraceError::Start(e.to_string()))?;
        ready
            .recv()
            .map_err(|e| TraceError::Start(e.to_string()))?
            .map_err(TraceError::Start)?;
        Ok(Tracer {
            export: Some(Export::new(url, queue)),
        })
    }

    /// Whether spans are exported.
    pub fn is_enabled(&self) -> bool {
        self.export.is_some()
    }

    /// How many decisions' spans were dropped because the export queue was
    /// full or the exporter had shut down.
    pub fn dropped(&self) -> u64 {
        self.export
            .as_ref()
            .map_or(0, |e| e.dropped.load(Ordering::Relaxed))
    }

    /// Records a decision that started at `started` and took `took`. Never
    /// blocks: the spans are queued for the background exporter, or dropped
    /// and counted when the queue is full.
    pub fn decided(&self, decided: &Decided, started: SystemTime, took: Duration) {
        if let Some(export) = &self.export {
            export.enqueue(export.spans(decided, started, took));
        }
    }

    /// Posts every span queued so far and waits (a bounded time) for the
    /// collector's answer. A disabled tracer has nothing to flush.
    pub async fn flush(&self) -> Result<(), TraceError> {
        match &self.export {
            Some(export) => export.ask(Command::Flush).await,
            None => Ok(()),
        }
    }

    /// Posts every span queued so far and stops the exporter; spans of
    /// later decisions are dropped and counted. Call it before the process
    /// exits, or the last batch is lost.
    pub async fn shutdown(&self) -> Result<(), TraceError> {
        match &self.export {
            Some(export) => export.ask(Command::Shutdown).await,
            None => Ok(()),
        }
    }
}

impl Default for Tracer {
    fn default() -> Tracer {
        Tracer::disabled()
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.export {
            None => f.debug_struct("Tracer").field("enabled", &false).finish(),
            Some(export) => f
                .debug_struct("Tracer")
                .field("enabled", &true)
                .field("endpoint", &export.url)
                .field("dropped", &export.dropped.load(Ordering::Relaxed))
                .finish(),
        }
    }
}

impl Export {
    fn new(url: String, queue: mpsc::Sender<Command>) -> Export {
        Export {
            url,
            queue,
            dropped: AtomicU64::new(0),
            ids: RandomIdGenerator::default(),
            scope: InstrumentationScope::builder("ward-server")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        }
    }

    /// Queues the spans of one decision, or drops and counts them.
    fn enqueue(&self, spans: Vec<SpanData>) {
        if self.queue.try_send(Command::Spans(spans)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn ask(
        &self,
        command: fn(oneshot::Sender<Result<(), String>>) -> Command,
    ) -> Result<(), TraceError> {
        let unavailable = || TraceError::Unavailable(self.url.clone());
        let (answer, answered) = oneshot::channel();
        let asked = async {
            self.queue.send(command(answer)).await.ok()?;
            answered.await.ok()
        };
        match tokio::time::timeout(FLUSH_TIMEOUT, asked).await {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(reason))) => Err(TraceError::Export {
                endpoint: self.url.clone(),
                reason,
            }),
            Ok(None) | Err(_) => Err(unavailable()),
        }
    }

    /// The decision's span, then one child span per stage.
    fn spans(&self, decided: &Decided, started: SystemTime, took: Duration) -> Vec<SpanData> {
        let (trace_id, parent) = match decided.request.trace.as_ref().and_then(|t| {
            Some((
                parse_id(&t.trace_id, 32, TraceId::from_hex)?,
                parse_id(&t.span_id, 16, SpanId::from_hex)?,
            ))
        }) {
            Some((trace_id, parent))
                if trace_id != TraceId::INVALID && parent != SpanId::INVALID =>
            {
                (trace_id, Some(parent))
            }
            _ => (self.ids.new_trace_id(), None),
        };
        let span_id = self.ids.new_span_id();
        let name = match &decided.request.tool {
            Some(tool) => format!("execute_tool {tool}"),
            None => format!("ward {}", decided.request.intervention.as_str()),
        };
        let mut spans = Vec::with_capacity(1 + decided.stages.len());
        spans.push(self.span(
            SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent.unwrap_or(SpanId::INVALID),
            parent.is_some(),
            name.into(),
            (started, started + took),
            attributes(decided),
        ));
        // The pipeline reports each stage's duration, not its start, so the
        // stages are laid end to end from the decision's start.
        let mut at = started;
        for (stage, spent) in &decided.stages {
            let context = SpanContext::new(
                trace_id,
                self.ids.new_span_id(),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            );
            spans.push(self.span(
                context,
                span_id,
                false,
                Cow::Borrowed(stage.as_str()),
                (at, at + *spent),
                Vec::new(),
            ));
            at += *spent;
        }
        spans
    }

    fn span(
        &self,
        span_context: SpanContext,
        parent_span_id: SpanId,
        parent_span_is_remote: bool,
        name: Cow<'static, str>,
        (start_time, end_time): (SystemTime, SystemTime),
        attributes: Vec<KeyValue>,
    ) -> SpanData {
        SpanData {
            span_context,
            parent_span_id,
            parent_span_is_remote,
            span_kind: SpanKind::Internal,
            name,
            start_time,
            end_time,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            // A deny is a decision made, not an error: the status stays unset.
            status: Status::Unset,
            instrumentation_scope: self.scope.clone(),
        }
    }
}

/// The GenAI and `ward.*` attributes of a decision's span. Absent values
/// are left out rather than sent empty.
fn attributes(decided: &Decided) -> Vec<KeyValue> {
    let decision = &decided.decision;
    let request = &decided.request;
    let mut attributes = Vec::with_capacity(18);
    if let Some(tool) = &request.tool {
        attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        attributes.push(KeyValue::new("gen_ai.tool.name", tool.clone()));
    }
    attributes.push(KeyValue::new(
        "gen_ai.agent.id",
        request.actor.agent.id.clone(),
    ));
    attributes.push(KeyValue::new(
        "gen_ai.agent.version",
        request.actor.agent.version.clone(),
    ));
    attributes.push(KeyValue::new(
        "gen_ai.conversation.id",
        request.actor.session.clone(),
    ));
    attributes.push(KeyValue::new(
        "gen_ai.guardrail.decision",
        decision.outcome.as_str(),
    ));
    if let Some(rule) = decision.reasons.iter().find_map(|r| r.rule.as_ref()) {
        attributes.push(KeyValue::new("gen_ai.guardrail.rule", rule.clone()));
    }
    if let Some(reason) = decision.reasons.first() {
        attributes.push(KeyValue::new(
            "gen_ai.guardrail.reason",
            reason.code.as_str(),
        ));
    }
    attributes.push(KeyValue::new(
        "ward.decision.id",
        decision.decision_id.clone(),
    ));
    attributes.push(KeyValue::new(
        "ward.intervention",
        request.intervention.as_str(),
    ));
    if let Some(policy) = &decision.policy {
        attributes.push(KeyValue::new("ward.policy.name", policy.name.clone()));
        attributes.push(KeyValue::new("ward.policy.version", policy.version.clone()));
        attributes.push(KeyValue::new("ward.policy.digest", policy.digest.clone()));
    }
    attributes.push(KeyValue::new("ward.mode", decision.mode.as_str()));
    attributes.push(KeyValue::new("ward.tenant", request.actor.tenant.clone()));
    if let Some(index) = decision.receipt.as_deref().and_then(receipt_index) {
        attributes.push(KeyValue::new("ward.receipt.index", index));
    }
    attributes.push(KeyValue::new("ward.replayed", decided.replayed));
    attributes
}

/// The leaf index of a `tlog-proof@v1` receipt (docs/receipt-format.md §4):
/// the `index` line after the header and the optional `extra` line. `None`
/// for any other shape, or an index OTLP's signed integers cannot carry.
fn receipt_index(receipt: &str) -> Option<i64> {
    let mut lines = receipt.lines();
    if lines.next()? != "c2sp.org/tlog-proof@v1" {
        return None;
    }
    let mut line = lines.next()?;
    if line.starts_with("extra ") {
        line = lines.next()?;
    }
    let digits = line.strip_prefix("index ")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A W3C trace-context id of exactly `len` hex digits.
fn parse_id<T, E>(hex: &str, len: usize, parse: fn(&str) -> Result<T, E>) -> Option<T> {
    if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    parse(hex).ok()
}

/// The URL spans are posted to, from an OTLP/HTTP base endpoint.
fn traces_url(endpoint: &str) -> Result<String, TraceError> {
    let invalid = |reason: &str| TraceError::Endpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = endpoint.trim().trim_end_matches('/');
    if trimmed.starts_with("https://") {
        return Err(invalid(
            "this build has no TLS; use `http://` to a local collector",
        ));
    }
    let Some(authority) = trimmed.strip_prefix("http://") else {
        return Err(invalid("expected an `http://` URL"));
    };
    if authority.is_empty() || authority.starts_with('/') {
        return Err(invalid("expected a host after `http://`"));
    }
    if trimmed.ends_with(TRACES_PATH) {
        Ok(trimmed.to_owned())
    } else {
        Ok(format!("{trimmed}{TRACES_PATH}"))
    }
}

/// The exporter thread: batches the queue and posts it, until the tracer is
/// dropped or shut down.
async fn run(
    exporter: opentelemetry_otlp::SpanExporter,
    mut queue: mpsc::Receiver<Command>,
    url: &str,
) {
    let mut exporter = Exporter {
        exporter,
        url,
        failing: false,
    };
    let mut batch = Vec::new();
    let mut tick = tokio::time::interval(EXPORT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = queue.recv() => match command {
                Some(Command::Spans(spans)) => {
                    batch.extend(spans);
                    if batch.len() >= MAX_BATCH_SPANS {
                        let _ = exporter.post(&mut batch).await;
                    }
                }
                Some(Command::Flush(answer)) => {
                    let _ = answer.send(exporter.post(&mut batch).await);
                }
                Some(Command::Shutdown(answer)) => {
                    // From here on the tracer's sends fail and are counted;
                    // what raced in before the close is posted, not lost.
                    queue.close();
                    let mut waiting = Vec::new();
                    while let Ok(command) = queue.try_recv() {
                        match command {
                            Command::Spans(spans) => batch.extend(spans),
                            Command::Flush(answer) | Command::Shutdown(answer) => {
                                waiting.push(answer);
                            }
                        }
                    }
                    let result = exporter.post(&mut batch).await;
                    for answer in waiting.into_iter().chain([answer]) {
                        let _ = answer.send(result.clone());
                    }
                    break;
                }
                None => {
                    let _ = exporter.post(&mut batch).await;
                    break;
                }
            },
            _ = tick.tick() => {
                let _ = exporter.post(&mut batch).await;
            }
        }
    }
    let _ = exporter.exporter.shutdown();
}

struct Exporter<'a> {
    exporter: opentelemetry_otlp::SpanExporter,
    url: &'a str,
    /// The last export failed; the outage was reported already.
    failing: bool,
}

impl Exporter<'_> {
    /// Posts the batch (an empty one is not sent). A failed batch is
    /// dropped, not retried, and each outage is reported once on stderr.
    async fn post(&mut self, batch: &mut Vec<SpanData>) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        let result = self
            .exporter
            .export(std::mem::take(batch))
            .await
            .map_err(|e| e.to_string());
        match &result {
            Err(e) if !self.failing => {
                self.failing = true;
                eprintln!("ward: traces: export to `{}` failed: {e}", self.url);
            }
            Ok(()) if self.failing => {
                self.failing = false;
                eprintln!("ward: traces: export to `{}` resumed", self.url);
            }
            _ => {}
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_index_is_the_line_after_the_header_and_extra() {
        let receipt = "c2sp.org/tlog-proof@v1\nextra eyJ9\nindex 17\nAAAA\n\nward/x\n3\n";
        assert_eq!(receipt_index(receipt), Some(17));
        let without_extra = "c2sp.org/tlog-proof@v1\nindex 0\n\n";
        assert_eq!(receipt_index(without_extra), Some(0));
        for bad in [
            "",
            "c2sp.org/tlog-proof@v2\nindex 1\n",
            "c2sp.org/tlog-proof@v1\nextra x\n",
            "c2sp.org/tlog-proof@v1\nindex -1\n",
            "c2sp.org/tlog-proof@v1\nindex +1\n",
            "c2sp.org/tlog-proof@v1\nindex 99999999999999999999\n",
        ] {
            assert_eq!(receipt_index(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn endpoints_get_the_traces_path_once_and_need_plain_http() {
        for (endpoint, url) in [
            ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
            ("http://collector:4318/", "http://collector:4318/v1/traces"),
            (
                "http://collector:4318/v1/traces",
                "http://collector:4318/v1/traces",
            ),
        ] {
            assert_eq!(traces_url(endpoint).unwrap(), url);
        }
        for bad in ["https://collector:4318", "collector:4318", "http://", ""] {
            assert!(traces_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trace_ids_must_be_exact_hex() {
        let parse = |s| parse_id(s, 16, SpanId::from_hex);
        assert!(parse("00f067aa0ba902b7").is_some());
        assert!(parse("+0f067aa0ba902b7").is_none());
        assert!(parse("0f067aa0ba902b7").is_none());
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (queue, _held) = mpsc::channel(1);
        let export = Export::new("http://127.0.0.1:9/v1/traces".into(), queue);
        for _ in 0..3 {
            export.enqueue(Vec::new());
        }
        assert_eq!(export.dropped.load(Ordering::Relaxed), 2);
        let tracer = Tracer {
            export: Some(export),
        };
        assert_eq!(tracer.dropped(), 2);
    }
}
