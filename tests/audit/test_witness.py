"""Witnesses cosign only consistent extensions; the operator counts a quorum of them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from corridor.audit.checkpoint import Checkpoint, sign_checkpoint
from corridor.audit.errors import AuditError, WitnessError
from corridor.audit.keys import read_log_key
from corridor.audit.log import accept_cosignatures, checkpoint_log, init_log
from corridor.audit.note import generate_cosigner, load_cosigner
from corridor.audit.registry import AuditStore, CheckpointRecord, WitnessRecord
from corridor.audit.verify import verify_log
from corridor.audit.witness import (
    WitnessResult,
    WitnessState,
    read_state,
    witness_checkpoint,
    write_state,
)
from corridor.ledger import Ledger
from tests.audit.test_log_build import Built, build_ledger, built, template

__all__ = ["built", "template"]

NOW = 1_750_000_000


def grow(db: Path, count: int = 3) -> CheckpointRecord:
    """Append `count` documents and sign a checkpoint covering them."""
    with Ledger.open(db) as ledger:
        ledger.notarize([bytes([k + 1]) * 32 for k in range(count)])
    return checkpoint_log(db).record


def proof_from(db: Path) -> object:
    def fetch(size1: int, size2: int) -> list[bytes]:
        with AuditStore.open(db) as store, store.snapshot():
            return store.tile_reader().consistency_proof(size1, size2)

    return fetch


def latest(db: Path) -> CheckpointRecord:
    with AuditStore.open(db) as store:
        record = store.latest_checkpoint()
    assert record is not None
    return record


def witness(
    state: WitnessState | None,
    db: Path,
    note: str | None = None,
    *,
    name: str = "w1",
    vkey: str | None = None,
) -> WitnessResult:
    cosigner = load_cosigner(generate_cosigner(name)[0], clock=lambda: NOW)
    return witness_checkpoint(
        state,
        note if note is not None else latest(db).note,
        proof_from(db),  # type: ignore[arg-type]
        cosigner,
        log_vkey=vkey,
    )


def refused(code: str, state: WitnessState, db: Path, note: str | None = None) -> str:
    with pytest.raises(WitnessError) as error:
        witness(state, db, note)
    assert error.value.code == code, error.value
    return str(error.value)


# -- the witness's checks ------------------------------------------------------------------


def test_first_use_needs_the_log_key_and_trusts_the_checkpoint(built: Built) -> None:
    with pytest.raises(WitnessError) as error:
        witness(None, built.db)
    assert error.value.code == "no_log_key"
    first = witness(None, built.db, vkey=built.vkey)
    assert first.previous_size is None
    assert (first.state.size, first.state.origin) == (built.size, built.origin)
    assert first.cosignature.name == "w1"
    assert first.cosigned_note.startswith(latest(built.db).note)


def test_a_valid_extension_is_cosigned(built: Built) -> None:
    state = witness(None, built.db, vkey=built.vkey).state
    grown = grow(built.db)
    result = witness(state, built.db)
    assert result.previous_size == built.size
    assert (result.state.size, result.state.root) == (grown.size, grown.root)
    again = witness(result.state, built.db).state  # the same checkpoint again
    assert (again.size, again.root) == (grown.size, grown.root)


def test_a_rollback_is_refused(built: Built) -> None:
    old = latest(built.db).note
    grow(built.db)
    state = witness(None, built.db, vkey=built.vkey).state
    message = refused("rollback", state, built.db, old)
    assert f"size {built.size} is older" in message


def test_a_forged_checkpoint_is_refused(built: Built, tmp_path: Path) -> None:
    state = witness(None, built.db, vkey=built.vkey).state
    other = init_log(tmp_path / "other.db", origin=built.origin)
    forged = sign_checkpoint(
        Checkpoint(built.origin, built.size + 1, bytes(32)), read_log_key(other.key_file)
    )
    assert "not signed by the log key" in refused("bad_signature", state, built.db, forged)
    tampered = latest(built.db).note.replace(f"\n{built.size}\n", f"\n{built.size + 1}\n")
    refused("bad_signature", state, built.db, tampered)
    refused("malformed_checkpoint", state, built.db, "garbage")


def test_another_origin_is_refused(built: Built) -> None:
    state = witness(None, built.db, vkey=built.vkey).state
    signer = read_log_key(built.key_file)
    elsewhere = sign_checkpoint(Checkpoint("elsewhere.example/log", built.size, bytes(32)), signer)
    refused("origin_mismatch", state, built.db, elsewhere)


def test_a_different_root_at_the_same_size_is_a_fork(built: Built) -> None:
    state = witness(None, built.db, vkey=built.vkey).state
    signer = read_log_key(built.key_file)
    split = sign_checkpoint(Checkpoint(built.origin, built.size, bytes(32)), signer)
    assert "the log forked" in refused("fork", state, built.db, split)


def test_a_second_history_under_the_same_key_is_a_fork(built: Built, tmp_path: Path) -> None:
    state = witness(None, built.db, vkey=built.vkey).state
    twin = tmp_path / "twin" / "ledger.db"
    twin.parent.mkdir()
    build_ledger(twin, transfers=31)  # one more transfer: a different history
    init_log(twin, origin=built.origin, key_file=built.key_file, reuse_key=True)
    assert checkpoint_log(twin).record.size == built.size + 1
    message = refused("fork", state, twin)
    assert f"does not extend the checkpoint of size {built.size}" in message


def test_a_proof_of_the_wrong_shape_is_refused(built: Built) -> None:
    state = witness(None, built.db, vkey=built.vkey).state
    grow(built.db)
    cosigner = load_cosigner(generate_cosigner("w1")[0])
    for proof in ([], [bytes(32)] * 40, [b"short"] * 3):
        with pytest.raises(WitnessError) as error:
            witness_checkpoint(state, latest(built.db).note, proof, cosigner)
        assert error.value.code == "bad_proof"
    good = proof_from(built.db)(state.size, state.size + 3)  # type: ignore[operator]
    with pytest.raises(WitnessError) as error:
        witness_checkpoint(state, latest(built.db).note, [bytes(32)] * len(good), cosigner)
    assert error.value.code == "fork"


def test_the_log_key_cannot_change_under_a_witness(built: Built, tmp_path: Path) -> None:
    state = witness(None, built.db, vkey=built.vkey).state
    other = init_log(tmp_path / "other.db")
    with pytest.raises(WitnessError) as error:
        witness(state, built.db, vkey=other.vkey)
    assert error.value.code == "key_mismatch"


# -- the state file ------------------------------------------------------------------------


def test_state_round_trips_and_is_replaced_atomically(built: Built, tmp_path: Path) -> None:
    path = tmp_path / "w1.state.json"
    assert read_state(path) is None
    state = witness(None, built.db, vkey=built.vkey).state
    write_state(path, state)
    write_state(path, state)
    assert read_state(path) == state
    assert sorted(p.name for p in tmp_path.iterdir() if "state" in p.name) == ["w1.state.json"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(size=d["size"] - 1),
        lambda d: d.update(root="AAAA"),
        lambda d: d.update(checkpoint=d["checkpoint"].replace("\n36\n", "\n35\n")),
        lambda d: d.update(format="other/v9"),
        lambda d: d.pop("log_vkey"),
        lambda d: d.update(log_vkey="nope"),
    ],
)
def test_a_damaged_state_is_refused(built: Built, tmp_path: Path, edit: object) -> None:
    path = tmp_path / "state.json"
    write_state(path, witness(None, built.db, vkey=built.vkey).state)
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(WitnessError) as error:
        read_state(path)
    assert error.value.code == "bad_state"


def test_a_state_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{")
    with pytest.raises(WitnessError) as error:
        read_state(path)
    assert error.value.code == "bad_state"


# -- the operator's side: registry, cosignatures, quorum -----------------------------------


def register(db: Path, name: str, quorum: int | None = None) -> tuple[str, str]:
    skey, vkey = generate_cosigner(name)
    with AuditStore.open(db, writable=True) as store:
        store.update_witnesses(add=WitnessRecord(name, vkey, 0), quorum=quorum)
    return skey, vkey


def cosign(db: Path, skey: str) -> WitnessResult:
    result = witness_checkpoint(
        None, latest(db).note, [], load_cosigner(skey, clock=lambda: NOW),
        log_vkey=_vkey(db),
    )  # fmt: skip
    with AuditStore.open(db, writable=True) as store:
        accept_cosignatures(store, result.cosigned_note)
    return result


def _vkey(db: Path) -> str:
    with AuditStore.open(db) as store:
        return store.require_log_info().vkey


def witnessed(db: Path, size: int) -> tuple[list[str], int]:
    with AuditStore.open(db) as store:
        return store.witnessing(size)


def test_a_quorum_of_known_witnesses_makes_a_checkpoint_witnessed(built: Built) -> None:
    w1, _ = register(built.db, "w1")
    w2, _ = register(built.db, "w2", quorum=2)
    cosign(built.db, w1)
    assert witnessed(built.db, built.size) == (["w1"], 2)
    cosign(built.db, w2)
    assert witnessed(built.db, built.size) == (["w1", "w2"], 2)
    with AuditStore.open(built.db, writable=True) as store:
        store.update_witnesses(remove="w2", quorum=1)
        (cosignature,) = [c for c in store.cosignatures() if c.witness == "w1"]
    assert cosignature.timestamp == NOW and cosignature.signature.startswith("— w1 ")
    assert witnessed(built.db, built.size) == (["w1"], 1)
    assert verify_log(built.db).ok


def test_cosignatures_of_unknown_witnesses_are_not_stored(built: Built) -> None:
    skey, _ = generate_cosigner("stranger")
    with pytest.raises(AuditError) as error:
        cosign(built.db, skey)
    assert error.value.code == "unknown_witness"
    register(built.db, "w1")
    impostor, _ = generate_cosigner("w1")  # same name, another key
    with pytest.raises(AuditError) as error:
        cosign(built.db, impostor)
    assert error.value.code == "unknown_witness"


def test_only_checkpoints_the_log_signed_take_cosignatures(built: Built) -> None:
    skey, _ = register(built.db, "w1")
    signer = read_log_key(built.key_file)
    unsigned = sign_checkpoint(Checkpoint(built.origin, built.size + 9, bytes(32)), signer)
    result = witness_checkpoint(None, unsigned, [], load_cosigner(skey), log_vkey=built.vkey)
    with AuditStore.open(built.db, writable=True) as store, pytest.raises(AuditError) as error:
        accept_cosignatures(store, result.cosigned_note)
    assert error.value.code == "unknown_checkpoint"


def test_witness_registry_keeps_the_quorum_sane(built: Built) -> None:
    def update(**kw: object) -> str:
        with AuditStore.open(built.db, writable=True) as store, pytest.raises(AuditError) as e:
            store.update_witnesses(**kw)  # type: ignore[arg-type]
        return e.value.code

    _, vkey = register(built.db, "w1")
    assert update(quorum=2) == "bad_quorum"
    assert update(quorum=0) == "bad_quorum"
    assert update(add=WitnessRecord("w1", generate_cosigner("w1")[1], 0)) == "witness_exists"
    assert update(remove="nobody") == "unknown_witness"
    with AuditStore.open(built.db, writable=True) as store:  # same key again: a no-op
        assert len(store.update_witnesses(add=WitnessRecord("w1", vkey, 0))[0]) == 1
    register(built.db, "w2", quorum=2)
    assert update(remove="w2") == "bad_quorum"
    with AuditStore.open(built.db) as store:
        assert [w.name for w in store.witnesses()] == ["w1", "w2"] and store.quorum() == 2


def test_verify_checks_every_stored_cosignature(built: Built) -> None:
    skey, _ = register(built.db, "w1")
    cosign(built.db, skey)
    assert verify_log(built.db).ok
    with sqlite3.connect(built.db) as c:
        c.execute("UPDATE cosignatures SET timestamp = timestamp + 1")
    c.close()
    report = verify_log(built.db)
    assert report.problem is not None and report.problem.code == "cosignature_invalid"
    assert "cosignature of w1 on the checkpoint of size 36" in report.problem.message
    with sqlite3.connect(built.db) as c:
        c.execute("UPDATE cosignatures SET timestamp = timestamp - 1")
        c.execute("UPDATE cosignatures SET signature = replace(signature, 'A', 'B')")
    c.close()
    report = verify_log(built.db)
    assert report.problem is not None and report.problem.code == "cosignature_invalid"
