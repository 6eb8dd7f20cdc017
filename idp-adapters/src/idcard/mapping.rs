//! The SATU (electronic identification number in the citizen certificate) and the mapping from
//! it to the national identification number, which the card certificate does not carry.

use std::collections::HashMap;
use std::fmt;

use super::error::MappingError;
use crate::hetu::PersonalIdentityCode;
use crate::identity::NationalId;
use crate::AdapterFuture;

/// Check characters, as in the personal identity code (value modulo 31).
const CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// A validated SATU: eight digits and a check character. `Debug` and `Display` hide the value
/// (it identifies a person); [`Satu::expose`] gives it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Satu(String);

impl Satu {
    /// Parse exactly: no trimming, upper-case check character.
    pub fn parse(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 9 || !bytes[..8].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value: u64 = s[..8].parse().ok()?;
        let expected = CHECK[(value % 31) as usize];
        (bytes[8] == expected).then(|| Self(s.to_owned()))
    }

    /// The SATU itself. Never log it above trace level.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Satu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Satu(***)")
    }
}

impl fmt::Display for Satu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Satu(***)")
    }
}

/// Where the national identification number of a certificate holder is looked up. Asynchronous
/// so that a database-backed directory fits; a file-backed one answers at once.
pub trait NationalIdDirectory: Send + Sync {
    fn lookup<'a>(
        &'a self,
        satu: &'a Satu,
    ) -> AdapterFuture<'a, Result<Option<NationalId>, MappingError>>;
}

/// The mapping read from a text file: one `SATU,HETU` pair a line (`;`, a tab or spaces also
/// separate), `#` starts a comment, blank lines are skipped. Every line is validated at load
/// (both check characters); a SATU listed twice is an error, reported by line number only.
pub struct FileDirectory {
    entries: HashMap<String, NationalId>,
}

/// Largest mapping file accepted (about a million entries).
pub const MAX_MAPPING_BYTES: usize = 64 * 1024 * 1024;

impl FileDirectory {
    pub fn parse(text: &str) -> Result<Self, MappingError> {
        if text.len() > MAX_MAPPING_BYTES {
            return Err(MappingError::TooLarge {
                len: text.len(),
                max: MAX_MAPPING_BYTES,
            });
        }
        let mut entries = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let bad = |message: &str| MappingError::Line {
                line,
                message: message.to_owned(),
            };
            let mut fields = content
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|f| !f.is_empty());
            let (Some(satu), Some(hetu), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(bad(
                    "expected two fields: SATU and national identification number",
                ));
            };
            let satu = Satu::parse(satu).ok_or_else(|| bad("the SATU is not valid"))?;
            let hetu = PersonalIdentityCode::parse(hetu)
                .map_err(|e| bad(&format!("the national identification number: {e}")))?;
            if entries.insert(satu.0, NationalId::from(hetu)).is_some() {
                return Err(bad("this SATU is listed on an earlier line too"));
            }
        }
        Ok(Self { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl NationalIdDirectory for FileDirectory {
    fn lookup<'a>(
        &'a self,
        satu: &'a Satu,
    ) -> AdapterFuture<'a, Result<Option<NationalId>, MappingError>> {
        let found = self.entries.get(satu.expose()).cloned();
        Box::pin(async move { Ok(found) })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn satu_needs_eight_digits_and_the_right_check_character() {
        assert!(Satu::parse("10000001N").is_some());
        for bad in [
            "10000001M",
            "10000001n",
            "1000001N",
            "100000011N",
            " 10000001N",
            "1000000AN",
            "",
        ] {
            assert!(Satu::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", Satu::parse("10000001N").unwrap()),
            "Satu(***)"
        );
    }

    #[test]
    fn file_directory_parses_separators_and_comments() {
        let second = certs::test_pki::satu_with_check("99900001");
        let dir = FileDirectory::parse(&format!(
            "# SATU, HETU\n10000001N,131052-9085\n\n {second} ; 070770-905D  # the second\n"
        ))
        .unwrap();
        assert_eq!(dir.len(), 2);
        let dir = FileDirectory::parse("10000001N\t131052-9085\n").unwrap();
        assert_eq!(dir.len(), 1);
    }

    #[test]
    fn file_directory_refuses_bad_lines_by_number_without_values() {
        let cases = [
            ("10000001N,131052-9085\n10000001M,131052-9085\n", 2),
            ("10000001N,131052-9086\n", 1),
            ("10000001N\n", 1),
            ("10000001N,131052-9085,extra\n", 1),
            ("10000001N,131052-9085\n10000001N,070770-905D\n", 2),
        ];
        for (text, line) in cases {
            match FileDirectory::parse(text) {
                Err(MappingError::Line { line: l, message }) => {
                    assert_eq!(l, line, "{text}");
                    assert!(!message.contains("10000001"), "{message}");
                    assert!(!message.contains("908"), "{message}");
                }
                other => panic!("{text}: {:?}", other.map(|d| d.len())),
            }
        }
    }

    #[test]
    fn lookup_finds_mapped_satu_only() {
        use crate::test_util::block_on;
        let dir = FileDirectory::parse("10000001N,131052-9085\n").unwrap();
        let found = block_on(dir.lookup(&Satu::parse("10000001N").unwrap())).unwrap();
        assert_eq!(found.unwrap().expose(), "131052-9085");
        let other = Satu::parse(&certs::test_pki::satu_with_check("10000002")).unwrap();
        assert!(block_on(dir.lookup(&other)).unwrap().is_none());
    }
}
