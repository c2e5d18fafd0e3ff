//! Hot reload of the operator's bundle path.
//!
//! The path (and its `PATH.sig`, if signed) is read every `every`; when
//! either changes, the new bundle is
//! compiled and, if it compiles, archived and activated. Decisions in flight
//! keep the compiled bundle they started with (it is an `Arc`), so a reload
//! drops nothing and judges nothing under a half-loaded bundle. A bundle
//! that does not compile is reported and the running one stays.

use std::path::PathBuf;
use std::time::Duration;

use ward_engine::{bundle_record, Engine};

use crate::node::read_signed_bundle;

/// Watches `path` until the engine is dropped. `on_event` hears each reload
/// and each refusal, in plain words.
pub fn watch_bundle(
    engine: &Engine,
    path: PathBuf,
    every: Duration,
    on_event: impl Fn(&str) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let engine = engine.clone();
    tokio::spawn(async move {
        let mut last = read_signed_bundle(&path).ok();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let (files, signature) = match read_signed_bundle(&path) {
                Ok(f) => f,
                Err(e) => {
                    if last.is_some() {
                        on_event(&format!("bundle reload: {e}; keeping the active bundle"));
                        last = None;
                    }
                    continue;
                }
            };
            let seen = (files, signature);
            if last.as_ref() == Some(&seen) {
                continue;
            }
            last = Some(seen.clone());
            let (files, signature) = seen;
            let outcome = match bundle_record(files, signature, engine.now_ms()) {
                Ok(record) => {
                    let label = format!("{} {} ({})", record.name, record.version, record.digest);
                    match engine.install_bundle(record).await {
                        Ok(()) => format!("bundle reload: activated {label}"),
                        Err(e) => format!("bundle reload refused: {e}; keeping the active bundle"),
                    }
                }
                Err(e) => format!("bundle reload refused: {e}; keeping the active bundle"),
            };
            on_event(&outcome);
        }
    })
}
