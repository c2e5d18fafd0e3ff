use super::*;

pub(crate) const REQUEST: &str = r#"{"intervention":"pre_tool_call","actor":{"principal":{"id":"u-1","kind":"user","roles":["support"],"attrs":{"team":"x"}},"tenant":"acme","session":"s-1","agent":{"id":"bot","version":"1.0.0"}},"tool":"refund","args":{"amount":750,"order_id":"o-1"},"approval_id":"ap-1"}"#;

pub(crate) fn decision() -> Decision {
    serde_json::from_value(serde_json::json!({
        "decision_id": "d-1",
        "outcome": "allow",
        "reasons": [{"code": "rule", "rule": "refunds.small", "message": "ok"}],
        "policy": {"name": "p", "version": "1.2.0", "digest": format!("sha256:{}", "ab".repeat(32))},
        "constraints": null, "rewritten_args": null, "approval": null,
        "mode": "enforce", "receipt": null
    }))
    .unwrap()
}

#[test]
fn decision_entry_bytes_are_pinned() {
    let request = Request::from_json(REQUEST.as_bytes()).unwrap();
    let entry = Entry::decision(
        &request,
        &decision(),
        Timestamp::from_unix_millis(1_795_223_698_123),
    )
    .unwrap();
    let text = std::str::from_utf8(entry.bytes()).unwrap();
    let want = format!(
        concat!(
            r#"{{"agent":{{"id":"bot","version":"1.0.0"}},"approval":{{"id":"ap-1","ref":"presented"}},"#,
            r#""args_digest":"{}","decision_id":"d-1","intervention":"pre_tool_call","kind":"decision","#,
            r#""mode":"enforce","outcome":"allow","policy":{{"digest":"sha256:{}","name":"p","version":"1.2.0"}},"#,
            r#""principal":{{"id":"u-1","kind":"user","roles":["support"]}},"#,
            r#""reasons":[{{"code":"rule","message":"ok","rule":"refunds.small"}}],"request_digest":"{}","#,
            r#""session":"s-1","tenant":"acme","time":"2026-11-21T01:14:58.123Z","tool":"refund","v":1}}"#
        ),
        Digest::of_args(&request.args).unwrap(),
        "ab".repeat(32),
        Digest::of_request(&request).unwrap(),
    );
    assert_eq!(text, want);
    assert!(!entry.bytes().contains(&b'\n'));
    assert!(!text.contains("750"), "arguments never enter the log");
    let parsed = Entry::parse(entry.bytes()).unwrap();
    assert_eq!(parsed, entry);
}

#[test]
fn parse_refuses_what_the_spec_forbids() {
    let request = Request::from_json(REQUEST.as_bytes()).unwrap();
    let entry = Entry::decision(&request, &decision(), Timestamp::from_unix_millis(0)).unwrap();
    let good = std::str::from_utf8(entry.bytes()).unwrap().to_owned();
    let bad = [
        good.replace(r#""v":1"#, r#""v":2"#),
        good.replace(r#""tool":"refund","#, r#""tool":null,"#),
        good.replace(r#""session":"s-1","#, r#""session":"s-1","extra":1,"#),
        good.replace(r#""tenant":"acme""#, r#""tenant":"ac/me""#),
        good.replace(r#""tenant":"acme""#, r#""tenant":"""#),
        good.replace("00.000Z", "00Z"),
        good.replace(r#""kind":"decision""#, r#""kind":"other""#),
        good.replace(
            r#""roles":["support"]"#,
            r#""roles":["support"],"attrs":{}"#,
        ),
        good.replace(r#","v":1"#, ""),
        format!(" {good}"),
        good.replace(
            r#""session":"s-1","tenant""#,
            r#""tenant":"acme","session":"s-1","tenant""#,
        ),
    ];
    for b in bad {
        assert!(Entry::parse(b.as_bytes()).is_err(), "{b}");
    }
}

#[test]
fn other_kinds_round_trip() {
    let rotation = Entry::new(Statement::Rotation(RotationStatement {
        v: V1,
        tenant: "acme".into(),
        time: "2026-01-01T00:00:00.000Z".into(),
        previous: PreviousLog {
            origin: "ward/x/acme/00000000".into(),
            size: 3,
            root: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
            key: "ward/x+00000000+AQ==".into(),
        },
    }))
    .unwrap();
    assert_eq!(Entry::parse(rotation.bytes()).unwrap(), rotation);
    let execution = Entry::new(Statement::Execution(ExecutionStatement {
        v: V1,
        tenant: "acme".into(),
        time: "2026-01-01T00:00:00.000Z".into(),
        decision_id: "d-1".into(),
        session: "s".into(),
        tool: "refund".into(),
        result_digest: Digest::of_bytes(b"r"),
        status: ExecutionStatus::Ok,
        duration_ms: 12,
    }))
    .unwrap();
    assert_eq!(Entry::parse(execution.bytes()).unwrap(), execution);
    assert!(std::str::from_utf8(execution.bytes())
        .unwrap()
        .starts_with(r#"{"decision_id":"d-1","duration_ms":12,"#));
}

#[test]
fn execution_and_approval_constructors() {
    let t = Timestamp::from_unix_millis(0);
    let e = Entry::execution(
        "acme",
        "s-1",
        "d-1",
        "refund",
        &serde_json::json!({"ok": true}),
        ExecutionStatus::Ok,
        12,
        t,
    )
    .unwrap();
    assert_eq!(Entry::parse(e.bytes()).unwrap(), e);
    let text = std::str::from_utf8(e.bytes()).unwrap();
    assert!(
        text.contains(&Digest::of_bytes(br#"{"ok":true}"#).to_string()),
        "{text}"
    );
    let request = Request::from_json(REQUEST.as_bytes()).unwrap();
    let a = Entry::approval(
        "acme",
        "ap-1",
        "d-1",
        Digest::of_request(&request).unwrap(),
        &request.actor.principal,
        Verdict::Granted,
        t,
    )
    .unwrap();
    assert_eq!(Entry::parse(a.bytes()).unwrap(), a);
    assert!(std::str::from_utf8(a.bytes())
        .unwrap()
        .contains(r#""verdict":"granted""#));
    assert!(Entry::execution(
        "",
        "s",
        "d",
        "t",
        &serde_json::json!(null),
        ExecutionStatus::Error,
        0,
        t
    )
    .is_err());
}
