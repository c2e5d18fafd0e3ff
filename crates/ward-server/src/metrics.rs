//! Prometheus metrics: decisions by outcome, tool, tenant and reason;
//! latency per pipeline stage; approval latency; kill-switch and
//! break-glass events; and a per-tool alert when the deny rate moves far
//! from its baseline.
//!
//! The deny-rate alert compares two exponentially weighted averages of the
//! same 0/1 series: a slow one (the baseline, about the last
//! [`DenyRateConfig::baseline_calls`] calls) and a fast one (about the last
//! [`DenyRateConfig::recent_calls`]). A policy change or an attack shows as
//! the fast average leaving the slow one.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use ward_core::Outcome;
use ward_engine::Decided;

/// Settings of the deny-rate alert.
#[derive(Debug, Clone, Copy)]
pub struct DenyRateConfig {
    /// Calls the baseline average spans.
    pub baseline_calls: f64,
    /// Calls the recent average spans.
    pub recent_calls: f64,
    /// How far apart (in deny-rate points, 0 to 1) the two may drift before
    /// the alert is raised.
    pub threshold: f64,
    /// Calls a tool must have seen before it can alert.
    pub warmup_calls: u64,
}

impl Default for DenyRateConfig {
    fn default() -> Self {
        DenyRateConfig {
            baseline_calls: 2000.0,
            recent_calls: 50.0,
            threshold: 0.3,
            warmup_calls: 200,
        }
    }
}

/// One tool's deny-rate averages.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct DenyRate {
    pub(crate) baseline: f64,
    pub(crate) recent: f64,
    pub(crate) calls: u64,
}

impl DenyRate {
    /// Adds one call; returns whether the alert now stands.
    pub(crate) fn record(&mut self, denied: bool, config: &DenyRateConfig) -> bool {
        let x = if denied { 1.0 } else { 0.0 };
        self.calls = self.calls.saturating_add(1);
        // Until a window has filled, its weight is 1/n: the plain mean of
        // what it has seen, so the first calls do not skew the baseline.
        let n = self.calls as f64;
        self.baseline += (x - self.baseline) / n.min(config.baseline_calls.max(1.0));
        self.recent += (x - self.recent) / n.min(config.recent_calls.max(1.0));
        self.calls >= config.warmup_calls && (self.recent - self.baseline).abs() > config.threshold
    }
}

/// The gate's metrics, registered in their own registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    decisions: IntCounterVec,
    stage_seconds: HistogramVec,
    decision_seconds: HistogramVec,
    approval_seconds: HistogramVec,
    switch_events: IntCounterVec,
    break_glass: IntCounterVec,
    deny_rate: GaugeVec,
    deny_rate_alert: GaugeVec,
    in_flight: IntGauge,
    shed: IntCounter,
    deny_rates: Mutex<HashMap<String, DenyRate>>,
    deny_config: DenyRateConfig,
}

/// Latency buckets from 50 µs to 2.5 s: decisions are sub-millisecond when
/// healthy and the budget is 500 ms by default.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// Human approval takes seconds to hours.
const APPROVAL_BUCKETS: &[f64] = &[
    1.0,
    5.0,
    15.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4.0 * 3600.0,
    24.0 * 3600.0,
];

fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    made: prometheus::Result<C>,
) -> prometheus::Result<C> {
    let collector = made?;
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new(deny_config: DenyRateConfig) -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let histogram = |name: &str, help: &str, buckets: &[f64], labels: &[&str]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
        };
        Ok(Metrics {
            decisions: registered(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ward_decisions_total",
                        "Decisions by outcome, tool, tenant and first reason code.",
                    ),
                    &["outcome", "tool", "tenant", "reason", "mode"],
                ),
            )?,
            stage_seconds: registered(
                &r,
                histogram(
                    "ward_stage_seconds",
                    "Time spent in each pipeline stage.",
                    LATENCY_BUCKETS,
                    &["stage"],
                ),
            )?,
            decision_seconds: registered(
                &r,
                histogram(
                    "ward_decision_seconds",
                    "Time to decide, from parsed request to durable receipt.",
                    LATENCY_BUCKETS,
                    &["intervention"],
                ),
            )?,
            approval_seconds: registered(
                &r,
                histogram(
                    "ward_approval_seconds",
                    "Time from an approval's creation to its final verdict.",
                    APPROVAL_BUCKETS,
                    &["verdict"],
                ),
            )?,
            switch_events: registered(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ward_switch_events_total",
                        "Kill switches and shadow scopes set and cleared.",
                    ),
                    &["kind", "action"],
                ),
            )?,
            break_glass: registered(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ward_break_glass_events_total",
                        "Break-glass overrides opened, and decisions they overrode.",
                    ),
                    &["event"],
                ),
            )?,
            deny_rate: registered(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "ward_tool_deny_rate",
                        "Per-tool deny rate: the recent average and the baseline.",
                    ),
                    &["tool", "window"],
                ),
            )?,
            deny_rate_alert: registered(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "ward_tool_deny_rate_alert",
                        "1 while a tool's recent deny rate is far from its baseline.",
                    ),
                    &["tool"],
                ),
            )?,
            in_flight: registered(
                &r,
                IntGauge::new(
                    "ward_decisions_in_flight",
                    "Decisions admitted and not yet answered (at most --max-in-flight).",
                ),
            )?,
            shed: registered(
                &r,
                IntCounter::new(
                    "ward_shed_total",
                    "Requests answered 503 overloaded: --max-in-flight decisions were in flight.",
                ),
            )?,
            registry: r,
            deny_rates: Mutex::new(HashMap::new()),
            deny_config,
        })
    }

    /// Records one decision.
    pub fn decided(&self, d: &Decided, total: std::time::Duration) {
        let decision = &d.decision;
        let tool = d.request.tool.as_deref().unwrap_or("-");
        let reason = decision.reasons.first().map_or("-", |r| r.code.as_str());
        self.decisions
            .with_label_values(&[
                decision.outcome.as_str(),
                tool,
                d.request.actor.tenant.as_str(),
                reason,
                decision.mode.as_str(),
            ])
            .inc();
        for (stage, spent) in &d.stages {
            self.stage_seconds
                .with_label_values(&[stage.as_str()])
                .observe(spent.as_secs_f64());
        }
        self.decision_seconds
            .with_label_values(&[d.request.intervention.as_str()])
            .observe(total.as_secs_f64());
        if decision.mode == ward_core::Mode::Override {
            self.break_glass.with_label_values(&["used"]).inc();
        }
        if d.request.tool.is_some() && !d.replayed {
            self.deny_sample(tool, decision.outcome == Outcome::Deny);
        }
    }

    fn deny_sample(&self, tool: &str, denied: bool) {
        let Ok(mut rates) = self.deny_rates.lock() else {
            return;
        };
        let rate = rates.entry(tool.to_owned()).or_default();
        let alert = rate.record(denied, &self.deny_config);
        let snapshot = *rate;
        drop(rates);
        self.deny_rate
            .with_label_values(&[tool, "recent"])
            .set(snapshot.recent);
        self.deny_rate
            .with_label_values(&[tool, "baseline"])
            .set(snapshot.baseline);
        self.deny_rate_alert
            .with_label_values(&[tool])
            .set(if alert { 1.0 } else { 0.0 });
    }

    /// Records a kill switch or shadow scope set or cleared.
    pub fn switch_event(&self, kind: &str, action: &str) {
        self.switch_events.with_label_values(&[kind, action]).inc();
    }

    /// Records a break-glass override being opened.
    pub fn break_glass_opened(&self) {
        self.break_glass.with_label_values(&["opened"]).inc();
    }

    /// Records an approval reaching its verdict after `seconds`.
    pub fn approval_settled(&self, verdict: &str, seconds: f64) {
        self.approval_seconds
            .with_label_values(&[verdict])
            .observe(seconds.max(0.0));
    }

    /// Counts one decision in flight until the guard is dropped.
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Records a request shed by admission control.
    pub(crate) fn shed(&self) {
        self.shed.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail on I/O; a metric family that does
        // not encode is left out rather than failing the scrape.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// A decision in flight, counted in `ward_decisions_in_flight`.
pub(crate) struct InFlight<'a>(&'a IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn a_steady_deny_rate_never_alerts() {
        let config = DenyRateConfig::default();
        let mut rate = DenyRate::default();
        for i in 0..10_000 {
            // One deny in ten, all the time.
            assert!(!rate.record(i % 10 == 0, &config), "call {i}: {rate:?}");
        }
        assert!((rate.baseline - 0.1).abs() < 0.05, "{rate:?}");
    }

    #[test]
    fn a_jump_in_denies_alerts_and_a_return_clears_it() {
        let config = DenyRateConfig::default();
        let mut rate = DenyRate::default();
        for i in 0..5_000 {
            rate.record(i % 20 == 0, &config);
        }
        let alerted = (0..200).any(|_| rate.record(true, &config));
        assert!(alerted, "{rate:?}");
        let mut cleared = false;
        for i in 0..2_000 {
            if !rate.record(i % 20 == 0, &config) {
                cleared = true;
                break;
            }
        }
        assert!(cleared, "{rate:?}");
    }

    #[test]
    fn no_alert_before_warmup() {
        let config = DenyRateConfig::default();
        let mut rate = DenyRate::default();
        for _ in 0..100 {
            assert!(!rate.record(false, &config));
        }
        for _ in 0..50 {
            assert!(!rate.record(true, &config), "{rate:?}");
        }
    }

    #[test]
    fn render_names_every_family() {
        let m = Metrics::new(DenyRateConfig::default()).unwrap();
        m.switch_event("kill", "set");
        m.break_glass_opened();
        m.approval_settled("approved", 12.0);
        m.shed();
        let held = m.in_flight();
        let text = m.render();
        for name in [
            "ward_switch_events_total",
            "ward_break_glass_events_total",
            "ward_approval_seconds",
            "\nward_decisions_in_flight 1\n",
            "\nward_shed_total 1\n",
        ] {
            assert!(text.contains(name), "{name} missing:\n{text}");
        }
        drop(held);
        assert!(m.render().contains("\nward_decisions_in_flight 0\n"));
    }
}
