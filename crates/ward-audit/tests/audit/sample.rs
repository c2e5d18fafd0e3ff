//! A sample produced by ward-audit's real writer, committed under
//! `testdata/audit/sample/` for `ward-verify` to read (the other direction
//! of "two implementations, one corpus"). Deterministic: fixed keys, clock
//! and batching. Regenerate with `WARD_REGEN_AUDIT=1 cargo test -p ward-audit`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ward_audit::{
    check_export, export_log, AppendRequest, LogKey, SqliteStore, Timestamp, Writer, WriterConfig,
};

use crate::common::{refund, Q3};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/audit/sample")
}

fn key(seed: u8) -> LogKey {
    LogKey::from_seed("ward/audit-sample", [seed; 32]).unwrap()
}

/// Appends `batches` through the writer, each inner list as one batch.
fn append_batches(writer: &Writer, batches: Vec<Vec<AppendRequest>>) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut receipts = Vec::new();
    for batch in batches {
        let results = rt.block_on(futures_join(writer, batch));
        receipts.extend(results.into_iter().map(|r| r.unwrap().encode()));
    }
    receipts
}

async fn futures_join(
    writer: &Writer,
    batch: Vec<AppendRequest>,
) -> Vec<Result<ward_audit::Receipt, ward_audit::AuditError>> {
    // Polling the futures in order submits them in order, inside one window.
    let futures: Vec<_> = batch
        .into_iter()
        .map(|r| Box::pin(writer.append(r)))
        .collect();
    let mut out = Vec::new();
    let mut pending = futures;
    // Poll every future once (submitting it), then await them in order.
    for f in pending.iter_mut() {
        let _ = futures_poll_once(f).await;
    }
    for f in pending {
        out.push(f.await);
    }
    out
}

async fn futures_poll_once<F: std::future::Future + Unpin>(
    f: &mut F,
) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *f).poll(cx))).await
}

fn generate(out: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sample.db");
    let clock = Arc::new(|| Timestamp::from_unix_millis(Q3 + 3_600_000));
    let config = WriterConfig {
        window: Duration::from_millis(200),
        ..WriterConfig::default()
    };
    let old = Writer::start(
        Box::new(SqliteStore::open(&db).unwrap()),
        key(5),
        clock.clone(),
        config.clone(),
    )
    .unwrap();
    let amounts = [120, 900, 40, 510, 75, 1300];
    let mut n = 0u64;
    let mut next = |size: usize| -> Vec<AppendRequest> {
        (0..size)
            .map(|_| {
                n += 1;
                let outcome = if amounts[(n as usize) % 6] > 500 {
                    "require_approval"
                } else {
                    "allow"
                };
                refund("acme", n, amounts[(n as usize) % 6], outcome, Q3 + n * 1000)
            })
            .collect()
    };
    let mut receipts = append_batches(&old, vec![next(1), next(2), next(3)]);
    drop(old);
    let rotation = WriterConfig {
        rotate: true,
        ..config
    };
    let new = Writer::start(
        Box::new(SqliteStore::open(&db).unwrap()),
        key(6),
        clock,
        rotation,
    )
    .unwrap();
    receipts.extend(append_batches(&new, vec![next(2)]));
    drop(new);

    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out.join("receipts")).unwrap();
    let mut store = SqliteStore::open(&db).unwrap();
    export_log(&mut store, &key(5).origin("acme"), &out.join("acme-old")).unwrap();
    export_log(&mut store, &key(6).origin("acme"), &out.join("acme-new")).unwrap();
    std::fs::write(out.join("old.vkey"), format!("{}\n", key(5).verifier())).unwrap();
    std::fs::write(out.join("new.vkey"), format!("{}\n", key(6).verifier())).unwrap();
    for (i, r) in receipts.iter().enumerate() {
        std::fs::write(
            out.join("receipts")
                .join(format!("{:02}.tlog-proof", i + 1)),
            r,
        )
        .unwrap();
    }
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != "README.md" {
                out.push((
                    p.strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_committed_sample_is_what_the_writer_writes() {
    let committed = sample_dir();
    if std::env::var_os("WARD_REGEN_AUDIT").is_some() {
        generate(&committed);
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("sample");
    generate(&fresh);
    assert_eq!(
        files(&fresh),
        files(&committed),
        "regenerate with WARD_REGEN_AUDIT=1"
    );
    check_export(&committed.join("acme-old"), &key(5).verifier()).unwrap();
    check_export(&committed.join("acme-new"), &key(6).verifier()).unwrap();
}
