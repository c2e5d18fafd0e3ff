#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! The state refresh and a local bundle activation, in the one order that
//! used to lose the activation: the refresh reads the store's active bundle,
//! the operator's new bundle is activated, then the refresh acts on what it
//! read. It used to swap the older bundle back in until the next refresh.

mod common;

use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use common::stalling::{Hold, Stalling};
use common::SUPPORT;
use ward_audit::{LogKey, SqliteStore, Timestamp, Writer, WriterConfig};
use ward_engine::{bundle_record, system_clock, Engine, EngineConfig, SqliteState};

fn version(engine: &Engine) -> String {
    engine.active_bundle().unwrap().record.version.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_read_the_store_before_an_activation_does_not_undo_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Stalling::new(
        SqliteState::open(&dir.path().join("state.db")).unwrap(),
    ));
    let hold = Arc::clone(&state.hold);
    let audit = Writer::start(
        Box::new(SqliteStore::open(&dir.path().join("audit.db")).unwrap()),
        LogKey::from_seed("ward/test", [3; 32]).unwrap(),
        Arc::new(Timestamp::now),
        WriterConfig::default(),
    )
    .unwrap();
    let record = |text: String, at| bundle_record(vec![("bundle.yaml".into(), text)], None, at);
    let v1 = record(SUPPORT.to_owned(), 1_000).unwrap();
    let v2 = record(SUPPORT.replace("version: 1.0.0", "version: 2.0.0"), 2_000).unwrap();
    let engine = Engine::start(
        state,
        audit,
        system_clock(),
        EngineConfig::default(),
        None,
        Some(v1),
    )
    .await
    .unwrap();
    assert_eq!(version(&engine), "1.0.0");

    let (read, was_read) = sync_channel(1);
    let (go, wait) = sync_channel(1);
    *hold.lock().unwrap() = Some(Hold { read, go: wait });
    let refreshing = tokio::spawn({
        let engine = engine.clone();
        async move { engine.refresh().await }
    });
    // The refresh has read 1.0.0 as the store's active bundle ...
    tokio::task::spawn_blocking(move || was_read.recv())
        .await
        .unwrap()
        .unwrap();
    // ... when the operator's 2.0.0 is activated ...
    engine.install_bundle(v2).await.unwrap();
    assert_eq!(version(&engine), "2.0.0");
    // ... and then the refresh goes on with what it read.
    go.send(()).unwrap();
    refreshing.await.unwrap().unwrap();
    assert_eq!(
        version(&engine),
        "2.0.0",
        "the refresh undid the activation"
    );
    // The next refresh reads the store after the activation and agrees.
    engine.refresh().await.unwrap();
    assert_eq!(version(&engine), "2.0.0");
}
