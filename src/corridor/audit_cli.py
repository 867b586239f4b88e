"""`corridor init`, `corridor notarize` and `corridor audit ...`: the audit log's commands.

The operator runs `init` once (log key and origin), then `audit checkpoint` to sign the log
as it grows; participants run `audit witness` to cosign consistent checkpoints; anyone gets
a receipt with `audit prove` (or `notarize` for a document) and checks it offline with
`audit verify-receipt`; auditors run `audit verify` to recompute the log from the tables.

Failures raise `corridor.audit.errors.AuditError`, which `corridor.cli.main` prints as
``error[code]: message`` with exit status 2. `audit verify` exits 1 when it finds a
discrepancy (like `corridor ledger verify`), naming the first one.

This module sits in the interface layer: it may import the ledger (to notarize) as well as
the audit layer below it. It defines its own small `--db` check instead of importing
`corridor.cli`, which imports this module.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from corridor.audit.errors import AuditError, WitnessError
from corridor.audit.keys import (
    parse_log_vkey,
    parse_witness_vkey,
    read_witness_key,
    write_key_file,
)
from corridor.audit.log import (
    accept_cosignatures,
    checkpoint_log,
    init_log,
    load_log_signer,
    prove_index,
    prove_transfer,
    sha256_file,
)
from corridor.audit.note import generate_cosigner, is_valid_name
from corridor.audit.receipt import Receipt, verify_receipt
from corridor.audit.registry import AuditStore, WitnessRecord, now
from corridor.audit.verify import AuditReport, verify_log
from corridor.audit.witness import read_state, witness_checkpoint, write_state
from corridor.store import describe_target, is_postgres_url

__all__ = ["audit_app", "init_command", "notarize_command"]

DEFAULT_DB: Final = "./corridor.db"
EXIT_PROBLEMS: Final = 1
MAX_INPUT_BYTES: Final = 1 << 20

audit_app = typer.Typer(
    help="The audit log: checkpoints, witnesses, receipts, verification.",
    no_args_is_help=True,
)
witnesses_app = typer.Typer(
    help="The witnesses whose cosignatures count, and the quorum.", no_args_is_help=True
)
audit_app.add_typer(witnesses_app, name="witnesses")

console = Console(soft_wrap=True, highlight=False)

DbOption = Annotated[
    str, typer.Option("--db", help="Database file (default ./corridor.db).", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file", help="The log's signing key file (default: as recorded by init, <db>.key)."
    ),
]


def _db_path(db: str, *, must_exist: bool = True) -> Path:
    if "://" in db:
        raise AuditError(
            "unsupported_database",
            f"--db {describe_target(db)}: the audit log's key, checkpoints, witnesses and "
            "receipts are kept in a SQLite file only (docs/SCALING.md)",
        )
    path = Path(db)
    if path.is_dir():
        raise AuditError("invalid_database", f"{path} is a directory, not a database file")
    if must_exist and not path.is_file():
        raise AuditError("database_not_found", f"{path}: no such database file")
    return path


def _read_input(path: Path, what: str) -> bytes:
    """A small input file (receipt, note, key), or stdin for '-'."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with path.open("rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise AuditError("file_not_found", f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise AuditError("file_not_found", f"{what} {path} is a directory") from None
    except OSError as error:
        raise AuditError("file_not_found", f"cannot read {what} {path}: {error}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise AuditError("input_too_large", f"{what} {path} is larger than 1 MiB")
    return data


def _key_argument(value: str) -> str:
    """A verifier key given inline, or the path of a file holding one."""
    if "+" not in value:
        path = Path(value)
        if path.is_file():
            return _read_input(path, "key file").decode("utf-8", "replace").strip()
    return value.strip()


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _witnessed(store: AuditStore, size: int) -> dict[str, object]:
    names, quorum = store.witnessing(size)
    known = len(store.witnesses())
    return {
        "witnessed": known > 0 and len(names) >= quorum,
        "cosigners": names,
        "quorum": quorum,
        "witnesses": known,
    }


# -- init and notarize (top-level commands) -------------------------------------------------


def init_command(
    db: DbOption = DEFAULT_DB,
    origin: Annotated[
        str | None,
        typer.Option(help="The log's origin line (default corridor.local/<db file stem>)."),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Where to create the key (default <db>.key).")
    ] = None,
    reuse_key: Annotated[
        bool, typer.Option("--reuse-key", help="Adopt an existing --key-file instead of refusing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create the audit log's signing key (mode 0600) and print its verifier key.

    With a ``postgresql://`` URL: apply the ledger's schema migrations (the audit log's key
    and checkpoints are kept in SQLite only).
    """
    if is_postgres_url(db):
        audit_options = origin is not None or key_file is not None or reuse_key
        _init_postgres(db, audit_options=audit_options, as_json=as_json)
        return
    path = _db_path(db, must_exist=False)
    result = init_log(path, origin=origin, key_file=key_file, reuse_key=reuse_key)
    if as_json:
        _print_json(
            {
                "origin": result.origin,
                "vkey": result.vkey,
                "key_file": str(result.key_file),
                "created": result.created,
            }
        )
    else:
        state = "initialized" if result.created else "already initialized"
        console.print(f"{escape(str(path))}: audit log {state}, origin {escape(result.origin)}")
        console.print(f"key file: {escape(str(result.key_file))}")
        console.print("verifier key (give it to witnesses and auditors):")
        print(result.vkey)
    if result.key_file_missing:
        sys.stderr.write(
            f"warning: the key file {result.key_file} is missing; checkpoints cannot be signed\n"
        )


def _init_postgres(db: str, *, audit_options: bool, as_json: bool) -> None:
    """`init` on PostgreSQL: bring the ledger's schema up to date (versioned migrations)."""
    if audit_options:
        raise AuditError(
            "unsupported_database",
            "--origin, --key-file and --reuse-key set up the audit log, which is kept in a "
            "SQLite file only (docs/SCALING.md)",
        )
    from corridor.store.postgres import migrate

    report = migrate(db)
    if as_json:
        _print_json(
            {
                "database": report.location,
                "schema": report.schema,
                "schema_version": report.version,
                "migrations_applied": list(report.applied),
            }
        )
    else:
        applied = ", ".join(str(version) for version in report.applied) or "none"
        console.print(
            f"{escape(report.location)} (schema {escape(report.schema)}): ledger schema at "
            f"version {report.version}; migrations applied now: {applied}"
        )
    sys.stderr.write(
        "note: on PostgreSQL, init sets up the ledger's tables only; the audit log's key, "
        "checkpoints and receipts need a SQLite ledger for now (docs/SCALING.md)\n"
    )


def notarize_command(
    file: Annotated[Path, typer.Argument(help="The document to notarize.", show_default=False)],
    db: DbOption = DEFAULT_DB,
    out: Annotated[
        Path | None, typer.Option("--out", help="Receipt file (default FILE.receipt.json).")
    ] = None,
    key_file: KeyFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put a file's SHA-256 into the log, sign a checkpoint and write the owner's receipt.

    Opens the ledger for writing: do not run it while another process writes to the db.
    """
    from corridor.ledger import Ledger

    path = _db_path(db)
    receipt_path = out if out is not None else file.with_name(file.name + ".receipt.json")
    if receipt_path.exists():
        raise AuditError("file_exists", f"{receipt_path} already exists; choose another with --out")
    digest = sha256_file(file)
    with AuditStore.open(path) as store:
        load_log_signer(store, key_file)  # fail before the log grows
    with Ledger.open(path) as ledger:
        (index,) = ledger.notarize([digest])
    checkpoint = checkpoint_log(path, key_file=key_file).record
    with AuditStore.open(path) as store:
        receipt = prove_index(store, index, what=f"document {digest.hex()}")
    try:
        with receipt_path.open("x", encoding="utf-8") as handle:
            handle.write(receipt.dumps())
    except OSError as error:
        raise AuditError("file_exists", f"cannot write {receipt_path}: {error}") from None
    if as_json:
        _print_json(
            {
                "sha256": digest.hex(),
                "leaf_index": index,
                "tree_size": checkpoint.size,
                "receipt": str(receipt_path),
            }
        )
    else:
        console.print(
            f"notarized {escape(str(file))} (sha256 {digest.hex()}) at log index {index}; "
            f"checkpoint of size {checkpoint.size}; receipt: {escape(str(receipt_path))}"
        )


# -- audit checkpoint / status / verify -----------------------------------------------------


@audit_app.command("checkpoint")
def checkpoint_command(
    db: DbOption = DEFAULT_DB, key_file: KeyFileOption = None, as_json: JsonOption = False
) -> None:
    """Sign a checkpoint of the durable log at its current size (once per size)."""
    path = _db_path(db)
    result = checkpoint_log(path, key_file=key_file)
    record = result.record
    if as_json:
        with AuditStore.open(path) as store:
            status = _witnessed(store, record.size)
        _print_json(
            {
                "size": record.size,
                "root": _b64(record.root),
                "new": result.new,
                "created": record.created,
                "note": record.note,
                **status,
            }
        )
    else:
        verb = "signed" if result.new else "already signed"
        console.print(f"checkpoint of size {record.size} {verb}:")
        print(record.note, end="")


@audit_app.command("status")
def status_command(db: DbOption = DEFAULT_DB, as_json: JsonOption = False) -> None:
    """The log's identity, size, latest checkpoint, witnesses and quorum."""
    path = _db_path(db)
    with AuditStore.open(path) as store, store.snapshot():
        info = store.log_info()
        latest = store.latest_checkpoint()
        witnesses = store.witnesses()
        data: dict[str, object] = {
            "origin": info.origin if info else None,
            "vkey": info.vkey if info else None,
            "key_file": info.key_file if info else None,
            "log_size": store.log_size(),
            "checkpoints": len(store.checkpoints()),
            "latest_checkpoint": None
            if latest is None
            else {
                "size": latest.size,
                "root": _b64(latest.root),
                "created": latest.created,
                **_witnessed(store, latest.size),
            },
            "witnesses": [{"name": w.name, "vkey": w.vkey} for w in witnesses],
            "quorum": store.quorum(),
        }
    if as_json:
        _print_json(data)
        return
    if info is None:
        console.print(f"{escape(str(path))}: no audit log key yet (run `corridor init`)")
    else:
        console.print(f"origin {escape(info.origin)}; verifier key:")
        print(info.vkey)
    console.print(f"log size {data['log_size']}, {data['checkpoints']} checkpoints")
    if latest is not None:
        status = _witnessed_text(data["latest_checkpoint"])  # type: ignore[arg-type]
        console.print(f"latest checkpoint: size {latest.size}, {status}")
    console.print(f"witnesses: {len(witnesses)}, quorum {data['quorum']}")
    for w in witnesses:
        print(f"  {w.vkey}")


def _witnessed_text(status: dict[str, object]) -> str:
    cosigners = status["cosigners"]
    assert isinstance(cosigners, list)
    names = ", ".join(cosigners) or "no cosignatures"
    word = "witnessed" if status["witnessed"] else "not witnessed"
    return f"{word} ({len(cosigners)}/{status['quorum']}: {escape(names)})"


@audit_app.command("verify")
def verify_command(
    db: DbOption = DEFAULT_DB,
    key: Annotated[
        str | None,
        typer.Option("--key", help="Pin the log's verifier key (string or file) instead of meta."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the log from the tables and check every checkpoint; exit 1 on a problem.

    Names the first discrepancy: a leaf and its row, a stored tree row, or a checkpoint.
    """
    path = _db_path(db)
    vkey = _key_argument(key) if key is not None else None
    if as_json or not sys.stderr.isatty():
        report = verify_log(path, vkey=vkey)
    else:
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("recomputing the log", total=None)
            report = verify_log(
                path,
                vkey=vkey,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    if as_json:
        _print_json(report.to_json())
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEMS)


def _print_report(report: AuditReport) -> None:
    console.print(
        f"[bold]{escape(report.path)}[/]: {report.leaves} leaves ({report.transfers} transfers,"
        f" {report.expiries} expiries, {report.documents} documents), {report.tree_rows} tree"
        f" rows, {report.checkpoints} checkpoints, {report.cosignatures} cosignatures in"
        f" {report.seconds} s"
    )
    for note in report.notes:
        console.print(f"note: {escape(note)}")
    if report.problem is None:
        console.print("[green]ok[/]")
    else:
        problem = report.problem
        console.print(f"[red]FAILED[/] {escape(f'[{problem.code}] {problem.message}')}")


# -- receipts ------------------------------------------------------------------------------


def _transfer_id(value: str) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise AuditError(
            "bad_transfer_id", f"{value!r} is not a transfer id (decimal, or hex with 0x)"
        ) from None
    if not 0 <= number < 1 << 128:
        raise AuditError("bad_transfer_id", f"{value!r} is not a 128-bit unsigned id")
    return number


@audit_app.command("prove")
def prove_command(
    transfer_id: Annotated[
        str | None,
        typer.Argument(help="Transfer id (decimal or 0x hex).", show_default=False),
    ] = None,
    db: DbOption = DEFAULT_DB,
    index: Annotated[
        int | None, typer.Option("--index", help="Prove the leaf at this log index instead.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the receipt here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A receipt for a transfer: leaf, inclusion proof and the signed checkpoint."""
    path = _db_path(db)
    if (transfer_id is None) == (index is None):
        raise AuditError("bad_arguments", "give a TRANSFER_ID or --index N (one of them)")
    with AuditStore.open(path) as store:
        if transfer_id is not None:
            receipt = prove_transfer(store, _transfer_id(transfer_id))
        else:
            assert index is not None
            receipt = prove_index(store, index)
    if out is not None:
        try:
            out.write_text(receipt.dumps(), encoding="utf-8")
        except OSError as error:
            raise AuditError("file_not_writable", f"cannot write {out}: {error}") from None
    if as_json:
        print(receipt.dumps(), end="")
    elif out is None:
        console.print(
            f"leaf {receipt.leaf_index} is in the checkpoint of size {receipt.tree_size}; "
            "use --json or --out FILE for the receipt"
        )
    else:
        console.print(f"receipt for leaf {receipt.leaf_index} written to {escape(str(out))}")


@audit_app.command("verify-receipt")
def verify_receipt_command(
    receipt_file: Annotated[
        Path, typer.Argument(help="Receipt JSON ('-' for stdin).", show_default=False)
    ],
    key: Annotated[
        str,
        typer.Option("--key", help="The log's verifier key (string or file).", show_default=False),
    ],
    file: Annotated[
        Path | None, typer.Option("--file", help="Check the document has the notarized digest.")
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option("--witness", help="A witness verifier key whose cosignature counts."),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(help="Cosignatures of --witness keys required (default: all of them)."),
    ] = None,
    origin: Annotated[str | None, typer.Option(help="Require this log origin.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a receipt offline with the log's public key; print the decoded leaf."""
    verifier = parse_log_vkey(_key_argument(key))
    witnesses = [parse_witness_vkey(_key_argument(w)) for w in witness or []]
    need = len(witnesses) if quorum is None else quorum
    if need < 0 or need > len(witnesses):
        raise AuditError("bad_quorum", f"--quorum {need} needs at least {need} --witness keys")
    receipt = Receipt.loads(_read_input(receipt_file, "receipt"))
    digest = sha256_file(file) if file is not None else None
    verified = verify_receipt(
        receipt,
        verifier,
        origin=origin,
        document_sha256=digest,
        witnesses=witnesses,
        quorum=need,
    )
    fields = dict(verified.leaf.fields)
    if as_json:
        _print_json(
            {
                "ok": True,
                "origin": verified.checkpoint.origin,
                "tree_size": verified.checkpoint.size,
                "root": _b64(verified.checkpoint.root),
                "leaf_index": verified.leaf_index,
                "kind": verified.leaf.kind,
                "leaf": fields,
                "cosigners": [c.name for c in verified.cosignatures],
            }
        )
        return
    shown = ", ".join(
        f"{name}={hex(value) if _is_id(name) and isinstance(value, int) else value}"
        for name, value in fields.items()
    )
    console.print(
        f"[green]ok[/]: {verified.leaf.kind} at log index {verified.leaf_index} of "
        f"{escape(verified.checkpoint.origin)}, checkpoint of size {verified.checkpoint.size}"
    )
    console.print(f"  {escape(shown)}")
    if file is not None:
        console.print(f"  {escape(str(file))} matches the notarized digest")
    if witnesses:
        names = ", ".join(c.name for c in verified.cosignatures)
        console.print(f"  witnessed by {len(verified.cosignatures)}: {escape(names)}")


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith("_id") or name == "user_data_128"


# -- witnesses ------------------------------------------------------------------------------


@audit_app.command("witness-key")
def witness_key_command(
    name: Annotated[str, typer.Argument(help="The witness's key name.", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Signing key file to create (default ./NAME.witness.key)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Generate a witness key pair: signing key file (0600) and printed verifier key."""
    if not is_valid_name(name):
        raise AuditError("bad_name", f"invalid witness name {name!r}: no spaces and no '+'")
    if out is None:
        if "/" in name or name.startswith("."):
            raise AuditError("bad_arguments", f"give --out for a name like {name!r}")
        out = Path(f"{name}.witness.key")
    secret, vkey = generate_cosigner(name)
    write_key_file(out, secret)
    if as_json:
        _print_json({"name": name, "vkey": vkey, "key_file": str(out)})
    else:
        console.print(f"witness key written to {escape(str(out))}; verifier key:")
        print(vkey)


@audit_app.command("witness")
def witness_command(
    state: Annotated[
        Path, typer.Option("--state", help="This witness's state file (JSON).", show_default=False)
    ],
    key: Annotated[
        Path,
        typer.Option("--key", help="This witness's signing key file.", show_default=False),
    ],
    db: DbOption = DEFAULT_DB,
    log_key: Annotated[
        str | None,
        typer.Option("--log-key", help="The log's verifier key to trust (needed on first use)."),
    ] = None,
    checkpoint_file: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Witness this signed checkpoint note, not the db's."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the operator's latest checkpoint extends the last one seen; cosign and submit.

    The checkpoint and the consistency proof come from the operator's database (--db); the
    cosignature is stored there for the operator.
    """
    path = _db_path(db)
    cosigner = read_witness_key(key)
    seen = read_state(state)
    with AuditStore.open(path) as store:
        if checkpoint_file is not None:
            note = _read_input(checkpoint_file, "checkpoint").decode("utf-8", "replace")
        else:
            latest = store.latest_checkpoint()
            if latest is None:
                raise AuditError(
                    "not_checkpointed",
                    f"{path} has no checkpoint yet: run `corridor audit checkpoint`",
                )
            note = latest.note

        def consistency(size1: int, size2: int) -> list[bytes]:
            with store.snapshot():
                size = store.log_size()
                if size2 > size:
                    raise WitnessError(
                        "bad_proof",
                        f"the operator's log has {size} leaves and cannot prove size {size2}",
                    )
                try:
                    return store.tile_reader(size).consistency_proof(size1, size2)
                except (LookupError, ValueError) as error:
                    raise WitnessError(
                        "bad_proof", f"the operator cannot give a proof: {error}"
                    ) from None

        result = witness_checkpoint(
            seen, note, consistency, cosigner, log_vkey=_key_argument(log_key) if log_key else None
        )
    write_state(state, result.state)
    with AuditStore.open(path, writable=True) as store:
        accept_cosignatures(store, result.cosigned_note)
        status = _witnessed(store, result.checkpoint.size)
    if as_json:
        _print_json(
            {
                "size": result.checkpoint.size,
                "root": _b64(result.checkpoint.root),
                "previous_size": result.previous_size,
                "cosignature": result.cosignature.line(),
                **status,
            }
        )
        return
    previous = (
        "first checkpoint seen (trusted on first use)"
        if result.previous_size is None
        else f"consistent with size {result.previous_size}"
    )
    console.print(f"cosigned checkpoint of size {result.checkpoint.size}: {previous}")
    print(result.cosignature.line(), end="")
    console.print(_witnessed_text(status))


@witnesses_app.command("add")
def witnesses_add(
    name: Annotated[str, typer.Argument(help="The witness's key name.", show_default=False)],
    vkey: Annotated[str, typer.Argument(help="Its verifier key.", show_default=False)],
    db: DbOption = DEFAULT_DB,
    quorum: Annotated[int | None, typer.Option(help="Set the quorum too.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a witness (name and cosignature verifier key)."""
    verifier = parse_witness_vkey(_key_argument(vkey))
    if verifier.name != name:
        raise AuditError("bad_key", f"the verifier key is named {verifier.name!r}, not {name!r}")
    with AuditStore.open(_db_path(db), writable=True) as store:
        record = WitnessRecord(name, verifier.verifier_key(), now())
        witnesses, new_quorum = store.update_witnesses(add=record, quorum=quorum)
    _print_witnesses(witnesses, new_quorum, as_json)


@witnesses_app.command("remove")
def witnesses_remove(
    name: Annotated[str, typer.Argument(help="The witness's key name.", show_default=False)],
    db: DbOption = DEFAULT_DB,
    quorum: Annotated[int | None, typer.Option(help="Set the quorum too.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Forget a witness; its cosignatures stop counting."""
    with AuditStore.open(_db_path(db), writable=True) as store:
        witnesses, new_quorum = store.update_witnesses(remove=name, quorum=quorum)
    _print_witnesses(witnesses, new_quorum, as_json)


@witnesses_app.command("quorum")
def witnesses_quorum(
    count: Annotated[int, typer.Argument(help="Cosignatures required.", show_default=False)],
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Set how many known witnesses must cosign for a checkpoint to be witnessed."""
    with AuditStore.open(_db_path(db), writable=True) as store:
        witnesses, new_quorum = store.update_witnesses(quorum=count)
    _print_witnesses(witnesses, new_quorum, as_json)


@witnesses_app.command("list")
def witnesses_list(db: DbOption = DEFAULT_DB, as_json: JsonOption = False) -> None:
    """The known witnesses and the quorum."""
    with AuditStore.open(_db_path(db)) as store:
        _print_witnesses(store.witnesses(), store.quorum(), as_json)


def _print_witnesses(witnesses: list[WitnessRecord], quorum: int, as_json: bool) -> None:
    if as_json:
        _print_json(
            {"quorum": quorum, "witnesses": [{"name": w.name, "vkey": w.vkey} for w in witnesses]}
        )
        return
    console.print(f"{len(witnesses)} witnesses, quorum {quorum}")
    for w in witnesses:
        print(f"  {w.vkey}")
