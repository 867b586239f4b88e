"""Tests of checkpoint bodies, log signatures and witness cosignatures on checkpoints."""

from __future__ import annotations

import base64

import pytest

from corridor.audit.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    Cosignature,
    MalformedCheckpointError,
    OriginMismatchError,
    cosign_checkpoint,
    open_checkpoint,
    open_cosigned_checkpoint,
    sign_checkpoint,
)
from corridor.audit.note import (
    CosignatureSigner,
    Ed25519Signer,
    InvalidSignatureError,
    InvalidTimestampError,
    UnverifiedNoteError,
    load_cosignature_verifier,
    load_verifier,
    open_note,
    sign_note,
)

EM = "\u2014"

# The example of c2sp.org/tlog-checkpoint.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")

# A checkpoint of the public CT log arche2025h1.staging.ct.transparency.dev with its log
# signature (type 0x01), an RFC 6962 signature (type 0x05, unknown here) and the Ed25519
# cosignatures (type 0x04) of four public witnesses, verified against their published keys.
REAL_LOG_VKEY = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
REAL_WITNESS_VKEYS = (
    "transparency.dev/DEV:witness-little-garden+d8042a87+"
    "BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
    "witness1.smartit.nu/witness1+a48c820f+BPSFWg9G6KPiO7QPryYO5Xq4oYJJ+kAvLKLSimDhoxMO",
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv",
)
REAL_NOTE = f"""arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

{EM} arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
{EM} arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
{EM} transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
{EM} witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
{EM} remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
{EM} witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
"""  # noqa: E501 - signature lines are published data
REAL_TIMESTAMP = 0x6A122120

ROOT = bytes(range(32))


def _log() -> Ed25519Signer:
    return Ed25519Signer("corridor.example/log", bytes([7]) * 32)


def _witness(timestamp: int = 1_700_000_000, seed: int = 9) -> CosignatureSigner:
    return CosignatureSigner(
        f"witness.example/w{seed}", bytes([seed]) * 32, clock=lambda: timestamp
    )


def _checkpoint(size: int = 5) -> Checkpoint:
    return Checkpoint("corridor.example/log", size, ROOT)


# --- body -------------------------------------------------------------------------------------


def test_spec_example_parses() -> None:
    assert Checkpoint.parse(SPEC_BODY) == Checkpoint(
        "example.com/behind-the-sofa", 20852163, SPEC_ROOT
    )


def test_spec_example_serialises_byte_for_byte() -> None:
    checkpoint = Checkpoint("example.com/behind-the-sofa", 20852163, SPEC_ROOT)
    assert checkpoint.to_body() == SPEC_BODY


def test_body_round_trips_with_extension_lines() -> None:
    checkpoint = Checkpoint("Moon Log", 4027504, ROOT, ("6086d1a9", "Waxing gibbous"))
    assert Checkpoint.parse(checkpoint.to_body()) == checkpoint


def test_empty_tree_has_size_zero() -> None:
    body = f"log\n0\n{base64.b64encode(ROOT).decode()}\n"
    assert Checkpoint.parse(body).size == 0


def test_largest_uint64_size_is_accepted() -> None:
    assert Checkpoint.parse(_checkpoint(MAX_TREE_SIZE).to_body()).size == MAX_TREE_SIZE


def _body(size: str = "5", root: str | None = None, rest: str = "") -> str:
    root_text = base64.b64encode(ROOT).decode() if root is None else root
    return f"corridor.example/log\n{size}\n{root_text}\n{rest}"


@pytest.mark.parametrize(
    "size",
    [
        pytest.param("05", id="leading-zero"),
        pytest.param("00", id="double-zero"),
        pytest.param("-1", id="negative"),
        pytest.param("+5", id="plus-sign"),
        pytest.param(" 5", id="leading-space"),
        pytest.param("5_0", id="underscore"),
        pytest.param("\uff15", id="fullwidth-digit"),
        pytest.param("0x5", id="hex"),
        pytest.param("", id="empty"),
        pytest.param(str(MAX_TREE_SIZE + 1), id="above-uint64"),
    ],
)
def test_size_that_is_not_canonical_uint64_decimal_is_rejected(size: str) -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse(_body(size=size))


def test_size_with_leading_zero_is_rejected() -> None:
    with pytest.raises(MalformedCheckpointError, match="leading zeroes"):
        Checkpoint.parse(_body(size="020852163"))


def test_negative_size_is_rejected() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse(_body(size="-34"))


def test_root_of_wrong_length_is_rejected() -> None:
    with pytest.raises(MalformedCheckpointError, match="16 bytes"):
        Checkpoint.parse(_body(root=base64.b64encode(bytes(16)).decode()))


def test_root_with_nonzero_padding_bits_is_rejected() -> None:
    # 'I' -> 'J' changes only the two unused low bits of the last character.
    root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J="
    assert base64.b64decode(root) == SPEC_ROOT
    with pytest.raises(MalformedCheckpointError, match="canonical"):
        Checkpoint.parse(_body(root=root))


@pytest.mark.parametrize(
    "root",
    [
        pytest.param("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I", id="missing-padding"),
        pytest.param("CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=", id="url-alphabet"),
        pytest.param("ThisIsn'tBase64", id="not-base64"),
        pytest.param(" CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", id="leading-space"),
    ],
)
def test_root_that_is_not_standard_base64_is_rejected(root: str) -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse(_body(root=root))


def test_body_without_trailing_newline_is_rejected() -> None:
    with pytest.raises(MalformedCheckpointError, match="newline"):
        Checkpoint.parse(SPEC_BODY[:-1])


def test_body_with_too_few_lines_is_rejected() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse("Head\n9944\n")


def test_empty_origin_is_rejected() -> None:
    with pytest.raises(MalformedCheckpointError, match="origin"):
        Checkpoint.parse("\n" + SPEC_BODY.split("\n", 1)[1])


def test_empty_extension_line_is_rejected() -> None:
    with pytest.raises(MalformedCheckpointError, match="extension"):
        Checkpoint.parse(_body(rest="\n"))


def test_constructor_rejects_root_of_wrong_length() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("log", 1, bytes(31))


def test_constructor_rejects_negative_size() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("log", -1, ROOT)


def test_constructor_rejects_origin_with_newline() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("log\n5", 1, ROOT)


def test_constructor_rejects_extension_with_newline() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("log", 1, ROOT, ("a\nb",))


# --- log signature ----------------------------------------------------------------------------


def test_signed_checkpoint_round_trips() -> None:
    log = _log()
    signed = sign_checkpoint(_checkpoint(), log)
    assert signed.startswith(_checkpoint().to_body() + "\n" + EM + " corridor.example/log ")
    assert open_checkpoint(signed, log.verifier()) == _checkpoint()


def test_real_checkpoint_opens_with_log_key() -> None:
    checkpoint = open_checkpoint(REAL_NOTE, load_verifier(REAL_LOG_VKEY))
    assert checkpoint.origin == "arche2025h1.staging.ct.transparency.dev"
    assert checkpoint.size == 1432088532


def test_real_checkpoint_with_changed_size_is_rejected() -> None:
    tampered = REAL_NOTE.replace("1432088532", "42", 1)
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(tampered, load_verifier(REAL_LOG_VKEY))


def test_checkpoint_signed_by_another_key_is_rejected() -> None:
    other = Ed25519Signer("corridor.example/log", bytes([8]) * 32)
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(sign_checkpoint(_checkpoint(), other), _log().verifier())


def test_checkpoint_signed_only_by_a_witness_is_rejected() -> None:
    witness = _witness()
    signed = sign_note(_checkpoint().to_body(), witness)
    with pytest.raises(UnverifiedNoteError):
        open_cosigned_checkpoint(signed, _log().verifier(), [witness.verifier()])


def test_checkpoint_from_unexpected_origin_is_rejected() -> None:
    signed = sign_checkpoint(_checkpoint(), _log())
    with pytest.raises(OriginMismatchError):
        open_checkpoint(signed, _log().verifier(), origin="corridor.example/other")


def test_signed_note_that_is_not_a_checkpoint_is_rejected() -> None:
    signed = sign_note("hello\nworld\n", _log())
    with pytest.raises(MalformedCheckpointError):
        open_checkpoint(signed, _log().verifier())


# --- cosignatures -----------------------------------------------------------------------------


def test_real_checkpoint_cosignatures_verify_with_published_witness_keys() -> None:
    witnesses = [load_cosignature_verifier(vkey) for vkey in REAL_WITNESS_VKEYS]
    _, cosignatures = open_cosigned_checkpoint(REAL_NOTE, load_verifier(REAL_LOG_VKEY), witnesses)
    assert [c.name for c in cosignatures] == [w.name for w in witnesses]
    assert {c.timestamp for c in cosignatures} == {REAL_TIMESTAMP}


def test_real_cosignature_with_changed_timestamp_is_rejected() -> None:
    line = next(x for x in REAL_NOTE.splitlines() if x.startswith(f"{EM} remora.n621.de "))
    b64 = line.split(" ")[2]
    raw = bytearray(base64.b64decode(b64))
    raw[11] ^= 0x01
    tampered = REAL_NOTE.replace(b64, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(InvalidSignatureError, match="remora"):
        open_cosigned_checkpoint(
            tampered,
            load_verifier(REAL_LOG_VKEY),
            [load_cosignature_verifier(REAL_WITNESS_VKEYS[2])],
        )


def test_cosigned_checkpoint_round_trips() -> None:
    log, witness = _log(), _witness()
    signed = cosign_checkpoint(sign_checkpoint(_checkpoint(), log), log.verifier(), witness)
    checkpoint, cosignatures = open_cosigned_checkpoint(
        signed, log.verifier(), [witness.verifier()]
    )
    assert checkpoint == _checkpoint()
    assert cosignatures == (Cosignature(witness.name, witness.key_hash, 1_700_000_000),)


def test_cosigning_keeps_log_signature_first() -> None:
    log, witness = _log(), _witness()
    logged = sign_checkpoint(_checkpoint(), log)
    cosigned = cosign_checkpoint(logged, log.verifier(), witness)
    assert cosigned.startswith(logged)


def test_cosigning_twice_replaces_the_witness_earlier_cosignature() -> None:
    log = _log()
    once = cosign_checkpoint(sign_checkpoint(_checkpoint(), log), log.verifier(), _witness(100))
    twice = cosign_checkpoint(once, log.verifier(), _witness(200))
    _, cosignatures = open_cosigned_checkpoint(twice, log.verifier(), [_witness().verifier()])
    assert [c.timestamp for c in cosignatures] == [200]
    assert twice.count(EM) == 2


def test_cosign_with_explicit_timestamp_overrides_clock() -> None:
    log, witness = _log(), _witness()
    signed = cosign_checkpoint(
        sign_checkpoint(_checkpoint(), log), log.verifier(), witness, timestamp=12345
    )
    _, cosignatures = open_cosigned_checkpoint(signed, log.verifier(), [witness.verifier()])
    assert cosignatures[0].timestamp == 12345


def test_cosign_rejects_timestamp_above_2_pow_63() -> None:
    log = _log()
    with pytest.raises(InvalidTimestampError):
        cosign_checkpoint(
            sign_checkpoint(_checkpoint(), log), log.verifier(), _witness(), timestamp=1 << 63
        )


def test_cosigned_checkpoint_with_tampered_timestamp_is_rejected() -> None:
    log, witness = _log(), _witness()
    signed = cosign_checkpoint(sign_checkpoint(_checkpoint(), log), log.verifier(), witness)
    sig = open_note(signed, [witness.verifier()]).sigs[0]
    raw = bytearray(base64.b64decode(sig.b64))
    raw[11] ^= 0x01
    tampered = signed.replace(sig.b64, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(InvalidSignatureError):
        open_cosigned_checkpoint(tampered, log.verifier(), [witness.verifier()])


def test_witness_refuses_to_cosign_checkpoint_without_valid_log_signature() -> None:
    log = _log()
    forged = sign_checkpoint(_checkpoint(), Ed25519Signer(log.name, bytes([8]) * 32))
    with pytest.raises(UnverifiedNoteError):
        cosign_checkpoint(forged, log.verifier(), _witness())


def test_checkpoint_without_known_witnesses_has_no_cosignatures() -> None:
    log = _log()
    signed = cosign_checkpoint(sign_checkpoint(_checkpoint(), log), log.verifier(), _witness())
    other = _witness(seed=10).verifier()
    assert open_cosigned_checkpoint(signed, log.verifier(), [other]) == (_checkpoint(), ())


def test_cosignatures_from_two_witnesses_are_both_reported() -> None:
    log, w1, w2 = _log(), _witness(seed=1), _witness(seed=2)
    signed = sign_checkpoint(_checkpoint(), log)
    signed = cosign_checkpoint(signed, log.verifier(), w1)
    signed = cosign_checkpoint(signed, log.verifier(), w2)
    _, cosignatures = open_cosigned_checkpoint(
        signed, log.verifier(), [w1.verifier(), w2.verifier()]
    )
    assert [c.name for c in cosignatures] == [w1.name, w2.name]
