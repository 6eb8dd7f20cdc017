//! The attributes the gateway can release, under their Finnish (OID) names, and per-SP policy.

use std::collections::BTreeSet;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AttributeId {
    /// Finnish personal identity code (HETU).
    NationalId,
    GivenName,
    Surname,
    CommonName,
    DisplayName,
    BirthDate,
    /// SATU, the electronic identification number of the citizen certificate (ID-card logins).
    ElectronicId,
}

impl AttributeId {
    pub const ALL: [AttributeId; 7] = [
        AttributeId::NationalId,
        AttributeId::GivenName,
        AttributeId::Surname,
        AttributeId::CommonName,
        AttributeId::DisplayName,
        AttributeId::BirthDate,
        AttributeId::ElectronicId,
    ];

    /// The SAML attribute Name (NameFormat uri).
    pub fn oid_name(self) -> &'static str {
        match self {
            AttributeId::NationalId => "urn:oid:1.2.246.21",
            AttributeId::GivenName => "urn:oid:2.5.4.42",
            AttributeId::Surname => "urn:oid:2.5.4.4",
            AttributeId::CommonName => "urn:oid:2.5.4.3",
            AttributeId::DisplayName => "urn:oid:2.16.840.1.113730.3.1.241",
            AttributeId::BirthDate => "urn:oid:1.3.6.1.5.5.7.9.1",
            AttributeId::ElectronicId => "urn:oid:1.2.246.22",
        }
    }

    pub fn friendly_name(self) -> &'static str {
        match self {
            AttributeId::NationalId => "nationalIdentificationNumber",
            AttributeId::GivenName => "givenName",
            AttributeId::Surname => "sn",
            AttributeId::CommonName => "cn",
            AttributeId::DisplayName => "displayName",
            AttributeId::BirthDate => "dateOfBirth",
            AttributeId::ElectronicId => "electronicIdentificationNumber",
        }
    }
}

/// Which attributes an SP may receive. Anything not listed is withheld.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleasePolicy {
    allowed: BTreeSet<AttributeId>,
}

impl ReleasePolicy {
    pub fn new(allowed: impl IntoIterator<Item = AttributeId>) -> Self {
        ReleasePolicy {
            allowed: allowed.into_iter().collect(),
        }
    }

    pub fn all() -> Self {
        Self::new(AttributeId::ALL)
    }

    pub fn allows(&self, id: AttributeId) -> bool {
        self.allowed.contains(&id)
    }

    /// Filter what the login produced down to what this SP may see, in a stable order.
    pub fn release(&self, available: &[(AttributeId, String)]) -> Vec<saml::response::Attribute> {
        AttributeId::ALL
            .iter()
            .filter(|id| self.allows(**id))
            .filter_map(|id| {
                let values: Vec<String> = available
                    .iter()
                    .filter(|(a, _)| a == id)
                    .map(|(_, v)| v.clone())
                    .collect();
                (!values.is_empty()).then(|| saml::response::Attribute {
                    name: id.oid_name().to_owned(),
                    friendly_name: Some(id.friendly_name().to_owned()),
                    values,
                })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn release_withholds_what_is_not_allowed() {
        let available = vec![
            (AttributeId::NationalId, "010101-923F".to_owned()),
            (AttributeId::GivenName, "Aino".to_owned()),
            (AttributeId::Surname, "Virtanen".to_owned()),
        ];
        let p = ReleasePolicy::new([AttributeId::GivenName, AttributeId::BirthDate]);
        let out = p.release(&available);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "urn:oid:2.5.4.42");
        assert_eq!(out[0].values, vec!["Aino".to_owned()]);
        assert_eq!(ReleasePolicy::all().release(&available).len(), 3);
    }
}
