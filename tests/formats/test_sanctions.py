"""Tests for corridor.formats.sanctions: OFAC SDN CSV (with alt.csv) and the UN list XML.

Small files in the lists' formats are built here (`SDN_CSV`, `ALT_CSV`, `UN_XML`, also used
by the compliance tests); every malformation is refused with ``invalid_list_file`` naming the
line or element. The real files (``../shared/data/sanctions``) are read when present.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.formats.sanctions import (
    CODE_INVALID_LIST_FILE,
    KIND_AIRCRAFT,
    KIND_ENTITY,
    KIND_INDIVIDUAL,
    KIND_VESSEL,
    LIST_OFAC_SDN,
    LIST_UN,
    SanctionsFormatError,
    parse_ofac,
    parse_un,
    read_list_file,
)

SANCTIONS_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "sanctions"
needs_real_lists = pytest.mark.skipif(
    not (SANCTIONS_DIR / "ofac_sdn.csv").exists(), reason=f"{SANCTIONS_DIR} is absent"
)

SDN_CSV = (
    '12211,"KIM, Yong Chol","individual","DPRK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB circa 1947; alt. DOB circa 1946; POB Pyongan-Pukto, North Korea."\r\n'
    '16318,"ZHANG, Lei","individual","SDNTK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB 03 Jan 1976; POB Shanghai, China; citizen China; Passport G23851362 (China)."\r\n'
    '9345,"KOREA MINING DEVELOPMENT TRADING CORPORATION",-0- ,"NPWMD] [DPRK2",-0- ,-0- ,'
    "-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n"
    '17069,"CHONG CHON GANG","vessel","DPRK",-0- ,-0- ,"General Cargo",-0- ,-0- ,'
    '"Democratic People\'s Republic of Korea",-0- ,-0- \r\n'
    '20157,"KIM, Jong Un","individual","DPRK3",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB 08 Jan 1984; nationality Korea, North; Gender Male."\r\n'
    '7000,"HAWKER","aircraft","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1955 to 1958."\r\n'
    "\x1a"
)
ALT_CSV = (
    '12211,1001,"aka","KIM, Young-Chul",-0- \r\n'
    '9345,1002,"aka","KOMID",-0- \r\n'
    '16318,1003,"aka","LEI, Zhang",-0- \r\n'
    "\x1a"
)
UN_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2026-02-27T00:00:09.554Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>690734</DATAID>
      <FIRST_NAME>YUN</FIRST_NAME>
      <SECOND_NAME>HO-JIN</SECOND_NAME>
      <UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
      <REFERENCE_NUMBER>KPi.001</REFERENCE_NUMBER>
      <NATIONALITY><VALUE>Democratic People's Republic of Korea</VALUE></NATIONALITY>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Yun Ho-chin</ALIAS_NAME>
      </INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY/><ALIAS_NAME/></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1944-10-13</DATE>
      </INDIVIDUAL_DATE_OF_BIRTH>
    </INDIVIDUAL>
    <INDIVIDUAL>
      <DATAID>6908001</DATAID>
      <FIRST_NAME>SADDAM</FIRST_NAME>
      <SECOND_NAME>HUSSEIN</SECOND_NAME>
      <THIRD_NAME>AL-TIKRITI</THIRD_NAME>
      <UN_LIST_TYPE>Iraq</UN_LIST_TYPE>
      <REFERENCE_NUMBER>IQi.001</REFERENCE_NUMBER>
      <NAME_ORIGINAL_SCRIPT>صدام حسين التكريتي</NAME_ORIGINAL_SCRIPT>
      <NATIONALITY><VALUE>Iraq</VALUE></NATIONALITY>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>BETWEEN</TYPE_OF_DATE>
        <FROM_YEAR>1936</FROM_YEAR><TO_YEAR>1937</TO_YEAR></INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><YEAR>1938</YEAR>
      </INDIVIDUAL_DATE_OF_BIRTH>
    </INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES>
    <ENTITY>
      <DATAID>110407</DATAID>
      <FIRST_NAME>KOREA MINING DEVELOPMENT TRADING CORPORATION</FIRST_NAME>
      <UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
      <REFERENCE_NUMBER>KPe.001</REFERENCE_NUMBER>
      <ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY>
        <ALIAS_NAME>CHANGGWANG SINYONG CORPORATION</ALIAS_NAME></ENTITY_ALIAS>
    </ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>
"""


def ofac() -> list[object]:
    return list(parse_ofac(SDN_CSV.encode(), ALT_CSV.encode()).entries)


def by_id(entries: list[object], entity_id: str) -> object:
    return next(e for e in entries if getattr(e, "entity_id", None) == entity_id)


def refused(fragment: str, call: object) -> SanctionsFormatError:
    assert callable(call)
    with pytest.raises(SanctionsFormatError) as caught:
        call()
    assert caught.value.code == CODE_INVALID_LIST_FILE
    assert fragment in str(caught.value), str(caught.value)
    return caught.value


# --- OFAC ---------------------------------------------------------------------------------


def test_ofac_rows_become_entries_with_kind_programs_and_aliases() -> None:
    parsed = parse_ofac(SDN_CSV.encode(), ALT_CSV.encode())
    assert parsed.name == LIST_OFAC_SDN
    assert parsed.version.startswith("sha256:")
    assert [s.name for s in parsed.sources] == ["sdn.csv", "alt.csv"]
    kim = by_id(list(parsed.entries), "12211")
    assert kim.kind == KIND_INDIVIDUAL  # type: ignore[attr-defined]
    assert kim.name == "KIM, Yong Chol"  # type: ignore[attr-defined]
    assert kim.aliases == ("KIM, Young-Chul",)  # type: ignore[attr-defined]
    assert kim.programs == ("DPRK",)  # type: ignore[attr-defined]
    komid = by_id(list(parsed.entries), "9345")
    assert komid.kind == KIND_ENTITY  # type: ignore[attr-defined]
    assert komid.programs == ("NPWMD", "DPRK2")  # type: ignore[attr-defined]
    assert by_id(list(parsed.entries), "17069").kind == KIND_VESSEL  # type: ignore[attr-defined]
    assert by_id(list(parsed.entries), "7000").kind == KIND_AIRCRAFT  # type: ignore[attr-defined]


def test_ofac_remarks_give_dates_of_birth_and_countries() -> None:
    entries = ofac()
    assert by_id(entries, "12211").dates_of_birth == ("1947", "1946")  # type: ignore[attr-defined]
    zhang = by_id(entries, "16318")
    assert zhang.dates_of_birth == ("1976-01-03",)  # type: ignore[attr-defined]
    assert zhang.countries == ("CN",)  # type: ignore[attr-defined]
    assert by_id(entries, "20157").countries == ("KP",)  # type: ignore[attr-defined]
    assert by_id(entries, "7000").dates_of_birth == (  # type: ignore[attr-defined]
        "1955",
        "1956",
        "1957",
        "1958",
    )


def test_ofac_without_alt_file_has_no_aliases() -> None:
    parsed = parse_ofac(SDN_CSV.encode())
    assert all(not e.aliases for e in parsed.entries)
    assert len(parsed.sources) == 1


def test_ofac_windows_1252_file_is_read() -> None:
    sdn = '1,"MU\xd1OZ, Jos\xe9","individual","SDNT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    parsed = parse_ofac(sdn.encode("cp1252"))
    assert parsed.entries[0].name == "MUÑOZ, José"


@pytest.mark.parametrize(
    ("sdn", "fragment"),
    [
        ('1,"A","individual","X"\r\n', "line 1: 4 fields"),
        ('1,"A",-0- ,"X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\nx,"B",-0- ,"X",-0- ,-0- ,'
         "-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n", "line 2: ent_num is not a number"),
        ('1,"A",-0- ,"X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n1,"B",-0- ,"X",-0- ,-0- ,'
         "-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n", "line 2: ent_num 1 repeats"),
        ('1,"A","person","X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n', "unknown SDN_Type"),
        ('1,-0- ,-0- ,"X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n', "SDN_Name is empty"),
        ('1,"A",-0- ,"X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\r\n2,"B",-0- ,"X",-0- ,'
         "-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n", "line 2: empty line"),
        ("", "no rows"),
        ("\x1a", "no rows"),
        ('1,"A\x00",-0- ,"X"\r\n', "NUL"),
    ],
)  # fmt: skip
def test_malformed_ofac_sdn_is_refused_naming_the_line(sdn: str, fragment: str) -> None:
    refused(fragment, lambda: parse_ofac(sdn.encode()))


def test_alias_of_an_unknown_entry_is_refused() -> None:
    alt = '99999,1,"aka","NOBODY",-0- \r\n'
    refused(
        "alt.csv line 1: alias of ent_num 99999", lambda: parse_ofac(SDN_CSV.encode(), alt.encode())
    )


def test_alias_with_unknown_type_is_refused() -> None:
    alt = '12211,1,"maybe","KIM",-0- \r\n'
    refused("unknown alias type", lambda: parse_ofac(SDN_CSV.encode(), alt.encode()))


def test_unterminated_quote_is_refused() -> None:
    sdn = '1,"A,-0- ,"X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    refused("sdn.csv", lambda: parse_ofac(sdn.encode()))


# --- UN -----------------------------------------------------------------------------------


def test_un_individuals_and_entities_become_entries() -> None:
    parsed = parse_un(UN_XML.encode())
    assert parsed.name == LIST_UN
    assert parsed.version == "2026-02-27T00:00:09.554Z"
    yun, saddam, komid = parsed.entries
    assert (yun.entity_id, yun.kind, yun.name) == ("KPi.001", KIND_INDIVIDUAL, "YUN HO-JIN")
    assert yun.aliases == ("Yun Ho-chin",)
    assert yun.dates_of_birth == ("1944-10-13",)
    assert yun.countries == ("KP",)
    assert yun.programs == ("DPRK",)
    assert saddam.name == "SADDAM HUSSEIN AL-TIKRITI"
    assert saddam.native_names == ("صدام حسين التكريتي",)
    assert saddam.dates_of_birth == ("1936", "1937", "1938")
    assert (komid.kind, komid.aliases) == (KIND_ENTITY, ("CHANGGWANG SINYONG CORPORATION",))
    assert komid.names() == (komid.name, "CHANGGWANG SINYONG CORPORATION")


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        ("<CONSOLIDATED_LIST dateGenerated='x'><INDIVIDUALS>", "not well-formed XML"),
        ("<OTHER dateGenerated='x'/>", "root element is not CONSOLIDATED_LIST"),
        ("<CONSOLIDATED_LIST/>", "no dateGenerated"),
        ("<CONSOLIDATED_LIST dateGenerated='x'/>", "no INDIVIDUAL or ENTITY"),
        (
            "<CONSOLIDATED_LIST dateGenerated='x'><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>A"
            "</FIRST_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>",
            "<INDIVIDUAL> #1: no DATAID",
        ),
        (
            "<CONSOLIDATED_LIST dateGenerated='x'><ENTITIES><ENTITY><DATAID>7</DATAID>"
            "</ENTITY></ENTITIES></CONSOLIDATED_LIST>",
            "<ENTITY> #1 (DATAID 7): FIRST_NAME..FOURTH_NAME is empty",
        ),
        (
            "<CONSOLIDATED_LIST dateGenerated='x'><INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID>"
            "<FIRST_NAME>A</FIRST_NAME><INDIVIDUAL_DATE_OF_BIRTH><DATE>1 May 1960</DATE>"
            "</INDIVIDUAL_DATE_OF_BIRTH></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>",
            "DATE is not YYYY-MM-DD",
        ),
        (
            "<CONSOLIDATED_LIST dateGenerated='x'><INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID>"
            "<REFERENCE_NUMBER>R</REFERENCE_NUMBER><FIRST_NAME>A</FIRST_NAME></INDIVIDUAL>"
            "<INDIVIDUAL><DATAID>2</DATAID><REFERENCE_NUMBER>R</REFERENCE_NUMBER>"
            "<FIRST_NAME>B</FIRST_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>",
            "<INDIVIDUAL> #2: reference number R repeats",
        ),
    ],
)
def test_malformed_un_xml_is_refused_naming_the_element(xml: str, fragment: str) -> None:
    refused(fragment, lambda: parse_un(xml.encode()))


def test_xml_entity_declarations_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<CONSOLIDATED_LIST dateGenerated='x'>&b;</CONSOLIDATED_LIST>"
    )
    refused("refused XML construct", lambda: parse_un(bomb.encode()))


def test_un_file_that_is_not_utf8_is_refused() -> None:
    refused("not UTF-8", lambda: parse_un(b"<CONSOLIDATED_LIST dateGenerated='\xff'/>"))


def test_missing_list_file_is_refused(tmp_path: Path) -> None:
    refused("no such file", lambda: read_list_file(tmp_path / "nope.csv", "OFAC SDN file"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_nothing_but_format_errors(data: bytes) -> None:
    for parse in (parse_ofac, parse_un):
        with contextlib.suppress(SanctionsFormatError):
            parse(data)


# --- the real files -----------------------------------------------------------------------


@needs_real_lists
def test_real_ofac_files_parse_with_every_alias() -> None:
    parsed = parse_ofac(
        (SANCTIONS_DIR / "ofac_sdn.csv").read_bytes(), (SANCTIONS_DIR / "ofac_alt.csv").read_bytes()
    )
    assert len(parsed.entries) == 8976
    kim = by_id(list(parsed.entries), "12211")
    assert "KIM, Young-Chul" in kim.aliases  # type: ignore[attr-defined]
    assert sum(1 for e in parsed.entries if e.kind == KIND_VESSEL) == 406


@needs_real_lists
def test_real_un_file_parses() -> None:
    parsed = parse_un((SANCTIONS_DIR / "un_consolidated.xml").read_bytes())
    kinds = [e.kind for e in parsed.entries]
    assert (kinds.count(KIND_INDIVIDUAL), kinds.count(KIND_ENTITY)) == (730, 273)
    yun = by_id(list(parsed.entries), "KPi.001")
    assert yun.name == "YUN HO-JIN"  # type: ignore[attr-defined]
