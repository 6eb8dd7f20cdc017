//! The names an SP finds in the gateway's assertions: attribute names (OIDs, as the Finnish
//! public sector's SAML profile names them) and the FTN levels of assurance. One place, so a
//! suite asserts what the gateway releases without restating it.

/// The personal identity code (HETU).
pub const OID_HETU: &str = "urn:oid:1.2.246.21";
/// The electronic identifier (SATU) of an ID card.
pub const OID_SATU: &str = "urn:oid:1.2.246.22";
pub const OID_GIVEN: &str = "urn:oid:2.5.4.42";
pub const OID_SN: &str = "urn:oid:2.5.4.4";
pub const OID_CN: &str = "urn:oid:2.5.4.3";
pub const OID_DOB: &str = "urn:oid:1.3.6.1.5.5.7.9.1";

pub const LOA2: &str = "http://ftn.ficora.fi/2017/loa2";
pub const LOA3: &str = "http://ftn.ficora.fi/2017/loa3";
