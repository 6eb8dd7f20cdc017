//! Support code for the end-to-end suite: independent SAML implementations driven as service providers.
pub mod peers;
