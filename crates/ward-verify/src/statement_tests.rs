use super::*;

pub(crate) const DECISION: &str = r#"{"agent":{"id":"refund-bot","version":"1.4.0"},"approval":{"id":"apr_1","ref":"requested"},"args_digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","decision_id":"dec_1","intervention":"pre_tool_call","kind":"decision","mode":"enforce","outcome":"require_approval","policy":{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","name":"support","version":"2.4.1"},"principal":{"id":"u-123","kind":"user","roles":["support"]},"reasons":[{"code":"rule","message":"refunds of $500 or more need a finance approver","rule":"refund-over-500"}],"request_digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","session":"s-9f2","tenant":"acme","time":"2026-11-22T01:14:58.123Z","tool":"approve_refund","v":1}"#;

fn edit(from: &str, to: &str) -> String {
    assert!(DECISION.contains(from), "{from}");
    DECISION.replacen(from, to, 1)
}

fn invalid(entry: &str) -> String {
    match parse_statement(entry.as_bytes()) {
        Err(StatementError::Invalid(e)) => e,
        other => panic!("expected invalid, got {other:?} for {entry}"),
    }
}

#[test]
fn a_decision_is_valid() {
    let s = parse_statement(DECISION.as_bytes()).unwrap();
    assert_eq!(s.kind, Kind::Decision);
    assert_eq!(s.tenant, "acme");
}

#[test]
fn optional_members_may_be_omitted_but_not_null() {
    let without = edit(r#""tool":"approve_refund","#, "");
    assert!(parse_statement(without.as_bytes()).is_ok());
    assert!(invalid(&edit(r#""tool":"approve_refund""#, r#""tool":null"#)).contains("null"));
}

#[test]
fn each_rule_of_section_1_is_enforced() {
    let cases = [
        (r#""v":1"#, r#""v":2"#, "version"),
        (r#""kind":"decision""#, r#""kind":"verdict""#, "kind"),
        (
            r#""outcome":"require_approval""#,
            r#""outcome":"maybe""#,
            "outcome",
        ),
        (r#""code":"rule""#, r#""code":"because""#, "reasons[0].code"),
        (r#""mode":"enforce""#, r#""mode":"audit""#, "mode"),
        (r#""kind":"user""#, r#""kind":"robot""#, "principal.kind"),
        (r#""tenant":"acme""#, r#""tenant":"ac/me""#, "tenant"),
        (r#"58.123Z"#, r#"58Z"#, "time"),
        (r#"01:14:58.123Z"#, r#"01:14:58.123+00:00"#, "time"),
        (r#""session":"s-9f2","#, "", "session"),
        (r#""v":1"#, r#""v":1,"z":0"#, "z"),
        (
            r#""message":"refunds"#,
            r#""extra":1,"message":"refunds"#,
            "extra",
        ),
        (r#""ref":"requested""#, r#""ref":"maybe""#, "approval.ref"),
    ];
    for (from, to, needle) in cases {
        let e = invalid(&edit(from, to));
        assert!(e.contains(needle), "{to}: {e}");
    }
    let e = invalid(&DECISION.replacen("sha256:44136fa355b3678a", "sha256:44136FA355B3678A", 1));
    assert!(e.contains("args_digest"), "{e}");
}

#[test]
fn members_of_other_kinds_are_refused() {
    let e = invalid(&edit(r#""v":1"#, r#""v":1,"verdict":"granted""#));
    assert!(e.contains("not allowed"), "{e}");
}

#[test]
fn not_json_is_told_apart() {
    for bad in ["", "{", "{\"v\":1", "{} x", "nope"] {
        assert!(
            matches!(
                parse_statement(bad.as_bytes()),
                Err(StatementError::NotJson(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn other_kinds_are_valid() {
    let approval = r#"{"approval_id":"apr_1","approver":{"id":"u-9","kind":"user","roles":["finance"]},"decision_id":"dec_1","kind":"approval","request_digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","tenant":"acme","time":"2026-11-22T01:15:00.000Z","v":1,"verdict":"granted"}"#;
    let execution = r#"{"decision_id":"dec_1","duration_ms":12,"kind":"execution","result_digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","session":"s-9f2","status":"ok","tenant":"acme","time":"2026-11-22T01:15:01.000Z","tool":"approve_refund","v":1}"#;
    assert_eq!(
        parse_statement(approval.as_bytes()).unwrap().kind,
        Kind::Approval
    );
    assert_eq!(
        parse_statement(execution.as_bytes()).unwrap().kind,
        Kind::Execution
    );
}
