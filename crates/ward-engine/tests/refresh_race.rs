#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! Bundle activations racing each other or the state refresh, each in the
//! one order that used to leave this node on another bundle than the store
//! until the next refresh, an activation the store refuses, and two
//! refreshes finishing in the other order than they read.

mod common;

use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use common::stalling::{Hold, Stalling};
use common::SUPPORT;
use ward_audit::{LogKey, SqliteStore, Timestamp, Writer, WriterConfig};
use ward_core::PrincipalKind;
use ward_engine::{bundle_record, system_clock, Credentials, Engine, EngineConfig, SqliteState};

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

/// The operator's bundle path (a hot reload) and the API activate at the
/// same moment. The reload had written the store and not yet swapped when
/// the API activation swapped and wrote; the reload's swap then left this
/// node on its bundle and the store on the API's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_activations_at_once_leave_the_node_and_the_store_on_one_bundle() {
    let hold = Arc::new(std::sync::Mutex::new(None));
    let held = Arc::clone(&hold);
    let f = common::fixture_over(SUPPORT, EngineConfig::default(), move |sqlite| {
        let mut state = Stalling::new(sqlite);
        state.hold_activation = held;
        Arc::new(state)
    })
    .await;
    let record = |version: &str| {
        let text = SUPPORT.replace("version: 1.0.0", &format!("version: {version}"));
        bundle_record(vec![("bundle.yaml".into(), text)], None, common::T0)
    };
    let uploaded = f
        .engine
        .upload_bundle(&f.admin, record("3.0.0").unwrap().files, None)
        .await
        .unwrap();

    let (read, was_read) = sync_channel(1);
    let (go, wait) = sync_channel(1);
    *hold.lock().unwrap() = Some(Hold { read, go: wait });
    let reloading = tokio::spawn({
        let engine = f.engine.clone();
        async move { engine.install_bundle(record("2.0.0").unwrap()).await }
    });
    // The reload has written 2.0.0 to the store and not swapped yet ...
    tokio::task::spawn_blocking(move || was_read.recv())
        .await
        .unwrap()
        .unwrap();
    // ... when the API activates 3.0.0.
    let activating = tokio::spawn({
        let (engine, admin, digest) = (f.engine.clone(), f.admin.clone(), uploaded.digest.clone());
        async move { engine.activate_bundle(&admin, &digest).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    go.send(()).unwrap();
    reloading.await.unwrap().unwrap();
    activating.await.unwrap().unwrap();
    let (_, stored) = f.engine.bundles().await.unwrap();
    let here = f.engine.active_bundle().unwrap().record.digest.clone();
    assert_eq!(Some(here), stored, "this node and the store disagree");
    assert_eq!(version(&f.engine), "3.0.0", "the later activation stands");
}

/// An activation through the API that the store refuses changes nothing:
/// this node goes on deciding under the bundle it had, which is the one the
/// store (and so every other node) still names. It used to switch this node
/// first, so it judged under a bundle no other node ran until its next
/// refresh swapped back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_the_store_refuses_leaves_this_node_on_its_bundle() {
    let refuse = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refusing = Arc::clone(&refuse);
    let f = common::fixture_over(SUPPORT, EngineConfig::default(), move |sqlite| {
        let mut state = Stalling::new(sqlite);
        state.refuse_activation = refusing;
        Arc::new(state)
    })
    .await;
    let v2 = SUPPORT.replace("version: 1.0.0", "version: 2.0.0");
    let uploaded = f
        .engine
        .upload_bundle(&f.admin, vec![("bundle.yaml".into(), v2)], None)
        .await
        .unwrap();
    refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = f.engine.activate_bundle(&f.admin, &uploaded.digest).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("disk I/O error")),
        "{refused:?}"
    );
    assert_eq!(version(&f.engine), "1.0.0", "the node switched anyway");
    let (_, stored) = f.engine.bundles().await.unwrap();
    assert_eq!(
        stored.as_deref(),
        Some(f.engine.active_bundle().unwrap().record.digest.as_str())
    );
    // Once the store takes it, the same activation goes through.
    refuse.store(false, std::sync::atomic::Ordering::SeqCst);
    f.engine
        .activate_bundle(&f.admin, &uploaded.digest)
        .await
        .unwrap();
    assert_eq!(version(&f.engine), "2.0.0");
}

/// A refresh that read the store before an API key was created, and
/// finished after the refresh that creating the key made, used to put back
/// a cache without the key: the new key was refused as unknown until the
/// next refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_read_the_store_before_a_new_key_does_not_hide_it() {
    let hold = Arc::new(std::sync::Mutex::new(None));
    let held = Arc::clone(&hold);
    let f = common::fixture_over(SUPPORT, EngineConfig::default(), move |sqlite| {
        let mut state = Stalling::new(sqlite);
        state.hold = held;
        Arc::new(state)
    })
    .await;
    let (read, was_read) = sync_channel(1);
    let (go, wait) = sync_channel(1);
    *hold.lock().unwrap() = Some(Hold { read, go: wait });
    let refreshing = tokio::spawn({
        let engine = f.engine.clone();
        async move { engine.refresh().await }
    });
    // The refresh has read the keys, before the new one ...
    tokio::task::spawn_blocking(move || was_read.recv())
        .await
        .unwrap()
        .unwrap();
    // ... when the key is created, and its own refresh makes it known ...
    let spec = common::api_key(
        "acme",
        "svc-new",
        PrincipalKind::Service,
        &["support"],
        None,
    );
    let created = f.engine.bootstrap_api_key(spec).await.unwrap();
    let creds = Credentials {
        bearer: Some(created.key),
        on_behalf_of: None,
    };
    assert!(f.engine.authenticate(&creds).is_ok());
    // ... and then the first refresh goes on with what it read.
    go.send(()).unwrap();
    refreshing.await.unwrap().unwrap();
    let known = f.engine.authenticate(&creds);
    assert!(known.is_ok(), "the new key is unknown again: {known:?}");
}
