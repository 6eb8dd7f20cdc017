//! Texts of the citizen's pages in Finnish, Swedish and English.

use idp_adapters::Language;

pub struct Texts {
    pub lang: &'static str,
    pub select_title: &'static str,
    pub select_intro: &'static str,
    pub test_badge: &'static str,
    pub cancel_to_service: &'static str,
    pub testbank_title: &'static str,
    pub testbank_warning: &'static str,
    pub national_id: &'static str,
    pub national_id_hint: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub names_hint: &'static str,
    pub loa: &'static str,
    pub identify: &'static str,
    pub ready_persons: &'static str,
    pub back_to_methods: &'static str,
    pub returning: &'static str,
    pub noscript: &'static str,
    pub continue_: &'static str,
    pub error_title: &'static str,
    pub error_id: &'static str,
    pub err_bad_request: &'static str,
    pub err_expired: &'static str,
    pub err_internal: &'static str,
    pub err_invalid_input: &'static str,
    pub err_method: &'static str,
    pub cancelled_at_method: &'static str,
    pub language_nav: &'static str,
}

pub const FI: Texts = Texts {
    lang: "fi",
    select_title: "Valitse tunnistustapa",
    select_intro: "Asiointipalvelu pyytää sinua tunnistautumaan:",
    test_badge: "Testi",
    cancel_to_service: "Keskeytä ja palaa asiointipalveluun",
    testbank_title: "Testipankki",
    testbank_warning: "Vain testikäyttöön. Älä syötä oikeita henkilötietoja.",
    national_id: "Henkilötunnus",
    national_id_hint: "Muodossa PPKKVV-NNNT, esimerkiksi 150375-213A",
    given_name: "Etunimi",
    family_name: "Sukunimi",
    names_hint: "Nimet voi jättää tyhjiksi valmiille testihenkilölle.",
    loa: "Varmuustaso",
    identify: "Tunnistaudu",
    ready_persons: "Valmiit testihenkilöt",
    back_to_methods: "Takaisin tunnistustavan valintaan",
    returning: "Palaat asiointipalveluun.",
    noscript: "Selaimesi ei suorita JavaScriptiä. Jatka painamalla painiketta.",
    continue_: "Jatka",
    error_title: "Tunnistus ei onnistunut",
    error_id: "Virhetunnus",
    err_bad_request: "Asiointipalvelun lähettämää tunnistuspyyntöä ei voitu hyväksyä. Palaa asiointipalveluun ja yritä uudelleen.",
    err_expired: "Tunnistus on vanhentunut tai se on jo käytetty. Palaa asiointipalveluun ja aloita alusta.",
    err_internal: "Palvelussa tapahtui virhe. Yritä hetken kuluttua uudelleen.",
    err_invalid_input: "Tarkista syöttämäsi tiedot.",
    err_method: "Tunnistustapaa ei ole saatavilla tälle pyynnölle.",
    cancelled_at_method: "Tunnistautuminen keskeytettiin. Voit valita toisen tunnistustavan.",
    language_nav: "Kieli",
};

pub const SV: Texts = Texts {
    lang: "sv",
    select_title: "Välj identifieringsmetod",
    select_intro: "E-tjänsten ber dig att identifiera dig:",
    test_badge: "Test",
    cancel_to_service: "Avbryt och återgå till e-tjänsten",
    testbank_title: "Testbank",
    testbank_warning: "Endast för testning. Ange inte riktiga personuppgifter.",
    national_id: "Personbeteckning",
    national_id_hint: "I formen DDMMÅÅ-NNNK, till exempel 150375-213A",
    given_name: "Förnamn",
    family_name: "Efternamn",
    names_hint: "Namnen kan lämnas tomma för en färdig testperson.",
    loa: "Tillitsnivå",
    identify: "Identifiera dig",
    ready_persons: "Färdiga testpersoner",
    back_to_methods: "Tillbaka till valet av identifieringsmetod",
    returning: "Du återvänder till e-tjänsten.",
    noscript: "Din webbläsare kör inte JavaScript. Fortsätt genom att trycka på knappen.",
    continue_: "Fortsätt",
    error_title: "Identifieringen misslyckades",
    error_id: "Felkod",
    err_bad_request: "Identifieringsbegäran från e-tjänsten kunde inte godkännas. Återvänd till e-tjänsten och försök igen.",
    err_expired: "Identifieringen har gått ut eller har redan använts. Återvänd till e-tjänsten och börja om.",
    err_internal: "Ett fel inträffade i tjänsten. Försök igen om en stund.",
    err_invalid_input: "Kontrollera uppgifterna du angav.",
    err_method: "Identifieringsmetoden är inte tillgänglig för denna begäran.",
    cancelled_at_method: "Identifieringen avbröts. Du kan välja en annan identifieringsmetod.",
    language_nav: "Språk",
};

pub const EN: Texts = Texts {
    lang: "en",
    select_title: "Choose how to identify yourself",
    select_intro: "An e-service asks you to identify yourself:",
    test_badge: "Test",
    cancel_to_service: "Cancel and return to the e-service",
    testbank_title: "Test bank",
    testbank_warning: "For testing only. Do not enter real personal data.",
    national_id: "Personal identity code",
    national_id_hint: "Format DDMMYY-NNNC, for example 150375-213A",
    given_name: "Given name",
    family_name: "Family name",
    names_hint: "Names may be left empty for a ready test person.",
    loa: "Level of assurance",
    identify: "Identify",
    ready_persons: "Ready test persons",
    back_to_methods: "Back to the choice of method",
    returning: "Returning to the e-service.",
    noscript: "Your browser does not run JavaScript. Press the button to continue.",
    continue_: "Continue",
    error_title: "Identification failed",
    error_id: "Error ID",
    err_bad_request: "The identification request from the e-service could not be accepted. Return to the e-service and try again.",
    err_expired: "The identification has expired or was already used. Return to the e-service and start again.",
    err_internal: "An error occurred in the service. Please try again in a moment.",
    err_invalid_input: "Please check the details you entered.",
    err_method: "This identification method is not available for this request.",
    cancelled_at_method: "Identification was cancelled. You can choose another method.",
    language_nav: "Language",
};

pub fn texts(lang: Language) -> &'static Texts {
    match lang {
        Language::Fi => &FI,
        Language::Sv => &SV,
        Language::En => &EN,
    }
}

/// What the citizen is told about a refused test bank form, in their language.
pub fn form_error(lang: Language, e: &idp_adapters::AdapterError) -> &'static str {
    use idp_adapters::AdapterError as E;
    let (fi, sv, en) = match e {
        E::InvalidNationalId(_) => (
            "Henkilötunnus ei ole kelvollinen.",
            "Personbeteckningen är inte giltig.",
            "The personal identity code is not valid.",
        ),
        E::MissingField(_) => (
            "Pakollinen tieto puuttuu.",
            "En obligatorisk uppgift saknas.",
            "A required field is missing.",
        ),
        E::FieldTooLong { .. } => (
            "Tieto on liian pitkä.",
            "Uppgiften är för lång.",
            "A field is too long.",
        ),
        E::InvalidName { .. } => (
            "Nimessä on merkkejä, joita ei hyväksytä.",
            "Namnet innehåller tecken som inte godkänns.",
            "A name contains characters that are not accepted.",
        ),
        E::LoaNotSatisfied { .. } | E::InvalidField { field: "loa" } => (
            "Valittu varmuustaso ei riitä asiointipalvelulle.",
            "Den valda tillitsnivån räcker inte för e-tjänsten.",
            "The chosen level of assurance is not enough for the e-service.",
        ),
        _ => (
            "Tarkista tiedot.",
            "Kontrollera uppgifterna.",
            "Please check the details.",
        ),
    };
    match lang {
        Language::Fi => fi,
        Language::Sv => sv,
        Language::En => en,
    }
}
