//! A test PKI for ID-card (TLS client certificate) login, made by code so every test, fuzz seed
//! and the development mode start from the same, reviewable recipe: a root, an intermediate,
//! valid citizen card certificates, and one bad certificate or CRL per rule the validator
//! enforces. Never trusted by a production configuration: the names say "Test".
//!
//! Shaped like the Finnish citizen certificate (kansalaisvarmenne): subject `C=FI`, surname,
//! given name, `serialNumber` = SATU (electronic identification number), common name
//! "SURNAME GIVEN SATU"; key usage digitalSignature + keyEncipherment; extended key usage
//! clientAuth + emailProtection. The signing certificate on the same card has nonRepudiation
//! only and must not log anyone in.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, NameConstraints, RevokedCertParams, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::{CertError, KeyKind, SigningKey};

/// OID of `serialNumber` (X.520), where the citizen certificate carries the SATU.
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
const OID_SURNAME: &[u64] = &[2, 5, 4, 4];
const OID_GIVEN_NAME: &[u64] = &[2, 5, 4, 42];

/// A CA of the test PKI: its certificate and key.
pub struct TestCa {
    pub cert_der: Vec<u8>,
    pub key_pem: String,
    params: CertificateParams,
}

/// A citizen certificate as a browser would present it: leaf first, then the intermediates it
/// sends (never the root).
#[derive(Clone)]
pub struct TestCard {
    pub name: &'static str,
    pub chain: Vec<Vec<u8>>,
    pub key_pem: String,
    pub satu: String,
    pub given_name: String,
    pub surname: String,
}

/// Everything the ID-card tests need. Times are relative to the `now` given to [`Self::generate`].
pub struct IdCardTestPki {
    /// The `now` it was generated for.
    pub generated_at: OffsetDateTime,
    pub root: TestCa,
    pub intermediate: TestCa,
    /// The root's CRL (covers the intermediate; revokes nothing).
    pub root_crl: Vec<u8>,
    /// The intermediate's CRL: revokes [`TestCards::revoked`].
    pub intermediate_crl: Vec<u8>,
    /// The intermediate's CRL whose nextUpdate has passed.
    pub stale_crl: Vec<u8>,
    /// A CRL naming the intermediate as issuer, signed by another key.
    pub wrong_key_crl: Vec<u8>,
    /// A newer intermediate CRL that also revokes [`TestCards::valid`] (for refresh tests).
    pub later_crl_revoking_valid: Vec<u8>,
    /// A CA (under the root) permitted only `citizen.test` DNS names, and its CRL.
    pub constrained_ca: TestCa,
    pub constrained_crl: Vec<u8>,
    pub cards: TestCards,
}

/// One certificate per case. Each bad one breaks exactly one rule.
pub struct TestCards {
    /// P-256, the usual shape.
    pub valid: TestCard,
    /// RSA-2048, as older cards.
    pub valid_rsa: TestCard,
    /// A second citizen, for "no national id mapping" cases.
    pub unmapped: TestCard,
    pub expired: TestCard,
    pub not_yet_valid: TestCard,
    /// Signed by a different key whose certificate has the intermediate's exact DN.
    pub rogue_same_dn: TestCard,
    /// Issued by a certificate (signed by the root) that lacks the CA flag.
    pub intermediate_not_ca: TestCard,
    /// root -> intermediate (pathLen 0) -> sub-CA -> card.
    pub path_len_exceeded: TestCard,
    pub revoked: TestCard,
    /// The card's signing certificate: nonRepudiation only.
    pub signing_only: TestCard,
    /// Extended key usage without clientAuth.
    pub server_auth_only: TestCard,
    /// Issued under a CA permitted only `citizen.test` names, with a SAN outside it.
    pub name_constraint_violation: TestCard,
    /// 10,000 subjectAltNames.
    pub huge_san: TestCard,
}

impl IdCardTestPki {
    /// Make the whole PKI. P-256 keys except one RSA card, so this takes milliseconds, not seconds.
    pub fn generate(now: OffsetDateTime) -> Result<Self, CertError> {
        let err = |e: rcgen::Error| CertError::Generate(e.to_string());
        let root = TestCa::new(
            "Test Citizen Root CA",
            None,
            IsCa::Ca(BasicConstraints::Unconstrained),
            now,
        )?;
        let intermediate = TestCa::new(
            "Test Citizen CA 1",
            Some(&root),
            IsCa::Ca(BasicConstraints::Constrained(0)),
            now,
        )?;

        let card = |name, serial, satu_prefix: &str, given: &str, family: &str| {
            CardSpec::new(name, serial, satu_prefix, given, family, now)
        };
        let valid =
            card("valid", 1001, "99900001", "Tiina", "Testinen").issue(&intermediate, &[])?;
        let valid_rsa = card("valid_rsa", 1002, "99900002", "Matti", "Meikäläinen")
            .with_rsa()
            .issue(&intermediate, &[])?;
        let unmapped =
            card("unmapped", 1003, "99900003", "Outi", "Ulkopuolinen").issue(&intermediate, &[])?;
        let expired = card("expired", 1004, "99900004", "Erkki", "Esimerkki")
            .valid(now - Duration::days(800), now - Duration::days(5))
            .issue(&intermediate, &[])?;
        let not_yet_valid = card("not_yet_valid", 1005, "99900005", "Nina", "Näyte")
            .valid(now + Duration::days(2), now + Duration::days(700))
            .issue(&intermediate, &[])?;
        let revoked =
            card("revoked", 1006, "99900006", "Reijo", "Revokoitu").issue(&intermediate, &[])?;
        let signing_only = card("signing_only", 1007, "99900001", "Tiina", "Testinen")
            .key_usages(vec![KeyUsagePurpose::ContentCommitment])
            .issue(&intermediate, &[])?;
        let server_auth_only = card("server_auth_only", 1008, "99900001", "Tiina", "Testinen")
            .ekus(vec![ExtendedKeyUsagePurpose::ServerAuth])
            .issue(&intermediate, &[])?;
        let huge_san = card("huge_san", 1009, "99900001", "Tiina", "Testinen")
            // IPv4 names (6 bytes each) keep it under the 64 KiB TLS handshake message limit,
            // so it reaches the validator over a real TLS connection too.
            .sans(
                (0..10_000u32)
                    .map(|i| SanType::IpAddress(std::net::Ipv4Addr::from(0x0a00_0000 + i).into()))
                    .collect(),
            )
            .issue(&intermediate, &[])?;

        // Another key under the intermediate's exact name: a path builder that matched on
        // names alone would accept its cards.
        let rogue = TestCa::new(
            "Test Citizen CA 1",
            Some(&root),
            IsCa::Ca(BasicConstraints::Constrained(0)),
            now,
        )?;
        let rogue_same_dn =
            card("rogue_same_dn", 1010, "99900001", "Tiina", "Testinen").issue(&rogue, &[])?;

        let not_ca = TestCa::new("Test Not A CA", Some(&root), IsCa::ExplicitNoCa, now)?;
        let intermediate_not_ca = card("intermediate_not_ca", 1011, "99900001", "Tiina", "T")
            .issue(&not_ca, &[&not_ca])?;

        let sub_ca = TestCa::new(
            "Test Citizen Sub CA",
            Some(&intermediate),
            IsCa::Ca(BasicConstraints::Unconstrained),
            now,
        )?;
        let path_len_exceeded = card("path_len_exceeded", 1012, "99900001", "Tiina", "T")
            .issue(&sub_ca, &[&sub_ca, &intermediate])?;

        let mut nc_params = TestCa::ca_params(
            "Test Constrained CA",
            IsCa::Ca(BasicConstraints::Unconstrained),
            now,
        );
        nc_params.name_constraints = Some(NameConstraints {
            permitted_subtrees: vec![GeneralSubtree::DnsName("citizen.test".into())],
            excluded_subtrees: vec![],
        });
        let constrained = TestCa::with_params(nc_params, Some(&root))?;
        let name_constraint_violation =
            card("name_constraint_violation", 1013, "99900001", "T", "T")
                .sans(vec![SanType::DnsName(
                    "evil.example".try_into().map_err(err)?,
                )])
                .issue(&constrained, &[&constrained])?;

        let crl = |ca: &TestCa, this_update, next_update, number: u64, revoked: &[&TestCard]| {
            ca.crl(this_update, next_update, number, revoked)
        };
        let root_crl = crl(
            &root,
            now - Duration::hours(1),
            now + Duration::days(7),
            1,
            &[],
        )?;
        let intermediate_crl = crl(
            &intermediate,
            now - Duration::hours(1),
            now + Duration::days(7),
            10,
            &[&revoked],
        )?;
        let stale_crl = crl(
            &intermediate,
            now - Duration::days(30),
            now - Duration::days(1),
            5,
            &[&revoked],
        )?;
        let wrong_key_crl = crl(
            &rogue,
            now - Duration::hours(1),
            now + Duration::days(7),
            11,
            &[],
        )?;
        let later_crl_revoking_valid = crl(
            &intermediate,
            now - Duration::minutes(10),
            now + Duration::days(7),
            12,
            &[&revoked, &valid],
        )?;

        let constrained_crl = crl(
            &constrained,
            now - Duration::hours(1),
            now + Duration::days(7),
            1,
            &[],
        )?;
        Ok(Self {
            generated_at: now,
            root,
            intermediate,
            constrained_ca: constrained,
            constrained_crl,
            root_crl,
            intermediate_crl,
            stale_crl,
            wrong_key_crl,
            later_crl_revoking_valid,
            cards: TestCards {
                valid,
                valid_rsa,
                unmapped,
                expired,
                not_yet_valid,
                rogue_same_dn,
                intermediate_not_ca,
                path_len_exceeded,
                revoked,
                signing_only,
                server_auth_only,
                name_constraint_violation,
                huge_san,
            },
        })
    }

    /// Another CRL from the intermediate (say, one whose nextUpdate is seconds away).
    pub fn intermediate_crl(
        &self,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u64,
        revoked: &[&TestCard],
    ) -> Result<Vec<u8>, CertError> {
        self.intermediate
            .crl(this_update, next_update, number, revoked)
    }

    /// An intermediate CRL the size a national CA publishes: `entries` revoked serials (none of
    /// them a test card's), for benchmarks.
    pub fn large_intermediate_crl(
        &self,
        now: OffsetDateTime,
        entries: u32,
    ) -> Result<Vec<u8>, CertError> {
        let serials = (0..entries)
            .map(|i| (0x4000_0000u64 + u64::from(i)).to_be_bytes().to_vec())
            .collect();
        self.intermediate.crl_of_serials(
            now - Duration::minutes(5),
            now + Duration::days(7),
            100,
            serials,
        )
    }

    /// A card like `valid` (same SATU) whose givenName is `given`, exactly as given.
    pub fn card_with_given_name(&self, given: &str) -> Result<TestCard, CertError> {
        CardSpec::new(
            "custom",
            2000,
            "99900001",
            given,
            "Testinen",
            self.generated_at,
        )
        .issue(&self.intermediate, &[])
    }

    /// Every card, valid and bad, by name.
    pub fn all_cards(&self) -> Vec<&TestCard> {
        let c = &self.cards;
        vec![
            &c.valid,
            &c.valid_rsa,
            &c.unmapped,
            &c.expired,
            &c.not_yet_valid,
            &c.rogue_same_dn,
            &c.intermediate_not_ca,
            &c.path_len_exceeded,
            &c.revoked,
            &c.signing_only,
            &c.server_auth_only,
            &c.name_constraint_violation,
            &c.huge_san,
        ]
    }

    /// Write the PKI as files: `root.crt.pem`, `intermediate.crt.pem`, `root.crl`,
    /// `intermediate.crl`, `stale.crl`, `wrong-key.crl` (DER) and per card
    /// `cards/<name>.crt.pem` (the chain, leaf first) and `cards/<name>.key.pem`.
    pub fn write_to(&self, dir: &Path) -> Result<(), CertError> {
        let cards = dir.join("cards");
        std::fs::create_dir_all(&cards).map_err(|e| CertError::io(&cards, e))?;
        let write = |path: &Path, bytes: &[u8]| {
            std::fs::write(path, bytes).map_err(|e| CertError::io(path, e))
        };
        write(
            &dir.join("root.crt.pem"),
            pem_cert(&self.root.cert_der).as_bytes(),
        )?;
        write(
            &dir.join("intermediate.crt.pem"),
            pem_cert(&self.intermediate.cert_der).as_bytes(),
        )?;
        write(&dir.join("root.crl"), &self.root_crl)?;
        write(&dir.join("intermediate.crl"), &self.intermediate_crl)?;
        write(&dir.join("stale.crl"), &self.stale_crl)?;
        write(&dir.join("wrong-key.crl"), &self.wrong_key_crl)?;
        for card in self.all_cards() {
            let chain: String = card.chain.iter().map(|der| pem_cert(der)).collect();
            write(
                &cards.join(format!("{}.crt.pem", card.name)),
                chain.as_bytes(),
            )?;
            write(
                &cards.join(format!("{}.key.pem", card.name)),
                card.key_pem.as_bytes(),
            )?;
        }
        Ok(())
    }
}

/// A TLS server certificate for the certificate listener in tests: a "Test TLS Root" CA and a
/// server certificate for `names` (DNS names or IP addresses) signed by it.
pub struct TlsServerIdentity {
    pub ca_pem: String,
    /// The server certificate followed by nothing else (the root is the client's anchor).
    pub cert_pem: String,
    pub key_pem: String,
}

impl TlsServerIdentity {
    pub fn generate(names: &[&str], now: OffsetDateTime) -> Result<Self, CertError> {
        let err = |e: rcgen::Error| CertError::Generate(e.to_string());
        let ca = TestCa::new(
            "Test TLS Root",
            None,
            IsCa::Ca(BasicConstraints::Unconstrained),
            now,
        )?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .map_err(err)?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(30);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let (key, key_pem) = p256_key()?;
        let cert = params.signed_by(&key, &ca.issuer()?).map_err(err)?;
        Ok(Self {
            ca_pem: pem_cert(&ca.cert_der),
            cert_pem: pem_cert(cert.der()),
            key_pem,
        })
    }
}

/// The SATU (electronic identification number) with its check character: eight digits, then
/// the digits' value modulo 31 looked up as in the personal identity code.
pub fn satu_with_check(digits: &str) -> String {
    const CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
    let value: u64 = digits.parse().unwrap_or(0);
    let check = CHECK[(value % 31) as usize] as char;
    format!("{digits}{check}")
}

fn pem_cert(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn p256_key() -> Result<(KeyPair, String), CertError> {
    key_of(KeyKind::EcdsaP256, &rcgen::PKCS_ECDSA_P256_SHA256)
}

fn key_of(
    kind: KeyKind,
    alg: &'static rcgen::SignatureAlgorithm,
) -> Result<(KeyPair, String), CertError> {
    let pem = SigningKey::generate(kind)?.to_pkcs8_pem()?;
    let pair = KeyPair::from_pkcs8_pem_and_sign_algo(&pem, alg)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    Ok((pair, pem))
}

impl TestCa {
    fn ca_params(name: &str, is_ca: IsCa, now: OffsetDateTime) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "FI");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Gateway Test PKI");
        params.distinguished_name.push(DnType::CommonName, name);
        params.not_before = now - Duration::days(365);
        params.not_after = now + Duration::days(3650);
        params.key_usages = match is_ca {
            IsCa::Ca(_) => vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ],
            _ => vec![KeyUsagePurpose::DigitalSignature],
        };
        params.is_ca = is_ca;
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method = KeyIdMethod::Sha256;
        params
    }

    fn new(
        name: &str,
        issuer: Option<&TestCa>,
        is_ca: IsCa,
        now: OffsetDateTime,
    ) -> Result<Self, CertError> {
        Self::with_params(Self::ca_params(name, is_ca, now), issuer)
    }

    fn with_params(params: CertificateParams, issuer: Option<&TestCa>) -> Result<Self, CertError> {
        let err = |e: rcgen::Error| CertError::Generate(e.to_string());
        let (key, key_pem) = p256_key()?;
        let cert = match issuer {
            None => params.self_signed(&key).map_err(err)?,
            Some(ca) => params.signed_by(&key, &ca.issuer()?).map_err(err)?,
        };
        Ok(Self {
            cert_der: cert.der().to_vec(),
            key_pem,
            params,
        })
    }

    fn issuer(&self) -> Result<Issuer<'_, KeyPair>, CertError> {
        let key =
            KeyPair::from_pkcs8_pem_and_sign_algo(&self.key_pem, &rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| CertError::Generate(e.to_string()))?;
        Ok(Issuer::from_params(&self.params, key))
    }

    fn crl(
        &self,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u64,
        revoked: &[&TestCard],
    ) -> Result<Vec<u8>, CertError> {
        let serials = revoked.iter().map(|card| card_serial(card)).collect();
        self.crl_of_serials(this_update, next_update, number, serials)
    }

    fn crl_of_serials(
        &self,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u64,
        serials: Vec<Vec<u8>>,
    ) -> Result<Vec<u8>, CertError> {
        let err = |e: rcgen::Error| CertError::Generate(e.to_string());
        let revoked_certs = serials
            .iter()
            .map(|serial| RevokedCertParams {
                serial_number: SerialNumber::from_slice(serial),
                revocation_time: this_update - Duration::hours(1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect();
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params
            .signed_by(&self.issuer()?)
            .map_err(err)?
            .der()
            .to_vec())
    }
}

/// The serial number bytes of a card's leaf certificate (as rcgen wrote them).
fn card_serial(card: &TestCard) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    card.chain
        .first()
        .and_then(|der| x509_parser::certificate::X509Certificate::from_der(der).ok())
        .map(|(_, cert)| cert.raw_serial().to_vec())
        .unwrap_or_default()
}

struct CardSpec {
    name: &'static str,
    params: CertificateParams,
    rsa: bool,
    satu: String,
    given: String,
    family: String,
}

impl CardSpec {
    fn new(
        name: &'static str,
        serial: u64,
        satu_prefix: &str,
        given: &str,
        family: &str,
        now: OffsetDateTime,
    ) -> Self {
        let satu = satu_with_check(satu_prefix);
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "FI");
        dn.push(DnType::CustomDnType(OID_SURNAME.to_vec()), family);
        dn.push(DnType::CustomDnType(OID_GIVEN_NAME.to_vec()), given);
        dn.push(
            DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()),
            satu.as_str(),
        );
        dn.push(
            DnType::CommonName,
            format!("{} {} {satu}", family.to_uppercase(), given.to_uppercase()),
        );
        params.distinguished_name = dn;
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = now - Duration::days(30);
        params.not_after = now + Duration::days(5 * 365);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::EmailProtection,
        ];
        params.use_authority_key_identifier_extension = true;
        Self {
            name,
            params,
            rsa: false,
            satu,
            given: given.to_owned(),
            family: family.to_owned(),
        }
    }

    fn with_rsa(mut self) -> Self {
        self.rsa = true;
        self
    }

    fn valid(mut self, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Self {
        self.params.not_before = not_before;
        self.params.not_after = not_after;
        self
    }

    fn key_usages(mut self, usages: Vec<KeyUsagePurpose>) -> Self {
        self.params.key_usages = usages;
        self
    }

    fn ekus(mut self, ekus: Vec<ExtendedKeyUsagePurpose>) -> Self {
        self.params.extended_key_usages = ekus;
        self
    }

    fn sans(mut self, sans: Vec<SanType>) -> Self {
        self.params.subject_alt_names = sans;
        self
    }

    /// Sign with `ca`; the chain is the leaf followed by `extra` CA certificates.
    fn issue(self, ca: &TestCa, extra: &[&TestCa]) -> Result<TestCard, CertError> {
        let (key, key_pem) = if self.rsa {
            key_of(KeyKind::Rsa2048, &rcgen::PKCS_RSA_SHA256)?
        } else {
            p256_key()?
        };
        let cert = self
            .params
            .signed_by(&key, &ca.issuer()?)
            .map_err(|e| CertError::Generate(e.to_string()))?;
        let mut chain = vec![cert.der().to_vec()];
        chain.extend(extra.iter().map(|ca| ca.cert_der.clone()));
        Ok(TestCard {
            name: self.name,
            chain,
            key_pem,
            satu: self.satu,
            given_name: self.given,
            surname: self.family,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn satu_check_character_matches_the_first_assigned_number() {
        // 10000001N is the first SATU ever assigned.
        assert_eq!(satu_with_check("10000001"), "10000001N");
    }

    #[test]
    fn generates_distinct_cards_with_the_citizen_subject_shape() {
        let pki = IdCardTestPki::generate(datetime!(2030-03-01 08:00:00 UTC)).unwrap();
        let cards = pki.all_cards();
        assert_eq!(cards.len(), 13);
        let leaves: std::collections::BTreeSet<_> =
            cards.iter().map(|c| c.chain[0].clone()).collect();
        assert_eq!(leaves.len(), cards.len());
        let valid = crate::Certificate::from_der(&pki.cards.valid.chain[0]).unwrap();
        assert!(
            valid.subject().contains("TESTINEN TIINA 99900001"),
            "{}",
            valid.subject()
        );
        assert!(pki.cards.huge_san.chain[0].len() > 60_000);
        assert_ne!(
            card_serial(&pki.cards.revoked),
            card_serial(&pki.cards.valid)
        );
    }
}
