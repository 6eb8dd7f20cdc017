//! Who the service providers are (a validated, hot-swappable registry built from their SAML
//! metadata), what each may receive (attribute release), and the gateway's own IdP metadata.

mod attributes;
mod error;
mod idp;
mod registry;
mod sp;

pub use attributes::{AttributeId, ReleasePolicy};
pub use error::MetadataError;
pub use idp::{idp_metadata_xml, IdpMetadataParams};
pub use registry::{SpRegistry, SpRegistryHandle};
pub use sp::{parse_sp_metadata, AcsEndpoint, AcsError, ServiceProvider};
