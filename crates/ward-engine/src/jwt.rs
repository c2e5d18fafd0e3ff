//! Human sign-in: JWTs checked against the public keys of a JWKS file.
//!
//! [`JwksVerifier`] accepts RS256 (RSA, 2048 to 4096 bits), ES256 (P-256)
//! and EdDSA (Ed25519). The algorithm of a key comes from the JWK itself
//! (`kty`, `crv` and, if present, `alg`); the token's header must name the
//! same algorithm, so a token can never choose how it is checked: `none`,
//! HMAC and any other algorithm are refused, and so is an RS256 header on an
//! Ed25519 key. With a `kid` the token is checked against that key only;
//! without one, against each key of the header's algorithm.
//!
//! The claims checked are `iss`, `aud`, `exp` (required), `nbf` and `iat`
//! (if present), `sub`, the tenant claim and the optional roles claim; see
//! [`JwtConfig`]. Verification is pure given the time: only
//! [`load_jwks`] does I/O.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use ward_audit::Timestamp;
use ward_core::{Principal, PrincipalKind};

use crate::engine::TokenVerifier;
use crate::identity::{AuthError, Identity};

/// The longest token looked at; anything longer is refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (the most the RSA backend
/// verifies with).
const MAX_RSA_BITS: usize = 4096;

/// What a JWT must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The `iss` claim must equal this.
    pub issuer: String,
    /// The `aud` claim (a string or an array of strings) must contain this.
    pub audience: String,
    /// The claim that names the tenant: a non-empty string. Default `tenant`.
    pub tenant_claim: String,
    /// The claim that lists the roles: an array of strings, optional.
    /// Default `roles`.
    pub roles_claim: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds. Default 30.
    pub leeway_secs: u64,
}

impl JwtConfig {
    /// A configuration for `issuer` and `audience` with the default claim
    /// names and leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> JwtConfig {
        JwtConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            tenant_claim: "tenant".to_owned(),
            roles_claim: "roles".to_owned(),
            leeway_secs: 30,
        }
    }
}

/// Why a JWKS could not be loaded: the message names the file or the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JwksError(pub String);

/// A signature algorithm the verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Rs256,
    Es256,
    EdDsa,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    fn from_name(name: &str) -> Option<Alg> {
        match name {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            "EdDSA" => Some(Alg::EdDsa),
            _ => None,
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Alg::Rs256 => Algorithm::RS256,
            Alg::Es256 => Algorithm::ES256,
            Alg::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// One usable public key.
#[derive(Debug)]
struct Key {
    kid: Option<String>,
    alg: Alg,
    key: DecodingKey,
}

impl Key {
    /// How messages name the key.
    fn label(&self) -> String {
        match &self.kid {
            Some(kid) => format!("`{kid}`"),
            None => format!("without kid ({})", self.alg.name()),
        }
    }

    /// Whether `signature` is this key's signature of `message`.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        // The key was checked at load time, so making the verifier succeeds;
        // a failure is a refusal all the same.
        (DEFAULT_PROVIDER.verifier_factory)(&self.alg.algorithm(), &self.key)
            .map(|v| v.verify(message, &signature.to_vec()).is_ok())
            .unwrap_or(false)
    }
}

/// Verifies humans' JWTs against the public keys of a JWKS: RS256, ES256
/// and EdDSA, the algorithm fixed by each key, never by the token. The
/// claims are checked against a [`JwtConfig`].
pub struct JwksVerifier {
    keys: Vec<Key>,
    config: JwtConfig,
}

impl fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("keys", &self.describe_keys())
            .field("config", &self.config)
            .finish()
    }
}

/// Reads a JWKS file and builds a verifier from it.
pub fn load_jwks(path: &Path, config: JwtConfig) -> Result<JwksVerifier, JwksError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| JwksError(format!("cannot read JWKS {}: {e}", path.display())))?;
    JwksVerifier::from_jwks(&text, config)
        .map_err(|e| JwksError(format!("JWKS {}: {}", path.display(), e.0)))
}

impl JwksVerifier {
    /// Builds a verifier from the text of a JWKS (`{"keys": [...]}`). Every
    /// key must be usable: a key of another type, curve or algorithm, an
    /// encryption key, a malformed or weak key, a private key or a repeated
    /// `kid` is an error naming the key.
    pub fn from_jwks(text: &str, config: JwtConfig) -> Result<JwksVerifier, JwksError> {
        for (what, value) in [
            ("issuer", &config.issuer),
            ("audience", &config.audience),
            ("tenant claim", &config.tenant_claim),
            ("roles claim", &config.roles_claim),
        ] {
            if value.is_empty() {
                return Err(JwksError(format!("the JWT {what} is empty")));
            }
        }
        let doc: Value =
            serde_json::from_str(text).map_err(|e| JwksError(format!("not JSON: {e}")))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError("not a JWKS: no `keys` array".to_owned()))?;
        if list.is_empty() {
            return Err(JwksError("the key set is empty".to_owned()));
        }
        let mut keys = Vec::with_capacity(list.len());
        let mut seen = HashSet::new();
        for (index, jwk) in list.iter().enumerate() {
            let key = parse_key(index, jwk)?;
            if let Some(kid) = &key.kid {
                if !seen.insert(kid.clone()) {
                    return Err(JwksError(format!("key `{kid}`: the kid is used twice")));
                }
            }
            keys.push(key);
        }
        Ok(JwksVerifier { keys, config })
    }

    /// The keys, as `kid (alg)`, for logs and diagnostics.
    pub fn describe_keys(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| match &k.kid {
                Some(kid) => format!("{kid} ({})", k.alg.name()),
                None => format!("(no kid) ({})", k.alg.name()),
            })
            .collect()
    }

    /// The settings the claims are checked against.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// Checks the token's form and signature and returns its claims.
    fn verified_claims(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid(format!(
                "token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [head, body, sig] = parts.as_slice() else {
            return Err(invalid(format!(
                "malformed token: {} dot-separated parts, not 3",
                parts.len()
            )));
        };
        let header = json_object(head, "header")?;
        let payload = decode_part(body, "payload")?;
        let signature = decode_part(sig, "signature")?;
        if header.contains_key("crit") {
            return Err(invalid(
                "the token's header has `crit` extensions, which are not supported",
            ));
        }
        let alg = match header.get("alg") {
            Some(Value::String(name)) => Alg::from_name(name).ok_or_else(|| {
                invalid(if name == "none" {
                    "alg `none` is refused: the token must be signed".to_owned()
                } else {
                    format!(
                        "alg `{}` is refused: only RS256, ES256 and EdDSA are accepted",
                        shown(name)
                    )
                })
            })?,
            Some(_) => return Err(invalid("the token's `alg` is not a string")),
            None => return Err(invalid("the token's header has no `alg`")),
        };
        let message_len = head.len().saturating_add(1).saturating_add(body.len());
        let mut message = Vec::with_capacity(message_len);
        message.extend_from_slice(head.as_bytes());
        message.push(b'.');
        message.extend_from_slice(body.as_bytes());
        match header.get("kid") {
            Some(Value::String(kid)) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                    .ok_or_else(|| invalid(format!("unknown kid `{}`", shown(kid))))?;
                if key.alg != alg {
                    return Err(invalid(format!(
                        "alg {} does not match key {} ({})",
                        alg.name(),
                        key.label(),
                        key.alg.name()
                    )));
                }
                if !key.verifies(&message, &signature) {
                    return Err(invalid(format!("bad signature for key {}", key.label())));
                }
            }
            Some(_) => return Err(invalid("the token's `kid` is not a string")),
            None => {
                let mut candidates = self.keys.iter().filter(|k| k.alg == alg).peekable();
                if candidates.peek().is_none() {
                    return Err(invalid(format!(
                        "the token has no kid and no {} key is configured",
                        alg.name()
                    )));
                }
                if !candidates.any(|k| k.verifies(&message, &signature)) {
                    return Err(invalid(format!(
                        "bad signature: the token has no kid and no {} key verifies it",
                        alg.name()
                    )));
                }
            }
        }
        match serde_json::from_slice(&payload) {
            Ok(Value::Object(claims)) => Ok(claims),
            _ => Err(invalid("malformed token: the payload is not a JSON object")),
        }
    }

    /// Checks the claims at `now` and makes the identity.
    fn identity(&self, claims: &Map<String, Value>, now: i64) -> Result<Identity, AuthError> {
        let c = &self.config;
        let leeway = i64::try_from(c.leeway_secs).unwrap_or(i64::MAX);

        let exp = time_claim(claims, "exp")?.ok_or_else(|| invalid("the token has no `exp`"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(invalid(format!(
                "token expired at {} (now {}, leeway {leeway}s)",
                when(exp),
                when(now)
            )));
        }
        if let Some(nbf) = time_claim(claims, "nbf")? {
            if nbf > now.saturating_add(leeway) {
                return Err(invalid(format!(
                    "token not valid before {} (now {}, leeway {leeway}s)",
                    when(nbf),
                    when(now)
                )));
            }
        }
        if let Some(iat) = time_claim(claims, "iat")? {
            if iat > now.saturating_add(leeway) {
                return Err(invalid(format!(
                    "token issued in the future, at {} (now {}, leeway {leeway}s)",
                    when(iat),
                    when(now)
                )));
            }
        }

        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == c.issuer => {}
            Some(Value::String(iss)) => {
                return Err(invalid(format!(
                    "issuer mismatch: `{}` is not `{}`",
                    shown(iss),
                    c.issuer
                )))
            }
            Some(_) => return Err(invalid("the token's `iss` is not a string")),
            None => return Err(invalid("the token has no `iss`")),
        }

        let for_us = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == c.audience,
            Some(Value::Array(list)) => {
                if list.iter().any(|a| !a.is_string()) {
                    return Err(invalid("the token's `aud` array holds a non-string"));
                }
                list.iter().any(|a| a.as_str() == Some(c.audience.as_str()))
            }
            Some(_) => {
                return Err(invalid(
                    "the token's `aud` is neither a string nor an array of strings",
                ))
            }
            None => return Err(invalid("the token has no `aud`")),
        };
        if !for_us {
            return Err(invalid(format!(
                "audience mismatch: the token is not for `{}`",
                c.audience
            )));
        }

        let sub = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) => return Err(invalid("the token's `sub` is empty")),
            Some(_) => return Err(invalid("the token's `sub` is not a string")),
            None => return Err(invalid("the token has no `sub`")),
        };

        let tenant = match claims.get(&c.tenant_claim) {
            Some(Value::String(t)) if !t.is_empty() => t.clone(),
            Some(Value::String(_)) => {
                return Err(invalid(format!(
                    "the token's tenant claim `{}` is empty",
                    c.tenant_claim
                )))
            }
            Some(_) => {
                return Err(invalid(format!(
                    "the token's tenant claim `{}` is not a string",
                    c.tenant_claim
                )))
            }
            None => {
                return Err(invalid(format!(
                    "the token has no tenant claim `{}`",
                    c.tenant_claim
                )))
            }
        };

        let roles = match claims.get(&c.roles_claim) {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|r| r.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    invalid(format!(
                        "the token's roles claim `{}` holds a non-string",
                        c.roles_claim
                    ))
                })?,
            Some(_) => {
                return Err(invalid(format!(
                    "the token's roles claim `{}` is not an array of strings",
                    c.roles_claim
                )))
            }
        };

        Ok(Identity {
            principal: Principal {
                id: sub,
                kind: PrincipalKind::User,
                roles,
                attrs: Default::default(),
            },
            tenant,
            agent: None,
        })
    }
}

impl TokenVerifier for JwksVerifier {
    fn verify(&self, token: &str, now_secs: i64) -> Result<Identity, AuthError> {
        let claims = self.verified_claims(token)?;
        self.identity(&claims, now_secs)
    }
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::Invalid(message.into())
}

/// A value from the token, short and printable, for a message.
fn shown(text: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = text
        .chars()
        .take(MAX)
        .collect::<String>()
        .escape_debug()
        .collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// A Unix time, readable.
fn when(secs: i64) -> String {
    match u64::try_from(secs) {
        Ok(s) => Timestamp::from_unix_millis(s.saturating_mul(1000)).to_string(),
        Err(_) => format!("{secs} (Unix seconds)"),
    }
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid(format!("malformed token: the {what} is not base64url")))
}

fn json_object(part: &str, what: &str) -> Result<Map<String, Value>, AuthError> {
    match serde_json::from_slice(&decode_part(part, what)?) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(format!(
            "malformed token: the {what} is not a JSON object"
        ))),
    }
}

/// A NumericDate claim, in whole seconds (fractions round down).
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or_else(|| invalid(format!("the token's `{name}` is not a valid time"))),
        Some(_) => Err(invalid(format!("the token's `{name}` is not a number"))),
    }
}

/// Members a public JWK must not have: private key material.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Checks one JWK and makes its key.
fn parse_key(index: usize, jwk: &Value) -> Result<Key, JwksError> {
    let at = |message: String| JwksError(format!("key #{index}: {message}"));
    let obj = jwk
        .as_object()
        .ok_or_else(|| at("not a JSON object".to_owned()))?;
    let kid = match obj.get("kid") {
        None => None,
        Some(Value::String(kid)) if !kid.is_empty() => Some(kid.clone()),
        Some(_) => return Err(at("`kid` is not a non-empty string".to_owned())),
    };
    let name = match &kid {
        Some(kid) => format!("key `{kid}`"),
        None => format!("key #{index} (no kid)"),
    };
    let fail = |message: String| JwksError(format!("{name}: {message}"));
    let text = |member: &str| -> Result<Option<&str>, JwksError> {
        match obj.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(fail(format!("`{member}` is not a string"))),
        }
    };
    let required = |member: &str| -> Result<&str, JwksError> {
        text(member)?.ok_or_else(|| fail(format!("no `{member}`")))
    };
    let bytes = |member: &str| -> Result<Vec<u8>, JwksError> {
        URL_SAFE_NO_PAD
            .decode(required(member)?)
            .map_err(|_| fail(format!("`{member}` is not unpadded base64url")))
    };

    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
        return Err(fail(format!(
            "holds private or secret key material (`{private}`): publish public keys only"
        )));
    }
    match text("use")? {
        None | Some("sig") => {}
        Some(other) => return Err(fail(format!("`use` is `{other}`, not `sig`"))),
    }
    if let Some(ops) = obj.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verify {
            return Err(fail("`key_ops` does not allow `verify`".to_owned()));
        }
    }

    let kty = required("kty")?;
    let alg = match kty {
        "RSA" => {
            let n = bytes("n")?;
            let e = bytes("e")?;
            let bits = bit_length(&n);
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(fail(format!(
                    "an RSA modulus of {bits} bits; {MIN_RSA_BITS} to {MAX_RSA_BITS} are accepted"
                )));
            }
            let odd = e.last().is_some_and(|b| b % 2 == 1);
            if e.len() > 4 || bit_length(&e) < 2 || !odd {
                return Err(fail(
                    "the RSA exponent is not a usable public exponent".to_owned(),
                ));
            }
            Alg::Rs256
        }
        "EC" => {
            match text("crv")? {
                Some("P-256") => {}
                Some(other) => {
                    return Err(fail(format!(
                        "curve `{other}` is not supported: EC keys must be P-256"
                    )))
                }
                None => return Err(fail("no `crv`".to_owned())),
            }
            if bytes("x")?.len() != 32 || bytes("y")?.len() != 32 {
                return Err(fail("a P-256 coordinate is not 32 bytes".to_owned()));
            }
            Alg::Es256
        }
        "OKP" => {
            match text("crv")? {
                Some("Ed25519") => {}
                Some(other) => {
                    return Err(fail(format!(
                        "curve `{other}` is not supported: OKP keys must be Ed25519"
                    )))
                }
                None => return Err(fail("no `crv`".to_owned())),
            }
            if bytes("x")?.len() != 32 {
                return Err(fail("an Ed25519 public key is not 32 bytes".to_owned()));
            }
            Alg::EdDsa
        }
        "oct" => {
            return Err(fail(
                "symmetric (`oct`) keys are refused: HMAC tokens are not accepted".to_owned(),
            ))
        }
        other => {
            return Err(fail(format!(
                "key type `{other}` is not supported (RSA, EC P-256 and OKP Ed25519 are)"
            )))
        }
    };
    match text("alg")? {
        None => {}
        Some(named) if named == alg.name() => {}
        Some(named) => {
            return Err(fail(format!(
                "`alg` is `{named}`, but a {kty} key here is used only for {}",
                alg.name()
            )))
        }
    }

    let parsed: Jwk =
        serde_json::from_value(jwk.clone()).map_err(|e| fail(format!("not a valid JWK: {e}")))?;
    let key = DecodingKey::from_jwk(&parsed).map_err(|e| fail(format!("unusable: {e}")))?;
    // Making a verifier parses the key (for EC and Ed25519, checks the point).
    (DEFAULT_PROVIDER.verifier_factory)(&alg.algorithm(), &key)
        .map_err(|e| fail(format!("not a valid {} public key: {e}", alg.name())))?;
    Ok(Key { kid, alg, key })
}

/// The number of significant bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let mut rest = bytes.iter().skip_while(|b| **b == 0);
    match rest.next() {
        None => 0,
        Some(first) => {
            let tail = rest.count();
            tail.saturating_mul(8)
                .saturating_add(8usize.saturating_sub(first.leading_zeros() as usize))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[1, 0, 1]), 17);
    }

    #[test]
    fn shown_is_short_and_printable() {
        assert_eq!(shown("k1"), "k1");
        assert_eq!(shown("a\nb"), "a\\nb");
        let long = "x".repeat(100);
        assert_eq!(shown(&long).chars().count(), 65);
    }
}
