//! Composing the gateway's identity from its config: the stdio client's
//! credential, and the agent version the config may register at start.
//!
//! The config is the operator's, like a bundle: what it declares is
//! trusted as the operator's word. The client never names who it is.

use std::path::Path;

use ward_core::PrincipalKind;
use ward_engine::{AgentRecord, ApiKeyRecord, Credentials, Engine, Identity};

use super::config::{GatewayConfig, IdentitySpec};
use super::GatewayError;

fn identity_error(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Identity(e.to_string())
}

/// The operator identity of a node, from its `admin.key`.
pub fn operator(engine: &Engine, admin_key_path: &Path) -> Result<Identity, GatewayError> {
    let key = std::fs::read_to_string(admin_key_path)
        .map_err(|e| identity_error(format!("cannot read `{}`: {e}", admin_key_path.display())))?;
    engine
        .authenticate(&Credentials {
            bearer: Some(key.trim().to_owned()),
            on_behalf_of: None,
        })
        .map_err(identity_error)
}

/// Registers the agent version the config declares under `ward.agent.register`
/// (its model, prompt digest, owner, environment and tools), as `operator`.
/// Nothing to do when the config registers nothing.
pub async fn register_agent(
    engine: &Engine,
    config: &GatewayConfig,
    operator: &Identity,
) -> Result<(), GatewayError> {
    let Some(register) = &config.agent.register else {
        return Ok(());
    };
    let mut value = register.clone();
    let map = value
        .as_object_mut()
        .ok_or_else(|| identity_error("`ward.agent.register` must be an object"))?;
    map.insert("id".into(), config.agent.id.clone().into());
    map.insert("version".into(), config.agent.version.clone().into());
    let record: AgentRecord = serde_json::from_value(value)
        .map_err(|e| identity_error(format!("`ward.agent.register`: {e}")))?;
    engine
        .register_agent(operator, record)
        .await
        .map_err(identity_error)
}

/// The stdio client's credential: an API key from the environment or a
/// file, or one the gateway made for the declared principal on first start
/// and keeps in its data directory (mode 0600).
pub async fn stdio_credentials(
    engine: &Engine,
    config: &GatewayConfig,
) -> Result<Credentials, GatewayError> {
    let spec = config.identity.as_ref().ok_or_else(|| {
        identity_error(
            "serving over stdio needs `ward.identity`: who the client acts as (`api_key_env`, \
             `api_key_file`, or a `principal` with its `tenant`)",
        )
    })?;
    let key = match spec {
        IdentitySpec {
            api_key_env: Some(var),
            ..
        } => std::env::var(var)
            .map_err(|_| identity_error(format!("environment variable `{var}` is not set")))?,
        IdentitySpec {
            api_key_file: Some(path),
            ..
        } => std::fs::read_to_string(path)
            .map_err(|e| identity_error(format!("cannot read `{}`: {e}", path.display())))?,
        IdentitySpec {
            principal: Some(principal),
            ..
        } => minted_key(engine, config, spec, principal).await?,
        _ => {
            return Err(identity_error(
                "`ward.identity` gives none of `api_key_env`, `api_key_file`, `principal`",
            ))
        }
    };
    let creds = Credentials {
        bearer: Some(key.trim().to_owned()),
        on_behalf_of: None,
    };
    engine.authenticate(&creds).map_err(identity_error)?;
    Ok(creds)
}

async fn minted_key(
    engine: &Engine,
    config: &GatewayConfig,
    spec: &IdentitySpec,
    principal: &str,
) -> Result<String, GatewayError> {
    let tenant = spec
        .tenant
        .clone()
        .ok_or_else(|| identity_error("`ward.identity.principal` needs its `tenant`"))?;
    if tenant == "*" {
        return Err(identity_error(
            "the stdio identity must belong to one tenant, not `*`",
        ));
    }
    let kind = spec.kind.unwrap_or(PrincipalKind::User);
    let mut roles = spec.roles.clone();
    roles.sort();
    if let Some(role) = roles.iter().find(|r| r.starts_with("ward:")) {
        return Err(identity_error(format!(
            "the stdio identity may not hold the gate's own role `{role}`"
        )));
    }
    // One key per declared identity: a changed declaration makes a new key.
    let seed = format!(
        "{tenant}\n{principal}\n{}\n{}\n{}",
        kind.as_str(),
        roles.join(","),
        config.agent.id
    );
    let tag = ward_core::Digest::of_bytes(seed.as_bytes()).hex();
    let path = config.data_dir.join(format!(
        "mcp-identity-{}.key",
        tag.get(..16).unwrap_or_default()
    ));
    if let Ok(key) = std::fs::read_to_string(&path) {
        return Ok(key);
    }
    let made = engine
        .bootstrap_api_key(ApiKeyRecord {
            id: String::new(),
            hash: String::new(),
            tenant,
            principal: principal.to_owned(),
            kind,
            roles,
            agent: Some(config.agent.id.clone()),
            revoked: false,
        })
        .await
        .map_err(identity_error)?;
    crate::node::write_private(&path, &format!("{}\n", made.key)).map_err(identity_error)?;
    Ok(made.key)
}
