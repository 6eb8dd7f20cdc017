//! The Finnish personal identity code (henkilötunnus, HETU): `DDMMYYCZZZQ`.
//!
//! `DDMMYY` is the birth date, `C` the century sign, `ZZZ` the individual number and `Q` a check
//! character. The 2023 reform added the century signs `Y X W V U` (1900s) and `B C D E F`
//! (2000s) beside the old `-` and `A`; the old and new signs are equivalent.
//!
//! Individual numbers 900-999 are the test series: DVV's fictional test persons (and
//! organisations' temporary identifiers) use them, and no person's permanent code ever does.
//! They parse like any other code; [`PersonalIdentityCode::is_test_series`] tells them apart, and
//! each adapter decides by its settings whether to accept them.

use std::fmt;
use std::ops::RangeInclusive;

use thiserror::Error;
use time::{Date, Month};

/// The alphabet the check character is taken from: `(DDMMYYZZZ as a number) mod 31` indexes it.
const CHECK_ALPHABET: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// Length of a personal identity code, in characters.
pub const HETU_LEN: usize = 11;

/// The individual numbers of the test series, never assigned to a person permanently.
pub const TEST_SERIES: RangeInclusive<u16> = 900..=999;

/// A syntactically valid Finnish personal identity code: a person's, or one of the test series.
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

        if individual_number < 2 {
            return Err(HetuError::IndividualNumber);
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

    /// The individual number `ZZZ`, 2..=999.
    pub fn individual_number(&self) -> u16 {
        self.individual_number
    }

    /// Whether the individual number is in [`TEST_SERIES`]: a test person's code, not a person's.
    pub fn is_test_series(&self) -> bool {
        TEST_SERIES.contains(&self.individual_number)
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

    fn assert_parses(code: &str, birth: Date, individual: u16) -> PersonalIdentityCode {
        assert_eq!(
            check_char_by_definition(code),
            code.chars().last().unwrap(),
            "{code}"
        );
        let hetu = PersonalIdentityCode::parse(code).unwrap();
        assert_eq!(hetu.as_str(), code);
        assert_eq!(hetu.birth_date(), birth, "{code}");
        assert_eq!(hetu.individual_number(), individual, "{code}");
        hetu
    }

    #[test]
    fn test_series_codes_parse_with_their_birth_dates() {
        let cases = [
            ("131052-9085", date!(1952 - 10 - 13), 908),
            ("150375-913W", date!(1975 - 03 - 15), 913),
            ("280886-986H", date!(1986 - 08 - 28), 986),
            ("070702A938X", date!(2002 - 07 - 07), 938),
            ("311299Y919V", date!(1999 - 12 - 31), 919),
            ("010594Y9021", date!(1994 - 05 - 01), 902),
            ("020502E902X", date!(2002 - 05 - 02), 902),
            ("290200A902D", date!(2000 - 02 - 29), 902),
            ("010100+902J", date!(1800 - 01 - 01), 902),
            ("010190-900P", date!(1990 - 01 - 01), 900),
            ("010190-999W", date!(1990 - 01 - 01), 999),
        ];
        for (code, birth, individual) in cases {
            let hetu = assert_parses(code, birth, individual);
            assert!(hetu.is_test_series(), "{code}");
        }
    }

    /// The arithmetic is the same outside the test series; these are the only codes of the range
    /// assigned to people in the crate's tests (`131052-308T` is DVV's own documented example).
    #[test]
    fn codes_outside_the_test_series_parse_and_are_not_test_series() {
        let cases = [
            ("131052-308T", date!(1952 - 10 - 13), 308),
            ("010190-899N", date!(1990 - 01 - 01), 899),
            ("290200A002C", date!(2000 - 02 - 29), 2),
            ("010100+002H", date!(1800 - 01 - 01), 2),
        ];
        for (code, birth, individual) in cases {
            let hetu = assert_parses(code, birth, individual);
            assert!(!hetu.is_test_series(), "{code}");
        }
    }

    #[test]
    fn every_reform_century_sign_is_accepted() {
        // Same date and number, so the check character is the same for every sign of a century.
        for sign in ['-', 'Y', 'X', 'W', 'V', 'U'] {
            let code = format!("131052{sign}9085");
            let hetu = PersonalIdentityCode::parse(&code).unwrap();
            assert_eq!(hetu.birth_date(), date!(1952 - 10 - 13));
        }
        for sign in ['A', 'B', 'C', 'D', 'E', 'F'] {
            let code = format!("131052{sign}9085");
            let hetu = PersonalIdentityCode::parse(&code).unwrap();
            assert_eq!(hetu.birth_date(), date!(2052 - 10 - 13));
        }
    }

    #[test]
    fn wrong_check_character_is_refused() {
        assert_eq!(
            PersonalIdentityCode::parse("131052-9086"),
            Err(HetuError::CheckCharacter)
        );
        // A letter the alphabet leaves out (G, I, O, Q, Z) can never match.
        assert_eq!(
            PersonalIdentityCode::parse("131052-908G"),
            Err(HetuError::CheckCharacter)
        );
        // Lowercase check characters are not normalized.
        assert_eq!(
            PersonalIdentityCode::parse("280886-986h"),
            Err(HetuError::CheckCharacter)
        );
    }

    #[test]
    fn nonexistent_dates_are_refused() {
        // 29 February 1999 does not exist; the check character is right for the digits.
        assert_eq!(check_char_by_definition("290299-923?"), 'M');
        assert_eq!(
            PersonalIdentityCode::parse("290299-923M"),
            Err(HetuError::Date)
        );
        assert_eq!(check_char_by_definition("310299-923?"), 'X');
        assert_eq!(
            PersonalIdentityCode::parse("310299-923X"),
            Err(HetuError::Date)
        );
        assert_eq!(
            PersonalIdentityCode::parse("001399-923X"),
            Err(HetuError::Date)
        );
        assert_eq!(
            PersonalIdentityCode::parse("010000-923X"),
            Err(HetuError::Date)
        );
    }

    #[test]
    fn unassigned_individual_numbers_are_refused_even_with_a_right_check_character() {
        for code in ["010100-000E", "010100-001F", "010100-0000", "010100-0010"] {
            assert_eq!(
                PersonalIdentityCode::parse(code),
                Err(HetuError::IndividualNumber),
                "{code}"
            );
        }
        assert_eq!(check_char_by_definition("010100-000?"), 'E');
        assert_eq!(check_char_by_definition("010100-001?"), 'F');
    }

    #[test]
    fn lowercase_and_unknown_century_signs_are_refused() {
        assert_eq!(
            PersonalIdentityCode::parse("070702a938X"),
            Err(HetuError::CenturySign('a'))
        );
        assert_eq!(
            PersonalIdentityCode::parse("311299y919V"),
            Err(HetuError::CenturySign('y'))
        );
        assert_eq!(
            PersonalIdentityCode::parse("131052G9085"),
            Err(HetuError::CenturySign('G'))
        );
        assert_eq!(
            PersonalIdentityCode::parse("131052 9085"),
            Err(HetuError::CenturySign(' '))
        );
    }

    #[test]
    fn wrong_lengths_are_refused_without_trimming() {
        for code in [
            "",
            "131052-908",
            "131052-90855",
            " 131052-9085",
            "131052-9085\n",
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
            PersonalIdentityCode::parse("1310S2-9085"),
            Err(HetuError::Format)
        );
        assert_eq!(
            PersonalIdentityCode::parse("131052-9O85"),
            Err(HetuError::Format)
        );
        assert_eq!(
            PersonalIdentityCode::parse("+31052-9085"),
            Err(HetuError::Format)
        );
        // Eleven characters, twelve bytes.
        assert_eq!(
            PersonalIdentityCode::parse("13105ä-9085"),
            Err(HetuError::Format)
        );
        // Full-width digits are digits to Unicode, not to a HETU.
        assert_eq!(
            PersonalIdentityCode::parse("１31052-9085"),
            Err(HetuError::Format)
        );
    }

    #[test]
    fn debug_is_redacted_and_codes_are_stable() {
        let hetu = PersonalIdentityCode::parse("131052-9085").unwrap();
        let debug = format!("{hetu:?}");
        assert!(!debug.contains("131052"), "{debug}");
        assert_eq!(HetuError::IndividualNumber.code(), "hetu_individual_number");
        assert_eq!(HetuError::CenturySign('a').code(), "hetu_century_sign");
        assert!(!HetuError::CheckCharacter.to_string().is_empty());
    }
}
