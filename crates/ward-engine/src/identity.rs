//! Identity: who is calling, established by the channel and never by the
//! request body.
//!
//! An agent or service presents an API key (`wk_<id>_<secret>`); the gate
//! stores only the SHA-256 of the whole key. A human presents a JWT (see
//! [`crate::JwksVerifier`]). An agent key may act for a human when the
//! human's JWT is presented alongside it. The body's actor is then checked
//! against what the credentials established: it may narrow the roles, never
//! widen anything.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use ward_core::{Actor, Principal, PrincipalKind};

/// Role that may administer the gate: registry, kill switch, bundles, keys.
pub const ROLE_ADMIN: &str = "ward:admin";
/// Role that may read a tenant's audit log (query and export).
pub const ROLE_AUDITOR: &str = "ward:auditor";
/// Role that may open a break-glass override.
pub const ROLE_BREAK_GLASS: &str = "ward:break-glass";

/// What the caller presented.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The `Authorization: Bearer` token: an API key or a JWT.
    pub bearer: Option<String>,
    /// A human's JWT presented by an agent acting for them.
    pub on_behalf_of: Option<String>,
}

/// Who the credentials establish.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The principal, with the roles the credential grants.
    pub principal: Principal,
    /// The tenant the credential is bound to.
    pub tenant: String,
    /// The agent the credential is bound to, if it is an agent key.
    pub agent: Option<String>,
}

impl Identity {
    /// Whether this is an operator key: `ward:admin` in every tenant.
    pub fn is_operator(&self) -> bool {
        self.tenant == "*" && self.has_role(ROLE_ADMIN)
    }

    /// Whether the principal holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.principal.roles.iter().any(|r| r == role)
    }
}

/// A stored API key: the hash, never the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRecord {
    /// The public part of the key (`wk_<id>_...`).
    pub id: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    /// The tenant the key acts in; `*` for an operator key of every tenant.
    pub tenant: String,
    /// The principal id the key authenticates.
    pub principal: String,
    /// User or service.
    pub kind: PrincipalKind,
    /// Roles granted.
    pub roles: Vec<String>,
    /// The agent the key is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Revoked keys authenticate nothing.
    #[serde(default)]
    pub revoked: bool,
}

/// Why a caller was not authenticated, or its body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential was presented (HTTP 401).
    #[error("no credential: send `Authorization: Bearer <api key or JWT>`")]
    Missing,
    /// The credential is not valid (HTTP 401).
    #[error("invalid credential: {0}")]
    Invalid(String),
    /// The credential is valid but does not cover the request (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(String),
}

/// A freshly made API key: the secret is shown once.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The full key, `wk_<id>_<secret>`.
    pub key: String,
    /// What is stored.
    pub record: ApiKeyRecord,
}

/// The hash stored for a key.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The id part of `wk_<id>_<secret>`.
pub fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("wk_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some(id)
}

/// Makes a random API key for `record` (whose `id` and `hash` are filled in).
pub fn new_api_key(mut record: ApiKeyRecord) -> Result<NewApiKey, AuthError> {
    use rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 24];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| AuthError::Invalid(format!("no randomness for a key: {e}")))?;
    let (id, secret) = bytes.split_at(6);
    let id = hex::encode(id);
    let key = format!("wk_{id}_{}", hex::encode(secret));
    record.id = id;
    record.hash = hash_key(&key);
    Ok(NewApiKey { key, record })
}

/// Checks a presented key against the stored records, in constant time per
/// record.
pub fn check_api_key<'a>(
    key: &str,
    records: impl Fn(&str) -> Option<&'a ApiKeyRecord>,
) -> Result<Identity, AuthError> {
    let id = key_id(key).ok_or_else(|| AuthError::Invalid("malformed API key".into()))?;
    let record = records(id).ok_or_else(|| AuthError::Invalid("unknown API key".into()))?;
    let presented = hash_key(key);
    let equal = presented
        .bytes()
        .zip(record.hash.bytes())
        .fold(presented.len() ^ record.hash.len(), |acc, (a, b)| {
            acc | usize::from(a ^ b)
        });
    if equal != 0 || record.revoked {
        return Err(AuthError::Invalid("unknown API key".into()));
    }
    Ok(Identity {
        principal: Principal {
            id: record.principal.clone(),
            kind: record.kind,
            roles: record.roles.clone(),
            attrs: Default::default(),
        },
        tenant: record.tenant.clone(),
        agent: record.agent.clone(),
    })
}

/// Combines an agent key with the human it acts for: the human is the
/// principal, the agent binding and tenant must agree.
pub(crate) fn on_behalf(agent: Identity, human: Identity) -> Result<Identity, AuthError> {
    if agent.agent.is_none() {
        return Err(AuthError::Forbidden(
            "only an agent key may act on behalf of a user".into(),
        ));
    }
    if agent.tenant != "*" && agent.tenant != human.tenant {
        return Err(AuthError::Forbidden(format!(
            "the user's tenant `{}` is not the agent key's tenant `{}`",
            human.tenant, agent.tenant
        )));
    }
    Ok(Identity {
        principal: human.principal,
        tenant: human.tenant,
        agent: agent.agent,
    })
}

/// Checks the body's actor against the identity and returns the actor the
/// pipeline uses: the credential's principal with the body's roles (which
/// must be a subset), the credential's tenant, the body's session and agent
/// version.
pub fn bind_actor(identity: &Identity, body: &Actor) -> Result<Actor, AuthError> {
    let tenant = if identity.tenant == "*" {
        body.tenant.clone()
    } else if body.tenant == identity.tenant {
        identity.tenant.clone()
    } else {
        return Err(AuthError::Forbidden(format!(
            "the credential is for tenant `{}`, not `{}`",
            identity.tenant, body.tenant
        )));
    };
    let p = &identity.principal;
    if body.principal.id != p.id {
        return Err(AuthError::Forbidden(format!(
            "the credential authenticates principal `{}`, not `{}`",
            p.id, body.principal.id
        )));
    }
    if body.principal.kind != p.kind {
        return Err(AuthError::Forbidden(format!(
            "the credential authenticates a {} principal, not a {}",
            p.kind.as_str(),
            body.principal.kind.as_str()
        )));
    }
    if let Some(extra) = body.principal.roles.iter().find(|r| !p.roles.contains(r)) {
        return Err(AuthError::Forbidden(format!(
            "role `{extra}` is not granted by the credential"
        )));
    }
    if let Some(agent) = &identity.agent {
        if &body.agent.id != agent {
            return Err(AuthError::Forbidden(format!(
                "the credential is bound to agent `{agent}`, not `{}`",
                body.agent.id
            )));
        }
    }
    let roles = if body.principal.roles.is_empty() {
        p.roles.clone()
    } else {
        body.principal.roles.clone()
    };
    Ok(Actor {
        principal: Principal {
            id: p.id.clone(),
            kind: p.kind,
            roles,
            attrs: p.attrs.clone(),
        },
        tenant,
        session: body.session.clone(),
        agent: body.agent.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use ward_core::AgentRef;

    fn record() -> ApiKeyRecord {
        ApiKeyRecord {
            id: String::new(),
            hash: String::new(),
            tenant: "acme".into(),
            principal: "svc-bot".into(),
            kind: PrincipalKind::Service,
            roles: vec!["support".into(), "premium".into()],
            agent: Some("support-bot".into()),
            revoked: false,
        }
    }

    fn actor(tenant: &str, id: &str, roles: &[&str], agent: &str) -> Actor {
        Actor {
            principal: Principal {
                id: id.into(),
                kind: PrincipalKind::Service,
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                attrs: Default::default(),
            },
            tenant: tenant.into(),
            session: "s-1".into(),
            agent: AgentRef {
                id: agent.into(),
                version: "1.0.0".into(),
            },
        }
    }

    #[test]
    fn a_key_authenticates_only_itself() {
        let made = new_api_key(record()).unwrap();
        let stored = made.record.clone();
        let lookup = |id: &str| (id == stored.id).then_some(&stored);
        let who = check_api_key(&made.key, lookup).unwrap();
        assert_eq!(who.principal.id, "svc-bot");
        let mut tampered = made.key.clone();
        tampered.push('0');
        assert!(check_api_key(&tampered, lookup).is_err());
        assert!(check_api_key("wk_nope", lookup).is_err());
        assert!(check_api_key("Bearer x", lookup).is_err());
        let revoked = ApiKeyRecord {
            revoked: true,
            ..stored.clone()
        };
        assert!(check_api_key(&made.key, |_| Some(&revoked)).is_err());
    }

    #[test]
    fn the_body_may_narrow_but_never_widen() {
        let made = new_api_key(record()).unwrap();
        let stored = made.record;
        let who = check_api_key(&made.key, |_| Some(&stored)).unwrap();
        let bound =
            bind_actor(&who, &actor("acme", "svc-bot", &["support"], "support-bot")).unwrap();
        assert_eq!(bound.principal.roles, ["support"]);
        let all = bind_actor(&who, &actor("acme", "svc-bot", &[], "support-bot")).unwrap();
        assert_eq!(all.principal.roles, ["support", "premium"]);
        for (body, what) in [
            (actor("globex", "svc-bot", &[], "support-bot"), "tenant"),
            (actor("acme", "someone", &[], "support-bot"), "principal"),
            (actor("acme", "svc-bot", &["admin"], "support-bot"), "role"),
            (actor("acme", "svc-bot", &[], "other-bot"), "agent"),
        ] {
            let err = bind_actor(&who, &body).unwrap_err();
            assert!(matches!(err, AuthError::Forbidden(_)), "{what}: {err}");
        }
    }
}
