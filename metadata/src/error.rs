#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    #[error("{source_name}: {source}")]
    Saml {
        source_name: String,
        source: saml::SamlError,
    },
    #[error("{source_name}: entity {entity_id:?}: {reason}")]
    Invalid {
        source_name: String,
        entity_id: String,
        reason: String,
    },
    #[error("{source_name}: no SPSSODescriptor found")]
    NoServiceProvider { source_name: String },
    #[error("{source_name}: entity {entity_id:?} is registered twice")]
    Duplicate {
        source_name: String,
        entity_id: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl MetadataError {
    pub fn code(&self) -> &'static str {
        match self {
            MetadataError::Saml { .. } => "metadata.xml",
            MetadataError::Invalid { .. } => "metadata.invalid",
            MetadataError::NoServiceProvider { .. } => "metadata.no_sp",
            MetadataError::Duplicate { .. } => "metadata.duplicate",
            MetadataError::Io { .. } => "metadata.io",
        }
    }
}
