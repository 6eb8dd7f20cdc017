//! The Finnish personal identity code (henkilötunnus, HETU): `DDMMYYCZZZQ`.
//!
//! `DDMMYY` is the birth date, `C` the century sign, `ZZZ` the individual number and `Q` a check
//! character. The 2023 reform added the century signs `Y X W V U` (1900s) and `B C D E F`
//! (2000s) beside the old `-` and `A`; the old and new signs are equivalent.

use std::fmt;

use thiserror::Error;
use time::{Date, Month};

/// The alphabet the check character is taken from: `(DDMMYYZZZ as a number) mod 31` indexes it.
const CHECK_ALPHABET: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// Length of a personal identity code, in characters.
pub const HETU_LEN: usize = 11;

/// A syntactically valid Finnish personal identity code of a permanent identity.
///
/// Debug output is redacted: the code identifies a person and must not reach logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonalIdentityCode {
    code: String,
    birth_date: Date,
    individual_number: u16,
}

/// Why a string is not a valid personal identity code. Messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HetuError {
    #[error("a personal identity code is exactly 11 characters")]
    Length,
    #[error("a personal identity code has the form DDMMYYCZZZQ with digits in the date and individual number")]
    Format,
    #[error("the birth date of the personal identity code does not exist")]
    Date,
    #[error("unknown century sign {0:?} in the personal identity code")]
    CenturySign(char),
    #[error("temporary identity codes (individual number 900-999) are not accepted")]
    Temporary,
    #[error("the individual number 000 or 001 is never assigned")]
    IndividualNumber,
    #[error("the check character of the personal identity code does not match")]
    CheckCharacter,
}

impl HetuError {
    /// A stable identifier for logs, metrics and error pages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length => "hetu_length",
            Self::Format => "hetu_format",
            Self::Date => "hetu_date",
            Self::CenturySign(_) => "hetu_century_sign",
            Self::Temporary => "hetu_temporary",
            Self::IndividualNumber => "hetu_individual_number",
            Self::CheckCharacter => "hetu_check_character",
        }
    }
}

impl PersonalIdentityCode {
    /// Parses and validates a code exactly as given: the caller trims, nothing is upper-cased.
    pub fn parse(s: &str) -> Result<Self, HetuError> {
        if s.chars().count() != HETU_LEN {
            return Err(HetuError::Length);
        }
        // Eleven characters but not eleven bytes: some non-ASCII character, never valid.
        let bytes: &[u8; HETU_LEN] = s.as_bytes().try_into().map_err(|_| HetuError::Format)?;

        let day = two_digits(bytes[0], bytes[1])?;
        let month = two_digits(bytes[2], bytes[3])?;
        let year_in_century = two_digits(bytes[4], bytes[5])?;
        let century_sign = char::from(bytes[6]);
        let individual_number = three_digits(bytes[7], bytes[8], bytes[9])?;
        let check = bytes[10];

        let century: i32 = match century_sign {
            '+' => 1800,
            '-' | 'Y' | 'X' | 'W' | 'V' | 'U' => 1900,
            'A' | 'B' | 'C' | 'D' | 'E' | 'F' => 2000,
            other => return Err(HetuError::CenturySign(other)),
        };
        let month = Month::try_from(month).map_err(|_| HetuError::Date)?;
        let birth_date = Date::from_calendar_date(century + i32::from(year_in_century), month, day)
            .map_err(|_| HetuError::Date)?;

        match individual_number {
            0 | 1 => return Err(HetuError::IndividualNumber),
            900..=999 => return Err(HetuError::Temporary),
            _ => {}
        }

        let date_number = u32::from(day) * 10_000
            + u32::from(u8::from(birth_date.month())) * 100
            + u32::from(year_in_century);
        if check != expected_check_character(date_number, individual_number) {
            return Err(HetuError::CheckCharacter);
        }

        Ok(Self {
            code: s.to_owned(),
            birth_date,
            individual_number,
        })
    }

    /// The code as it was given (which, having passed validation, is its only valid spelling).
    pub fn as_str(&self) -> &str {
        &self.code
    }

    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// The individual number `ZZZ`, 2..=899.
    pub fn individual_number(&self) -> u16 {
        self.individual_number
    }

    pub(crate) fn into_string(self) -> String {
        self.code
    }
}

impl fmt::Debug for PersonalIdentityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalIdentityCode(***)")
    }
}

/// The check character for a code whose date part `DDMMYY` is `date_number` and whose
/// individual number is `individual_number`.
fn expected_check_character(date_number: u32, individual_number: u16) -> u8 {
    let n = date_number * 1000 + u32::from(individual_number);
    // n % 31 < 31 always indexes the 31-character alphabet.
    CHECK_ALPHABET
        .get((n % 31) as usize)
        .copied()
        .unwrap_or(b'?')
}

fn digit(b: u8) -> Result<u8, HetuError> {
    if b.is_ascii_digit() {
        Ok(b - b'0')
    } else {
        Err(HetuError::Format)
    }
}

fn two_digits(a: u8, b: u8) -> Result<u8, HetuError> {
    Ok(digit(a)? * 10 + digit(b)?)
}

fn three_digits(a: u8, b: u8, c: u8) -> Result<u16, HetuError> {
    Ok(u16::from(digit(a)?) * 100 + u16::from(digit(b)?) * 10 + u16::from(digit(c)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::date;

    /// An independent computation of the check character, straight from the definition, so the
    /// valid examples below are not just "whatever `parse` accepts".
    fn check_char_by_definition(code: &str) -> char {
        let digits: String = code[0..6].chars().chain(code[7..10].chars()).collect();
        let n: u64 = digits.parse().unwrap();
        "0123456789ABCDEFHJKLMNPRSTUVWXY"
            .chars()
            .nth((n % 31) as usize)
            .unwrap()
    }

    #[test]
    fn valid_examples_parse_with_their_birth_dates() {
        let cases = [
            ("131052-308T", date!(1952 - 10 - 13), 308),
            ("150375-213A", date!(1975 - 03 - 15), 213),
            ("280886-486C", date!(1986 - 08 - 28), 486),
            ("070702A5381", date!(2002 - 07 - 07), 538),
            ("311299Y319H", date!(1999 - 12 - 31), 319),
            ("290200A002C", date!(2000 - 02 - 29), 2),
            ("010100+002H", date!(1800 - 01 - 01), 2),
        ];
        for (code, birth, individual) in cases {
            assert_eq!(
                check_char_by_definition(code),
                code.chars().last().unwrap(),
                "{code}"
            );
            let hetu = PersonalIdentityCode::parse(code).unwrap();
            assert_eq!(hetu.as_str(), code);
            assert_eq!(hetu.birth_date(), birth, "{code}");
            assert_eq!(hetu.individual_number(), individual, "{code}");
        }
    }

    #[test]
    fn every_reform_century_sign_is_accepted() {
        // Same date and number, so the check character is the same for every sign of a century.
        for sign in ['-', 'Y', 'X', 'W', 'V', 'U'] {
            let code = format!("131052{sign}308T");
            let hetu = PersonalIdentityCode::parse(&code).unwrap();
            assert_eq!(hetu.birth_date(), date!(1952 - 10 - 13));
        }
        for sign in ['A', 'B', 'C', 'D', 'E', 'F'] {
            let code = format!("131052{sign}308T");
            let hetu = PersonalIdentityCode::parse(&code).unwrap();
            assert_eq!(hetu.birth_date(), date!(2052 - 10 - 13));
        }
    }

    #[test]
    fn wrong_check_character_is_refused() {
        assert_eq!(
            PersonalIdentityCode::parse("131052-308U"),
            Err(HetuError::CheckCharacter)
        );
        // A letter the alphabet leaves out (G, I, O, Q, Z) can never match.
        assert_eq!(
            PersonalIdentityCode::parse("131052-308G"),
            Err(HetuError::CheckCharacter)
        );
        // Lowercase check characters are not normalized.
        assert_eq!(
            PersonalIdentityCode::parse("280886-486c"),
            Err(HetuError::CheckCharacter)
        );
    }

    #[test]
    fn nonexistent_dates_are_refused() {
        // 29 February 1999 does not exist; the check character is right for the digits.
        assert_eq!(check_char_by_definition("290299-123?"), 'U');
        assert_eq!(
            PersonalIdentityCode::parse("290299-123U"),
            Err(HetuError::Date)
        );
        assert_eq!(check_char_by_definition("310299-123?"), '4');
        assert_eq!(
            PersonalIdentityCode::parse("310299-1234"),
            Err(HetuError::Date)
        );
        assert_eq!(
            PersonalIdentityCode::parse("001399-123X"),
            Err(HetuError::Date)
        );
        assert_eq!(
            PersonalIdentityCode::parse("010000-123X"),
            Err(HetuError::Date)
        );
    }

    #[test]
    fn temporary_numbers_are_refused_even_with_a_right_check_character() {
        assert_eq!(check_char_by_definition("010594Y9021"), '1');
        assert_eq!(
            PersonalIdentityCode::parse("010594Y9021"),
            Err(HetuError::Temporary)
        );
        assert_eq!(check_char_by_definition("020502E902X"), 'X');
        assert_eq!(
            PersonalIdentityCode::parse("020502E902X"),
            Err(HetuError::Temporary)
        );
        assert_eq!(
            PersonalIdentityCode::parse("010594Y9990"),
            Err(HetuError::Temporary)
        );
    }

    #[test]
    fn unassigned_individual_numbers_are_refused() {
        assert_eq!(
            PersonalIdentityCode::parse("010100-0000"),
            Err(HetuError::IndividualNumber)
        );
        assert_eq!(
            PersonalIdentityCode::parse("010100-0010"),
            Err(HetuError::IndividualNumber)
        );
    }

    #[test]
    fn lowercase_and_unknown_century_signs_are_refused() {
        assert_eq!(
            PersonalIdentityCode::parse("070702a5381"),
            Err(HetuError::CenturySign('a'))
        );
        assert_eq!(
            PersonalIdentityCode::parse("311299y319H"),
            Err(HetuError::CenturySign('y'))
        );
        assert_eq!(
            PersonalIdentityCode::parse("131052G308T"),
            Err(HetuError::CenturySign('G'))
        );
        assert_eq!(
            PersonalIdentityCode::parse("131052 308T"),
            Err(HetuError::CenturySign(' '))
        );
    }

    #[test]
    fn wrong_lengths_are_refused_without_trimming() {
        for code in [
            "",
            "131052-308",
            "131052-308TT",
            " 131052-308T",
            "131052-308T\n",
        ] {
            assert_eq!(
                PersonalIdentityCode::parse(code),
                Err(HetuError::Length),
                "{code:?}"
            );
        }
    }

    #[test]
    fn non_digits_and_non_ascii_are_format_errors() {
        assert_eq!(
            PersonalIdentityCode::parse("1310S2-308T"),
            Err(HetuError::Format)
        );
        assert_eq!(
            PersonalIdentityCode::parse("131052-3O8T"),
            Err(HetuError::Format)
        );
        assert_eq!(
            PersonalIdentityCode::parse("+31052-308T"),
            Err(HetuError::Format)
        );
        // Eleven characters, twelve bytes.
        assert_eq!(
            PersonalIdentityCode::parse("13105ä-308T"),
            Err(HetuError::Format)
        );
        // Full-width digits are digits to Unicode, not to a HETU.
        assert_eq!(
            PersonalIdentityCode::parse("１31052-308T"),
            Err(HetuError::Format)
        );
    }

    #[test]
    fn debug_is_redacted_and_codes_are_stable() {
        let hetu = PersonalIdentityCode::parse("131052-308T").unwrap();
        let debug = format!("{hetu:?}");
        assert!(!debug.contains("131052"), "{debug}");
        assert_eq!(HetuError::Temporary.code(), "hetu_temporary");
        assert_eq!(HetuError::CenturySign('a').code(), "hetu_century_sign");
        assert!(!HetuError::CheckCharacter.to_string().is_empty());
    }
}
