"""Small reference data and simulated databases for the sandbox and analytics tests.

The tests do not depend on ``../shared/data``: they write a small ECB history CSV and small
sanctions list files in the real formats (UN consolidated XML, OFAC SDN and alias CSV), with
real listed names, and simulate into temporary databases from them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from corridor.sim.run import SimConfig, simulate

ECB_RATES = {"USD": "1.1700", "JPY": "130.50", "CNY": "7.8000", "KRW": "1315.00"}
"""EUR reference rates of mid-July 2018, rounded; the same every business day here."""

UN_XML = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<CONSOLIDATED_LIST dateGenerated="2026-02-27T00:00:09.554Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>1</DATAID>
      <FIRST_NAME>KIM</FIRST_NAME>
      <SECOND_NAME>YONG CHOL</SECOND_NAME>
      <UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
      <REFERENCE_NUMBER>KPi.024</REFERENCE_NUMBER>
      <INDIVIDUAL_ALIAS>
        <QUALITY>Good</QUALITY><ALIAS_NAME>Kim Young-Cheol</ALIAS_NAME>
      </INDIVIDUAL_ALIAS>
      <INDIVIDUAL_DATE_OF_BIRTH>
        <TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1962-02-18</DATE>
      </INDIVIDUAL_DATE_OF_BIRTH>
    </INDIVIDUAL>
    <INDIVIDUAL>
      <DATAID>2</DATAID>
      <FIRST_NAME>RI</FIRST_NAME>
      <SECOND_NAME>MAN GON</SECOND_NAME>
      <UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
      <REFERENCE_NUMBER>KPi.026</REFERENCE_NUMBER>
      <INDIVIDUAL_DATE_OF_BIRTH>
        <TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1945-10-29</DATE>
      </INDIVIDUAL_DATE_OF_BIRTH>
    </INDIVIDUAL>
    <INDIVIDUAL>
      <DATAID>3</DATAID>
      <FIRST_NAME>ERIC</FIRST_NAME>
      <SECOND_NAME>BADEGE</SECOND_NAME>
      <UN_LIST_TYPE>DRC</UN_LIST_TYPE>
      <REFERENCE_NUMBER>CDi.001</REFERENCE_NUMBER>
    </INDIVIDUAL>
  </INDIVIDUALS>
</CONSOLIDATED_LIST>
"""

OFAC_SDN = (
    '11447,"LI, Fangwei","individual","NPWMD] [IFSR",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB 18 Sep 1972; nationality China."\n'
    '17614,"KIM, Yong Chol","individual","DPRK2","KOMID Representative in Iran",-0- ,-0- ,'
    '-0- ,-0- ,-0- ,-0- ,"DOB 18 Feb 1962; nationality Korea, North."\n'
    '15656,"RA, Kyong-Su","individual","NPWMD] [DPRK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB 04 Jun 1954; nationality Korea, North."\n'
)
OFAC_ALT = '11447,12075,"aka","LEE, Karl",-0- \n'


def write_ecb(path: Path, first: dt.date, last: dt.date) -> None:
    """An ECB history CSV (newest first, business days only) with `ECB_RATES`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["Date," + ",".join(ECB_RATES) + ","]
    day = last
    while day >= first:
        if day.weekday() < 5:
            lines.append(day.isoformat() + "," + ",".join(ECB_RATES.values()) + ",")
        day -= dt.timedelta(days=1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_sanctions(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "un_consolidated.xml").write_text(UN_XML, encoding="utf-8")
    (folder / "ofac_sdn.csv").write_text(OFAC_SDN, encoding="utf-8")
    (folder / "ofac_alt.csv").write_text(OFAC_ALT, encoding="utf-8")


def make_data_dir(root: Path, *, fx: bool = True, sanctions: bool = True) -> Path:
    """A reference-data directory like ``../shared/data``, small."""
    root.mkdir(parents=True, exist_ok=True)
    if fx:
        write_ecb(root / "fx" / "eurofxref-hist.csv", dt.date(2018, 6, 1), dt.date(2018, 9, 28))
    if sanctions:
        write_sanctions(root / "sanctions")
    return root


def run(db: Path, data_dir: Path, *, seed: int = 11, tourists: int = 120, days: int = 3) -> Any:
    return simulate(SimConfig(db=db, seed=seed, tourists=tourists, days=days, data_dir=data_dir))


def canonical(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True, ensure_ascii=False)
