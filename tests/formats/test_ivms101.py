"""Tests for corridor.formats.ivms101: the IVMS101 identity payload, its JSON and its checks.

What they pin: the JSON uses the standard's field names (camelCase, ``originatingVASP``) and
leaves optional elements out; decode(encode(p)) == p; every refusal names the field (JSON
path) and has a stable code: missing and unknown fields, lengths, the person choice, the
LEGL name, originator information (natural and legal), DateInPast, country codes,
ValidAddress, legal-person identifiers and LEIs, transfer path sequences.
"""

from __future__ import annotations

import datetime as dt
import json

import msgspec
import pytest

from corridor.formats import ivms101 as iv

TODAY = dt.date(2024, 3, 15)
LEGL = iv.NaturalPersonNameType.LEGAL
LEGAL_LEGL = iv.LegalPersonNameType.LEGAL


def natural(**changes: object) -> iv.NaturalPerson:
    fields: dict[str, object] = {
        "name": iv.NaturalPersonName(
            name_identifier=(
                iv.NaturalPersonNameId(
                    primary_identifier="Wang",
                    secondary_identifier="Xiaoming",
                    name_identifier_type=LEGL,
                ),
            ),
            local_name_identifier=(
                iv.NaturalPersonNameId(primary_identifier="王小明", name_identifier_type=LEGL),
            ),
        ),
        "customer_identification": "c-wang",
        "country_of_residence": "CN",
    }
    fields.update(changes)
    return iv.NaturalPerson(**fields)  # type: ignore[arg-type]


def legal(legal_name: str = "Alipay", **changes: object) -> iv.LegalPerson:
    fields: dict[str, object] = {
        "name": iv.LegalPersonName(
            name_identifier=(
                iv.LegalPersonNameId(
                    legal_person_name=legal_name, legal_person_name_identifier_type=LEGAL_LEGL
                ),
            )
        ),
        "country_of_registration": "CN",
    }
    fields.update(changes)
    return iv.LegalPerson(**fields)  # type: ignore[arg-type]


def payload(
    originator: iv.Person | None = None, beneficiary: iv.Person | None = None, **changes: object
) -> iv.IdentityPayload:
    fields: dict[str, object] = {
        "originator": iv.Originator(
            originator_persons=(originator or iv.Person(natural_person=natural()),),
            account_number=("customer:alipay-cn/c-wang",),
        ),
        "beneficiary": iv.Beneficiary(
            beneficiary_persons=(beneficiary or iv.Person(legal_person=legal("Kyoto Tea House")),),
            account_number=("merchant:m-kyoto-tea",),
        ),
        "originating_vasp": iv.OriginatingVasp(originating_vasp=iv.Person(legal_person=legal())),
        "beneficiary_vasp": iv.BeneficiaryVasp(
            beneficiary_vasp=iv.Person(legal_person=legal("Kyoto Acquiring"))
        ),
        "payload_metadata": iv.PayloadMetadata(
            transliteration_method=(iv.TransliterationMethod.HAN,)
        ),
    }
    fields.update(changes)
    return iv.IdentityPayload(**fields)  # type: ignore[arg-type]


def refused(value: iv.IdentityPayload | bytes | str) -> iv.Ivms101Error:
    with pytest.raises(iv.Ivms101Error) as error:
        if isinstance(value, iv.IdentityPayload):
            iv.validate(value, today=TODAY)
        else:
            iv.decode(value, today=TODAY)
    return error.value


def as_json(value: iv.IdentityPayload) -> dict[str, object]:
    document = json.loads(iv.encode(value, today=TODAY))
    assert isinstance(document, dict)
    return document


def mutated(edit: object) -> bytes:
    """The sample payload's JSON after `edit(document)` changed it."""
    document = as_json(payload())
    assert callable(edit)
    edit(document)
    return json.dumps(document).encode()


# --- JSON ------------------------------------------------------------------------------


def test_json_uses_the_standard_field_names() -> None:
    document = as_json(payload())

    assert set(document) == {
        "originator",
        "beneficiary",
        "originatingVASP",
        "beneficiaryVASP",
        "payloadMetadata",
    }
    person = document["originator"]["originatorPersons"][0]["naturalPerson"]  # type: ignore[index]
    assert person == {
        "name": {
            "nameIdentifier": [
                {
                    "primaryIdentifier": "Wang",
                    "secondaryIdentifier": "Xiaoming",
                    "nameIdentifierType": "LEGL",
                }
            ],
            "localNameIdentifier": [{"primaryIdentifier": "王小明", "nameIdentifierType": "LEGL"}],
        },
        "customerIdentification": "c-wang",
        "countryOfResidence": "CN",
    }
    assert document["originator"]["accountNumber"] == ["customer:alipay-cn/c-wang"]  # type: ignore[index]
    vasp = document["originatingVASP"]["originatingVASP"]["legalPerson"]  # type: ignore[index]
    assert vasp["name"]["nameIdentifier"] == [
        {"legalPersonName": "Alipay", "legalPersonNameIdentifierType": "LEGL"}
    ]
    assert vasp["countryOfRegistration"] == "CN"
    assert document["payloadMetadata"] == {"transliterationMethod": ["hani"]}


def test_optional_elements_are_left_out_not_null() -> None:
    text = iv.encode(payload(payload_metadata=None, beneficiary_vasp=None), today=TODAY)

    assert b"null" not in text
    assert b"beneficiaryVASP" not in text
    assert b"geographicAddress" not in text  # empty lists are left out too


def test_decode_of_encode_is_the_same_payload() -> None:
    address = iv.Address(
        address_type=iv.AddressType.HOME,
        street_name="Ginza",
        building_number="1-2-3",
        post_code="104-0061",
        town_name="Chuo-ku",
        country="JP",
    )
    original = payload(
        originator=iv.Person(
            natural_person=natural(
                geographic_address=(address,),
                date_and_place_of_birth=iv.DateAndPlaceOfBirth(
                    date_of_birth=dt.date(1990, 5, 1), place_of_birth="Shanghai"
                ),
                national_identification=iv.NationalIdentification(
                    national_identifier="E12345678",
                    national_identifier_type=iv.NationalIdentifierType.PASSPORT,
                    country_of_issue="CN",
                ),
            )
        )
    )
    text = iv.encode(original, today=TODAY)

    assert iv.decode(text, today=TODAY) == original
    assert b'"postCode":"104-0061"' in text
    assert b'"dateOfBirth":"1990-05-01"' in text
    assert iv.to_dict(original) == json.loads(text)


def test_a_legal_person_originator_with_a_customer_number_is_accepted() -> None:
    document = as_json(
        payload(originator=iv.Person(legal_person=legal("Acme", customer_number="k-1")))
    )

    originator = document["originator"]["originatorPersons"][0]  # type: ignore[index]
    assert originator["legalPerson"]["customerNumber"] == "k-1"


# --- refusals of the JSON form ---------------------------------------------------------


def test_a_missing_required_field_is_named() -> None:
    def edit(document: dict[str, object]) -> None:
        name_id = document["originator"]["originatorPersons"][0]["naturalPerson"]["name"]  # type: ignore[index]
        del name_id["nameIdentifier"][0]["primaryIdentifier"]

    error = refused(mutated(edit))

    assert error.code == "missing_field"
    assert error.field == (
        "$.originator.originatorPersons[0].naturalPerson.name.nameIdentifier[0].primaryIdentifier"
    )
    assert "primaryIdentifier is required" in str(error)


def test_a_missing_originator_is_named() -> None:
    def edit(document: dict[str, object]) -> None:
        del document["originator"]

    error = refused(mutated(edit))

    assert (error.code, error.field) == ("missing_field", "$.originator")


def test_an_unknown_field_is_refused() -> None:
    def edit(document: dict[str, object]) -> None:
        document["originator"]["originatorPersons"][0]["naturalPerson"]["nickname"] = "X"  # type: ignore[index]

    error = refused(mutated(edit))

    assert error.code == "unknown_field"
    assert error.field == "$.originator.originatorPersons[0].naturalPerson.nickname"


def test_a_primary_identifier_longer_than_100_characters_is_refused() -> None:
    error = refused(
        payload(
            originator=iv.Person(
                natural_person=natural(
                    name=iv.NaturalPersonName(
                        name_identifier=(
                            iv.NaturalPersonNameId(
                                primary_identifier="x" * 101, name_identifier_type=LEGL
                            ),
                        )
                    )
                )
            )
        )
    )

    assert error.code == "invalid_field"
    assert error.field.endswith("nameIdentifier[0].primaryIdentifier")
    assert "100" in str(error)


def test_exactly_100_characters_are_accepted() -> None:
    long_name = iv.NaturalPersonName(
        name_identifier=(
            iv.NaturalPersonNameId(primary_identifier="x" * 100, name_identifier_type=LEGL),
        )
    )
    iv.validate(payload(originator=iv.Person(natural_person=natural(name=long_name))), today=TODAY)


def test_an_unknown_name_type_code_is_refused() -> None:
    def edit(document: dict[str, object]) -> None:
        name_id = document["originator"]["originatorPersons"][0]["naturalPerson"]["name"]  # type: ignore[index]
        name_id["nameIdentifier"][0]["nameIdentifierType"] = "LATN"

    error = refused(mutated(edit))

    assert error.code == "invalid_field"
    assert error.field.endswith("nameIdentifier[0].nameIdentifierType")


def test_an_empty_originator_list_is_refused() -> None:
    def edit(document: dict[str, object]) -> None:
        document["originator"]["originatorPersons"] = []  # type: ignore[index]

    error = refused(mutated(edit))

    assert (error.code, error.field) == ("invalid_field", "$.originator.originatorPersons")


def test_text_that_is_not_json_is_refused() -> None:
    assert refused(b'{"originator": ').code == "invalid_json"
    assert refused("not json").code == "invalid_json"


def test_a_payload_beyond_the_size_limit_is_refused_before_parsing() -> None:
    assert refused(b" " * (iv.PAYLOAD_BYTES_MAX + 1)).code == "too_large"


# --- the standard's constraints --------------------------------------------------------


def test_a_person_must_be_natural_or_legal_not_both() -> None:
    both = iv.Person(natural_person=natural(), legal_person=legal())
    neither = iv.Person()

    assert refused(payload(originator=both)).code == "invalid_person"
    error = refused(payload(beneficiary=neither))
    assert (error.code, error.field) == ("invalid_person", "$.beneficiary.beneficiaryPersons[0]")


def test_a_natural_person_needs_a_legal_name() -> None:
    alias_only = iv.NaturalPersonName(
        name_identifier=(
            iv.NaturalPersonNameId(
                primary_identifier="Wang", name_identifier_type=iv.NaturalPersonNameType.ALIAS
            ),
        )
    )
    error = refused(payload(originator=iv.Person(natural_person=natural(name=alias_only))))

    assert error.code == "legal_name_missing"
    assert error.field == "$.originator.originatorPersons[0].naturalPerson.name.nameIdentifier"


def test_a_legal_person_needs_a_legal_name() -> None:
    trading_only = iv.LegalPersonName(
        name_identifier=(
            iv.LegalPersonNameId(
                legal_person_name="Tea",
                legal_person_name_identifier_type=iv.LegalPersonNameType.TRADING,
            ),
        )
    )
    error = refused(payload(beneficiary=iv.Person(legal_person=legal(name=trading_only))))

    assert error.code == "legal_name_missing"


def test_a_blank_name_is_refused() -> None:
    blank = iv.NaturalPersonName(
        name_identifier=(
            iv.NaturalPersonNameId(primary_identifier="   ", name_identifier_type=LEGL),
        )
    )
    error = refused(payload(originator=iv.Person(natural_person=natural(name=blank))))

    assert error.code == "invalid_field"
    assert error.field.endswith("nameIdentifier[0].primaryIdentifier")


def test_an_originator_natural_person_needs_an_address_or_an_identifier() -> None:
    bare = natural(customer_identification=None)
    error = refused(payload(originator=iv.Person(natural_person=bare)))

    assert error.code == "originator_information_missing"
    assert error.field == "$.originator.originatorPersons[0].naturalPerson"
    for field in ("geographicAddress", "nationalIdentification", "customerIdentification"):
        assert field in str(error)


def test_a_beneficiary_natural_person_needs_no_identifier() -> None:
    bare = natural(customer_identification=None)
    iv.validate(payload(beneficiary=iv.Person(natural_person=bare)), today=TODAY)


@pytest.mark.parametrize(
    "alternative",
    [
        {
            "geographic_address": (
                iv.Address(
                    address_type=iv.AddressType.HOME,
                    address_line=("1-2-3 Ginza",),
                    town_name="Tokyo",
                    country="JP",
                ),
            )
        },
        {
            "national_identification": iv.NationalIdentification(
                national_identifier="110101199003070000",
                national_identifier_type=iv.NationalIdentifierType.IDENTITY_CARD,
            )
        },
        {"customer_identification": "c-wang"},
        {
            "date_and_place_of_birth": iv.DateAndPlaceOfBirth(
                date_of_birth=dt.date(1990, 5, 1), place_of_birth="Shanghai"
            )
        },
    ],
    ids=["address", "national_id", "customer_id", "date_and_place_of_birth"],
)
def test_each_fatf_alternative_completes_an_originator(alternative: dict[str, object]) -> None:
    person = natural(**{"customer_identification": None, **alternative})
    iv.validate(payload(originator=iv.Person(natural_person=person)), today=TODAY)


def test_an_originator_legal_person_needs_an_address_number_or_identifier() -> None:
    error = refused(payload(originator=iv.Person(legal_person=legal("Acme"))))

    assert error.code == "originator_information_missing"
    assert error.field == "$.originator.originatorPersons[0].legalPerson"


def test_a_date_of_birth_must_be_in_the_past() -> None:
    birth = iv.DateAndPlaceOfBirth(date_of_birth=TODAY, place_of_birth="Seoul")
    error = refused(
        payload(originator=iv.Person(natural_person=natural(date_and_place_of_birth=birth)))
    )

    assert error.code == "date_not_in_past"
    assert error.field.endswith("dateAndPlaceOfBirth.dateOfBirth")
    yesterday = iv.DateAndPlaceOfBirth(
        date_of_birth=TODAY - dt.timedelta(days=1), place_of_birth="Seoul"
    )
    iv.validate(
        payload(originator=iv.Person(natural_person=natural(date_and_place_of_birth=yesterday))),
        today=TODAY,
    )


def test_a_malformed_date_of_birth_is_refused() -> None:
    def edit(document: dict[str, object]) -> None:
        person = document["originator"]["originatorPersons"][0]["naturalPerson"]  # type: ignore[index]
        person["dateAndPlaceOfBirth"] = {"dateOfBirth": "1990-02-30", "placeOfBirth": "Seoul"}

    error = refused(mutated(edit))

    assert error.code == "invalid_field"
    assert error.field.endswith("dateAndPlaceOfBirth.dateOfBirth")


def test_country_codes_must_be_iso_3166_countries() -> None:
    error = refused(
        payload(originator=iv.Person(natural_person=natural(country_of_residence="ZZ")))
    )
    assert (error.code, error.field) == (
        "invalid_country",
        "$.originator.originatorPersons[0].naturalPerson.countryOfResidence",
    )
    lower = refused(
        payload(originator=iv.Person(natural_person=natural(country_of_residence="cn")))
    )
    assert lower.code == "invalid_field"


def test_an_address_needs_lines_or_street_and_building() -> None:
    street_only = iv.Address(
        address_type=iv.AddressType.HOME, street_name="Ginza", town_name="Tokyo", country="JP"
    )
    error = refused(
        payload(originator=iv.Person(natural_person=natural(geographic_address=(street_only,))))
    )

    assert error.code == "invalid_address"
    assert error.field == "$.originator.originatorPersons[0].naturalPerson.geographicAddress[0]"

    with_building = iv.Address(
        address_type=iv.AddressType.HOME,
        street_name="Ginza",
        building_name="Tower",
        town_name="Tokyo",
        country="JP",
    )
    iv.validate(
        payload(originator=iv.Person(natural_person=natural(geographic_address=(with_building,)))),
        today=TODAY,
    )


def test_an_address_has_at_most_seven_lines() -> None:
    lines = tuple(f"line {n}" for n in range(iv.ADDRESS_LINES_MAX + 1))
    address = iv.Address(
        address_type=iv.AddressType.HOME, address_line=lines, town_name="Tokyo", country="JP"
    )
    error = refused(
        payload(originator=iv.Person(natural_person=natural(geographic_address=(address,))))
    )

    assert error.code == "invalid_field"
    assert error.field.endswith("geographicAddress[0].addressLine")


def test_a_valid_lei_identifies_a_legal_person() -> None:
    lei = iv.NationalIdentification(
        national_identifier="5493001KJTIIGC8Y1R12",  # Bloomberg Finance L.P.'s LEI
        national_identifier_type=iv.NationalIdentifierType.LEI,
    )
    assert iv.is_valid_lei("5493001KJTIIGC8Y1R12")
    iv.validate(
        payload(originator=iv.Person(legal_person=legal(national_identification=lei))), today=TODAY
    )


def test_an_lei_with_wrong_check_digits_is_refused() -> None:
    lei = iv.NationalIdentification(
        national_identifier="5493001KJTIIGC8Y1R13",
        national_identifier_type=iv.NationalIdentifierType.LEI,
    )
    error = refused(payload(originator=iv.Person(legal_person=legal(national_identification=lei))))

    assert error.code == "invalid_national_id"
    assert error.field.endswith("nationalIdentification.nationalIdentifier")


def test_a_legal_person_registration_number_needs_its_authority() -> None:
    without = iv.NationalIdentification(
        national_identifier="91110000100000000X",
        national_identifier_type=iv.NationalIdentifierType.REGISTRATION_AUTHORITY,
    )
    error = refused(
        payload(originator=iv.Person(legal_person=legal(national_identification=without)))
    )
    assert error.code == "invalid_national_id"
    assert error.field.endswith("registrationAuthority")

    with_authority = iv.NationalIdentification(
        national_identifier="91110000100000000X",
        national_identifier_type=iv.NationalIdentifierType.REGISTRATION_AUTHORITY,
        registration_authority="RA000081",
    )
    iv.validate(
        payload(originator=iv.Person(legal_person=legal(national_identification=with_authority))),
        today=TODAY,
    )


def test_a_legal_person_cannot_use_a_passport_number() -> None:
    passport = iv.NationalIdentification(
        national_identifier="E1", national_identifier_type=iv.NationalIdentifierType.PASSPORT
    )
    error = refused(
        payload(originator=iv.Person(legal_person=legal(national_identification=passport)))
    )

    assert error.code == "invalid_national_id"
    assert error.field.endswith("nationalIdentifierType")


def test_a_natural_person_cannot_use_an_lei() -> None:
    lei = iv.NationalIdentification(
        national_identifier="5493001KJTIIGC8Y1R12",
        national_identifier_type=iv.NationalIdentifierType.LEI,
    )
    error = refused(
        payload(originator=iv.Person(natural_person=natural(national_identification=lei)))
    )

    assert error.code == "invalid_national_id"


def test_transfer_path_sequence_numbers_are_distinct() -> None:
    hop = iv.IntermediaryVasp(intermediary_vasp=iv.Person(legal_person=legal("Hop")), sequence=0)
    error = refused(payload(transfer_path=iv.TransferPath(transfer_path=(hop, hop))))

    assert error.code == "invalid_transfer_path"
    assert error.field == "$.transferPath.transferPath[1].sequence"


def test_validate_refuses_what_is_not_a_payload() -> None:
    with pytest.raises(iv.Ivms101Error) as error:
        iv.validate({"originator": {}}, today=TODAY)  # type: ignore[arg-type]
    assert error.value.code == "invalid_field"


def test_structs_are_immutable() -> None:
    person = natural()
    with pytest.raises(AttributeError):
        person.customer_identification = "other"  # type: ignore[misc]
    assert isinstance(msgspec.json.encode(person), bytes)
