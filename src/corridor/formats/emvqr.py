"""EMVCo merchant-presented QR payloads (EMV QRCPS Merchant-Presented Mode): parse and write.

A tourist's wallet pays a merchant by scanning the QR code at the till. The code holds a
payload of data objects, each ``ID (2 digits) ‖ length (2 digits) ‖ value``, some of which are
templates holding data objects of their own. This module turns such a payload into a
validated, immutable `MerchantQR` (`decode`) and back (`encode`), and draws it (`render_png`,
`render_svg`). It is pure: no storage, no network, no import from the layers above, so the
switch, the CLI and the sandbox all read QR codes the same way.

Rules applied, from EMV QRCPS Merchant-Presented Mode (v1.0 July 2017, v1.1 November 2020):

- Lengths count characters, not bytes. Most values are Alphanumeric Special (printable
  ASCII, one byte each); the Merchant Information - Language Template (ID 64) holds String
  values, any Unicode character, where "the length must be equal to the number of characters
  in the value, not the number of bytes" (UnionPay International's MPM encoding
  specification, which follows EMVCo). The spec's own example encodes 最佳运输 as ``0104``.
  This is how a Japanese merchant carries its name in kanji or kana: the romanized name in
  ID 59, the native name in ID 64.
- The CRC (ID 63) is CRC-16/CCITT-FALSE (ISO/IEC 13239: polynomial 0x1021, initial value
  0xFFFF, no reflection, no final XOR) over the UTF-8 bytes of the whole payload up to and
  including ``6304``, written as four upper-case hex digits. It must be the last object.
- The Payload Format Indicator (ID 00) is ``01`` and comes first; the whole payload is at most
  512 characters.

Corridor conventions on top of the spec: a merchant of the corridor carries a Merchant
Account Information template (IDs 26-51) whose globally unique identifier (sub-ID 00) is
``com.corridor`` and whose sub-ID 01 is the corridor merchant id; a payload with an amount is
dynamic (Point of Initiation ``12``); an amount has no more decimals than its currency's minor
units (CLDR) and is not zero.

`encode` is canonical: objects in ascending ID order, sub-objects too, CRC last; so
``encode(decode(p))`` may reorder a valid payload from elsewhere, but ``decode(encode(qr))``
is always ``qr``. Every refusal is a `QRError` with a stable `code`; nothing else escapes.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import pycountry
import segno
from babel.numbers import get_currency_precision

__all__ = [
    "CORRIDOR_GUI",
    "PAYLOAD_CHARS_MAX",
    "POINT_OF_INITIATION_DYNAMIC",
    "POINT_OF_INITIATION_STATIC",
    "MerchantLanguage",
    "MerchantQR",
    "QRError",
    "corridor_account",
    "crc16_ccitt_false",
    "decode",
    "encode",
    "make_symbol",
    "render_png",
    "render_svg",
]

# Limits, in characters.
PAYLOAD_CHARS_MAX: Final = 512
VALUE_CHARS_MAX: Final = 99
"""A length is two decimal digits, so no value (or template) is longer than 99."""
AMOUNT_CHARS_MAX: Final = 13
MERCHANT_NAME_CHARS_MAX: Final = 25
MERCHANT_CITY_CHARS_MAX: Final = 15
POSTAL_CODE_CHARS_MAX: Final = 10
GUI_CHARS_MAX: Final = 32
"""Globally unique identifier, sub-ID 00 of templates 26-51 and 80-99."""
PERCENTAGE_CHARS_MAX: Final = 5
ALTERNATE_NAME_CHARS_MAX: Final = 25
ALTERNATE_CITY_CHARS_MAX: Final = 15

# Top-level data object IDs.
TAG_PAYLOAD_FORMAT: Final = "00"
TAG_POINT_OF_INITIATION: Final = "01"
TAG_MERCHANT_CATEGORY_CODE: Final = "52"
TAG_TRANSACTION_CURRENCY: Final = "53"
TAG_TRANSACTION_AMOUNT: Final = "54"
TAG_TIP_INDICATOR: Final = "55"
TAG_CONVENIENCE_FEE_FIXED: Final = "56"
TAG_CONVENIENCE_FEE_PERCENTAGE: Final = "57"
TAG_COUNTRY_CODE: Final = "58"
TAG_MERCHANT_NAME: Final = "59"
TAG_MERCHANT_CITY: Final = "60"
TAG_POSTAL_CODE: Final = "61"
TAG_ADDITIONAL_DATA: Final = "62"
TAG_CRC: Final = "63"
TAG_LANGUAGE_TEMPLATE: Final = "64"

# Sub-IDs of the Additional Data Field Template (ID 62).
ADDITIONAL_BILL_NUMBER: Final = "01"
ADDITIONAL_MOBILE_NUMBER: Final = "02"
ADDITIONAL_STORE_LABEL: Final = "03"
ADDITIONAL_LOYALTY_NUMBER: Final = "04"
ADDITIONAL_REFERENCE_LABEL: Final = "05"
ADDITIONAL_CUSTOMER_LABEL: Final = "06"
ADDITIONAL_TERMINAL_LABEL: Final = "07"
ADDITIONAL_PURPOSE: Final = "08"
ADDITIONAL_CONSUMER_DATA_REQUEST: Final = "09"

# Sub-IDs of templates.
TEMPLATE_GUI: Final = "00"
LANGUAGE_PREFERENCE: Final = "00"
LANGUAGE_MERCHANT_NAME: Final = "01"
LANGUAGE_MERCHANT_CITY: Final = "02"

PAYLOAD_FORMAT_INDICATOR: Final = "01"
POINT_OF_INITIATION_STATIC: Final = "11"
POINT_OF_INITIATION_DYNAMIC: Final = "12"
TIP_PROMPT: Final = "01"
TIP_CONVENIENCE_FEE_FIXED: Final = "02"
TIP_CONVENIENCE_FEE_PERCENTAGE: Final = "03"

CORRIDOR_GUI: Final = "com.corridor"
"""Globally unique identifier of the corridor's Merchant Account Information template."""
CORRIDOR_MERCHANT_ID: Final = "01"
"""Sub-ID holding the corridor merchant id in the corridor's template."""
CORRIDOR_TEMPLATE_TAG: Final = "26"
"""The template ID `corridor_account` suggests (any of 26-51 is read)."""

QR_ERROR_CORRECTION: Final = "M"
"""QR error correction level: M restores about 15% of a damaged symbol."""
PNG_SCALE_DEFAULT: Final = 8
"""Pixels per QR module in PNG images."""
SVG_SCALE_DEFAULT: Final = 4
"""User units per QR module in SVG images."""

_CRC_TAG_AND_LENGTH: Final = TAG_CRC + "04"
_NETWORK_TAGS: Final = frozenset(f"{n:02d}" for n in range(2, 26))
_MERCHANT_TEMPLATE_TAGS: Final = frozenset(f"{n:02d}" for n in range(26, 52))
_RESERVED_TAGS: Final = frozenset(f"{n:02d}" for n in range(65, 80))
_UNRESERVED_TEMPLATE_TAGS: Final = frozenset(f"{n:02d}" for n in range(80, 100))
_TWO_DIGITS: Final = re.compile(r"[0-9]{2}")
_MCC: Final = re.compile(r"[0-9]{4}")
_CURRENCY_NUMERIC: Final = re.compile(r"[0-9]{3}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_LANGUAGE: Final = re.compile(r"[A-Za-z]{2}")
_AMOUNT: Final = re.compile(r"[0-9]+(?:\.([0-9]+))?")
_PERCENTAGE: Final = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,2})?")
# Alphanumeric Special: EMV Book 4's common character set, printable ASCII.
_ANS: Final = re.compile(r"[\x20-\x7e]*")


class QRError(Exception):
    """A QR payload or merchant QR is refused; `code` says why and never changes.

    Codes: ``bad_crc``, ``bad_length``, ``truncated``, ``missing_tag``, ``duplicate_tag``,
    ``unknown_currency``, ``unknown_country``, ``bad_format``, ``too_long``, ``bad_amount``,
    ``bad_mcc``.
    """

    code: str = "qr_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- CRC -------------------------------------------------------------------------------


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE: Final = _crc_table()


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected, no final XOR.

    The catalogue's check value: ``crc16_ccitt_false(b"123456789") == 0x29B1``.
    """
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def _crc_text(payload_through_6304: str) -> str:
    return f"{crc16_ccitt_false(payload_through_6304.encode('utf-8')):04X}"


# --- values ----------------------------------------------------------------------------


def _check_text(value: object, what: str, chars_max: int, *, ans: bool = True) -> str:
    """A non-empty value of at most `chars_max` characters, ANS or any printable Unicode."""
    if not isinstance(value, str):
        raise QRError("bad_format", f"{what} must be text, not {type(value).__name__}")
    if not value:
        raise QRError("bad_length", f"{what} is empty")
    if len(value) > chars_max:
        raise QRError("too_long", f"{what} has {len(value)} characters; at most {chars_max}")
    if ans:
        if _ANS.fullmatch(value) is None:
            raise QRError("bad_format", f"{what} has characters outside printable ASCII")
    elif any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise QRError("bad_format", f"{what} has control or surrogate characters")
    return value


def _check_tag(tag: object, allowed: frozenset[str] | None, what: str) -> str:
    if not isinstance(tag, str) or _TWO_DIGITS.fullmatch(tag) is None:
        raise QRError("bad_format", f"{what}: an ID is two digits, not {tag!r}")
    if allowed is not None and tag not in allowed:
        raise QRError("bad_format", f"{what}: ID {tag} is not allowed here")
    return tag


def _frozen_fields(fields: Mapping[str, str], what: str, *, ans: bool = True) -> Mapping[str, str]:
    """Sub-objects of a template: checked, sorted by ID, read-only, and fit in 99 chars."""
    if not isinstance(fields, Mapping):
        raise QRError("bad_format", f"{what} must be a mapping of ID to value")
    checked = {
        _check_tag(tag, None, what): _check_text(
            value, f"{what} ID {tag}", VALUE_CHARS_MAX, ans=ans
        )
        for tag, value in fields.items()
    }
    frozen = MappingProxyType(dict(sorted(checked.items())))
    if len(_join(frozen)) > VALUE_CHARS_MAX:
        raise QRError("too_long", f"{what} is longer than {VALUE_CHARS_MAX} characters")
    return frozen


def _frozen_template(
    fields: Mapping[str, str], what: str, *, ans: bool = True
) -> Mapping[str, str]:
    """A template with a globally unique identifier in sub-ID 00 (IDs 26-51 and 80-99)."""
    frozen = _frozen_fields(fields, what, ans=ans)
    if TEMPLATE_GUI not in frozen:
        raise QRError("missing_tag", f"{what} has no globally unique identifier (sub-ID 00)")
    _check_text(frozen[TEMPLATE_GUI], f"{what} identifier", GUI_CHARS_MAX, ans=ans)
    if frozen[TEMPLATE_GUI].lower() == CORRIDOR_GUI and CORRIDOR_MERCHANT_ID not in frozen:
        raise QRError("missing_tag", f"{what}: the corridor template has no merchant id")
    return frozen


@functools.cache
def _currency_alpha(numeric: str) -> str | None:
    record = pycountry.currencies.get(numeric=numeric)
    return None if record is None else str(record.alpha_3)


@functools.cache
def _is_country(alpha_2: str) -> bool:
    return pycountry.countries.get(alpha_2=alpha_2) is not None


@functools.cache
def _is_language(alpha_2: str) -> bool:
    return pycountry.languages.get(alpha_2=alpha_2.lower()) is not None


def _check_amount(amount: str, currency_alpha: str, what: str) -> None:
    if not isinstance(amount, str) or not 0 < len(amount) <= AMOUNT_CHARS_MAX:
        raise QRError("bad_amount", f"{what} is 1 to {AMOUNT_CHARS_MAX} characters")
    match = _AMOUNT.fullmatch(amount)
    if match is None:
        raise QRError("bad_amount", f"{what} is digits with an optional '.': {amount!r}")
    decimals = len(match.group(1) or "")
    if decimals > get_currency_precision(currency_alpha):
        raise QRError(
            "bad_amount",
            f"{what} {amount} has more decimals than {currency_alpha} has minor units",
        )
    if amount.strip("0.") == "":
        raise QRError("bad_amount", f"{what} is zero")


# --- the merchant QR -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MerchantLanguage:
    """Merchant Information - Language Template (ID 64): the merchant in another language.

    Values are Unicode and their lengths count characters: ``MerchantLanguage("JA",
    "清水寺", "京都")`` is how a Kyoto merchant shows its name in kanji.
    """

    language: str
    """ISO 639-1 two-letter code (sub-ID 00), e.g. "JA", "ZH", "KO"."""
    name: str
    """Merchant name in that language (sub-ID 01), at most 25 characters."""
    city: str | None = None
    """Merchant city in that language (sub-ID 02), at most 15 characters."""
    reserved: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Sub-IDs 03-99, reserved for EMVCo: kept as read so that nothing is lost."""

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or _LANGUAGE.fullmatch(self.language) is None:
            raise QRError("bad_format", f"language preference {self.language!r} is not 2 letters")
        if not _is_language(self.language):
            raise QRError("bad_format", f"unknown ISO 639-1 language: {self.language}")
        _check_text(self.name, "alternate merchant name", ALTERNATE_NAME_CHARS_MAX, ans=False)
        if self.city is not None:
            _check_text(self.city, "alternate merchant city", ALTERNATE_CITY_CHARS_MAX, ans=False)
        reserved = _frozen_fields(self.reserved, "language template", ans=False)
        known = {LANGUAGE_PREFERENCE, LANGUAGE_MERCHANT_NAME, LANGUAGE_MERCHANT_CITY}
        if known & reserved.keys():
            raise QRError("bad_format", "language template: sub-IDs 00-02 are not reserved")
        object.__setattr__(self, "reserved", reserved)
        if len(_join(self._fields())) > VALUE_CHARS_MAX:
            raise QRError("too_long", f"language template is over {VALUE_CHARS_MAX} characters")

    def _fields(self) -> dict[str, str]:
        fields = {LANGUAGE_PREFERENCE: self.language, LANGUAGE_MERCHANT_NAME: self.name}
        if self.city is not None:
            fields[LANGUAGE_MERCHANT_CITY] = self.city
        fields.update(self.reserved)
        return fields


@dataclass(frozen=True, slots=True)
class MerchantQR:
    """A validated merchant-presented QR payload; every instance encodes to a valid payload.

    Templates are read-only mappings of sub-ID to value, sorted by sub-ID.
    """

    merchant_category_code: str
    """ISO 18245 merchant category code (ID 52), four digits, e.g. "5812" restaurants."""
    transaction_currency: str
    """ISO 4217 numeric code (ID 53), three digits, e.g. "392" for JPY."""
    country_code: str
    """ISO 3166-1 alpha-2 country of the merchant (ID 58), e.g. "JP"."""
    merchant_name: str
    """Merchant name (ID 59), printable ASCII, at most 25 characters."""
    merchant_city: str
    """Merchant city (ID 60), printable ASCII, at most 15 characters."""
    merchant_accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    """Merchant Account Information templates (IDs 26-51), each with sub-ID 00 (GUI)."""
    network_accounts: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Merchant account information of card networks (IDs 02-25), kept as they are."""
    point_of_initiation: str | None = None
    """ID 01: "11" static (shown for many payments), "12" dynamic (one payment)."""
    transaction_amount: str | None = None
    """ID 54: decimal string in the transaction currency, e.g. "23.72"; implies dynamic."""
    tip_indicator: str | None = None
    """ID 55: "01" prompt for a tip, "02" fixed convenience fee, "03" percentage fee."""
    convenience_fee_fixed: str | None = None
    """ID 56: fixed fee in the transaction currency; present exactly when ID 55 is "02"."""
    convenience_fee_percentage: str | None = None
    """ID 57: fee percentage, e.g. "3.00"; present exactly when ID 55 is "03"."""
    postal_code: str | None = None
    """ID 61: printable ASCII, at most 10 characters."""
    additional_data: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Additional Data Field Template (ID 62): bill number 01, reference label 05, ..."""
    language: MerchantLanguage | None = None
    """Merchant Information - Language Template (ID 64)."""
    reserved: Mapping[str, str] = field(default_factory=dict, hash=False)
    """IDs 65-79, reserved for EMVCo: kept as read so that nothing is lost."""
    unreserved_templates: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    """Unreserved templates (IDs 80-99), each with sub-ID 00 (GUI); values are Unicode."""
    payload_format_indicator: str = PAYLOAD_FORMAT_INDICATOR
    """ID 00: always "01"."""

    def __post_init__(self) -> None:
        set_field = functools.partial(object.__setattr__, self)
        if self.payload_format_indicator != PAYLOAD_FORMAT_INDICATOR:
            raise QRError("bad_format", "the payload format indicator (ID 00) must be '01'")
        if self.point_of_initiation not in (
            None,
            POINT_OF_INITIATION_STATIC,
            POINT_OF_INITIATION_DYNAMIC,
        ):
            raise QRError(
                "bad_format", f"point of initiation {self.point_of_initiation!r} is not 11 or 12"
            )
        set_field("network_accounts", self._network_accounts())
        set_field("merchant_accounts", self._templates(self.merchant_accounts, True))
        if not self.network_accounts and not self.merchant_accounts:
            raise QRError("missing_tag", "no merchant account information (IDs 02-51)")
        if (
            not isinstance(self.merchant_category_code, str)
            or _MCC.fullmatch(self.merchant_category_code) is None
        ):
            raise QRError("bad_mcc", f"merchant category code {self.merchant_category_code!r}")
        currency_alpha = self._currency_alpha()
        if self.transaction_amount is not None:
            _check_amount(self.transaction_amount, currency_alpha, "transaction amount")
            if self.point_of_initiation != POINT_OF_INITIATION_DYNAMIC:
                raise QRError("bad_format", "a QR with an amount is dynamic (ID 01 '12')")
        self._check_tip(currency_alpha)
        if not isinstance(self.country_code, str) or _COUNTRY.fullmatch(self.country_code) is None:
            raise QRError(
                "unknown_country", f"not an ISO 3166-1 alpha-2 code: {self.country_code!r}"
            )
        if not _is_country(self.country_code):
            raise QRError("unknown_country", f"unknown country: {self.country_code}")
        _check_text(self.merchant_name, "merchant name", MERCHANT_NAME_CHARS_MAX)
        _check_text(self.merchant_city, "merchant city", MERCHANT_CITY_CHARS_MAX)
        if self.postal_code is not None:
            _check_text(self.postal_code, "postal code", POSTAL_CODE_CHARS_MAX)
        set_field("additional_data", _frozen_fields(self.additional_data, "additional data"))
        if self.language is not None and not isinstance(self.language, MerchantLanguage):
            raise QRError("bad_format", "language must be a MerchantLanguage")
        set_field("reserved", self._reserved())
        set_field("unreserved_templates", self._templates(self.unreserved_templates, False))
        if len(_body(self)) + len(_CRC_TAG_AND_LENGTH) + 4 > PAYLOAD_CHARS_MAX:
            raise QRError("too_long", f"the payload is over {PAYLOAD_CHARS_MAX} characters")

    def _network_accounts(self) -> Mapping[str, str]:
        if not isinstance(self.network_accounts, Mapping):
            raise QRError("bad_format", "network accounts must be a mapping of ID to value")
        checked = {
            _check_tag(tag, _NETWORK_TAGS, "network accounts"): _check_text(
                value, f"merchant account ID {tag}", VALUE_CHARS_MAX
            )
            for tag, value in self.network_accounts.items()
        }
        return MappingProxyType(dict(sorted(checked.items())))

    def _templates(
        self, templates: Mapping[str, Mapping[str, str]], merchant: bool
    ) -> Mapping[str, Mapping[str, str]]:
        what, tags = (
            ("merchant account", _MERCHANT_TEMPLATE_TAGS)
            if merchant
            else ("unreserved template", _UNRESERVED_TEMPLATE_TAGS)
        )
        if not isinstance(templates, Mapping):
            raise QRError("bad_format", f"{what}s must be a mapping of ID to template")
        checked = {
            _check_tag(tag, tags, what): _frozen_template(
                template, f"{what} ID {tag}", ans=merchant
            )
            for tag, template in templates.items()
        }
        return MappingProxyType(dict(sorted(checked.items())))

    def _reserved(self) -> Mapping[str, str]:
        if not isinstance(self.reserved, Mapping):
            raise QRError("bad_format", "reserved must be a mapping of ID to value")
        checked = {
            _check_tag(tag, _RESERVED_TAGS, "reserved"): _check_text(
                value, f"ID {tag}", VALUE_CHARS_MAX, ans=False
            )
            for tag, value in self.reserved.items()
        }
        return MappingProxyType(dict(sorted(checked.items())))

    def _currency_alpha(self) -> str:
        numeric = self.transaction_currency
        if not isinstance(numeric, str) or _CURRENCY_NUMERIC.fullmatch(numeric) is None:
            raise QRError("unknown_currency", f"not an ISO 4217 numeric code: {numeric!r}")
        alpha = _currency_alpha(numeric)
        if alpha is None:
            raise QRError("unknown_currency", f"unknown currency number: {numeric}")
        return alpha

    def _check_tip(self, currency_alpha: str) -> None:
        indicator = self.tip_indicator
        fixed, percentage = self.convenience_fee_fixed, self.convenience_fee_percentage
        if indicator not in (
            None,
            TIP_PROMPT,
            TIP_CONVENIENCE_FEE_FIXED,
            TIP_CONVENIENCE_FEE_PERCENTAGE,
        ):
            raise QRError("bad_format", f"tip or convenience indicator {indicator!r}")
        if (fixed is not None) != (indicator == TIP_CONVENIENCE_FEE_FIXED):
            raise QRError(
                "missing_tag" if fixed is None else "bad_format",
                "a fixed convenience fee (ID 56) goes with indicator '02' (ID 55), and only then",
            )
        if (percentage is not None) != (indicator == TIP_CONVENIENCE_FEE_PERCENTAGE):
            raise QRError(
                "missing_tag" if percentage is None else "bad_format",
                "a percentage fee (ID 57) goes with indicator '03' (ID 55), and only then",
            )
        if fixed is not None:
            _check_amount(fixed, currency_alpha, "fixed convenience fee")
        if percentage is not None and (
            not isinstance(percentage, str)
            or len(percentage) > PERCENTAGE_CHARS_MAX
            or _PERCENTAGE.fullmatch(percentage) is None
            or percentage.strip("0.") == ""
        ):
            raise QRError("bad_amount", f"convenience fee percentage {percentage!r}")

    @property
    def is_dynamic(self) -> bool:
        """Whether this QR is for one payment (Point of Initiation "12")."""
        return self.point_of_initiation == POINT_OF_INITIATION_DYNAMIC

    @property
    def currency_code(self) -> str:
        """ISO 4217 alphabetic code of the transaction currency, e.g. "JPY"."""
        return self._currency_alpha()

    @property
    def corridor_merchant_id(self) -> str | None:
        """The corridor merchant id, from the template whose identifier is com.corridor."""
        for template in self.merchant_accounts.values():
            if template[TEMPLATE_GUI].lower() == CORRIDOR_GUI:
                return template[CORRIDOR_MERCHANT_ID]
        return None


def corridor_account(merchant_id: str) -> Mapping[str, Mapping[str, str]]:
    """`MerchantQR.merchant_accounts` for a corridor merchant: ``{"26": {"00": GUI, "01": id}}``."""
    return {CORRIDOR_TEMPLATE_TAG: {TEMPLATE_GUI: CORRIDOR_GUI, CORRIDOR_MERCHANT_ID: merchant_id}}


# --- encode ----------------------------------------------------------------------------


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def _join(fields: Mapping[str, str]) -> str:
    return "".join(_tlv(tag, value) for tag, value in sorted(fields.items()))


def _body(qr: MerchantQR) -> str:
    """Every data object but the CRC, in ascending ID order."""
    fields: dict[str, str] = {TAG_PAYLOAD_FORMAT: qr.payload_format_indicator}
    optional = {
        TAG_POINT_OF_INITIATION: qr.point_of_initiation,
        TAG_TRANSACTION_AMOUNT: qr.transaction_amount,
        TAG_TIP_INDICATOR: qr.tip_indicator,
        TAG_CONVENIENCE_FEE_FIXED: qr.convenience_fee_fixed,
        TAG_CONVENIENCE_FEE_PERCENTAGE: qr.convenience_fee_percentage,
        TAG_POSTAL_CODE: qr.postal_code,
        TAG_ADDITIONAL_DATA: _join(qr.additional_data) or None,
        TAG_LANGUAGE_TEMPLATE: None if qr.language is None else _join(qr.language._fields()),
    }
    fields.update((tag, value) for tag, value in optional.items() if value is not None)
    fields[TAG_MERCHANT_CATEGORY_CODE] = qr.merchant_category_code
    fields[TAG_TRANSACTION_CURRENCY] = qr.transaction_currency
    fields[TAG_COUNTRY_CODE] = qr.country_code
    fields[TAG_MERCHANT_NAME] = qr.merchant_name
    fields[TAG_MERCHANT_CITY] = qr.merchant_city
    fields.update(qr.network_accounts)
    fields.update((tag, _join(template)) for tag, template in qr.merchant_accounts.items())
    fields.update(qr.reserved)
    fields.update((tag, _join(template)) for tag, template in qr.unreserved_templates.items())
    return _join(fields)


def encode(qr: MerchantQR) -> str:
    """The canonical payload of `qr`: data objects in ascending ID order, then the CRC."""
    through_crc_id = _body(qr) + _CRC_TAG_AND_LENGTH
    return through_crc_id + _crc_text(through_crc_id)


# --- decode ----------------------------------------------------------------------------


def _parse_objects(text: str, what: str) -> dict[str, str]:
    """ID → value of a run of data objects, in the order they appear."""
    objects: dict[str, str] = {}
    position = 0
    while position < len(text):
        header = text[position : position + 4]
        if len(header) < 4:
            raise QRError("truncated", f"{what}: data object at character {position} is cut off")
        tag, length_text = header[:2], header[2:]
        if _TWO_DIGITS.fullmatch(tag) is None:
            raise QRError("bad_format", f"{what}: ID {tag!r} at character {position}")
        if _TWO_DIGITS.fullmatch(length_text) is None or length_text == "00":
            raise QRError(
                "bad_length", f"{what}: ID {tag} has length {length_text!r}; it is 01 to 99"
            )
        end = position + 4 + int(length_text)
        if end > len(text):
            raise QRError(
                "truncated", f"{what}: ID {tag} needs {length_text} characters; fewer are left"
            )
        if tag in objects:
            raise QRError("duplicate_tag", f"{what}: ID {tag} appears twice")
        objects[tag] = text[position + 4 : end]
        position = end
    return objects


def _check_crc(payload: str, objects: dict[str, str]) -> None:
    if TAG_CRC not in objects:
        raise QRError("missing_tag", "no CRC (ID 63)")
    if next(reversed(objects)) != TAG_CRC:
        raise QRError("bad_format", "the CRC (ID 63) must be the last data object")
    if len(objects[TAG_CRC]) != 4:
        raise QRError("bad_length", "the CRC (ID 63) has length 04")
    expected = _crc_text(payload[:-4])
    if objects[TAG_CRC].upper() != expected:
        raise QRError("bad_crc", f"CRC is {objects[TAG_CRC]!r}; the payload's is {expected}")


def decode(payload: str) -> MerchantQR:
    """The merchant QR a payload holds, checked against its CRC and the rules above."""
    if not isinstance(payload, str):
        raise QRError("bad_format", f"a payload is text, not {type(payload).__name__}")
    if len(payload) > PAYLOAD_CHARS_MAX:
        raise QRError(
            "too_long", f"payload has {len(payload)} characters; at most {PAYLOAD_CHARS_MAX}"
        )
    if not payload:
        raise QRError("truncated", "the payload is empty")
    try:
        payload.encode("utf-8")
    except UnicodeEncodeError as error:
        raise QRError("bad_format", "the payload is not valid Unicode text") from error
    objects = _parse_objects(payload, "payload")
    _check_crc(payload, objects)
    if TAG_PAYLOAD_FORMAT not in objects:
        raise QRError("missing_tag", "no payload format indicator (ID 00)")
    if next(iter(objects)) != TAG_PAYLOAD_FORMAT:
        raise QRError("bad_format", "the payload format indicator (ID 00) must come first")
    for tag in (
        TAG_MERCHANT_CATEGORY_CODE,
        TAG_TRANSACTION_CURRENCY,
        TAG_COUNTRY_CODE,
        TAG_MERCHANT_NAME,
        TAG_MERCHANT_CITY,
    ):
        if tag not in objects:
            raise QRError("missing_tag", f"no data object with ID {tag}")
    language = None
    if TAG_LANGUAGE_TEMPLATE in objects:
        language = _language(_parse_objects(objects[TAG_LANGUAGE_TEMPLATE], "ID 64"))
    return MerchantQR(
        payload_format_indicator=objects[TAG_PAYLOAD_FORMAT],
        point_of_initiation=objects.get(TAG_POINT_OF_INITIATION),
        network_accounts={tag: objects[tag] for tag in objects if tag in _NETWORK_TAGS},
        merchant_accounts={
            tag: _parse_objects(objects[tag], f"ID {tag}")
            for tag in objects
            if tag in _MERCHANT_TEMPLATE_TAGS
        },
        merchant_category_code=objects[TAG_MERCHANT_CATEGORY_CODE],
        transaction_currency=objects[TAG_TRANSACTION_CURRENCY],
        transaction_amount=objects.get(TAG_TRANSACTION_AMOUNT),
        tip_indicator=objects.get(TAG_TIP_INDICATOR),
        convenience_fee_fixed=objects.get(TAG_CONVENIENCE_FEE_FIXED),
        convenience_fee_percentage=objects.get(TAG_CONVENIENCE_FEE_PERCENTAGE),
        country_code=objects[TAG_COUNTRY_CODE],
        merchant_name=objects[TAG_MERCHANT_NAME],
        merchant_city=objects[TAG_MERCHANT_CITY],
        postal_code=objects.get(TAG_POSTAL_CODE),
        additional_data=(
            _parse_objects(objects[TAG_ADDITIONAL_DATA], "ID 62")
            if TAG_ADDITIONAL_DATA in objects
            else {}
        ),
        language=language,
        reserved={tag: objects[tag] for tag in objects if tag in _RESERVED_TAGS},
        unreserved_templates={
            tag: _parse_objects(objects[tag], f"ID {tag}")
            for tag in objects
            if tag in _UNRESERVED_TEMPLATE_TAGS
        },
    )


def _language(objects: dict[str, str]) -> MerchantLanguage:
    for tag in (LANGUAGE_PREFERENCE, LANGUAGE_MERCHANT_NAME):
        if tag not in objects:
            raise QRError("missing_tag", f"language template (ID 64) has no sub-ID {tag}")
    known = (LANGUAGE_PREFERENCE, LANGUAGE_MERCHANT_NAME, LANGUAGE_MERCHANT_CITY)
    return MerchantLanguage(
        language=objects[LANGUAGE_PREFERENCE],
        name=objects[LANGUAGE_MERCHANT_NAME],
        city=objects.get(LANGUAGE_MERCHANT_CITY),
        reserved={tag: value for tag, value in objects.items() if tag not in known},
    )


# --- images ----------------------------------------------------------------------------


def make_symbol(payload: str) -> segno.QRCode:
    """The QR symbol of a valid payload: byte mode, UTF-8, error correction M, no ECI.

    The payload is decoded first, so an invalid payload is refused rather than drawn.
    """
    decode(payload)
    return segno.make_qr(
        payload, error=QR_ERROR_CORRECTION, boost_error=False, mode="byte", encoding="utf-8"
    )


def render_png(
    payload: str, path: str | os.PathLike[str], *, scale: int = PNG_SCALE_DEFAULT
) -> None:
    """Write the QR code of `payload` to `path` as a PNG image (4-module quiet zone)."""
    make_symbol(payload).save(os.fspath(path), kind="png", scale=scale)


def render_svg(payload: str, *, scale: int = SVG_SCALE_DEFAULT) -> str:
    """The QR code of `payload` as an inline SVG document (no XML declaration)."""
    return make_symbol(payload).svg_inline(scale=scale)
