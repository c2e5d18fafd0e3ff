//! SHA-256 digests, written `sha256:<64 lowercase hex digits>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::canonical::{to_canonical_json, CanonicalError};
use crate::request::{Actor, ContentSource, Intervention, Request};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

/// Why a digest string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest `{0}`: expected `sha256:` and 64 lowercase hex digits")]
pub struct DigestParseError(String);

impl Digest {
    /// The digest of raw bytes.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// The digest of a value's canonical JSON.
    pub fn of_canonical<T: Serialize + ?Sized>(value: &T) -> Result<Digest, CanonicalError> {
        Ok(Digest::of_bytes(&to_canonical_json(value)?))
    }

    /// The digest that binds a decision or an approval to one exact request:
    /// the canonical JSON of the whole request except its idempotency key,
    /// approval id and trace, which identify the attempt, not the call.
    pub fn of_request(request: &Request) -> Result<Digest, CanonicalError> {
        // Every member named, so a new member of `Request` must be placed
        // here, in the digest or out of it, before this compiles.
        let Request {
            intervention,
            actor,
            tool,
            action,
            target,
            args,
            context,
            content,
            source,
            idempotency_key: _,
            approval_id: _,
            trace: _,
        } = request;
        Digest::of_canonical(&Call {
            intervention: *intervention,
            actor,
            tool: tool.as_ref(),
            action: action.as_ref(),
            target: target.as_ref(),
            args: Some(args).filter(|m| !m.is_empty()),
            context: Some(context).filter(|m| !m.is_empty()),
            content: content.as_ref(),
            source: source.as_ref(),
        })
    }

    /// The digest of a call's arguments alone.
    pub fn of_args(
        args: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Digest, CanonicalError> {
        Digest::of_canonical(args)
    }

    /// Lowercase hex, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `sha256:` and the lowercase hex digits, written on the stack: a
    /// decision serializes several digests, and `Display` through the
    /// formatting machinery with a `String` for the hex was a measurable
    /// part of its cost.
    fn text(&self) -> [u8; TEXT_LEN] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; TEXT_LEN];
        let (prefix, digits) = text.split_at_mut(PREFIX.len());
        prefix.copy_from_slice(PREFIX.as_bytes());
        for (pair, byte) in digits.chunks_exact_mut(2).zip(self.0) {
            for (digit, nibble) in pair.iter_mut().zip([byte >> 4, byte & 0xf]) {
                *digit = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            }
        }
        text
    }
}

const PREFIX: &str = "sha256:";
const TEXT_LEN: usize = PREFIX.len() + 64;

/// The text of [`Digest::text`] as a `str` (it is ASCII by construction).
fn text_str(text: &[u8; TEXT_LEN]) -> &str {
    std::str::from_utf8(text).unwrap_or("sha256:?")
}

/// A request as its digest sees it: borrowed, without the members that
/// identify the attempt, and skipping what `Request` skips when empty.
#[derive(Serialize)]
struct Call<'a> {
    intervention: Intervention,
    actor: &'a Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'a serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a ContentSource>,
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(text_str(&self.text()))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Digest, DigestParseError> {
        let err = || DigestParseError(s.to_owned());
        let hex_part = s.strip_prefix("sha256:").ok_or_else(err)?;
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| err())?;
        Ok(Digest(out))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(text_str(&self.text()))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_digest_covers_every_member_but_the_attempt() {
        let full = serde_json::json!({
            "intervention": "post_tool_call",
            "actor": {"tenant": "acme", "principal": {"id": "u-1", "kind": "user", "roles": ["a"]},
                      "agent": {"id": "bot", "version": "1"}, "session": "s-1"},
            "tool": "lookup_order", "action": "read", "target": "orders/7",
            "args": {"id": 7, "note": "x"}, "context": {"age": 3},
            "content": "hello", "source": {"kind": "tool", "tool": "lookup_order", "trust": "untrusted"},
            "idempotency_key": "k-1", "approval_id": "apr_1",
            "trace": {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"},
        });
        let request = Request::from_json(full.to_string().as_bytes()).unwrap();
        // The definition: the canonical JSON of the request with the three
        // members that identify the attempt left out.
        let call = |r: &Request| Request {
            idempotency_key: None,
            approval_id: None,
            trace: None,
            ..r.clone()
        };
        let expected = Digest::of_canonical(&call(&request)).unwrap();
        assert_eq!(Digest::of_request(&request).unwrap(), expected);
        // Each member of the call moves the digest; empty maps are absent.
        for (member, other) in [
            ("tool", serde_json::json!("other")),
            ("action", serde_json::json!("write")),
            ("target", serde_json::json!("orders/8")),
            ("args", serde_json::json!({"id": 8})),
            ("context", serde_json::json!({"age": 4})),
            ("content", serde_json::json!("bye")),
            ("source", serde_json::json!({"kind": "retrieval"})),
        ] {
            let mut changed = full.clone();
            changed[member] = other;
            let changed = Request::from_json(changed.to_string().as_bytes()).unwrap();
            assert_ne!(Digest::of_request(&changed).unwrap(), expected, "{member}");
        }
        let mut bare = full.clone();
        bare["args"] = serde_json::json!({});
        bare["context"] = serde_json::json!({});
        let bare = Request::from_json(bare.to_string().as_bytes()).unwrap();
        let digest = Digest::of_request(&bare).unwrap();
        assert_eq!(digest, Digest::of_canonical(&call(&bare)).unwrap());
        assert!(
            !String::from_utf8(crate::to_canonical_json(&call(&bare)).unwrap())
                .unwrap()
                .contains("\"args\"")
        );
    }

    #[test]
    fn known_vector() {
        assert_eq!(
            Digest::of_bytes(b"abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn text_is_the_prefix_and_the_hex_of_every_byte() {
        let mut all = (0..=255u8).collect::<Vec<_>>();
        all.extend(0..64);
        for chunk in all.chunks(32) {
            let d = Digest(chunk.try_into().unwrap());
            let expected = format!("sha256:{}", hex::encode(d.0));
            assert_eq!(d.to_string(), expected);
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                format!("\"{expected}\"")
            );
            assert_eq!(
                crate::to_canonical_json(&d).unwrap(),
                format!("\"{expected}\"").into_bytes()
            );
        }
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let d = Digest::of_bytes(b"x");
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        for bad in [
            "",
            "sha256:",
            "md5:00",
            &d.to_string().to_uppercase(),
            &d.to_string()[..70],
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }
}
