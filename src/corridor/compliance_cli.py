"""`corridor lists ...`, `corridor screen` and `corridor bench screening`: sanctions screening
from the command line.

The operator loads the published list files with `lists load` (each list replaces its
earlier version atomically, then every stored customer and merchant is screened again);
compliance officers screen names with `screen`, in any script. Failures raise
`corridor.compliance.errors.ComplianceError`, which `corridor.cli.main` prints as
``error[code]: message`` with exit status 2.

This module sits in the interface layer and defines its own small `--db` check instead of
importing `corridor.cli`, which imports this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corridor.compliance.errors import ComplianceError
from corridor.compliance.lists import SanctionsStore, format_ns, load_lists
from corridor.compliance.screening import DEFAULT_THRESHOLD, QUERY_CHARS_MAX, ScreeningResult

__all__ = ["bench_screening_command", "lists_app", "screen_command"]

DEFAULT_DB: Final = "./corridor.db"
NAMES_FILE_BYTES_MAX: Final = 16 * 1024 * 1024
NAMES_PER_RUN_MAX: Final = 1_000_000

lists_app = typer.Typer(help="Sanctions lists: load and inspect.", no_args_is_help=True)

console = Console(soft_wrap=True, highlight=False)

DbOption = Annotated[
    str, typer.Option("--db", help="Database file (default ./corridor.db).", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _db_path(db: str, *, must_exist: bool = True) -> Path:
    if "://" in db:
        raise ComplianceError(
            "unsupported_database", f"--db {db!r}: sanctions lists need a SQLite file path"
        )
    path = Path(db)
    if path.is_dir():
        raise ComplianceError("invalid_database", f"{path} is a directory, not a database file")
    if must_exist and not path.is_file():
        raise ComplianceError("database_not_found", f"{path}: no such database file")
    return path


@lists_app.command("load")
def lists_load(
    db: DbOption = DEFAULT_DB,
    ofac_sdn: Annotated[
        Path | None, typer.Option("--ofac-sdn", help="OFAC SDN CSV (sdn.csv).")
    ] = None,
    ofac_alt: Annotated[
        Path | None, typer.Option("--ofac-alt", help="OFAC aliases CSV (alt.csv).")
    ] = None,
    un: Annotated[Path | None, typer.Option("--un", help="UN consolidated list XML.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Load list files (each replaces its earlier version), then screen every party again."""
    path = _db_path(db, must_exist=False)
    report = load_lists(path, ofac_sdn=ofac_sdn, ofac_alt=ofac_alt, un=un)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
        return
    for info in report.lists:
        verb = "replaced" if info.list in report.replaced else "loaded"
        console.print(
            f"[bold]{escape(info.list)}[/] {verb}: version {escape(info.version)}, "
            f"{info.entry_count} entries, sha256 {info.source_sha256[:16]}…"
        )
    console.print(
        f"screened {report.parties_screened} parties again: "
        f"{report.parties_hit} with hits ({report.hits} hits)"
    )


@lists_app.command("show")
def lists_show(db: DbOption = DEFAULT_DB, as_json: JsonOption = False) -> None:
    """The stored lists: version, when loaded, entry count, source files."""
    with SanctionsStore(_db_path(db)) as store:
        infos = store.lists()
    if as_json:
        print(json.dumps([info.to_json() for info in infos], indent=2))
        return
    if not infos:
        console.print("no sanctions list loaded")
    for info in infos:
        console.print(
            f"[bold]{escape(info.list)}[/] version {escape(info.version)}, "
            f"{info.entry_count} entries, loaded {format_ns(info.loaded_ns)}"
        )


def _read_names(file: Path) -> list[str]:
    try:
        if str(file) == "-":
            data = sys.stdin.buffer.read(NAMES_FILE_BYTES_MAX + 1)
        else:
            with file.open("rb") as handle:
                data = handle.read(NAMES_FILE_BYTES_MAX + 1)
    except FileNotFoundError:
        raise ComplianceError("file_not_found", f"names file {file}: no such file") from None
    except IsADirectoryError:
        raise ComplianceError("file_not_found", f"names file {file} is a directory") from None
    except OSError as error:
        raise ComplianceError("file_not_found", f"cannot read {file}: {error}") from None
    if len(data) > NAMES_FILE_BYTES_MAX:
        raise ComplianceError("input_too_large", f"names file {file} is larger than 16 MiB")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise ComplianceError(
            "invalid_names_file", f"names file {file} is not UTF-8 (byte {error.start})"
        ) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _print_result(result: ScreeningResult) -> None:
    if not result.hits:
        console.print(f"[green]{escape(result.query)}[/]: no hit at or above {result.threshold}")
        return
    table = Table(title=f"{result.query} (threshold {result.threshold})", title_justify="left")
    for column in ("score", "list", "entity", "name", "matched"):
        table.add_column(column, overflow="fold")
    for hit in result.hits:
        table.add_row(
            f"{hit.score:.3f}",
            escape(hit.list),
            escape(hit.entity_id),
            escape(hit.name),
            escape(hit.matched),
        )
    console.print(table)


def screen_command(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Names to screen, in any script.", show_default=False),
    ] = None,
    db: DbOption = DEFAULT_DB,
    file: Annotated[
        Path | None, typer.Option("--file", help="Screen one name per line of FILE ('-': stdin).")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Report hits at or above this score (0..1).")
    ] = DEFAULT_THRESHOLD,
    as_json: JsonOption = False,
) -> None:
    """Screen names against the stored sanctions lists; one JSON object per name with --json."""
    queries = list(names or [])
    if file is not None:
        queries += _read_names(file)
    if not queries:
        raise ComplianceError("no_names", "give names to screen, or --file")
    if len(queries) > NAMES_PER_RUN_MAX:
        raise ComplianceError("input_too_large", f"more than {NAMES_PER_RUN_MAX} names")
    for query in queries:
        if len(query) > QUERY_CHARS_MAX:
            raise ComplianceError(
                "invalid_query", f"a name has {len(query)} characters; at most {QUERY_CHARS_MAX}"
            )
    if not 0.0 <= threshold <= 1.0:
        raise ComplianceError("invalid_threshold", f"--threshold {threshold} is not in 0..1")
    with SanctionsStore(_db_path(db)) as store:
        if not store.lists():
            raise ComplianceError(
                "no_lists", f"{db} holds no sanctions list; run `corridor lists load` first"
            )
        index = store.index()
    for query in queries:
        result = index.screen(query, threshold=threshold)
        if as_json:
            print(json.dumps(result.to_json(), ensure_ascii=False))
        else:
            _print_result(result)


def bench_screening_command(
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Load the lists through this (new) database first.", show_default=False
        ),
    ] = None,
    names: Annotated[int, typer.Option(help="Distinct names to screen.")] = 20_000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Folder with ofac_sdn.csv, ofac_alt.csv, un_consolidated.xml."
        ),
    ] = None,
    pairs: Annotated[
        Path | None,
        typer.Option("--pairs", help="Labelled pairs CSV (query,list_name,label,note)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    as_json: JsonOption = False,
) -> None:
    """Names screened per second against the full OFAC + UN lists, and recall / false
    positives on the labelled cross-script pairs beside nomenklatura logic-v2."""
    from corridor.bench import screening as bench

    config = bench.ScreeningBenchConfig(
        data_dir=data_dir if data_dir is not None else bench.default_data_dir(),
        pairs_file=pairs if pairs is not None else bench.default_pairs_file(),
        names=names,
        seed=seed,
        db=_db_path(db, must_exist=False) if db is not None else None,
    )
    result = bench.run(config)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    labelled = result["labelled"]
    assert isinstance(labelled, dict)
    console.print(
        f"screening: {result['ops']} names in {result['seconds']} s = "
        f"[bold]{result['ops_per_s']}[/] names/s; p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms"
    )
    console.print(
        f"labelled pairs: recall {labelled['recall']}, false-positive rate "
        f"{labelled['false_positive_rate']} at {labelled['threshold']}"
    )
    other = result["nomenklatura"]
    if isinstance(other, dict):
        console.print(
            f"nomenklatura logic-v2: recall {other['recall']}, false-positive rate "
            f"{other['false_positive_rate']} at {other['threshold']}"
        )
    else:
        console.print(f"nomenklatura: {escape(str(result.get('nomenklatura_reason')))}")
