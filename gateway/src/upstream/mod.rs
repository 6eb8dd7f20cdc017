//! Where citizens authenticate: the configured banks and their refresh, the ID card's
//! certificate listener and CRL refresh, the SATU mapping table, and the outbound HTTP client.

pub mod backchannel;
pub mod banks;
pub mod http_client;
pub mod idcard;
pub mod idcard_table;
