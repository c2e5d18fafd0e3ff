//! Circuit breakers, one per tool, fed by `post_tool_call` reports.
//!
//! A breaker keeps the last `window` results of its tool. When at least
//! `min_calls` are known and the error share reaches `error_rate`, it opens:
//! calls are denied (`circuit_open`) for `cooldown`. Then one probe call is
//! let through (half-open); its result closes or re-opens the breaker.
//! Breakers are per node: each node judges the tools it sees fail.

use std::collections::{HashMap, VecDeque};

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Results remembered per tool.
    pub window: usize,
    /// Results needed before the breaker may open.
    pub min_calls: usize,
    /// Error share, 0 to 1, that opens the breaker.
    pub error_rate: f64,
    /// How long an open breaker denies, in milliseconds.
    pub cooldown_ms: i64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window: 20,
            min_calls: 10,
            error_rate: 0.5,
            cooldown_ms: 30_000,
        }
    }
}

#[derive(Debug, Default)]
struct Breaker {
    results: VecDeque<bool>,
    open_until_ms: Option<i64>,
    probing: bool,
}

/// What a breaker says about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed: go ahead.
    Closed,
    /// Half-open: this call is the probe.
    Probe,
    /// Open until the given time.
    Open(i64),
}

/// Every tool's breaker.
#[derive(Debug, Default)]
pub struct Breakers {
    config: BreakerConfig,
    tools: HashMap<String, Breaker>,
}

impl Breakers {
    /// No breaker open.
    pub fn new(config: BreakerConfig) -> Breakers {
        Breakers {
            config,
            tools: HashMap::new(),
        }
    }

    /// Whether a call to `tool` may go ahead at `now_ms`.
    pub fn admit(&mut self, tool: &str, now_ms: i64) -> Admit {
        let Some(b) = self.tools.get_mut(tool) else {
            return Admit::Closed;
        };
        match b.open_until_ms {
            None => Admit::Closed,
            Some(until) if now_ms < until => Admit::Open(until),
            Some(until) if b.probing => Admit::Open(until),
            Some(_) => {
                b.probing = true;
                Admit::Probe
            }
        }
    }

    /// Records a result of `tool`; returns `true` if this opened the breaker.
    pub fn record(&mut self, tool: &str, ok: bool, now_ms: i64) -> bool {
        let config = self.config;
        let b = self.tools.entry(tool.to_owned()).or_default();
        if b.open_until_ms.is_some() {
            if !b.probing {
                // A late result of a call made before the breaker opened.
                return false;
            }
            b.probing = false;
            if ok {
                b.open_until_ms = None;
                b.results.clear();
                return false;
            }
            b.open_until_ms = Some(now_ms.saturating_add(config.cooldown_ms));
            return true;
        }
        b.results.push_back(ok);
        while b.results.len() > config.window.max(1) {
            b.results.pop_front();
        }
        let errors = b.results.iter().filter(|ok| !**ok).count();
        let n = b.results.len();
        #[expect(clippy::cast_precision_loss, reason = "window sizes are small")]
        let share = errors as f64 / n.max(1) as f64;
        if n >= config.min_calls && share >= config.error_rate {
            b.open_until_ms = Some(now_ms.saturating_add(config.cooldown_ms));
            return true;
        }
        false
    }

    /// Tools whose breaker is open or half-open.
    pub fn open_tools(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .tools
            .iter()
            .filter(|(_, b)| b.open_until_ms.is_some())
            .map(|(t, _)| t.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_errors_then_probes_and_closes() {
        let mut b = Breakers::new(BreakerConfig {
            window: 10,
            min_calls: 4,
            error_rate: 0.5,
            cooldown_ms: 1000,
        });
        assert_eq!(b.admit("t", 0), Admit::Closed);
        assert!(!b.record("t", true, 0));
        assert!(!b.record("t", false, 1));
        assert!(!b.record("t", true, 2));
        assert!(b.record("t", false, 3), "2 of 4 failed");
        assert_eq!(b.admit("t", 500), Admit::Open(1003));
        assert_eq!(b.admit("other", 500), Admit::Closed);
        assert_eq!(b.admit("t", 1003), Admit::Probe);
        assert_eq!(b.admit("t", 1004), Admit::Open(1003), "one probe at a time");
        assert!(b.record("t", false, 1100), "a failed probe re-opens");
        assert_eq!(b.admit("t", 1200), Admit::Open(2100));
        assert_eq!(b.admit("t", 2100), Admit::Probe);
        assert!(!b.record("t", true, 2101));
        assert_eq!(b.admit("t", 2102), Admit::Closed);
        assert!(b.open_tools().is_empty());
    }
}
