//! Where an argument's value came from: the label the provenance index gives
//! and the policy reads as `provenance.args.<name>`.

use serde::{Deserialize, Serialize};

/// Where an argument's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvenanceLabel {
    /// Found in trusted content (the user's own input, trusted tool fields).
    Trusted,
    /// Found only in untrusted content.
    Untrusted,
    /// Found in no recorded content: the model produced it.
    New,
}

impl ProvenanceLabel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvenanceLabel::Trusted => "trusted",
            ProvenanceLabel::Untrusted => "untrusted",
            ProvenanceLabel::New => "new",
        }
    }
}

/// The provenance of one argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgProvenance {
    /// The label.
    pub label: ProvenanceLabel,
    /// Where the deciding values were seen, such as `tool:read_email`, for the approver.
    #[serde(default)]
    pub sources: Vec<String>,
}
