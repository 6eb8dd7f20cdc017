//! A test bank for development and demos: the citizen picks a ready-made test person or types a
//! valid personal identity code and names. The ready persons' codes, and the ones to type, are of
//! the test series (individual number 900-999), which no person has. Labelled as a test method;
//! never enable it in production.

use crate::adapter::{
    AdapterError, AdapterFuture, AuthAdapter, CallbackInput, FinishContext, Language, StartAction,
    StartContext, TestBankPage, TestPerson,
};
use crate::hetu::{PersonalIdentityCode, HETU_LEN};
use crate::identity::{IdentityParts, NationalId, VerifiedIdentity};
use crate::loa::LevelOfAssurance;

pub const TESTBANK_ID: &str = "testbank";
pub const TESTBANK_ISSUER: &str = "urn:gateway:testbank";
/// Longest accepted given or family name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Fictional people with codes of the test series (individual number 900-999, never a person's);
/// the check characters are verified by a test.
const PERSONS: [TestPerson; 4] = [
    TestPerson {
        national_id: "150375-913W",
        given_name: "Matti",
        family_name: "Meikäläinen",
    },
    TestPerson {
        national_id: "280886-986H",
        given_name: "Åsa",
        family_name: "Sjöström",
    },
    TestPerson {
        national_id: "070702A938X",
        given_name: "Aino",
        family_name: "Kääriäinen",
    },
    TestPerson {
        national_id: "311299Y919V",
        given_name: "Jöns",
        family_name: "Håkansson",
    },
];

/// The test bank adapter.
#[derive(Clone, Debug)]
pub struct TestBank {
    persons: Vec<TestPerson>,
}

impl TestBank {
    pub fn new() -> Self {
        Self {
            persons: PERSONS.to_vec(),
        }
    }

    pub fn persons(&self) -> &[TestPerson] {
        &self.persons
    }

    fn person(&self, code: &PersonalIdentityCode) -> Option<&TestPerson> {
        self.persons
            .iter()
            .find(|person| person.national_id == code.as_str())
    }
}

impl Default for TestBank {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthAdapter for TestBank {
    fn id(&self) -> &str {
        TESTBANK_ID
    }

    fn display_name(&self, lang: Language) -> String {
        match lang {
            Language::Fi => "Testipankki (testikäyttöön)",
            Language::Sv => "Testbank (för testning)",
            Language::En => "Test bank (for testing)",
        }
        .to_owned()
    }

    fn is_test_method(&self) -> bool {
        true
    }

    fn max_loa(&self) -> LevelOfAssurance {
        LevelOfAssurance::FtnHigh
    }

    fn start(&self, ctx: &StartContext<'_>) -> Result<StartAction, AdapterError> {
        if let Some(required) = ctx.requested_loa {
            if !self.max_loa().satisfies(required) {
                return Err(AdapterError::LoaNotSatisfied {
                    got: self.max_loa(),
                    required,
                });
            }
        }
        Ok(StartAction::RenderTestBank(TestBankPage {
            flow_id: ctx.flow_id.to_owned(),
            persons: self.persons.clone(),
        }))
    }

    fn finish<'a>(
        &'a self,
        ctx: &'a FinishContext<'a>,
        input: &'a CallbackInput,
    ) -> AdapterFuture<'a, Result<VerifiedIdentity, AdapterError>> {
        Box::pin(std::future::ready(self.verify_form(ctx, input)))
    }
}

impl TestBank {
    /// The test bank's whole check: the submitted form, no upstream to ask.
    pub fn verify_form(
        &self,
        ctx: &FinishContext<'_>,
        input: &CallbackInput,
    ) -> Result<VerifiedIdentity, AdapterError> {
        match input.single("flow")? {
            Some(flow) if certs::constant_time_eq(flow.as_bytes(), ctx.flow_id.as_bytes()) => {}
            _ => return Err(AdapterError::FlowMismatch),
        }
        if input.has("cancel") {
            return Err(AdapterError::Cancelled);
        }

        let code = national_id_field(input)?;
        let person = self.person(&code);
        let given_name = name_field(input, "given_name", person.map(|p| p.given_name))?;
        let family_name = name_field(input, "family_name", person.map(|p| p.family_name))?;

        let loa = loa_field(input, ctx.requested_loa)?;
        if let Some(required) = ctx.requested_loa {
            if !loa.satisfies(required) {
                return Err(AdapterError::LoaNotSatisfied { got: loa, required });
            }
        }

        let national_id = code.as_str().to_owned();
        Ok(VerifiedIdentity::from_parts(IdentityParts {
            electronic_id: None,
            birth_date: Some(code.birth_date()),
            national_id: Some(NationalId::from(code)),
            given_name,
            family_name,
            display_name: None,
            loa,
            method: TESTBANK_ID.to_owned(),
            upstream_issuer: TESTBANK_ISSUER.to_owned(),
            upstream_subject: national_id,
            authn_instant: ctx.now,
        }))
    }
}

fn national_id_field(input: &CallbackInput) -> Result<PersonalIdentityCode, AdapterError> {
    const FIELD: &str = "national_id";
    let value = input
        .single(FIELD)?
        .unwrap_or_default()
        .trim_matches(|c: char| c.is_ascii_whitespace());
    if value.is_empty() {
        return Err(AdapterError::MissingField(FIELD));
    }
    if value.chars().count() > HETU_LEN {
        return Err(AdapterError::FieldTooLong {
            field: FIELD,
            max: HETU_LEN,
        });
    }
    Ok(PersonalIdentityCode::parse(value)?)
}

/// A name as typed, or the test person's when left empty. Markup characters are kept as they are:
/// names are text, and the templates and the assertion writer escape them.
fn name_field(
    input: &CallbackInput,
    field: &'static str,
    fallback: Option<&'static str>,
) -> Result<String, AdapterError> {
    let raw = input.single(field)?.unwrap_or_default();
    // Checked before trimming: `trim` would silently drop a trailing NEL (U+0085) or newline.
    if raw
        .chars()
        .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return Err(AdapterError::InvalidName { field });
    }
    let value = raw.trim();
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(AdapterError::FieldTooLong {
            field,
            max: MAX_NAME_CHARS,
        });
    }
    match (value.is_empty(), fallback) {
        (false, _) => Ok(value.to_owned()),
        (true, Some(name)) => Ok(name.to_owned()),
        (true, None) => Err(AdapterError::MissingField(field)),
    }
}

/// The level the tester chose; by default the FTN level equivalent to the requested one.
fn loa_field(
    input: &CallbackInput,
    requested: Option<LevelOfAssurance>,
) -> Result<LevelOfAssurance, AdapterError> {
    match input.single("loa")? {
        None | Some("") => Ok(match requested {
            Some(required) if !LevelOfAssurance::FtnSubstantial.satisfies(required) => {
                LevelOfAssurance::FtnHigh
            }
            _ => LevelOfAssurance::FtnSubstantial,
        }),
        Some("loa2") => Ok(LevelOfAssurance::FtnSubstantial),
        Some("loa3") => Ok(LevelOfAssurance::FtnHigh),
        Some(_) => Err(AdapterError::InvalidField { field: "loa" }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hetu::HetuError;
    use time::macros::{date, datetime};
    use time::OffsetDateTime;

    const FLOW: &str = "flow-7f3a";
    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn ctx(requested_loa: Option<LevelOfAssurance>) -> FinishContext<'static> {
        FinishContext {
            flow_id: FLOW,
            requested_loa,
            now: NOW,
            pending: None,
            client_certificates: None,
        }
    }

    fn input(fields: &[(&str, &str)]) -> CallbackInput {
        fields.iter().copied().collect()
    }

    fn finish(
        requested: Option<LevelOfAssurance>,
        fields: &[(&str, &str)],
    ) -> Result<VerifiedIdentity, AdapterError> {
        TestBank::new().verify_form(&ctx(requested), &input(fields))
    }

    /// The check character by the definition, independent of `PersonalIdentityCode::parse`.
    fn check_char_by_definition(code: &str) -> char {
        let digits: String = code[0..6].chars().chain(code[7..10].chars()).collect();
        let n: u64 = digits.parse().unwrap();
        "0123456789ABCDEFHJKLMNPRSTUVWXY"
            .chars()
            .nth((n % 31) as usize)
            .unwrap()
    }

    #[test]
    fn test_persons_have_valid_codes_and_nordic_letters() {
        let bank = TestBank::new();
        assert!((3..=4).contains(&bank.persons().len()));
        for person in bank.persons() {
            let code = person.national_id;
            assert_eq!(
                check_char_by_definition(code),
                code.chars().last().unwrap(),
                "{code}"
            );
            let hetu = PersonalIdentityCode::parse(code).unwrap();
            assert!(hetu.is_test_series(), "{code}");
            assert!((1970..=2009).contains(&hetu.birth_date().year()), "{code}");
        }
        let names: String = bank
            .persons()
            .iter()
            .flat_map(|p| [p.given_name, p.family_name])
            .collect();
        for letter in ['ä', 'ö', 'å', 'Å'] {
            assert!(names.contains(letter), "{letter}");
        }
    }

    #[test]
    fn adapter_metadata() {
        let bank = TestBank::new();
        assert_eq!(bank.id(), "testbank");
        assert_eq!(
            bank.display_name(Language::Fi),
            "Testipankki (testikäyttöön)"
        );
        assert_eq!(bank.display_name(Language::Sv), "Testbank (för testning)");
        assert_eq!(bank.display_name(Language::En), "Test bank (for testing)");
        assert!(bank.is_test_method());
        assert_eq!(bank.max_loa(), LevelOfAssurance::FtnHigh);
    }

    #[test]
    fn start_renders_the_page_with_the_flow_and_persons() {
        let bank = TestBank::new();
        let action = bank
            .start(&StartContext {
                flow_id: FLOW,
                language: Language::Sv,
                requested_loa: Some(LevelOfAssurance::EidasHigh),
                force_authn: false,
                now: NOW,
            })
            .unwrap();
        let StartAction::RenderTestBank(page) = action else {
            unreachable!("expected RenderTestBank, got {action:?}");
        };
        assert_eq!(page.flow_id, FLOW);
        assert_eq!(page.persons, bank.persons());
    }

    #[test]
    fn happy_path_with_typed_names() {
        let identity = finish(
            None,
            &[
                ("flow", FLOW),
                ("national_id", " 131052-9085\t"),
                ("given_name", "Väinö"),
                ("family_name", "Virtanen"),
                ("loa", "loa3"),
            ],
        )
        .unwrap();
        assert_eq!(identity.national_id().unwrap().expose(), "131052-9085");
        assert_eq!(identity.given_name(), "Väinö");
        assert_eq!(identity.family_name(), "Virtanen");
        assert_eq!(identity.display_name(), "Väinö Virtanen");
        assert_eq!(identity.full_name(), "Väinö Virtanen");
        assert_eq!(identity.birth_date(), Some(date!(1952 - 10 - 13)));
        assert_eq!(identity.loa(), LevelOfAssurance::FtnHigh);
        assert_eq!(identity.method(), "testbank");
        assert_eq!(identity.upstream_issuer(), "urn:gateway:testbank");
        assert_eq!(identity.upstream_subject(), "131052-9085");
        assert_eq!(identity.authn_instant(), NOW);
        assert!(!format!("{identity:?}").contains("131052"));
    }

    #[test]
    fn names_come_from_the_test_person_when_left_empty() {
        let identity = finish(
            None,
            &[
                ("flow", FLOW),
                ("national_id", "280886-986H"),
                ("given_name", ""),
                ("family_name", "  "),
            ],
        )
        .unwrap();
        assert_eq!(identity.given_name(), "Åsa");
        assert_eq!(identity.family_name(), "Sjöström");
        assert_eq!(identity.birth_date(), Some(date!(1986 - 08 - 28)));
        assert_eq!(identity.loa(), LevelOfAssurance::FtnSubstantial);

        // Absent name fields behave like empty ones; a typed name overrides the person's.
        let identity = finish(
            None,
            &[
                ("flow", FLOW),
                ("national_id", "070702A938X"),
                ("family_name", "Åkerlund"),
            ],
        )
        .unwrap();
        assert_eq!(identity.full_name(), "Aino Åkerlund");
    }

    #[test]
    fn names_are_required_for_other_codes() {
        assert_eq!(
            finish(None, &[("flow", FLOW), ("national_id", "131052-9085")]).unwrap_err(),
            AdapterError::MissingField("given_name")
        );
        assert_eq!(
            finish(
                None,
                &[
                    ("flow", FLOW),
                    ("national_id", "131052-9085"),
                    ("given_name", "Liisa"),
                ]
            )
            .unwrap_err(),
            AdapterError::MissingField("family_name")
        );
    }

    #[test]
    fn cancel_is_reported_after_the_flow_check() {
        assert_eq!(
            finish(None, &[("flow", FLOW), ("cancel", "")]).unwrap_err(),
            AdapterError::Cancelled
        );
        assert_eq!(
            finish(
                None,
                &[
                    ("flow", FLOW),
                    ("national_id", "150375-913W"),
                    ("cancel", "1")
                ]
            )
            .unwrap_err(),
            AdapterError::Cancelled
        );
        assert_eq!(
            finish(None, &[("flow", "other"), ("cancel", "")]).unwrap_err(),
            AdapterError::FlowMismatch
        );
    }

    #[test]
    fn flow_mismatch_missing_or_repeated() {
        let fields = [("national_id", "150375-913W")];
        assert_eq!(
            finish(None, &fields).unwrap_err(),
            AdapterError::FlowMismatch
        );
        for flow in ["", "flow-7f3b", "flow-7f3a ", "FLOW-7F3A"] {
            assert_eq!(
                finish(None, &[("flow", flow), ("national_id", "150375-913W")]).unwrap_err(),
                AdapterError::FlowMismatch,
                "{flow:?}"
            );
        }
        assert_eq!(
            finish(
                None,
                &[
                    ("flow", FLOW),
                    ("flow", FLOW),
                    ("national_id", "150375-913W")
                ]
            )
            .unwrap_err(),
            AdapterError::DuplicateField("flow")
        );
    }

    #[test]
    fn loa_selection_and_requests() {
        let person = [("flow", FLOW), ("national_id", "150375-913W")];
        let with_loa = |loa: &'static str| {
            let mut fields = person.to_vec();
            fields.push(("loa", loa));
            fields
        };

        // Defaults follow the request, mapped to the FTN family.
        assert_eq!(
            finish(Some(LevelOfAssurance::FtnHigh), &person)
                .unwrap()
                .loa(),
            LevelOfAssurance::FtnHigh
        );
        assert_eq!(
            finish(Some(LevelOfAssurance::EidasHigh), &person)
                .unwrap()
                .loa(),
            LevelOfAssurance::FtnHigh
        );
        assert_eq!(
            finish(Some(LevelOfAssurance::EidasSubstantial), &person)
                .unwrap()
                .loa(),
            LevelOfAssurance::FtnSubstantial
        );
        assert_eq!(
            finish(None, &with_loa("")).unwrap().loa(),
            LevelOfAssurance::FtnSubstantial
        );

        // A higher level than requested is fine; a lower one is not.
        assert_eq!(
            finish(Some(LevelOfAssurance::FtnSubstantial), &with_loa("loa3"))
                .unwrap()
                .loa(),
            LevelOfAssurance::FtnHigh
        );
        assert_eq!(
            finish(Some(LevelOfAssurance::FtnHigh), &with_loa("loa2")).unwrap_err(),
            AdapterError::LoaNotSatisfied {
                got: LevelOfAssurance::FtnSubstantial,
                required: LevelOfAssurance::FtnHigh,
            }
        );
        assert_eq!(
            finish(Some(LevelOfAssurance::EidasHigh), &with_loa("loa2")).unwrap_err(),
            AdapterError::LoaNotSatisfied {
                got: LevelOfAssurance::FtnSubstantial,
                required: LevelOfAssurance::EidasHigh,
            }
        );
        for bad in ["LOA3", "loa4", "http://ftn.ficora.fi/2017/loa3", "high"] {
            assert_eq!(
                finish(None, &with_loa(bad)).unwrap_err(),
                AdapterError::InvalidField { field: "loa" },
                "{bad}"
            );
        }
    }

    #[test]
    fn national_id_is_validated() {
        let with_id = |id: &'static str| [("flow", FLOW), ("national_id", id)];
        assert_eq!(
            finish(None, &with_id("131052-9086")).unwrap_err(),
            AdapterError::InvalidNationalId(HetuError::CheckCharacter)
        );
        assert_eq!(
            finish(None, &with_id("010100-000E")).unwrap_err(),
            AdapterError::InvalidNationalId(HetuError::IndividualNumber)
        );
        assert_eq!(
            finish(None, &with_id("131052-908")).unwrap_err(),
            AdapterError::InvalidNationalId(HetuError::Length)
        );
        assert_eq!(
            finish(None, &with_id("131052-9085X")).unwrap_err(),
            AdapterError::FieldTooLong {
                field: "national_id",
                max: 11
            }
        );
        assert_eq!(
            finish(None, &with_id(" \n ")).unwrap_err(),
            AdapterError::MissingField("national_id")
        );
        assert_eq!(
            finish(None, &[("flow", FLOW)]).unwrap_err(),
            AdapterError::MissingField("national_id")
        );
        // Only ASCII whitespace is trimmed: a no-break space stays and makes it too long.
        assert_eq!(
            finish(None, &with_id("\u{a0}150375-913W")).unwrap_err(),
            AdapterError::FieldTooLong {
                field: "national_id",
                max: 11
            }
        );
    }

    #[test]
    fn control_characters_in_names_are_refused() {
        for name in [
            "Matti\u{0}",
            "Mat\nti",
            "Matti\u{7f}",
            "Matti\u{85}",
            "\u{1b}[31mMatti",
            "\tMatti",
            "Matti\r\n",
        ] {
            assert_eq!(
                finish(
                    None,
                    &[
                        ("flow", FLOW),
                        ("national_id", "131052-9085"),
                        ("given_name", name),
                        ("family_name", "Virtanen"),
                    ]
                )
                .unwrap_err(),
                AdapterError::InvalidName {
                    field: "given_name"
                },
                "{name:?}"
            );
        }
    }

    #[test]
    fn markup_in_names_is_accepted_intact() {
        let given = "<script>alert('x')</script>";
        let family = "O'Brien & \"Sons\" ]]> <!--";
        let identity = finish(
            None,
            &[
                ("flow", FLOW),
                ("national_id", "131052-9085"),
                ("given_name", given),
                ("family_name", family),
            ],
        )
        .unwrap();
        assert_eq!(identity.given_name(), given);
        assert_eq!(identity.family_name(), family);
        assert_eq!(identity.full_name(), format!("{given} {family}"));
    }

    #[test]
    fn name_length_is_counted_in_characters() {
        let fields = |given: &str| {
            input(&[
                ("flow", FLOW),
                ("national_id", "131052-9085"),
                ("given_name", given),
                ("family_name", "Virtanen"),
            ])
        };
        let bank = TestBank::new();
        let hundred = "ä".repeat(MAX_NAME_CHARS);
        assert_eq!(
            bank.verify_form(&ctx(None), &fields(&hundred))
                .unwrap()
                .given_name(),
            hundred
        );
        let too_long = "a".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            bank.verify_form(&ctx(None), &fields(&too_long))
                .unwrap_err(),
            AdapterError::FieldTooLong {
                field: "given_name",
                max: MAX_NAME_CHARS
            }
        );
    }

    #[test]
    fn usable_as_a_trait_object() {
        let adapters: Vec<Box<dyn AuthAdapter>> = vec![Box::new(TestBank::new())];
        assert_eq!(adapters[0].id(), "testbank");
    }
}
