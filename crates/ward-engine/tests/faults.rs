#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

//! The audit log goes away mid-run: PostgreSQL is reached through a TCP
//! proxy that the test cuts, which to Ward looks exactly like the server
//! stopping. Every decision is then a deny without a receipt, never a
//! permit; once the proxy is back, decisions are normal again.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use ward_audit::{PgStore, Timestamp, Writer, WriterConfig};
use ward_core::{Outcome, PrincipalKind};
use ward_engine::{bundle_record, Engine, EngineConfig, SqliteState, ROLE_ADMIN};

/// A TCP proxy to PostgreSQL that can be cut and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (u, c) = (Arc::clone(&up), Arc::clone(&conns));
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect("127.0.0.1:5432").await {
                        let _ = copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A fresh database, dropped when the guard goes.
struct Database(String);

impl Database {
    fn create() -> Database {
        let name = format!(
            "ward_faults_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let n = name.clone();
        std::thread::spawn(move || {
            let mut admin = postgres::Client::connect(
                "host=127.0.0.1 user=postgres dbname=postgres",
                postgres::NoTls,
            )
            .unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {n}"))
                .unwrap();
            let mut db =
                PgStore::connect(&format!("host=127.0.0.1 user=postgres dbname={n}")).unwrap();
            db.install_schema().unwrap();
        })
        .join()
        .unwrap();
        Database(name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let n = self.0.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(mut admin) = postgres::Client::connect(
                "host=127.0.0.1 user=postgres dbname=postgres",
                postgres::NoTls,
            ) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"));
            }
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_permit_leaves_while_the_audit_log_is_down() {
    let db = Database::create();
    let proxy = Proxy::start().await;
    let conninfo = format!(
        "host=127.0.0.1 port={} user=postgres dbname={} connect_timeout=2",
        proxy.port, db.0
    );
    // The sync PostgreSQL client may not run on a runtime thread.
    let writer = tokio::task::spawn_blocking(move || {
        let store = PgStore::connect(&conninfo).unwrap();
        Writer::start(
            Box::new(store),
            key("ward.faults", 3),
            Arc::new(Timestamp::now),
            WriterConfig::default(),
        )
        .unwrap()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(SqliteState::open(&dir.path().join("state.db")).unwrap());
    let bundle = bundle_record(vec![("bundle.yaml".into(), SUPPORT.into())], None, 0).unwrap();
    let config = EngineConfig {
        decision_budget: std::time::Duration::from_secs(5),
        ..EngineConfig::default()
    };
    let engine = Engine::start(
        state,
        writer,
        ward_engine::system_clock(),
        config,
        None,
        Some(bundle),
    )
    .await
    .unwrap();
    let admin = engine
        .bootstrap_api_key(api_key(
            "*",
            "ops",
            PrincipalKind::User,
            &[ROLE_ADMIN],
            None,
        ))
        .await
        .unwrap();
    let admin = engine.authenticate(&creds(&admin.key)).unwrap();
    engine
        .register_agent(&admin, agent("support-bot", "1.0.0", &[]))
        .await
        .unwrap();
    let key = engine
        .bootstrap_api_key(api_key(
            "acme",
            "svc-support",
            PrincipalKind::Service,
            &["support"],
            Some("support-bot"),
        ))
        .await
        .unwrap()
        .key;
    let _refresh = engine.spawn_refresh();
    let lookup = || call("lookup_order", json!({"order_id": "8812"}));

    let d = engine.decide(&creds(&key), lookup()).await.unwrap();
    assert_eq!(d.decision.outcome, Outcome::Allow);
    assert!(d.decision.receipt.is_some());

    proxy.cut();
    for _ in 0..5 {
        let d = engine.decide(&creds(&key), lookup()).await.unwrap();
        assert_eq!(
            d.decision.outcome,
            Outcome::Deny,
            "{:?}",
            d.decision.reasons
        );
        assert_eq!(d.decision.reasons[0].code.as_str(), "internal_error");
        assert!(
            d.decision.reasons[0]
                .message
                .contains("audit log unavailable"),
            "{}",
            d.decision.reasons[0].message
        );
        assert!(d.decision.receipt.is_none());
    }

    proxy.restore();
    let mut recovered = None;
    for _ in 0..50 {
        let d = engine.decide(&creds(&key), lookup()).await.unwrap();
        if d.decision.outcome == Outcome::Allow {
            recovered = Some(d);
            break;
        }
        assert!(
            d.decision.receipt.is_none(),
            "a deny while recovering has no receipt either"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let d = recovered.expect("decisions are normal again once PostgreSQL is back");
    let verified = ward_verify::verify_receipt(
        d.decision.receipt.unwrap().as_bytes(),
        &ward_verify::VerifierKey::parse(&engine.verifier_key()).unwrap(),
        "r",
    )
    .unwrap();
    assert_eq!(
        verified.index, 1,
        "the denied decisions never reached the log"
    );
}
