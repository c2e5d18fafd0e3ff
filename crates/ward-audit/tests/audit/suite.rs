//! The store test suite, written once and run on SQLite and PostgreSQL.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ward_audit::{
    check, check_export, export_log, forget_payload, logs_of, query, ArgFilter, ArgOp, ArgValue,
    AuditError, Batch, CheckpointRow, EntryRow, Filter, Hit, LogAppend, LogInfo, LogState, Receipt,
    SignedCheckpoint, Store, StoreError, Syncer, Timestamp, Writer, WriterConfig,
};

use ward_audit::merkle::NodeId;

use crate::common::{assert_receipt_holds, key, refund, ticking_clock, Q3};

pub(crate) type Open<'a> = &'a dyn Fn() -> Box<dyn Store>;

fn config() -> WriterConfig {
    WriterConfig {
        indexed_args: vec!["amount".to_owned()],
        ..WriterConfig::default()
    }
}

pub(crate) fn appends_verify_and_survive_restart(open: Open<'_>) {
    let k = key(1);
    let writer = Writer::start(open(), key(1), ticking_clock(Q3), config()).unwrap();
    let mut receipts = Vec::new();
    for n in 0..10 {
        receipts.push(
            writer
                .append_blocking(refund("acme", n, 100, "allow", Q3 + n))
                .unwrap(),
        );
    }
    writer.shutdown();
    for (n, r) in receipts.iter().enumerate() {
        assert_eq!(r.index, n as u64);
        assert_eq!(r.checkpoint.checkpoint().origin, k.origin("acme"));
    }
    // A restart continues the same log.
    let writer = Writer::start(open(), key(1), ticking_clock(Q3), config()).unwrap();
    let r = writer
        .append_blocking(refund("acme", 10, 100, "allow", Q3 + 10))
        .unwrap();
    assert_eq!(r.index, 10);
    receipts.push(r);
    drop(writer);
    let mut store = open();
    for r in &receipts {
        assert_receipt_holds(store.as_mut(), &k.verifier(), r);
    }
    let report = check(store.as_mut(), "acme").unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].size, 11);
}

pub(crate) fn concurrent_group_commit(open: Open<'_>) {
    let k = key(2);
    let writer = Arc::new(Writer::start(open(), key(2), ticking_clock(Q3), config()).unwrap());
    let threads = 8;
    let per_thread = 40u64;
    let mut handles = Vec::new();
    for t in 0..threads {
        let writer = Arc::clone(&writer);
        handles.push(std::thread::spawn(move || {
            let tenant = ["acme", "beta", "gamma"][t % 3];
            (0..per_thread)
                .map(|i| {
                    let n = t as u64 * 1000 + i;
                    writer
                        .append_blocking(refund(tenant, n, n % 900, "allow", Q3 + n))
                        .unwrap()
                })
                .collect::<Vec<Receipt>>()
        }));
    }
    let receipts: Vec<Receipt> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    // The async path goes through the same batches.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let async_receipts: Vec<Receipt> = rt.block_on(async {
        let tasks: Vec<_> = (0..32u64)
            .map(|i| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move {
                    writer
                        .append(refund("acme", 90_000 + i, 10, "deny", Q3))
                        .await
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    drop(writer);
    let mut store = open();
    let all: Vec<&Receipt> = receipts.iter().chain(&async_receipts).collect();
    for r in &all {
        assert_receipt_holds(store.as_mut(), &k.verifier(), r);
    }
    for tenant in ["acme", "beta", "gamma"] {
        let origin = k.origin(tenant);
        let stored: Vec<CheckpointRow> = store.checkpoints(&origin).unwrap();
        // One checkpoint per tenant per batch: every stored checkpoint is the
        // one some receipt of its batch carries, and sizes strictly grow.
        let from_receipts: BTreeSet<&str> = all
            .iter()
            .filter(|r| r.checkpoint.checkpoint().origin == origin)
            .map(|r| r.checkpoint.text())
            .collect();
        let stored_notes: BTreeSet<&str> = stored.iter().map(|c| c.note.as_str()).collect();
        assert_eq!(from_receipts, stored_notes, "{tenant}");
        assert!(stored.windows(2).all(|w| w[0].size < w[1].size), "{tenant}");
        let appended = all
            .iter()
            .filter(|r| r.checkpoint.checkpoint().origin == origin)
            .count();
        assert!(
            stored.len() < appended,
            "{tenant}: {} checkpoints for {appended} appends: no batching",
            stored.len()
        );
        check(store.as_mut(), tenant).unwrap();
    }
}

pub(crate) fn queries_are_bounded_by_checkpoints(open: Open<'_>) {
    let k = key(3);
    let writer = Writer::start(open(), key(3), ticking_clock(Q3), config()).unwrap();
    let day = 86_400_000;
    // Q2, Q3 and Q4 refunds, small and large, allowed and denied.
    for n in 0..30u64 {
        let time = Q3 - 30 * day + n * 6 * day;
        let amount = 100 + (n % 4) * 250;
        let outcome = if n % 5 == 0 { "deny" } else { "allow" };
        writer
            .append_blocking(refund("acme", n, amount, outcome, time))
            .unwrap();
        writer
            .append_blocking(refund("other", n, amount, outcome, time))
            .unwrap();
    }
    drop(writer);
    let mut store = open();
    let filter = Filter {
        tenant: "acme".into(),
        from: Some(Timestamp::from_unix_millis(Q3)),
        until: Some(Timestamp::from_unix_millis(Q3 + 92 * day)),
        outcome: Some("allow".into()),
        tool: Some("refund".into()),
        args: vec![ArgFilter {
            path: "amount".into(),
            op: ArgOp::Gt,
            value: ArgValue::Number(500.0),
        }],
        ..Filter::default()
    };
    let answers = query(store.as_mut(), &filter).unwrap();
    assert_eq!(answers.len(), 1);
    let a = &answers[0];
    assert_eq!(a.origin, k.origin("acme"));
    let want: Vec<u64> = (0..30u64)
        .filter(|n| {
            let time = Q3 - 30 * day + n * 6 * day;
            let amount = 100 + (n % 4) * 250;
            (Q3..Q3 + 92 * day).contains(&time) && amount > 500 && n % 5 != 0
        })
        .collect();
    assert!(!want.is_empty());
    let got: Vec<u64> = a.entries.iter().map(|(i, _)| *i).collect();
    assert_eq!(got, want, "one entry per append, so index == n");
    let lower = a
        .lower
        .as_ref()
        .unwrap()
        .verify(&k.verifier())
        .unwrap()
        .size;
    let upper = a
        .upper
        .as_ref()
        .unwrap()
        .verify(&k.verifier())
        .unwrap()
        .size;
    // Every entry of the period lies in [lower, upper), and the bounds are tight.
    let period: Vec<u64> = (0..30u64)
        .filter(|n| (Q3..Q3 + 92 * day).contains(&(Q3 - 30 * day + n * 6 * day)))
        .collect();
    assert_eq!(lower, period[0]);
    assert_eq!(upper, period[period.len() - 1] + 1);

    let by_rule = Filter {
        tenant: "acme".into(),
        rule: Some("refunds.large".into()),
        ..Filter::default()
    };
    let large = query(store.as_mut(), &by_rule).unwrap();
    assert_eq!(
        large[0].entries.len(),
        (0..30).filter(|n| 100 + (n % 4) * 250 > 500).count()
    );
    let by_principal = Filter {
        tenant: "acme".into(),
        principal: Some("u-1".into()),
        limit: Some(3),
        ..Filter::default()
    };
    assert_eq!(
        query(store.as_mut(), &by_principal).unwrap()[0]
            .entries
            .len(),
        3
    );
    let by_agent = Filter {
        tenant: "acme".into(),
        agent: Some("nobody".into()),
        ..Filter::default()
    };
    assert!(query(store.as_mut(), &by_agent).unwrap()[0]
        .entries
        .is_empty());
}

pub(crate) fn payloads_can_be_forgotten(open: Open<'_>) {
    let k = key(4);
    let writer = Writer::start(open(), key(4), ticking_clock(Q3), config()).unwrap();
    let receipt = writer
        .append_blocking(refund("acme", 1, 750, "allow", Q3))
        .unwrap();
    drop(writer);
    let mut store = open();
    let origin = k.origin("acme");
    let payload = store.payload(&origin, 0).unwrap().unwrap();
    assert_eq!(payload, br#"{"amount":750,"order_id":"o-1"}"#);
    let over = Filter {
        tenant: "acme".into(),
        args: vec![ArgFilter {
            path: "amount".into(),
            op: ArgOp::Ge,
            value: ArgValue::Number(750.0),
        }],
        ..Filter::default()
    };
    assert_eq!(query(store.as_mut(), &over).unwrap()[0].entries.len(), 1);
    assert!(forget_payload(store.as_mut(), &origin, 0).unwrap());
    assert!(!forget_payload(store.as_mut(), &origin, 0).unwrap());
    assert_eq!(store.payload(&origin, 0).unwrap(), None);
    assert!(
        query(store.as_mut(), &over).unwrap()[0].entries.is_empty(),
        "indexed values go with the payload"
    );
    check(store.as_mut(), "acme").unwrap();
    assert_receipt_holds(store.as_mut(), &k.verifier(), &receipt);
}

pub(crate) fn exports_follow_the_format(open: Open<'_>) {
    let k = key(5);
    let writer = Writer::start(open(), key(5), ticking_clock(Q3), config()).unwrap();
    for n in 0..7 {
        writer
            .append_blocking(refund("acme", n, 10, "allow", Q3))
            .unwrap();
    }
    drop(writer);
    let mut store = open();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("acme");
    export_log(store.as_mut(), &k.origin("acme"), &out).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("origin")).unwrap(),
        format!("{}\n", k.origin("acme"))
    );
    let jsonl = std::fs::read(out.join("entries.jsonl")).unwrap();
    assert_eq!(jsonl.iter().filter(|b| **b == b'\n').count(), 7);
    assert!(jsonl.ends_with(b"\n"));
    let mut names: Vec<String> = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        (1..=7).map(|i| format!("{i:04}.txt")).collect::<Vec<_>>()
    );
    let mut prev: Option<SignedCheckpoint> = None;
    for name in &names {
        let cp = SignedCheckpoint::parse(
            &std::fs::read_to_string(out.join("checkpoints").join(name)).unwrap(),
        )
        .unwrap();
        cp.verify(&k.verifier()).unwrap();
        if let Some(p) = prev {
            let proof = ward_audit::ConsistencyProof::parse(
                &std::fs::read_to_string(out.join("proofs").join(name)).unwrap(),
            )
            .unwrap();
            assert!(proof.verify(p.checkpoint(), cp.checkpoint()));
        }
        prev = Some(cp);
    }
    assert!(!out.join("previous").exists());
    let report = check_export(&out, &k.verifier()).unwrap();
    assert_eq!((report.size, report.checkpoints), (7, 7));
    assert!(
        export_log(store.as_mut(), &k.origin("acme"), &out).is_err(),
        "never writes over an export"
    );
}

pub(crate) fn rotation_chains_logs(open: Open<'_>) {
    let (k1, k2) = (key(6), key(7));
    let writer = Writer::start(open(), key(6), ticking_clock(Q3), config()).unwrap();
    for n in 0..5 {
        writer
            .append_blocking(refund("acme", n, 10, "allow", Q3))
            .unwrap();
    }
    drop(writer);
    let refused = Writer::start(open(), key(7), ticking_clock(Q3), config()).unwrap_err();
    assert!(
        matches!(refused, AuditError::KeyMismatch { .. }),
        "{refused}"
    );
    let writer = Writer::start(
        open(),
        key(7),
        ticking_clock(Q3),
        WriterConfig {
            rotate: true,
            ..config()
        },
    )
    .unwrap();
    let r = writer
        .append_blocking(refund("acme", 5, 10, "allow", Q3))
        .unwrap();
    drop(writer);
    assert_eq!(r.checkpoint.checkpoint().origin, k2.origin("acme"));
    assert_eq!(
        r.index, 1,
        "entry 0 of the new log is the rotation statement"
    );
    let mut store = open();
    let logs: Vec<LogState> = logs_of(store.as_mut(), "acme").unwrap();
    assert_eq!(logs.len(), 2);
    let old = logs
        .iter()
        .find(|l| l.info.origin == k1.origin("acme"))
        .unwrap();
    assert!(old.closed);
    let report = check(store.as_mut(), "acme").unwrap();
    assert_eq!(report.len(), 2);
    let first =
        String::from_utf8(store.entries(&k2.origin("acme"), 0, 1).unwrap().remove(0)).unwrap();
    assert!(first.contains(r#""kind":"rotation""#), "{first}");
    assert!(
        first.contains(&format!(r#""key":"{}""#, k1.verifier())),
        "{first}"
    );
    let dir = tempfile::tempdir().unwrap();
    export_log(store.as_mut(), &k2.origin("acme"), &dir.path().join("new")).unwrap();
    let previous = std::fs::read_to_string(dir.path().join("new/previous/checkpoint.txt")).unwrap();
    let previous = SignedCheckpoint::parse(&previous).unwrap();
    previous.verify(&k1.verifier()).unwrap();
    previous.verify_signature(&k2.verifier()).unwrap();
    assert_eq!(previous.checkpoint().size, 5);
    check_export(&dir.path().join("new"), &k2.verifier()).unwrap();
    export_log(store.as_mut(), &k1.origin("acme"), &dir.path().join("old")).unwrap();
    check_export(&dir.path().join("old"), &k1.verifier()).unwrap();
    // Restarting with the new key again is an ordinary restart.
    let writer = Writer::start(open(), key(7), ticking_clock(Q3), config()).unwrap();
    assert_eq!(
        writer
            .append_blocking(refund("acme", 6, 10, "allow", Q3))
            .unwrap()
            .index,
        2
    );
}

/// A store whose commits fail while `fail` is set, and whose flushes fail
/// while `unflushable` is (its syncer then flushes `/dev/null`, which the
/// kernel refuses with EINVAL).
pub(crate) struct Flaky {
    pub(crate) inner: Box<dyn Store>,
    pub(crate) fail: Arc<AtomicBool>,
    pub(crate) unflushable: Arc<AtomicBool>,
}

impl Store for Flaky {
    fn logs(&mut self) -> Result<Vec<LogState>, StoreError> {
        self.inner.logs()
    }
    fn stored_nodes(&mut self, origin: &str, ids: &[NodeId]) -> Result<Vec<[u8; 32]>, StoreError> {
        self.inner.stored_nodes(origin, ids)
    }
    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Database {
                path: "flaky".into(),
                message: "disk full".into(),
            });
        }
        self.inner.commit(batch)
    }
    fn commit_unsynced(&mut self, batch: &Batch) -> Result<Option<Syncer>, StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return self.commit(batch).map(|()| None);
        }
        let syncer = self.inner.commit_unsynced(batch)?;
        if self.unflushable.load(Ordering::SeqCst) {
            let null = std::fs::File::open("/dev/null").unwrap();
            return Ok(Some(Syncer::new(null, "/dev/null")));
        }
        Ok(syncer)
    }
    fn entries(&mut self, origin: &str, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.entries(origin, start, end)
    }
    fn checkpoints(&mut self, origin: &str) -> Result<Vec<CheckpointRow>, StoreError> {
        self.inner.checkpoints(origin)
    }
    fn payload(&mut self, origin: &str, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.payload(origin, index)
    }
    fn forget_payload(&mut self, origin: &str, index: u64) -> Result<bool, StoreError> {
        self.inner.forget_payload(origin, index)
    }
    fn query(&mut self, filter: &Filter) -> Result<Vec<Hit>, StoreError> {
        self.inner.query(filter)
    }
    fn time_bounds(
        &mut self,
        origin: &str,
        from: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        self.inner.time_bounds(origin, from, until)
    }
}

pub(crate) fn store_failures_fail_every_waiter(open: Open<'_>) {
    let k = key(8);
    let fail = Arc::new(AtomicBool::new(false));
    let store = Box::new(Flaky {
        inner: open(),
        fail: Arc::clone(&fail),
        unflushable: Arc::default(),
    });
    let config = WriterConfig {
        window: Duration::from_millis(20),
        ..config()
    };
    let writer = Arc::new(Writer::start(store, key(8), ticking_clock(Q3), config).unwrap());
    writer
        .append_blocking(refund("acme", 0, 10, "allow", Q3))
        .unwrap();
    fail.store(true, Ordering::SeqCst);
    let handles: Vec<_> = (1..9u64)
        .map(|n| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || writer.append_blocking(refund("acme", n, 10, "allow", Q3)))
        })
        .collect();
    for h in handles {
        let err = h.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
    fail.store(false, Ordering::SeqCst);
    let r = writer
        .append_blocking(refund("acme", 9, 10, "allow", Q3))
        .unwrap();
    assert_eq!(r.index, 1, "nothing of the failed batch was kept");
    drop(writer);
    let mut store = open();
    assert_receipt_holds(store.as_mut(), &k.verifier(), &r);
    assert_eq!(check(store.as_mut(), "acme").unwrap()[0].size, 2);
}

/// A failed flush fails its batch and every append after it, until the
/// writer is restarted: the kernel may have dropped the pages it could not
/// write, so nothing after the last good flush is known to be on disk.
pub(crate) fn a_failed_flush_stops_the_log_until_restart(open: Open<'_>) {
    let k = key(6);
    let unflushable = Arc::new(AtomicBool::new(false));
    let store = Box::new(Flaky {
        inner: open(),
        fail: Arc::default(),
        unflushable: Arc::clone(&unflushable),
    });
    let writer = Writer::start(store, key(6), ticking_clock(Q3), config()).unwrap();
    let kept = writer
        .append_blocking(refund("acme", 0, 10, "allow", Q3))
        .unwrap();
    unflushable.store(true, Ordering::SeqCst);
    let err = writer
        .append_blocking(refund("acme", 1, 10, "allow", Q3))
        .unwrap_err();
    assert!(err.to_string().contains("cannot flush"), "{err}");
    unflushable.store(false, Ordering::SeqCst);
    let err = writer
        .append_blocking(refund("acme", 2, 10, "allow", Q3))
        .unwrap_err();
    assert!(
        err.to_string().contains("until the writer is restarted"),
        "{err}"
    );
    drop(writer);
    // A restarted writer goes on from what the store holds.
    let writer = Writer::start(open(), key(6), ticking_clock(Q3), config()).unwrap();
    let next = writer
        .append_blocking(refund("acme", 3, 10, "allow", Q3))
        .unwrap();
    drop(writer);
    let mut store = open();
    assert_receipt_holds(store.as_mut(), &k.verifier(), &kept);
    assert_receipt_holds(store.as_mut(), &k.verifier(), &next);
}

/// A batch that conflicts with what is stored (an entry index taken twice)
/// fails as a whole: none of its rows, in any table, stay behind, and the
/// store takes the next batch.
pub(crate) fn a_conflicting_batch_leaves_nothing_behind(open: Open<'_>) {
    let mut store = open();
    let origin = key(7).origin("acme");
    // Real entry bytes: a store may derive its index from them.
    let row = |index: u64| EntryRow {
        index,
        bytes: refund("acme", index, 10, "allow", Q3)
            .entry
            .bytes()
            .to_vec(),
        kind: "decision".into(),
        time: format!("2026-07-01T00:00:0{index}.000Z"),
        tool: Some("refund".into()),
        outcome: Some("allow".into()),
        principal: Some("u-1".into()),
        agent: Some("bot".into()),
        decision_id: Some(format!("d-{index}")),
        rules: vec!["refunds.small".into()],
        payload: Some(b"{\"amount\":10}".to_vec()),
        args: vec![("amount".into(), ArgValue::Number(10.0))],
    };
    let append = |entries: Vec<EntryRow>, create: bool| Batch {
        logs: vec![LogAppend {
            origin: origin.clone(),
            create: create.then(|| LogInfo {
                origin: origin.clone(),
                tenant: "acme".into(),
                key_name: "ward/test".into(),
                verifier_key: key(7).verifier().to_string(),
            }),
            nodes: Vec::new(),
            checkpoints: vec![CheckpointRow {
                size: entries.len() as u64,
                note: format!("checkpoint of {} entries", entries.len()),
                is_final: false,
            }],
            entries,
        }],
    };
    store.commit(&append(vec![row(0)], true)).unwrap();
    // Entry 1 is new, entry 0 is taken: the statement that inserts both fails.
    store
        .commit(&append(vec![row(1), row(0)], false))
        .unwrap_err();
    let after_conflict = |store: &mut Box<dyn Store>, entries: usize, checkpoints: usize| {
        assert_eq!(store.entries(&origin, 0, 10).unwrap().len(), entries);
        assert_eq!(store.checkpoints(&origin).unwrap().len(), checkpoints);
        let hits = store
            .query(&Filter {
                tenant: "acme".into(),
                rule: Some("refunds.small".into()),
                args: vec!["amount<=10".parse().unwrap()],
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(hits.len(), entries);
    };
    after_conflict(&mut store, 1, 1);
    assert_eq!(store.payload(&origin, 1).unwrap(), None);
    store.commit(&append(vec![row(1)], false)).unwrap();
    after_conflict(&mut store, 2, 2);
}

/// Runs the whole suite; `fresh` returns an opener for a new, empty database.
pub(crate) fn entries_appended_together_share_one_commit(open: Open<'_>) {
    let k = key(4);
    let writer = Arc::new(Writer::start(open(), key(4), ticking_clock(Q3), config()).unwrap());
    // Other appenders keep the writer committing small batches meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..4u64)
        .map(|t| {
            let (writer, stop) = (Arc::clone(&writer), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    writer
                        .append_blocking(refund("acme", t * 100_000 + n, 5, "allow", Q3))
                        .unwrap();
                    n += 1;
                }
            })
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut together = Vec::new();
    for round in 0..20u64 {
        let receipts = rt
            .block_on(writer.append_together(vec![
                refund("acme", 900_000 + round * 3, 1, "allow", Q3),
                refund("beta", 900_001 + round * 3, 2, "deny", Q3),
                refund("acme", 900_002 + round * 3, 3, "allow", Q3),
            ]))
            .unwrap();
        assert_eq!(receipts.len(), 3);
        let (a, b, c) = (&receipts[0], &receipts[1], &receipts[2]);
        // In order, in one batch: one checkpoint per tenant covers them.
        assert_eq!(a.checkpoint.checkpoint().origin, k.origin("acme"));
        assert_eq!(b.checkpoint.checkpoint().origin, k.origin("beta"));
        assert!(a.index < c.index);
        assert_eq!(a.checkpoint.text(), c.checkpoint.text());
        assert_eq!(b.checkpoint.checkpoint().size, b.index + 1);
        together.extend(receipts);
    }
    stop.store(true, Ordering::Relaxed);
    for t in busy {
        t.join().unwrap();
    }
    drop(writer);
    let mut store = open();
    for r in &together {
        assert_receipt_holds(store.as_mut(), &k.verifier(), r);
    }
    check(store.as_mut(), "acme").unwrap();
    check(store.as_mut(), "beta").unwrap();
}

pub(crate) fn run_all(fresh: &dyn Fn() -> Box<dyn Fn() -> Box<dyn Store>>) {
    appends_verify_and_survive_restart(&*fresh());
    concurrent_group_commit(&*fresh());
    entries_appended_together_share_one_commit(&*fresh());
    queries_are_bounded_by_checkpoints(&*fresh());
    payloads_can_be_forgotten(&*fresh());
    exports_follow_the_format(&*fresh());
    rotation_chains_logs(&*fresh());
    store_failures_fail_every_waiter(&*fresh());
    a_conflicting_batch_leaves_nothing_behind(&*fresh());
    a_failed_flush_stops_the_log_until_restart(&*fresh());
}
