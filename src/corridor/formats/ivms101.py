"""IVMS101: the interVASP Messaging Standard's identity payload, as data, JSON and checks.

The travel rule (FATF Recommendation 16) makes the originating institution send who pays and
who is paid along with a transfer at or above a threshold. IVMS101 (interVASP Messaging
Standard 101, issue 1, 2020) is the data model the industry agreed for that payload; this
module holds it as frozen msgspec Structs whose JSON uses the standard's field names
(``originator.originatorPersons[].naturalPerson.name.nameIdentifier[].primaryIdentifier``,
``originatingVASP.originatingVASP.legalPerson``...), and checks a payload against the
standard's types, lengths and constraints. It is a pure format: no I/O, no clock (the date
that "date of birth is in the past" is checked against is passed in).

What the JSON looks like (keys exactly as the standard; optional elements are left out
rather than written as null or empty)::

    {"originator": {"originatorPersons": [{"naturalPerson": {
        "name": {"nameIdentifier": [{"primaryIdentifier": "Wang Xiaoming",
                                     "nameIdentifierType": "LEGL"}],
                 "localNameIdentifier": [{"primaryIdentifier": "王小明",
                                          "nameIdentifierType": "LEGL"}]},
        "customerIdentification": "c-wang", "countryOfResidence": "CN"}}],
      "accountNumber": ["customer:alipay-cn/c-wang"]},
     "beneficiary": {"beneficiaryPersons": [{"legalPerson": {...}}], "accountNumber": [...]},
     "originatingVASP": {"originatingVASP": {"legalPerson": {...}}},
     "beneficiaryVASP": {"beneficiaryVASP": {"legalPerson": {...}}},
     "payloadMetadata": {"transliterationMethod": ["hani"]}}

Names in Latin script go in ``nameIdentifier``; the same name in its native script (Han,
kana, Hangul) goes in ``localNameIdentifier``; ``payloadMetadata.transliterationMethod``
says which scripts were transliterated (``hani``, ``kana``, ``kore``...). The name type codes
are the standard's: ``LEGL`` (legal name), ``ALIA``, ``BIRT``, ``MAID``, ``MISC`` for natural
persons, ``LEGL``, ``SHRT``, ``TRAD`` for legal persons. (Latin versus native script is not a
name type in IVMS101; it is which of the two lists a name is in.)

Checks (`validate`, also run by `encode` and `decode`), each failure an `Ivms101Error` whose
`field` is the JSON path of the offending element (``$.originator.originatorPersons[0]...``):

- types, required elements and lengths (Max16/35/50/70/100Text, ISO 3166-1 alpha-2 country
  codes, ISO 8601 dates), unknown fields refused: codes ``missing_field``,
  ``unknown_field``, ``invalid_field``;
- a Person is exactly one of ``naturalPerson`` / ``legalPerson`` (``invalid_person``);
- LegalNamePresent / LegalNamePresentLegalPerson: a person has at least one ``LEGL`` name
  (``legal_name_missing``);
- OriginatorInformationNaturalPerson / ...LegalPerson: an originator natural person has a
  geographic address, a national identification, a customer identification or a date and
  place of birth; an originator legal person has an address, a customer number or a national
  identification (``originator_information_missing``);
- DateInPast: a date of birth is before `today` (``date_not_in_past``);
- ValidCountryCode: every country code is an ISO 3166-1 country (``invalid_country``);
- ValidAddress: an address has an ``addressLine`` or a ``streetName`` with a
  ``buildingName`` or ``buildingNumber`` (``invalid_address``);
- a legal person's national identifier is of type RAID, MISC, LEIX or TXID, has no
  ``countryOfIssue``, has a ``registrationAuthority`` (``RA`` and six digits) unless it is an
  LEI, and an LEI has 20 characters with valid ISO 17442 check digits (``invalid_national_id``);
- a natural person's national identifier is not of the legal-person types LEIX or RAID
  (``invalid_national_id``);
- transfer path sequence numbers are distinct (``invalid_transfer_path``).

Limits on lists beyond those of the standard are ours, named constants below; a JSON text
longer than `PAYLOAD_BYTES_MAX` is refused before parsing (``too_large``), as is text that is
not JSON (``invalid_json``).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Annotated, Final

import msgspec
import pycountry

__all__ = [
    "ACCOUNT_NUMBERS_MAX",
    "ADDRESSES_MAX",
    "ADDRESS_LINES_MAX",
    "NAME_IDENTIFIERS_MAX",
    "PAYLOAD_BYTES_MAX",
    "PERSONS_MAX",
    "Address",
    "AddressType",
    "Beneficiary",
    "BeneficiaryVasp",
    "DateAndPlaceOfBirth",
    "IdentityPayload",
    "IntermediaryVasp",
    "Ivms101Error",
    "LegalPerson",
    "LegalPersonName",
    "LegalPersonNameId",
    "LegalPersonNameType",
    "NationalIdentification",
    "NationalIdentifierType",
    "NaturalPerson",
    "NaturalPersonName",
    "NaturalPersonNameId",
    "NaturalPersonNameType",
    "OriginatingVasp",
    "Originator",
    "PayloadMetadata",
    "Person",
    "TransferPath",
    "TransliterationMethod",
    "decode",
    "encode",
    "is_valid_lei",
    "to_dict",
    "validate",
]

PERSONS_MAX: Final = 10
"""Most originator or beneficiary persons in one payload (joint accounts)."""
NAME_IDENTIFIERS_MAX: Final = 5
"""Most names per list (nameIdentifier, localNameIdentifier, phoneticNameIdentifier)."""
ADDRESSES_MAX: Final = 5
ADDRESS_LINES_MAX: Final = 7
"""The standard's bound on ``addressLine``."""
ACCOUNT_NUMBERS_MAX: Final = 20
TRANSFER_PATH_MAX: Final = 10
TRANSLITERATION_METHODS_MAX: Final = 10
PAYLOAD_BYTES_MAX: Final = 64 * 1024
"""Longest JSON text `decode` parses; a travel-rule payload is a few kilobytes."""

_LEI: Final = re.compile(r"[A-Z0-9]{18}[0-9]{2}")


class Ivms101Error(Exception):
    """A payload is refused; `code` says why (stable), `field` is the JSON path at fault.

    Codes: ``invalid_json``, ``too_large``, ``missing_field``, ``unknown_field``,
    ``invalid_field``, ``invalid_person``, ``legal_name_missing``,
    ``originator_information_missing``, ``date_not_in_past``, ``invalid_country``,
    ``invalid_address``, ``invalid_national_id``, ``invalid_transfer_path``.
    """

    code: str = "ivms101_error"

    def __init__(self, code: str, message: str, field: str = "$") -> None:
        super().__init__(f"{field}: {message}")
        self.code = code
        self.field = field


# --- code lists ------------------------------------------------------------------------


class NaturalPersonNameType(enum.StrEnum):
    ALIAS = "ALIA"
    BIRTH = "BIRT"
    MAIDEN = "MAID"
    LEGAL = "LEGL"
    MISC = "MISC"


class LegalPersonNameType(enum.StrEnum):
    LEGAL = "LEGL"
    SHORT = "SHRT"
    TRADING = "TRAD"


class AddressType(enum.StrEnum):
    HOME = "HOME"
    BUSINESS = "BIZZ"
    GEOGRAPHIC = "GEOG"


class NationalIdentifierType(enum.StrEnum):
    ALIEN_REGISTRATION = "ARNU"
    PASSPORT = "CCPT"
    REGISTRATION_AUTHORITY = "RAID"
    DRIVER_LICENSE = "DRLC"
    FOREIGN_INVESTMENT = "FIIN"
    TAX_ID = "TXID"
    SOCIAL_SECURITY = "SOCS"
    IDENTITY_CARD = "IDCD"
    LEI = "LEIX"
    MISC = "MISC"


_LEGAL_PERSON_ID_TYPES: Final = frozenset(
    {
        NationalIdentifierType.REGISTRATION_AUTHORITY,
        NationalIdentifierType.MISC,
        NationalIdentifierType.LEI,
        NationalIdentifierType.TAX_ID,
    }
)
_LEGAL_ONLY_ID_TYPES: Final = frozenset(
    {NationalIdentifierType.LEI, NationalIdentifierType.REGISTRATION_AUTHORITY}
)


class TransliterationMethod(enum.StrEnum):
    """The script a name was transliterated from (ISO 15924 codes, lower case)."""

    ARABIC = "arab"
    NASTALIQ = "aran"
    ARMENIAN = "armn"
    CYRILLIC = "cyrl"
    DEVANAGARI = "deva"
    GEORGIAN = "geor"
    GREEK = "grek"
    HAN = "hani"
    HEBREW = "hebr"
    KANA = "kana"
    KOREAN = "kore"
    THAI = "thai"
    OTHER = "othr"


# --- the data model --------------------------------------------------------------------

Text16 = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
Text35 = Annotated[str, msgspec.Meta(min_length=1, max_length=35)]
Text50 = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Text70 = Annotated[str, msgspec.Meta(min_length=1, max_length=70)]
Text100 = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
CountryCode = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]
RegistrationAuthority = Annotated[str, msgspec.Meta(pattern="^RA[0-9]{6}$")]


class _Model(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    forbid_unknown_fields=True,
    rename="camel",
):
    """Base of every element: immutable, camelCase JSON, defaults left out."""


class NaturalPersonNameId(_Model, frozen=True, kw_only=True):
    primary_identifier: Text100
    """Family name (or the whole name when it cannot be split reliably)."""
    secondary_identifier: Text100 | None = None
    """Given names."""
    name_identifier_type: NaturalPersonNameType


class NaturalPersonName(_Model, frozen=True, kw_only=True):
    name_identifier: Annotated[
        tuple[NaturalPersonNameId, ...], msgspec.Meta(min_length=1, max_length=NAME_IDENTIFIERS_MAX)
    ]
    local_name_identifier: Annotated[
        tuple[NaturalPersonNameId, ...], msgspec.Meta(max_length=NAME_IDENTIFIERS_MAX)
    ] = ()
    """The name in its native script."""
    phonetic_name_identifier: Annotated[
        tuple[NaturalPersonNameId, ...], msgspec.Meta(max_length=NAME_IDENTIFIERS_MAX)
    ] = ()


class LegalPersonNameId(_Model, frozen=True, kw_only=True):
    legal_person_name: Text100
    legal_person_name_identifier_type: LegalPersonNameType


class LegalPersonName(_Model, frozen=True, kw_only=True):
    name_identifier: Annotated[
        tuple[LegalPersonNameId, ...], msgspec.Meta(min_length=1, max_length=NAME_IDENTIFIERS_MAX)
    ]
    local_name_identifier: Annotated[
        tuple[LegalPersonNameId, ...], msgspec.Meta(max_length=NAME_IDENTIFIERS_MAX)
    ] = ()
    phonetic_name_identifier: Annotated[
        tuple[LegalPersonNameId, ...], msgspec.Meta(max_length=NAME_IDENTIFIERS_MAX)
    ] = ()


class Address(_Model, frozen=True, kw_only=True):
    address_type: AddressType
    department: Text50 | None = None
    sub_department: Text70 | None = None
    street_name: Text70 | None = None
    building_number: Text16 | None = None
    building_name: Text35 | None = None
    floor: Text70 | None = None
    post_box: Text16 | None = None
    room: Text70 | None = None
    post_code: Text16 | None = None
    town_name: Text35
    town_location_name: Text35 | None = None
    district_name: Text35 | None = None
    country_sub_division: Text35 | None = None
    address_line: Annotated[tuple[Text70, ...], msgspec.Meta(max_length=ADDRESS_LINES_MAX)] = ()
    country: CountryCode


class NationalIdentification(_Model, frozen=True, kw_only=True):
    national_identifier: Text35
    national_identifier_type: NationalIdentifierType
    country_of_issue: CountryCode | None = None
    registration_authority: RegistrationAuthority | None = None


class DateAndPlaceOfBirth(_Model, frozen=True, kw_only=True):
    date_of_birth: dt.date
    place_of_birth: Text70


class NaturalPerson(_Model, frozen=True, kw_only=True):
    name: NaturalPersonName
    geographic_address: Annotated[tuple[Address, ...], msgspec.Meta(max_length=ADDRESSES_MAX)] = ()
    national_identification: NationalIdentification | None = None
    customer_identification: Text50 | None = None
    date_and_place_of_birth: DateAndPlaceOfBirth | None = None
    country_of_residence: CountryCode | None = None


class LegalPerson(_Model, frozen=True, kw_only=True):
    name: LegalPersonName
    geographic_address: Annotated[tuple[Address, ...], msgspec.Meta(max_length=ADDRESSES_MAX)] = ()
    customer_number: Text50 | None = None
    national_identification: NationalIdentification | None = None
    country_of_registration: CountryCode | None = None


class Person(_Model, frozen=True, kw_only=True):
    """Exactly one of a natural person and a legal person."""

    natural_person: NaturalPerson | None = None
    legal_person: LegalPerson | None = None


Persons = Annotated[tuple[Person, ...], msgspec.Meta(min_length=1, max_length=PERSONS_MAX)]
AccountNumbers = Annotated[tuple[Text100, ...], msgspec.Meta(max_length=ACCOUNT_NUMBERS_MAX)]


class Originator(_Model, frozen=True, kw_only=True):
    originator_persons: Persons
    account_number: AccountNumbers = ()


class Beneficiary(_Model, frozen=True, kw_only=True):
    beneficiary_persons: Persons
    account_number: AccountNumbers = ()


class OriginatingVasp(_Model, frozen=True, kw_only=True):
    originating_vasp: Person = msgspec.field(name="originatingVASP")


class BeneficiaryVasp(_Model, frozen=True, kw_only=True):
    beneficiary_vasp: Person | None = msgspec.field(default=None, name="beneficiaryVASP")


class IntermediaryVasp(_Model, frozen=True, kw_only=True):
    intermediary_vasp: Person = msgspec.field(name="intermediaryVASP")
    sequence: Annotated[int, msgspec.Meta(ge=0)]


class TransferPath(_Model, frozen=True, kw_only=True):
    transfer_path: Annotated[
        tuple[IntermediaryVasp, ...], msgspec.Meta(max_length=TRANSFER_PATH_MAX)
    ] = ()


class PayloadMetadata(_Model, frozen=True, kw_only=True):
    transliteration_method: Annotated[
        tuple[TransliterationMethod, ...], msgspec.Meta(max_length=TRANSLITERATION_METHODS_MAX)
    ] = ()


class IdentityPayload(_Model, frozen=True, kw_only=True):
    """The whole travel-rule payload."""

    originator: Originator
    beneficiary: Beneficiary
    originating_vasp: OriginatingVasp | None = msgspec.field(default=None, name="originatingVASP")
    beneficiary_vasp: BeneficiaryVasp | None = msgspec.field(default=None, name="beneficiaryVASP")
    transfer_path: TransferPath | None = None
    payload_metadata: PayloadMetadata | None = None


# --- JSON ------------------------------------------------------------------------------

_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(IdentityPayload)
_MISSING: Final = re.compile(r"Object missing required field `([^`]+)`")
_UNKNOWN: Final = re.compile(r"Object contains unknown field `([^`]+)`")


def _schema_error(error: msgspec.ValidationError) -> Ivms101Error:
    """msgspec's message ("... - at `$.a.b`") as an error naming the field."""
    message, _, at = str(error).partition(" - at `")
    path = at.rstrip("`") or "$"
    if missing := _MISSING.match(message):
        name = missing.group(1)
        return Ivms101Error("missing_field", f"{name} is required", f"{path}.{name}")
    if unknown := _UNKNOWN.match(message):
        name = unknown.group(1)
        return Ivms101Error("unknown_field", f"{name} is not an IVMS101 field", f"{path}.{name}")
    return Ivms101Error("invalid_field", message, path)


def decode(data: bytes | str, *, today: dt.date | None = None) -> IdentityPayload:
    """Parse and validate a JSON payload; `today` for DateInPast (default: today, UTC)."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > PAYLOAD_BYTES_MAX:
        raise Ivms101Error("too_large", f"{len(raw)} bytes; at most {PAYLOAD_BYTES_MAX}")
    try:
        payload = _DECODER.decode(raw)
    except msgspec.ValidationError as error:
        raise _schema_error(error) from None
    except msgspec.DecodeError as error:
        raise Ivms101Error("invalid_json", str(error)) from None
    _check(payload, _today(today))
    return payload


def encode(payload: IdentityPayload, *, today: dt.date | None = None) -> bytes:
    """The payload as compact JSON (UTF-8, standard field names), after `validate`."""
    validate(payload, today=today)
    return _ENCODER.encode(payload)


def to_dict(payload: IdentityPayload) -> dict[str, object]:
    """The payload as JSON-ready builtins (what `encode` writes)."""
    result = msgspec.json.decode(_ENCODER.encode(payload))
    assert isinstance(result, dict)
    return result


def validate(payload: IdentityPayload, *, today: dt.date | None = None) -> None:
    """Check a payload built in code as `decode` checks parsed JSON; raise `Ivms101Error`.

    Lengths and patterns are only enforced by msgspec when decoding, so the payload takes a
    round trip through builtins first; then the standard's constraints are checked.
    """
    if not isinstance(payload, IdentityPayload):
        raise Ivms101Error("invalid_field", f"not an IdentityPayload: {type(payload).__name__}")
    try:
        msgspec.convert(msgspec.to_builtins(payload), IdentityPayload)
    except msgspec.ValidationError as error:
        raise _schema_error(error) from None
    _check(payload, _today(today))


def _today(today: dt.date | None) -> dt.date:
    return today if today is not None else dt.datetime.now(dt.UTC).date()


# --- constraints -----------------------------------------------------------------------


def _check(payload: IdentityPayload, today: dt.date) -> None:
    originator_path = "$.originator.originatorPersons"
    for index, person in enumerate(payload.originator.originator_persons):
        path = f"{originator_path}[{index}]"
        _check_person(person, path, today)
        _check_originator_information(person, path)
    for index, person in enumerate(payload.beneficiary.beneficiary_persons):
        _check_person(person, f"$.beneficiary.beneficiaryPersons[{index}]", today)
    if payload.originating_vasp is not None:
        vasp = payload.originating_vasp.originating_vasp
        _check_person(vasp, "$.originatingVASP.originatingVASP", today)
    if payload.beneficiary_vasp is not None and payload.beneficiary_vasp.beneficiary_vasp:
        vasp = payload.beneficiary_vasp.beneficiary_vasp
        _check_person(vasp, "$.beneficiaryVASP.beneficiaryVASP", today)
    if payload.transfer_path is not None:
        seen: set[int] = set()
        for index, hop in enumerate(payload.transfer_path.transfer_path):
            path = f"$.transferPath.transferPath[{index}]"
            if hop.sequence in seen:
                raise Ivms101Error(
                    "invalid_transfer_path",
                    f"sequence {hop.sequence} appears twice",
                    f"{path}.sequence",
                )
            seen.add(hop.sequence)
            _check_person(hop.intermediary_vasp, f"{path}.intermediaryVASP", today)


def _check_person(person: Person, path: str, today: dt.date) -> None:
    if (person.natural_person is None) == (person.legal_person is None):
        raise Ivms101Error(
            "invalid_person", "a person is exactly one of naturalPerson and legalPerson", path
        )
    if person.natural_person is not None:
        _check_natural_person(person.natural_person, f"{path}.naturalPerson", today)
    if person.legal_person is not None:
        _check_legal_person(person.legal_person, f"{path}.legalPerson")


def _check_natural_person(person: NaturalPerson, path: str, today: dt.date) -> None:
    names = person.name
    for list_name, ids in (
        ("nameIdentifier", names.name_identifier),
        ("localNameIdentifier", names.local_name_identifier),
        ("phoneticNameIdentifier", names.phonetic_name_identifier),
    ):
        for index, name_id in enumerate(ids):
            _check_not_blank(
                name_id.primary_identifier,
                f"{path}.name.{list_name}[{index}].primaryIdentifier",
            )
    if not any(
        n.name_identifier_type is NaturalPersonNameType.LEGAL for n in names.name_identifier
    ):
        raise Ivms101Error(
            "legal_name_missing",
            "a natural person needs a nameIdentifier of type LEGL (LegalNamePresent)",
            f"{path}.name.nameIdentifier",
        )
    for index, address in enumerate(person.geographic_address):
        _check_address(address, f"{path}.geographicAddress[{index}]")
    if person.national_identification is not None:
        national = person.national_identification
        national_path = f"{path}.nationalIdentification"
        if national.national_identifier_type in _LEGAL_ONLY_ID_TYPES:
            raise Ivms101Error(
                "invalid_national_id",
                f"{national.national_identifier_type.value} identifies legal persons only",
                f"{national_path}.nationalIdentifierType",
            )
        _check_country(national.country_of_issue, f"{national_path}.countryOfIssue")
    if person.date_and_place_of_birth is not None:
        birth = person.date_and_place_of_birth
        if not birth.date_of_birth < today:
            raise Ivms101Error(
                "date_not_in_past",
                f"date of birth {birth.date_of_birth} is not before {today} (DateInPast)",
                f"{path}.dateAndPlaceOfBirth.dateOfBirth",
            )
        _check_not_blank(birth.place_of_birth, f"{path}.dateAndPlaceOfBirth.placeOfBirth")
    if person.customer_identification is not None:
        _check_not_blank(person.customer_identification, f"{path}.customerIdentification")
    _check_country(person.country_of_residence, f"{path}.countryOfResidence")


def _check_legal_person(person: LegalPerson, path: str) -> None:
    names = person.name
    for list_name, ids in (
        ("nameIdentifier", names.name_identifier),
        ("localNameIdentifier", names.local_name_identifier),
        ("phoneticNameIdentifier", names.phonetic_name_identifier),
    ):
        for index, name_id in enumerate(ids):
            _check_not_blank(
                name_id.legal_person_name, f"{path}.name.{list_name}[{index}].legalPersonName"
            )
    if not any(
        n.legal_person_name_identifier_type is LegalPersonNameType.LEGAL
        for n in names.name_identifier
    ):
        raise Ivms101Error(
            "legal_name_missing",
            "a legal person needs a nameIdentifier of type LEGL (LegalNamePresentLegalPerson)",
            f"{path}.name.nameIdentifier",
        )
    for index, address in enumerate(person.geographic_address):
        _check_address(address, f"{path}.geographicAddress[{index}]")
    if person.national_identification is not None:
        _check_legal_national_id(person.national_identification, f"{path}.nationalIdentification")
    if person.customer_number is not None:
        _check_not_blank(person.customer_number, f"{path}.customerNumber")
    _check_country(person.country_of_registration, f"{path}.countryOfRegistration")


def _check_legal_national_id(national: NationalIdentification, path: str) -> None:
    kind = national.national_identifier_type
    if kind not in _LEGAL_PERSON_ID_TYPES:
        raise Ivms101Error(
            "invalid_national_id",
            f"a legal person's identifier is RAID, MISC, LEIX or TXID, not {kind.value}",
            f"{path}.nationalIdentifierType",
        )
    if national.country_of_issue is not None:
        raise Ivms101Error(
            "invalid_national_id",
            "a legal person's identifier has no countryOfIssue",
            f"{path}.countryOfIssue",
        )
    if kind is NationalIdentifierType.LEI:
        if national.registration_authority is not None:
            raise Ivms101Error(
                "invalid_national_id",
                "an LEI has no registrationAuthority",
                f"{path}.registrationAuthority",
            )
        if not is_valid_lei(national.national_identifier):
            raise Ivms101Error(
                "invalid_national_id",
                f"{national.national_identifier!r} is not a valid LEI (ISO 17442)",
                f"{path}.nationalIdentifier",
            )
    elif national.registration_authority is None:
        raise Ivms101Error(
            "invalid_national_id",
            f"a {kind.value} identifier needs its registrationAuthority (RA and 6 digits)",
            f"{path}.registrationAuthority",
        )


def _check_originator_information(person: Person, path: str) -> None:
    natural, legal = person.natural_person, person.legal_person
    if natural is not None and not (
        natural.geographic_address
        or natural.national_identification is not None
        or natural.customer_identification is not None
        or natural.date_and_place_of_birth is not None
    ):
        raise Ivms101Error(
            "originator_information_missing",
            "an originator natural person needs one of geographicAddress, "
            "nationalIdentification, customerIdentification, dateAndPlaceOfBirth",
            f"{path}.naturalPerson",
        )
    if legal is not None and not (
        legal.geographic_address
        or legal.customer_number is not None
        or legal.national_identification is not None
    ):
        raise Ivms101Error(
            "originator_information_missing",
            "an originator legal person needs one of geographicAddress, customerNumber, "
            "nationalIdentification",
            f"{path}.legalPerson",
        )


def _check_address(address: Address, path: str) -> None:
    has_lines = any(line.strip() for line in address.address_line)
    has_street = address.street_name is not None and (
        address.building_name is not None or address.building_number is not None
    )
    if not (has_lines or has_street):
        raise Ivms101Error(
            "invalid_address",
            "an address needs addressLine, or streetName with buildingName or buildingNumber"
            " (ValidAddress)",
            path,
        )
    _check_not_blank(address.town_name, f"{path}.townName")
    _check_country(address.country, f"{path}.country")


def _check_country(code: str | None, path: str) -> None:
    if code is not None and pycountry.countries.get(alpha_2=code) is None:
        raise Ivms101Error("invalid_country", f"{code} is not an ISO 3166-1 country", path)


def _check_not_blank(text: str, path: str) -> None:
    if not text.strip():
        raise Ivms101Error("invalid_field", "blank text", path)


def is_valid_lei(value: str) -> bool:
    """True when `value` is 20 characters with valid ISO 17442 (ISO 7064 MOD 97-10) digits."""
    if _LEI.fullmatch(value) is None:
        return False
    digits = "".join(str(int(ch, 36)) for ch in value)
    return int(digits) % 97 == 1
