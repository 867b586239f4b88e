"""Tests for corridor.formats.emvqr: EMVCo merchant-presented QR payloads.

Known answers first (the CRC catalogue's check value, the EMVCo specification's own example
payload), then round trips of generated merchant QRs (with Han, kana and Hangul names in the
language template), every error code, a fuzz test that decode raises nothing but QRError,
and the images.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.formats.emvqr import (
    CORRIDOR_GUI,
    PAYLOAD_CHARS_MAX,
    MerchantLanguage,
    MerchantQR,
    QRError,
    corridor_account,
    crc16_ccitt_false,
    decode,
    encode,
    make_symbol,
    render_png,
    render_svg,
)

# The example payload of EMV QRCPS Merchant-Presented Mode (EMVCo): a Beijing transport
# merchant, CNY 23.72, its name in Chinese in ID 64, CRC A13A. Open-source EMV QR libraries
# use it as the official sample; taken here from github.com/dongri/emv-qrcode, README.md,
# "MPM Decode" (commit 04f2216b). Its CRC is verified below, not taken on trust.
SPEC_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME91320016A011223344998877"
    "0708123456786304A13A"
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _with_crc(through_value_before_crc: str) -> str:
    """A payload with a correct CRC appended (so that later checks are reached)."""
    head = through_value_before_crc + "6304"
    return head + f"{crc16_ccitt_false(head.encode('utf-8')):04X}"


def _kyoto(**changes: Any) -> MerchantQR:
    fields: dict[str, Any] = {
        "merchant_category_code": "5812",
        "transaction_currency": "392",
        "country_code": "JP",
        "merchant_name": "KIYOMIZU SOBA",
        "merchant_city": "KYOTO",
        "merchant_accounts": corridor_account("JP-26-000123"),
        "point_of_initiation": "12",
        "transaction_amount": "1500",
        "additional_data": {"01": "INV-0042", "07": "TILL-3"},
        "language": MerchantLanguage("JA", "清水そば", "京都市"),
    }
    fields.update(changes)
    return MerchantQR(**fields)


def _top_level_ids(payload: str) -> list[str]:
    ids, position = [], 0
    while position < len(payload):
        ids.append(payload[position : position + 2])
        position += 4 + int(payload[position + 2 : position + 4])
    return ids


def _code_of(payload: str) -> str:
    with pytest.raises(QRError) as error:
        decode(payload)
    return error.value.code


def _code_building(**changes: Any) -> str:
    with pytest.raises(QRError) as error:
        _kyoto(**changes)
    return error.value.code


# --- CRC --------------------------------------------------------------------------------


def test_crc_check_value_of_123456789_is_29b1() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_crc_of_nothing_is_the_initial_value() -> None:
    assert crc16_ccitt_false(b"") == 0xFFFF


def test_crc_of_the_spec_example_is_a13a_over_its_utf8_bytes() -> None:
    assert crc16_ccitt_false(SPEC_EXAMPLE[:-4].encode("utf-8")) == 0xA13A


# --- the specification's example --------------------------------------------------------


def test_spec_example_decodes_field_by_field() -> None:
    qr = decode(SPEC_EXAMPLE)
    assert qr.payload_format_indicator == "01"
    assert qr.point_of_initiation == "12"
    assert qr.is_dynamic
    assert qr.merchant_accounts == {
        "29": {"00": "D15600000000", "05": "A93FO3230Q"},
        "31": {"00": "D15600000001", "03": "12345678"},
    }
    assert qr.network_accounts == {}
    assert qr.merchant_category_code == "4111"
    assert qr.country_code == "CN"
    assert qr.merchant_name == "BEST TRANSPORT"
    assert qr.merchant_city == "BEIJING"
    assert qr.language == MerchantLanguage("ZH", "最佳运输", "北京")
    assert qr.transaction_amount == "23.72"
    assert qr.transaction_currency == "156"
    assert qr.currency_code == "CNY"
    assert qr.tip_indicator == "01"
    assert qr.convenience_fee_fixed is None
    assert qr.convenience_fee_percentage is None
    assert qr.additional_data == {"03": "1234", "06": "***", "07": "A6008667", "09": "ME"}
    assert qr.unreserved_templates == {"91": {"00": "A011223344998877", "07": "12345678"}}
    assert qr.reserved == {}
    assert qr.postal_code is None
    assert qr.corridor_merchant_id is None


def test_spec_example_lengths_count_characters_not_bytes() -> None:
    assert len(SPEC_EXAMPLE) == 248
    assert len(SPEC_EXAMPLE.encode("utf-8")) == 248 + 6 * 2  # six Han characters, 3 bytes each
    assert "0104最佳运输" in SPEC_EXAMPLE


def test_spec_example_reencodes_canonically_with_the_same_content() -> None:
    canonical = encode(decode(SPEC_EXAMPLE))
    assert _top_level_ids(SPEC_EXAMPLE) != sorted(_top_level_ids(SPEC_EXAMPLE))
    *ids, last = _top_level_ids(canonical)
    assert ids == sorted(ids) and last == "63"
    assert decode(canonical) == decode(SPEC_EXAMPLE)
    assert encode(decode(canonical)) == canonical
    assert len(canonical) == len(SPEC_EXAMPLE)


def test_spec_example_crc_in_lower_case_is_accepted() -> None:
    assert decode(SPEC_EXAMPLE[:-4] + "a13a") == decode(SPEC_EXAMPLE)


# --- encode -----------------------------------------------------------------------------


def test_encode_writes_ids_in_ascending_order_and_the_crc_last() -> None:
    payload = encode(_kyoto())
    assert payload == (
        "000201"
        "010212"
        "26320012com.corridor0112JP-26-000123"
        "52045812"
        "5303392"
        "54041500"
        "5802JP"
        "5913KIYOMIZU SOBA"
        "6005KYOTO"
        "62220108INV-00420706TILL-3"
        "64210002JA0104清水そば0203京都市"
        "6304" + payload[-4:]
    )
    assert payload[-4:] == f"{crc16_ccitt_false(payload[:-4].encode()):04X}"


def test_encode_then_decode_gives_back_the_same_qr() -> None:
    qr = _kyoto()
    assert decode(encode(qr)) == qr
    assert decode(encode(qr)).corridor_merchant_id == "JP-26-000123"


def test_static_qr_without_amount_round_trips() -> None:
    qr = _kyoto(point_of_initiation="11", transaction_amount=None, language=None)
    assert not qr.is_dynamic
    assert decode(encode(qr)) == qr
    assert decode(encode(qr)).transaction_amount is None


def test_optional_fields_round_trip() -> None:
    qr = _kyoto(
        transaction_currency="156",
        transaction_amount="88.50",
        country_code="CN",
        postal_code="100000",
        tip_indicator="03",
        convenience_fee_percentage="3.00",
        network_accounts={"04": "5413330000000001"},
        reserved={"70": "RFU"},
        unreserved_templates={"80": {"00": "com.example", "01": "extra"}},
        language=MerchantLanguage("ZH", "清水荞麦面", None, reserved={"05": "x"}),
    )
    assert decode(encode(qr)) == qr


def test_fixed_convenience_fee_round_trips() -> None:
    qr = _kyoto(tip_indicator="02", convenience_fee_fixed="100")
    assert decode(encode(qr)) == qr


def test_merchant_qr_is_frozen_with_read_only_templates() -> None:
    qr = _kyoto()
    with pytest.raises(dataclasses.FrozenInstanceError):
        qr.merchant_name = "OTHER"  # type: ignore[misc]
    with pytest.raises(TypeError):
        qr.additional_data["01"] = "X"  # type: ignore[index]
    with pytest.raises(TypeError):
        qr.merchant_accounts["26"]["01"] = "X"  # type: ignore[index]
    assert hash(qr) == hash(_kyoto())


def test_templates_are_stored_sorted_by_id() -> None:
    qr = _kyoto(additional_data={"07": "B", "01": "A"})
    assert list(qr.additional_data) == ["01", "07"]


# --- generated round trips --------------------------------------------------------------

_ANS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
_CJK = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # Han
    st.characters(min_codepoint=0x3041, max_codepoint=0x3096),  # hiragana
    st.characters(min_codepoint=0x30A1, max_codepoint=0x30FA),  # katakana
    st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),  # Hangul syllables
    st.characters(min_codepoint=0x20000, max_codepoint=0x2A6DF),  # Han extension B, 4 bytes
)
_CURRENCIES = {"156": 2, "392": 0, "410": 0, "840": 2}


def _ans(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_ANS, min_size=1, max_size=max_size)


@st.composite
def _amounts(draw: st.DrawFn, decimals_max: int) -> str:
    whole = draw(st.integers(min_value=0, max_value=10**9))
    decimals = draw(st.integers(min_value=0, max_value=decimals_max))
    fraction = draw(st.text("0123456789", min_size=decimals, max_size=decimals))
    amount = f"{whole}.{fraction}" if fraction else str(whole)
    return amount if amount.strip("0.") else "1"


@st.composite
def _merchant_qrs(draw: st.DrawFn) -> MerchantQR:
    currency = draw(st.sampled_from(sorted(_CURRENCIES)))
    amount = draw(st.none() | _amounts(_CURRENCIES[currency]))
    language = draw(
        st.none()
        | st.builds(
            MerchantLanguage,
            language=st.sampled_from(["JA", "ZH", "KO", "ja", "zh", "ko"]),
            name=st.text(_CJK, min_size=1, max_size=25),
            city=st.none() | st.text(_CJK, min_size=1, max_size=15),
        )
    )
    accounts = dict(corridor_account(draw(_ans(20))))
    if draw(st.booleans()):
        accounts["27"] = {"00": draw(_ans(32)), "01": draw(_ans(16))}
    return MerchantQR(
        merchant_category_code=draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        transaction_currency=currency,
        country_code=draw(st.sampled_from(["CN", "JP", "KR", "US"])),
        merchant_name=draw(_ans(25)),
        merchant_city=draw(_ans(15)),
        merchant_accounts=accounts,
        point_of_initiation="12" if amount else draw(st.sampled_from([None, "11", "12"])),
        transaction_amount=amount,
        postal_code=draw(st.none() | _ans(10)),
        additional_data=draw(
            st.dictionaries(st.sampled_from(["01", "03", "05", "07"]), _ans(16), max_size=3)
        ),
        language=language,
    )


@settings(max_examples=300, deadline=None)
@given(qr=_merchant_qrs())
def test_generated_merchant_qrs_round_trip(qr: MerchantQR) -> None:
    payload = encode(qr)
    assert len(payload) <= PAYLOAD_CHARS_MAX
    assert decode(payload) == qr
    assert encode(decode(payload)) == payload


# --- errors: the CRC --------------------------------------------------------------------


def test_wrong_crc_is_refused() -> None:
    assert _code_of(SPEC_EXAMPLE[:-4] + "A13B") == "bad_crc"


def test_crc_that_is_not_hex_is_refused() -> None:
    assert _code_of(SPEC_EXAMPLE[:-4] + "ZZZZ") == "bad_crc"


def test_one_changed_character_breaks_the_crc() -> None:
    assert _code_of(SPEC_EXAMPLE.replace("23.72", "93.72")) == "bad_crc"
    assert _code_of(SPEC_EXAMPLE.replace("北京", "東京")) == "bad_crc"


def test_missing_crc_is_refused() -> None:
    assert _code_of(SPEC_EXAMPLE[:-8]) == "missing_tag"


def test_crc_that_is_not_last_is_refused() -> None:
    body = encode(_kyoto())
    assert _code_of(body + "6102AB") == "bad_format"


def test_crc_of_the_wrong_length_is_refused() -> None:
    assert _code_of(SPEC_EXAMPLE[:-8] + "6305A13A0") == "bad_length"


# --- errors: structure ------------------------------------------------------------------


def test_empty_payload_is_truncated() -> None:
    assert _code_of("") == "truncated"


@pytest.mark.parametrize("cut", [1, 3, 5, 100])
def test_payload_cut_short_is_truncated(cut: int) -> None:
    assert _code_of(SPEC_EXAMPLE[:-cut]) == "truncated"


def test_header_cut_short_is_truncated() -> None:
    assert _code_of("00020") == "truncated"


def test_nested_object_cut_short_is_truncated() -> None:
    body = encode(_kyoto(additional_data={}))[:-8]
    assert _code_of(_with_crc(body.replace("5802JP", "5802JP62070105ABC"))) == "truncated"


@pytest.mark.parametrize("length", ["00", "0A", "-1", " 2"])
def test_length_that_is_not_01_to_99_is_refused(length: str) -> None:
    assert _code_of(_with_crc(f"00020159{length}X")) == "bad_length"


def test_id_that_is_not_two_digits_is_refused() -> None:
    assert _code_of(_with_crc("000201A102XX")) == "bad_format"


def test_duplicate_id_is_refused() -> None:
    body = encode(_kyoto())[:-8]
    assert _code_of(_with_crc(body + "5802JP")) == "duplicate_tag"


def test_duplicate_id_inside_a_template_is_refused() -> None:
    body = encode(_kyoto(additional_data={}))[:-8]
    assert _code_of(_with_crc(body + "62140103ABC0103DEF")) == "duplicate_tag"


def test_payload_longer_than_512_characters_is_refused() -> None:
    assert _code_of(SPEC_EXAMPLE + "x" * (PAYLOAD_CHARS_MAX - len(SPEC_EXAMPLE) + 1)) == "too_long"


def test_qr_whose_payload_would_exceed_512_characters_is_refused() -> None:
    many = {f"{tag}": {"00": "G" * 32, "01": "M" * 50} for tag in range(26, 34)}
    assert _code_building(merchant_accounts=many) == "too_long"


@pytest.mark.parametrize("payload", [b"000201", None, 1234])
def test_payload_that_is_not_text_is_refused(payload: Any) -> None:
    assert _code_of(payload) == "bad_format"


def test_payload_with_a_lone_surrogate_is_refused() -> None:
    assert _code_of("000201\ud800") == "bad_format"


# --- errors: required objects -----------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("52", "5812"),
        ("53", "392"),
        ("58", "JP"),
        ("59", "KIYOMIZU SOBA"),
        ("60", "KYOTO"),
        ("26", "0012com.corridor0112JP-26-000123"),
    ],
)
def test_missing_mandatory_object_is_refused(tag: str, value: str) -> None:
    body = encode(_kyoto())[:-8]
    data_object = f"{tag}{len(value):02d}{value}"
    assert data_object in body
    assert _code_of(_with_crc(body.replace(data_object, ""))) == "missing_tag"


def test_missing_payload_format_indicator_is_refused() -> None:
    body = encode(_kyoto())[:-8]
    assert _code_of(_with_crc(body.removeprefix("000201"))) == "missing_tag"


def test_payload_format_indicator_must_come_first() -> None:
    body = encode(_kyoto())[:-8]
    assert _code_of(_with_crc(body.removeprefix("000201") + "000201")) == "bad_format"


def test_payload_format_indicator_must_be_01() -> None:
    assert _code_of(_with_crc("000202" + encode(_kyoto())[6:-8])) == "bad_format"
    assert _code_building(payload_format_indicator="02") == "bad_format"


def test_template_without_a_globally_unique_identifier_is_refused() -> None:
    assert _code_building(merchant_accounts={"26": {"01": "X"}}) == "missing_tag"


def test_corridor_template_without_a_merchant_id_is_refused() -> None:
    assert _code_building(merchant_accounts={"26": {"00": CORRIDOR_GUI}}) == "missing_tag"


def test_language_template_without_a_name_is_refused() -> None:
    body = encode(_kyoto(language=None))[:-8]
    assert _code_of(_with_crc(body + "64060002JA")) == "missing_tag"


def test_fixed_fee_indicator_without_the_fee_is_refused() -> None:
    assert _code_building(tip_indicator="02") == "missing_tag"
    assert _code_building(tip_indicator="03") == "missing_tag"


def test_fee_without_its_indicator_is_refused() -> None:
    assert _code_building(convenience_fee_fixed="100") == "bad_format"
    assert _code_building(tip_indicator="01", convenience_fee_percentage="3") == "bad_format"


# --- errors: values ---------------------------------------------------------------------


@pytest.mark.parametrize("numeric", ["001", "000", "JPY", "39", "3920", ""])
def test_unknown_currency_is_refused(numeric: str) -> None:
    assert _code_building(transaction_currency=numeric) == "unknown_currency"


def test_unknown_currency_in_a_payload_is_refused() -> None:
    body = encode(_kyoto())[:-8]
    assert _code_of(_with_crc(body.replace("5303392", "5303001"))) == "unknown_currency"


@pytest.mark.parametrize("country", ["ZZ", "jp", "JPN", "J", "", "XK"])
def test_unknown_country_is_refused(country: str) -> None:
    assert _code_building(country_code=country) == "unknown_country"


def test_unknown_country_in_a_payload_is_refused() -> None:
    body = encode(_kyoto())[:-8]
    assert _code_of(_with_crc(body.replace("5802JP", "5802ZZ"))) == "unknown_country"


@pytest.mark.parametrize("mcc", ["581", "58120", "58A2", "", "５８１２"])
def test_merchant_category_code_that_is_not_four_digits_is_refused(mcc: str) -> None:
    assert _code_building(merchant_category_code=mcc) == "bad_mcc"


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1500.5", "392"),  # JPY has no decimals
        ("10.0", "410"),  # nor has KRW
        ("12.345", "156"),  # CNY has two
        ("0", "392"),
        ("0.00", "156"),
        ("1,500", "392"),
        ("1e3", "392"),
        ("-15", "392"),
        ("+15", "392"),
        (".5", "156"),
        ("5.", "156"),
        (" 15", "392"),
        ("12345678901234", "392"),  # 14 characters
        ("", "392"),
    ],
)
def test_bad_amount_is_refused(amount: str, currency: str) -> None:
    assert _code_building(transaction_amount=amount, transaction_currency=currency) == "bad_amount"


def test_amount_of_13_characters_is_accepted() -> None:
    assert _kyoto(transaction_amount="1234567890123").transaction_amount == "1234567890123"


def test_bad_amount_in_a_payload_is_refused() -> None:
    body = encode(_kyoto())[:-8]
    assert _code_of(_with_crc(body.replace("54041500", "54061500.5"))) == "bad_amount"


@pytest.mark.parametrize("percentage", ["100", "3.000", "0", "abc"])
def test_bad_fee_percentage_is_refused(percentage: str) -> None:
    assert _code_building(tip_indicator="03", convenience_fee_percentage=percentage) == "bad_amount"


def test_amount_in_a_static_qr_is_refused() -> None:
    assert _code_building(point_of_initiation="11") == "bad_format"
    assert _code_building(point_of_initiation=None) == "bad_format"


@pytest.mark.parametrize("method", ["10", "13", "", "1"])
def test_point_of_initiation_other_than_11_or_12_is_refused(method: str) -> None:
    assert _code_building(point_of_initiation=method) == "bad_format"


def test_merchant_name_over_25_characters_is_refused() -> None:
    assert _code_building(merchant_name="N" * 26) == "too_long"
    assert _kyoto(merchant_name="N" * 25).merchant_name == "N" * 25


def test_merchant_city_over_15_characters_is_refused() -> None:
    assert _code_building(merchant_city="C" * 16) == "too_long"


def test_template_over_99_characters_is_refused() -> None:
    assert _code_building(additional_data={"01": "A" * 50, "05": "B" * 50}) == "too_long"


def test_merchant_name_outside_printable_ascii_is_refused() -> None:
    # A Japanese name goes in the language template (ID 64), never in ID 59.
    assert _code_building(merchant_name="清水そば") == "bad_format"
    assert _code_building(merchant_city="KYOTO\n") == "bad_format"


def test_empty_merchant_name_is_refused() -> None:
    assert _code_building(merchant_name="") == "bad_length"


def test_alternate_name_counts_characters() -> None:
    name = "𠮷" * 25  # 25 characters, 100 UTF-8 bytes
    qr = _kyoto(language=MerchantLanguage("JA", name))
    assert f"0125{name}" in encode(qr)
    assert decode(encode(qr)).language == MerchantLanguage("JA", name)
    with pytest.raises(QRError) as error:
        MerchantLanguage("JA", name + "𠮷")
    assert error.value.code == "too_long"


def test_language_preference_must_be_an_iso_639_1_code() -> None:
    for language in ("XX", "JPN", "J", "日本"):
        with pytest.raises(QRError) as error:
            MerchantLanguage(language, "清水そば")
        assert error.value.code == "bad_format"


def test_control_characters_in_the_alternate_name_are_refused() -> None:
    with pytest.raises(QRError) as error:
        MerchantLanguage("JA", "清水\x00そば")
    assert error.value.code == "bad_format"


def test_merchant_account_id_outside_26_to_51_is_refused() -> None:
    assert _code_building(merchant_accounts={"52": {"00": "X", "01": "Y"}}) == "bad_format"


# --- decode raises nothing but QRError --------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(payload=st.text(max_size=600))
def test_decode_of_any_text_raises_only_qr_error(payload: str) -> None:
    try:
        decode(payload)
    except QRError as error:
        assert error.code in {
            "bad_crc",
            "bad_length",
            "truncated",
            "missing_tag",
            "duplicate_tag",
            "unknown_currency",
            "unknown_country",
            "bad_format",
            "too_long",
            "bad_amount",
            "bad_mcc",
        }


@settings(max_examples=500, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(SPEC_EXAMPLE) - 9),
    replacement=st.text(max_size=3),
    delete=st.integers(min_value=0, max_value=3),
)
def test_decode_of_a_damaged_payload_with_a_fixed_crc_raises_only_qr_error(
    position: int, replacement: str, delete: int
) -> None:
    body = SPEC_EXAMPLE[:-8]
    damaged = _with_crc(body[:position] + replacement + body[position + delete :])
    try:
        qr = decode(damaged)
    except QRError:
        return
    assert decode(encode(qr)) == qr


# --- images -----------------------------------------------------------------------------


def test_render_png_writes_a_png_file(tmp_path: Path) -> None:
    path = tmp_path / "kyoto.png"
    render_png(encode(_kyoto()), path)
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_render_svg_returns_an_svg_document() -> None:
    svg = render_svg(SPEC_EXAMPLE)
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_symbol_uses_byte_mode_and_error_correction_m() -> None:
    symbol = make_symbol(encode(_kyoto()))
    assert symbol.error == "M"
    assert symbol.mode == "byte"


def test_invalid_payload_is_not_drawn(tmp_path: Path) -> None:
    with pytest.raises(QRError) as error:
        render_png(SPEC_EXAMPLE[:-4] + "0000", tmp_path / "bad.png")
    assert error.value.code == "bad_crc"
    assert not (tmp_path / "bad.png").exists()


def test_segno_imports_and_renders_with_the_network_disabled(tmp_path: Path) -> None:
    script = f"""
import socket

def refuse(*args, **kwargs):
    raise OSError("network disabled in this test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.socket.sendto = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import segno
from corridor.formats.emvqr import render_png
render_png({SPEC_EXAMPLE!r}, {str(tmp_path / "offline.png")!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert (tmp_path / "offline.png").read_bytes().startswith(PNG_SIGNATURE)
