#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! Human sign-in by JWT, with real keys: RSA 2048, P-256 and Ed25519 keys
//! made once with openssl (`testdata/jwt/make.sh`), real signatures, and the
//! JWKS published for them.

use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use ward_core::{Principal, PrincipalKind};
use ward_engine::{
    load_jwks, AuthError, Credentials, Engine, EngineConfig, Identity, JwksVerifier, JwtConfig,
    SqliteState, TokenVerifier, MAX_TOKEN_BYTES,
};

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "ward";

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/jwt")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap()
}

fn config() -> JwtConfig {
    JwtConfig::new(ISSUER, AUDIENCE)
}

fn jwks() -> Value {
    serde_json::from_str(&read("jwks.json")).unwrap()
}

fn verifier() -> JwksVerifier {
    JwksVerifier::from_jwks(&read("jwks.json"), config()).unwrap()
}

/// The JWKS with only the keys for which `keep` holds, each changed by `edit`.
fn verifier_with(keep: impl Fn(&Value) -> bool, edit: impl Fn(&mut Value)) -> JwksVerifier {
    let mut doc = jwks();
    let keys = doc["keys"].as_array_mut().unwrap();
    keys.retain(|k| keep(k));
    keys.iter_mut().for_each(edit);
    JwksVerifier::from_jwks(&doc.to_string(), config()).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Signer {
    Rsa,
    RsaOther,
    Ec,
    Ed,
}

impl Signer {
    fn key(self) -> (EncodingKey, Algorithm) {
        match self {
            Signer::Rsa => (
                EncodingKey::from_rsa_pem(read("rsa.pem").as_bytes()).unwrap(),
                Algorithm::RS256,
            ),
            Signer::RsaOther => (
                EncodingKey::from_rsa_pem(read("rsa-other.pem").as_bytes()).unwrap(),
                Algorithm::RS256,
            ),
            Signer::Ec => (
                EncodingKey::from_ec_pem(read("ec.pem").as_bytes()).unwrap(),
                Algorithm::ES256,
            ),
            Signer::Ed => (
                EncodingKey::from_ed_pem(read("ed25519.pem").as_bytes()).unwrap(),
                Algorithm::EdDSA,
            ),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token over raw header and payload bytes, really signed by `signer`.
fn sign_raw(header: &[u8], payload: &[u8], signer: Signer) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let (key, alg) = signer.key();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap();
    format!("{message}.{signature}")
}

fn sign(header: &Value, claims: &Value, signer: Signer) -> String {
    sign_raw(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        signer,
    )
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "tenant": "acme",
        "roles": ["support", "ward:admin"],
        "iat": NOW - 10,
        "nbf": NOW - 10,
        "exp": NOW + 600,
    })
}

/// `claims()` with `field` set to `value`, or removed if `value` is null.
fn claims_with(field: &str, value: Value) -> Value {
    let mut c = claims();
    if value.is_null() {
        c.as_object_mut().unwrap().remove(field);
    } else {
        c[field] = value;
    }
    c
}

/// A good RS256 token over `claims`.
fn rsa_token(claims: &Value) -> String {
    sign(
        &json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}),
        claims,
        Signer::Rsa,
    )
}

fn alice() -> Identity {
    Identity {
        principal: Principal {
            id: "alice".into(),
            kind: PrincipalKind::User,
            roles: vec!["support".into(), "ward:admin".into()],
            attrs: Default::default(),
        },
        tenant: "acme".into(),
        agent: None,
    }
}

/// The refusal's message; fails unless the token is refused as invalid.
#[track_caller]
fn refused(verifier: &JwksVerifier, token: &str) -> String {
    match verifier.verify(token, NOW) {
        Err(AuthError::Invalid(message)) => message,
        other => panic!("expected an invalid credential, got {other:?}"),
    }
}

#[track_caller]
fn refused_with(verifier: &JwksVerifier, token: &str, expected: &str) {
    let message = refused(verifier, token);
    assert!(
        message.contains(expected),
        "`{message}` does not contain `{expected}`"
    );
}

#[test]
fn a_valid_token_of_each_algorithm_establishes_the_user() {
    let v = verifier();
    for (kid, alg, signer) in [
        ("rsa-1", "RS256", Signer::Rsa),
        ("ec-1", "ES256", Signer::Ec),
        ("ed-1", "EdDSA", Signer::Ed),
    ] {
        let token = sign(&json!({"alg": alg, "kid": kid}), &claims(), signer);
        assert_eq!(v.verify(&token, NOW), Ok(alice()), "{alg}");
    }
}

#[test]
fn roles_are_optional_and_claim_names_configurable() {
    let v = verifier();
    let who = v
        .verify(&rsa_token(&claims_with("roles", Value::Null)), NOW)
        .unwrap();
    assert!(who.principal.roles.is_empty());

    let mut custom = config();
    custom.tenant_claim = "org".into();
    custom.roles_claim = "groups".into();
    let v = JwksVerifier::from_jwks(&read("jwks.json"), custom).unwrap();
    let mut c = claims();
    c["org"] = json!("globex");
    c["groups"] = json!(["ops"]);
    let who = v.verify(&rsa_token(&c), NOW).unwrap();
    assert_eq!(who.tenant, "globex");
    assert_eq!(who.principal.roles, ["ops"]);
}

#[test]
fn time_claims_are_checked_with_leeway() {
    let v = verifier();
    refused_with(
        &v,
        &rsa_token(&claims_with("exp", json!(NOW - 60))),
        "token expired at 2023-11-14T22:12:20",
    );
    // Within the 30 s leeway.
    assert!(v
        .verify(&rsa_token(&claims_with("exp", json!(NOW - 10))), NOW)
        .is_ok());
    refused_with(&v, &rsa_token(&claims_with("exp", Value::Null)), "no `exp`");
    refused_with(
        &v,
        &rsa_token(&claims_with("exp", json!("tomorrow"))),
        "`exp` is not a number",
    );
    refused_with(
        &v,
        &rsa_token(&claims_with("nbf", json!(NOW + 120))),
        "token not valid before",
    );
    assert!(v
        .verify(&rsa_token(&claims_with("nbf", json!(NOW + 10))), NOW)
        .is_ok());
    refused_with(
        &v,
        &rsa_token(&claims_with("iat", json!(NOW + 120))),
        "issued in the future",
    );
    // A fractional NumericDate is accepted.
    assert!(v
        .verify(
            &rsa_token(&claims_with("exp", json!(NOW as f64 + 60.5))),
            NOW
        )
        .is_ok());
}

#[test]
fn issuer_and_audience_must_match() {
    let v = verifier();
    refused_with(
        &v,
        &rsa_token(&claims_with("iss", json!("https://evil.example"))),
        "issuer mismatch",
    );
    refused_with(&v, &rsa_token(&claims_with("iss", Value::Null)), "no `iss`");
    refused_with(
        &v,
        &rsa_token(&claims_with("aud", json!("other"))),
        "audience mismatch",
    );
    refused_with(
        &v,
        &rsa_token(&claims_with("aud", json!(["other", "another"]))),
        "audience mismatch",
    );
    refused_with(&v, &rsa_token(&claims_with("aud", Value::Null)), "no `aud`");
    refused_with(
        &v,
        &rsa_token(&claims_with("aud", json!(7))),
        "neither a string nor an array",
    );
    let who = v
        .verify(
            &rsa_token(&claims_with("aud", json!(["other", AUDIENCE]))),
            NOW,
        )
        .unwrap();
    assert_eq!(who, alice());
}

#[test]
fn subject_tenant_and_roles_must_be_well_formed() {
    let v = verifier();
    refused_with(&v, &rsa_token(&claims_with("sub", Value::Null)), "no `sub`");
    refused_with(
        &v,
        &rsa_token(&claims_with("sub", json!(""))),
        "`sub` is empty",
    );
    refused_with(
        &v,
        &rsa_token(&claims_with("tenant", Value::Null)),
        "no tenant claim `tenant`",
    );
    refused_with(
        &v,
        &rsa_token(&claims_with("tenant", json!(""))),
        "`tenant` is empty",
    );
    refused_with(
        &v,
        &rsa_token(&claims_with("tenant", json!(42))),
        "`tenant` is not a string",
    );
    refused_with(
        &v,
        &rsa_token(&claims_with("roles", json!("ward:admin"))),
        "`roles` is not an array",
    );
    refused_with(
        &v,
        &rsa_token(&claims_with("roles", json!(["support", 1]))),
        "holds a non-string",
    );
}

#[test]
fn a_tampered_token_is_refused() {
    let v = verifier();
    let token = rsa_token(&claims());
    let parts: Vec<&str> = token.split('.').collect();

    // Another subject under the original signature.
    let forged = b64(claims_with("sub", json!("mallory")).to_string().as_bytes());
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    refused_with(&v, &tampered, "bad signature for key `rsa-1`");

    // One bit of the signature flipped.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let tampered = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
    refused_with(&v, &tampered, "bad signature");

    // The same for ES256 and EdDSA.
    for (kid, alg, signer) in [("ec-1", "ES256", Signer::Ec), ("ed-1", "EdDSA", Signer::Ed)] {
        let token = sign(&json!({"alg": alg, "kid": kid}), &claims(), signer);
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        refused_with(&v, &tampered, &format!("bad signature for key `{kid}`"));
    }

    // Signed by a key that is not in the set, under a kid that is.
    let other = sign(
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &claims(),
        Signer::RsaOther,
    );
    refused_with(&v, &other, "bad signature for key `rsa-1`");
}

#[test]
fn the_key_decides_the_algorithm() {
    let v = verifier();
    refused_with(
        &v,
        &sign(
            &json!({"alg": "RS256", "kid": "nope"}),
            &claims(),
            Signer::Rsa,
        ),
        "unknown kid `nope`",
    );
    // An RS256 header on the Ed25519 key's kid.
    refused_with(
        &v,
        &sign(
            &json!({"alg": "RS256", "kid": "ed-1"}),
            &claims(),
            Signer::Rsa,
        ),
        "alg RS256 does not match key `ed-1` (EdDSA)",
    );
    // An ES256 signature presented as EdDSA.
    refused_with(
        &v,
        &sign(
            &json!({"alg": "EdDSA", "kid": "ec-1"}),
            &claims(),
            Signer::Ec,
        ),
        "alg EdDSA does not match key `ec-1` (ES256)",
    );
}

#[test]
fn unsigned_and_hmac_tokens_are_refused() {
    let v = verifier();
    let body = b64(claims().to_string().as_bytes());
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "none", "kid": "rsa-1"}),
    ] {
        let token = format!("{}.{body}.", b64(header.to_string().as_bytes()));
        refused_with(&v, &token, "alg `none` is refused");
    }
    // The public key published in the JWKS, used as an HMAC secret.
    let secret = jwks()["keys"][0].to_string();
    let message = format!(
        "{}.{body}",
        b64(json!({"alg": "HS256", "kid": "rsa-1"})
            .to_string()
            .as_bytes())
    );
    let mac = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap();
    refused_with(&v, &format!("{message}.{mac}"), "alg `HS256` is refused");
    let unkeyed = format!(
        "{}.{body}.{mac}",
        b64(json!({"alg": "HS256"}).to_string().as_bytes())
    );
    refused_with(&v, &unkeyed, "alg `HS256` is refused");
    refused_with(
        &v,
        &sign(&json!({"kid": "rsa-1"}), &claims(), Signer::Rsa),
        "no `alg`",
    );
}

#[test]
fn malformed_tokens_are_refused_without_panic() {
    let v = verifier();
    let good = rsa_token(&claims());
    let parts: Vec<&str> = good.split('.').collect();
    let header = b64(json!({"alg": "RS256", "kid": "rsa-1"})
        .to_string()
        .as_bytes());
    for (token, expected) in [
        (String::new(), "1 dot-separated parts"),
        ("abc".to_owned(), "1 dot-separated parts"),
        (
            format!("{}.{}", parts[0], parts[1]),
            "2 dot-separated parts",
        ),
        (format!("{good}.x"), "4 dot-separated parts"),
        ("a.b.c.d.e".to_owned(), "5 dot-separated parts"),
        (
            format!("!!.{}.{}", parts[1], parts[2]),
            "header is not base64url",
        ),
        (
            format!("{}.{}=.{}", parts[0], parts[1], parts[2]),
            "payload is not base64url",
        ),
        (
            format!("{}.{}.*", parts[0], parts[1]),
            "signature is not base64url",
        ),
        (
            format!("{}.{}.{}", b64(b"hello"), parts[1], parts[2]),
            "header is not a JSON object",
        ),
        (
            format!("{}.{}.{}", b64(b"[1]"), parts[1], parts[2]),
            "header is not a JSON object",
        ),
        (format!("{header}..{}", parts[2]), "bad signature"),
        ("..".to_owned(), "header is not a JSON object"),
    ] {
        refused_with(&v, &token, expected);
    }
    // A payload that is really signed but is not JSON.
    let not_json = sign_raw(
        json!({"alg": "EdDSA", "kid": "ed-1"})
            .to_string()
            .as_bytes(),
        b"{not json",
        Signer::Ed,
    );
    refused_with(&v, &not_json, "payload is not a JSON object");
    let array = sign_raw(
        json!({"alg": "EdDSA", "kid": "ed-1"})
            .to_string()
            .as_bytes(),
        b"[]",
        Signer::Ed,
    );
    refused_with(&v, &array, "payload is not a JSON object");
    // Unknown critical extensions.
    let crit = sign(
        &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["b64"], "b64": false}),
        &claims(),
        Signer::Rsa,
    );
    refused_with(&v, &crit, "`crit`");
    // A huge token is not read, and the message does not echo it.
    let huge = format!("{}.{}.{}", parts[0], "A".repeat(MAX_TOKEN_BYTES), parts[2]);
    let message = refused(&v, &huge);
    assert!(message.contains("longer than"), "{message}");
    assert!(message.len() < 100);
}

#[test]
fn every_one_character_change_is_refused() {
    let v = verifier();
    let token = sign(
        &json!({"alg": "EdDSA", "kid": "ed-1"}),
        &claims(),
        Signer::Ed,
    );
    assert!(v.verify(&token, NOW).is_ok());
    // Every third position keeps the debug build quick; the positions still
    // cover each part of the token.
    for i in (0..token.len()).step_by(3) {
        for c in ['A', '.'] {
            let mut changed = token.clone().into_bytes();
            if changed[i] == c as u8 {
                continue;
            }
            changed[i] = c as u8;
            let changed = String::from_utf8(changed).unwrap();
            refused(&v, &changed);
        }
    }
}

#[test]
fn messages_do_not_echo_the_token() {
    let v = verifier();
    let kid = "k".repeat(500);
    let token = sign(&json!({"alg": "RS256", "kid": kid}), &claims(), Signer::Rsa);
    let message = refused(&v, &token);
    assert!(message.starts_with("unknown kid"), "{message}");
    assert!(message.len() < 120, "{message}");
    let expired = rsa_token(&claims_with("exp", json!(NOW - 3600)));
    let message = refused(&v, &expired);
    for part in expired.split('.') {
        assert!(!message.contains(part), "{message}");
    }
}

#[test]
fn without_kid_only_keys_of_the_header_algorithm_are_tried() {
    // The same set, kids removed.
    let v = verifier_with(
        |_| true,
        |k| {
            k.as_object_mut().unwrap().remove("kid");
        },
    );
    for (alg, signer) in [
        ("RS256", Signer::Rsa),
        ("ES256", Signer::Ec),
        ("EdDSA", Signer::Ed),
    ] {
        let token = sign(&json!({"alg": alg}), &claims(), signer);
        assert_eq!(v.verify(&token, NOW), Ok(alice()), "{alg}");
    }
    // Keys with kids serve tokens without one too.
    let token = sign(&json!({"alg": "ES256"}), &claims(), Signer::Ec);
    assert_eq!(verifier().verify(&token, NOW), Ok(alice()));
    refused_with(
        &v,
        &sign(&json!({"alg": "RS256"}), &claims(), Signer::RsaOther),
        "no RS256 key verifies it",
    );
    // An RSA-only set and an ES256 token.
    let rsa_only = verifier_with(|k| k["kty"] == "RSA", |_| {});
    refused_with(
        &rsa_only,
        &sign(&json!({"alg": "ES256"}), &claims(), Signer::Ec),
        "no ES256 key is configured",
    );
    // A kidless Ed25519 token is not checked against an RSA key.
    refused_with(
        &rsa_only,
        &sign(&json!({"alg": "EdDSA"}), &claims(), Signer::Ed),
        "no EdDSA key is configured",
    );
    // The JWK's `alg` is optional: the key type decides.
    let no_alg = verifier_with(
        |_| true,
        |k| {
            k.as_object_mut().unwrap().remove("alg");
            k.as_object_mut().unwrap().remove("use");
        },
    );
    let token = sign(
        &json!({"alg": "EdDSA", "kid": "ed-1"}),
        &claims(),
        Signer::Ed,
    );
    assert_eq!(no_alg.verify(&token, NOW), Ok(alice()));
}

/// The error for a JWKS whose key `index` has `changes` (null removes).
fn bad_key(index: usize, changes: &[(&str, Value)]) -> String {
    let mut doc = jwks();
    let key = doc["keys"][index].as_object_mut().unwrap();
    for (member, value) in changes {
        if value.is_null() {
            key.remove(*member);
        } else {
            key.insert((*member).to_owned(), value.clone());
        }
    }
    JwksVerifier::from_jwks(&doc.to_string(), config())
        .unwrap_err()
        .to_string()
}

#[test]
fn an_unusable_jwks_is_a_clear_error() {
    let whole = |text: &str| {
        JwksVerifier::from_jwks(text, config())
            .unwrap_err()
            .to_string()
    };
    assert!(whole("{").starts_with("not JSON"));
    assert!(whole("[]").contains("no `keys` array"));
    assert!(whole(r#"{"keys": []}"#).contains("empty"));
    assert!(whole(r#"{"keys": [7]}"#).contains("key #0: not a JSON object"));

    let (rsa, ec, ed) = (0, 1, 2);
    let none = Value::Null;
    for (index, changes, expected) in [
        (
            rsa,
            vec![("alg", json!("ES256"))],
            "key `rsa-1`: `alg` is `ES256`",
        ),
        (rsa, vec![("alg", json!("PS256"))], "`alg` is `PS256`"),
        (
            rsa,
            vec![("use", json!("enc"))],
            "key `rsa-1`: `use` is `enc`",
        ),
        (rsa, vec![("key_ops", json!(["encrypt"]))], "`key_ops`"),
        (
            rsa,
            vec![("d", json!("AQAB"))],
            "private or secret key material (`d`)",
        ),
        (rsa, vec![("kty", none.clone())], "key `rsa-1`: no `kty`"),
        (
            rsa,
            vec![("kty", json!("oct")), ("alg", json!("HS256"))],
            "symmetric",
        ),
        (
            rsa,
            vec![("kty", json!("DSA"))],
            "key type `DSA` is not supported",
        ),
        (
            rsa,
            vec![("n", json!(b64(&[0xc3; 128])))],
            "key `rsa-1`: an RSA modulus of 1024 bits",
        ),
        (
            rsa,
            vec![("n", json!("not base64!"))],
            "`n` is not unpadded base64url",
        ),
        (rsa, vec![("e", json!("AQ"))], "exponent"),
        (rsa, vec![("e", none.clone())], "no `e`"),
        (
            rsa,
            vec![("kid", json!(5))],
            "key #0: `kid` is not a non-empty string",
        ),
        (
            rsa,
            vec![("kid", json!("ec-1"))],
            "key `ec-1`: the kid is used twice",
        ),
        (
            ec,
            vec![("crv", json!("P-384"))],
            "key `ec-1`: curve `P-384` is not supported",
        ),
        (
            ec,
            vec![("y", json!(b64(&[1; 31])))],
            "key `ec-1`: a P-256 coordinate is not 32 bytes",
        ),
        // Thirty-two bytes each, but not a point on the curve.
        (
            ec,
            vec![("x", json!(b64(&[1; 32]))), ("y", json!(b64(&[1; 32])))],
            "key `ec-1`: not a valid ES256 public key",
        ),
        (
            ed,
            vec![("crv", json!("X25519"))],
            "key `ed-1`: curve `X25519`",
        ),
        // A short key is refused here, not a panic in the backend later.
        (
            ed,
            vec![("x", json!(b64(&[9; 8])))],
            "key `ed-1`: an Ed25519 public key is not 32 bytes",
        ),
        (
            ed,
            vec![("kid", none.clone()), ("x", json!(""))],
            "key #2 (no kid)",
        ),
    ] {
        let message = bad_key(index, &changes);
        assert!(message.contains(expected), "`{message}` lacks `{expected}`");
    }

    let mut empty_issuer = config();
    empty_issuer.issuer.clear();
    let m = JwksVerifier::from_jwks(&read("jwks.json"), empty_issuer)
        .unwrap_err()
        .to_string();
    assert!(m.contains("issuer is empty"), "{m}");
}

#[test]
fn load_jwks_reads_a_file() {
    let v = load_jwks(&testdata("jwks.json"), config()).unwrap();
    assert_eq!(
        v.describe_keys(),
        ["rsa-1 (RS256)", "ec-1 (ES256)", "ed-1 (EdDSA)"]
    );
    let missing = load_jwks(&testdata("missing.json"), config())
        .unwrap_err()
        .to_string();
    assert!(missing.contains("missing.json"), "{missing}");
    let pem = load_jwks(&testdata("ec.pem"), config())
        .unwrap_err()
        .to_string();
    assert!(pem.contains("ec.pem") && pem.contains("not JSON"), "{pem}");
    // No private key material in the message.
    assert!(!pem.contains("PRIVATE"), "{pem}");
}

async fn start_engine(tokens: Option<Arc<dyn TokenVerifier>>, dir: &tempfile::TempDir) -> Engine {
    let state = SqliteState::open(&dir.path().join("state.db")).unwrap();
    let store = ward_audit::SqliteStore::open(&dir.path().join("audit.db")).unwrap();
    let key = ward_audit::LogKey::from_seed("ward/test", [7; 32]).unwrap();
    let at = ward_audit::Timestamp::from_unix_millis(NOW as u64 * 1000);
    let writer = ward_audit::Writer::start(
        Box::new(store),
        key,
        Arc::new(move || at),
        ward_audit::WriterConfig::default(),
    )
    .unwrap();
    Engine::start(
        Arc::new(state),
        writer,
        Arc::new(|| NOW * 1000),
        EngineConfig::default(),
        tokens,
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_engine_authenticates_a_human_by_jwt() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start_engine(Some(Arc::new(verifier())), &dir).await;
    let bearer = |token: String| Credentials {
        bearer: Some(token),
        on_behalf_of: None,
    };
    let token = sign(
        &json!({"alg": "ES256", "kid": "ec-1"}),
        &claims(),
        Signer::Ec,
    );
    assert_eq!(engine.authenticate(&bearer(token)), Ok(alice()));
    let expired = rsa_token(&claims_with("exp", json!(NOW - 3600)));
    assert!(matches!(
        engine.authenticate(&bearer(expired)),
        Err(AuthError::Invalid(m)) if m.starts_with("token expired")
    ));
    assert_eq!(
        engine.authenticate(&Credentials::default()),
        Err(AuthError::Missing)
    );

    // Without a JWKS, a JWT is refused.
    let dir = tempfile::tempdir().unwrap();
    let engine = start_engine(None, &dir).await;
    let token = rsa_token(&claims());
    assert!(matches!(
        engine.authenticate(&bearer(token)),
        Err(AuthError::Invalid(m)) if m.contains("no JWKS configured")
    ));
}
