//! Ed25519 signatures over bundle digests.
//!
//! The signed message is `ward-policy-bundle-v1\n` followed by the digest
//! string (`sha256:<hex>`), so a signature can never be replayed as a
//! signature over anything else. Keys are text:
//! `ward-ed25519-secret:<base64 seed>` and `ward-ed25519:<base64 public key>`.
//! Generating a key needs randomness, so callers pass the seed in.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

const CONTEXT: &str = "ward-policy-bundle-v1\n";
const SECRET_PREFIX: &str = "ward-ed25519-secret:";
const PUBLIC_PREFIX: &str = "ward-ed25519:";

/// A detached signature over a bundle digest, stored next to the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSignature {
    /// The bundle digest that was signed.
    pub digest: String,
    /// The first 8 hex digits of SHA-256 of the public key.
    pub key_id: String,
    /// Base64 Ed25519 signature.
    pub signature: String,
}

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key text is malformed.
    #[error("invalid key: {0}")]
    BadKey(String),
    /// The signature is for another bundle.
    #[error("the signature is for bundle `{signed}`, but this bundle is `{actual}`")]
    DigestMismatch {
        /// What was signed.
        signed: String,
        /// What was loaded.
        actual: String,
    },
    /// The signature is by another key.
    #[error("the signature is by key `{signed}`, not the trusted key `{trusted}`")]
    WrongKey {
        /// Who signed.
        signed: String,
        /// Whom we trust.
        trusted: String,
    },
    /// The signature does not verify.
    #[error("the signature does not verify")]
    Invalid,
}

/// The secret key text for a 32-byte seed.
pub fn secret_key_text(seed: &[u8; 32]) -> String {
    format!("{SECRET_PREFIX}{}", B64.encode(seed))
}

/// The public key text of a secret key text.
pub fn public_key_text(secret: &str) -> Result<String, SignatureError> {
    let key = parse_secret(secret)?;
    Ok(format!(
        "{PUBLIC_PREFIX}{}",
        B64.encode(key.verifying_key().as_bytes())
    ))
}

fn parse_secret(text: &str) -> Result<SigningKey, SignatureError> {
    let b64 = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
        SignatureError::BadKey(format!("a secret key starts with `{SECRET_PREFIX}`"))
    })?;
    let bytes = B64
        .decode(b64)
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| SignatureError::BadKey("a secret key holds 32 bytes".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn parse_public(text: &str) -> Result<VerifyingKey, SignatureError> {
    let b64 = text.trim().strip_prefix(PUBLIC_PREFIX).ok_or_else(|| {
        SignatureError::BadKey(format!("a public key starts with `{PUBLIC_PREFIX}`"))
    })?;
    let bytes = B64
        .decode(b64)
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
    let raw: [u8; 32] = bytes
        .try_into()
        .map_err(|_| SignatureError::BadKey("a public key holds 32 bytes".into()))?;
    VerifyingKey::from_bytes(&raw).map_err(|e| SignatureError::BadKey(e.to_string()))
}

fn key_id(key: &VerifyingKey) -> String {
    hex_prefix(&Sha256::digest(key.as_bytes()))
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// Signs a bundle digest.
pub fn sign_digest(digest: &str, secret: &str) -> Result<BundleSignature, SignatureError> {
    let key = parse_secret(secret)?;
    let signature = key.sign(format!("{CONTEXT}{digest}").as_bytes());
    Ok(BundleSignature {
        digest: digest.to_owned(),
        key_id: key_id(&key.verifying_key()),
        signature: B64.encode(signature.to_bytes()),
    })
}

/// Verifies that `signature` is a signature by `public` over `digest`.
pub fn verify_digest(
    digest: &str,
    signature: &BundleSignature,
    public: &str,
) -> Result<(), SignatureError> {
    let key = parse_public(public)?;
    if signature.digest != digest {
        return Err(SignatureError::DigestMismatch {
            signed: signature.digest.clone(),
            actual: digest.to_owned(),
        });
    }
    let trusted = key_id(&key);
    if signature.key_id != trusted {
        return Err(SignatureError::WrongKey {
            signed: signature.key_id.clone(),
            trusted,
        });
    }
    let raw = B64
        .decode(&signature.signature)
        .map_err(|_| SignatureError::Invalid)?;
    let sig = Signature::from_slice(&raw).map_err(|_| SignatureError::Invalid)?;
    key.verify(format!("{CONTEXT}{digest}").as_bytes(), &sig)
        .map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_refuse_tampering() {
        let secret = secret_key_text(&[7; 32]);
        let public = public_key_text(&secret).unwrap();
        let digest = "sha256:00";
        let sig = sign_digest(digest, &secret).unwrap();
        verify_digest(digest, &sig, &public).unwrap();
        assert!(matches!(
            verify_digest("sha256:01", &sig, &public),
            Err(SignatureError::DigestMismatch { .. })
        ));
        let other = public_key_text(&secret_key_text(&[8; 32])).unwrap();
        assert!(matches!(
            verify_digest(digest, &sig, &other),
            Err(SignatureError::WrongKey { .. })
        ));
        let mut forged = sig.clone();
        forged.signature = B64.encode([0u8; 64]);
        assert_eq!(
            verify_digest(digest, &forged, &public),
            Err(SignatureError::Invalid)
        );
        assert!(verify_digest(digest, &sig, "garbage").is_err());
    }
}
