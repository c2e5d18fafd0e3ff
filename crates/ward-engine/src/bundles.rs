//! The bundle archive: upload, list, activate and diff. Every version the
//! gate has loaded is kept, so any past decision can be replayed.

use std::sync::Arc;

use ward_policy::{BundleDiff, BundleSignature};

use crate::engine::{blocking, Engine, EngineError};
use crate::identity::Identity;
use crate::state::BundleRecord;

/// Checks a bundle's signature against the trusted keys. With no trusted
/// keys every bundle is accepted; with some, an unsigned or wrongly signed
/// bundle is refused.
pub(crate) fn check_signature(
    trusted: &[String],
    record: &BundleRecord,
) -> Result<(), EngineError> {
    if trusted.is_empty() {
        return Ok(());
    }
    let text = record.signature.as_deref().ok_or_else(|| {
        EngineError::Bundle("the gate trusts signed bundles only, and this one is unsigned".into())
    })?;
    let signature: BundleSignature = serde_json::from_str(text)
        .map_err(|e| EngineError::Bundle(format!("signature is not valid JSON: {e}")))?;
    let mut last = String::new();
    for key in trusted {
        match ward_policy::verify_digest(&record.digest, &signature, key) {
            Ok(()) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(EngineError::Bundle(format!(
        "signature does not verify: {last}"
    )))
}

/// Compiles bundle files into an archive record (the digest is computed).
pub fn bundle_record(
    files: Vec<(String, String)>,
    signature: Option<String>,
    uploaded_ms: i64,
) -> Result<BundleRecord, EngineError> {
    let sources: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let loaded = ward_policy::load(&sources).map_err(|e| EngineError::Bundle(e.to_string()))?;
    let policy = loaded.compiled.policy().clone();
    Ok(BundleRecord {
        digest: policy.digest,
        name: policy.name,
        version: policy.version,
        files,
        signature,
        uploaded_ms,
    })
}

impl Engine {
    /// Archives a bundle (checking that it compiles and, if the gate trusts
    /// keys, its signature). It does not activate it.
    pub async fn upload_bundle(
        &self,
        who: &Identity,
        files: Vec<(String, String)>,
        signature: Option<String>,
    ) -> Result<BundleRecord, EngineError> {
        crate::admin::require_operator(who)?;
        let record = bundle_record(files, signature, self.now_ms())?;
        check_signature(&self.inner.config.trusted_bundle_keys, &record)?;
        let stored = record.clone();
        blocking(&self.inner.state, move |s| s.put_bundle(&stored)).await?;
        Ok(BundleRecord {
            files: Vec::new(),
            ..record
        })
    }

    /// Makes an archived bundle active on every node. New decisions use it
    /// at once on this node, and after the next refresh on the others;
    /// decisions in flight finish under the bundle they started with.
    pub async fn activate_bundle(&self, who: &Identity, digest: &str) -> Result<(), EngineError> {
        crate::admin::require_operator(who)?;
        let _one_at_a_time = self.inner.activation.lock().await;
        let d = digest.to_owned();
        let record = blocking(&self.inner.state, move |s| s.bundle(&d))
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no archived bundle {digest}")))?;
        check_signature(&self.inner.config.trusted_bundle_keys, &record)?;
        // Compile before switching the store, so a bad archive never goes
        // live; switch this node only once the store has switched, so a
        // store that refuses leaves every node on the bundle it had.
        let active = Engine::compile_bundle(record)?;
        let (d, now) = (digest.to_owned(), self.now_ms());
        blocking(&self.inner.state, move |s| s.activate_bundle(&d, now)).await?;
        self.swap_bundle(active, None);
        Ok(())
    }

    /// Archived bundles, newest first, and the active digest.
    pub async fn bundles(&self) -> Result<(Vec<BundleRecord>, Option<String>), EngineError> {
        Ok(blocking(&self.inner.state, |s| {
            Ok((s.bundles()?, s.active_bundle()?))
        })
        .await?)
    }

    /// The difference between two archived bundles.
    pub async fn diff_bundles(&self, old: &str, new: &str) -> Result<BundleDiff, EngineError> {
        let (o, n) = (old.to_owned(), new.to_owned());
        let (a, b) = blocking(&self.inner.state, move |s| {
            Ok((s.bundle(&o)?, s.bundle(&n)?))
        })
        .await?;
        let compile = |r: Option<BundleRecord>, d: &str| -> Result<_, EngineError> {
            let r = r.ok_or_else(|| EngineError::NotFound(format!("no archived bundle {d}")))?;
            let sources: Vec<(&str, &str)> = r
                .files
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect();
            ward_policy::load(&sources)
                .map(|l| Arc::new(l.compiled))
                .map_err(|e| EngineError::Bundle(e.to_string()))
        };
        let (a, b) = (compile(a, old)?, compile(b, new)?);
        Ok(ward_policy::diff(&a, &b))
    }
}
