"""Tests of signed notes and cosignatures against the Go reference package's vectors.

Vectors:
* PeterNeumann / EnochRoot keys, note and signatures: golang.org/x/mod sumdb/note
  (note.go package doc and note_test.go).
* example.com/foo: the example of c2sp.org/signed-note.
* sum.golang.org: the Go checksum database's published verifier key.
* TEST (type 0x01) and remora.n621.de (type 0x04) keys and the cosignature timestamp:
  transparency-dev/formats note/note_cosigv1_test.go.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from corridor.audit.note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    MAX_SIGNATURES,
    AmbiguousVerifierError,
    CosignatureSigner,
    Ed25519Signer,
    InvalidSignatureError,
    InvalidTimestampError,
    KeyHashMismatchError,
    MalformedKeyError,
    MalformedNoteError,
    MalformedSignatureError,
    Signature,
    TooManySignaturesError,
    UnknownAlgorithmError,
    UnverifiedNoteError,
    cosignature_message,
    cosignature_timestamp,
    encode_cosignature_verifier_key,
    encode_verifier_key,
    generate_cosigner,
    generate_signer,
    is_valid_name,
    key_hash,
    load_cosignature_verifier,
    load_cosigner,
    load_signer,
    load_verifier,
    open_note,
    sign_note,
)

EM = "\u2014"

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"{EM} PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"{EM} EnochRoot {ENOCH_B64}\n"
PETER = Signature("PeterNeumann", 0xC74F20A3, PETER_B64)
ENOCH = Signature("EnochRoot", 0xAF0CFE78, ENOCH_B64)

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    f"{EM} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXm"
    "RKuwHjG1Yu72IneyaQM=\n"
)
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
PLUS_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
COSIG_B64 = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFi"
    "EBYJXORmnFBOBA=="
)

CHECKPOINT_TEXT = "example.com/log\n42\n" + base64.b64encode(bytes(range(32))).decode() + "\n"


def _peter_note() -> str:
    return TEXT + "\n" + PETER_SIG


def _replace_b64(line_b64: str, raw: bytes) -> str:
    return _peter_note().replace(line_b64, base64.b64encode(raw).decode())


# --- key hashes and key strings ---------------------------------------------------------------


def test_key_hash_of_go_verifier_key_matches_published_hash() -> None:
    raw = base64.b64decode(PETER_VKEY.split("+", 2)[2])
    assert key_hash("PeterNeumann", raw[0], raw[1:]) == 0xC74F20A3


def test_key_hash_is_sha256_of_name_newline_type_and_key() -> None:
    public_key = bytes(range(32))
    digest = hashlib.sha256(b"example.com/k\n\x01" + public_key).digest()
    assert key_hash("example.com/k", ALG_ED25519, public_key) == int.from_bytes(digest[:4], "big")


@pytest.mark.parametrize(
    ("vkey", "name", "hash_"),
    [
        (PETER_VKEY, "PeterNeumann", 0xC74F20A3),
        (ENOCH_VKEY, "EnochRoot", 0xAF0CFE78),
        (SPEC_VKEY, "example.com/foo", 0x530D903A),
        (SUMDB_VKEY, "sum.golang.org", 0x033DE0AE),
        (PLUS_VKEY, "TEST", 0x7997405C),
    ],
)
def test_published_verifier_keys_load_with_their_name_and_hash(
    vkey: str, name: str, hash_: int
) -> None:
    verifier = load_verifier(vkey)
    assert (verifier.name, verifier.key_hash) == (name, hash_)
    assert verifier.verifier_key() == vkey


def test_go_signer_key_derives_the_go_verifier_key() -> None:
    signer = load_signer(PETER_SKEY)
    assert signer.verifier().verifier_key() == PETER_VKEY
    assert signer.signer_key() == PETER_SKEY


def test_encode_verifier_key_matches_published_key() -> None:
    public_key = load_verifier(SUMDB_VKEY).public_key
    assert encode_verifier_key("sum.golang.org", public_key) == SUMDB_VKEY


def test_every_substring_of_verifier_key_is_rejected() -> None:
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(MalformedKeyError):
                    load_verifier(PETER_VKEY[i:j])


def test_every_single_character_change_of_verifier_key_is_rejected() -> None:
    for i, c in enumerate(PETER_VKEY):
        with pytest.raises(MalformedKeyError):
            load_verifier(PETER_VKEY[:i] + chr(ord(c) + 1) + PETER_VKEY[i + 1 :])


def test_every_substring_of_signer_key_is_rejected() -> None:
    for i in range(len(PETER_SKEY) + 1):
        for j in range(i + 1, len(PETER_SKEY) + 1):
            if (i, j) != (0, len(PETER_SKEY)):
                with pytest.raises(MalformedKeyError):
                    load_signer(PETER_SKEY[i:j])


def test_every_single_character_change_of_signer_key_is_rejected() -> None:
    for i, c in enumerate(PETER_SKEY):
        with pytest.raises(MalformedKeyError):
            load_signer(PETER_SKEY[:i] + chr(ord(c) + 1) + PETER_SKEY[i + 1 :])


def test_verifier_key_of_wrong_length_with_matching_hash_is_rejected() -> None:
    with pytest.raises(MalformedKeyError):
        load_verifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")


def test_verifier_key_of_unknown_type_with_matching_hash_is_rejected() -> None:
    with pytest.raises(UnknownAlgorithmError):
        load_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_verifier_key_with_wrong_hash_is_rejected() -> None:
    with pytest.raises(KeyHashMismatchError):
        load_verifier(PETER_VKEY.replace("c74f20a3", "c74f20a4"))


def test_cosignature_key_is_not_a_plain_ed25519_verifier_key() -> None:
    with pytest.raises(UnknownAlgorithmError):
        load_verifier(REMORA_VKEY)


def test_generated_signer_and_verifier_keys_round_trip() -> None:
    skey, vkey = generate_signer("corridor.example/log")
    signer, verifier = load_signer(skey), load_verifier(vkey)
    assert signer.verifier() == verifier
    assert open_note(sign_note("hello\n", signer), [verifier]).text == "hello\n"


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\u3000b", "a\tb", "a\ud800"])
def test_invalid_key_names_are_rejected(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(MalformedKeyError):
        generate_signer(name)


def test_signer_repr_does_not_show_the_seed() -> None:
    signer = load_signer(PETER_SKEY)
    assert signer.seed.hex() not in repr(signer)
    assert "seed" not in repr(signer)


# --- signing ----------------------------------------------------------------------------------


def test_sign_reproduces_go_signed_note() -> None:
    assert sign_note(TEXT, load_signer(PETER_SKEY)) == _peter_note()


def test_sign_replaces_existing_signature_from_same_key() -> None:
    stale = Signature("PeterNeumann", 0xC74F20A3, "x08go/ZJ")
    assert sign_note(TEXT, load_signer(PETER_SKEY), existing=[stale]) == _peter_note()


def test_sign_keeps_existing_signatures_of_other_keys_first() -> None:
    assert sign_note(TEXT, load_signer(PETER_SKEY), existing=[ENOCH]) == (
        TEXT + "\n" + ENOCH_SIG + PETER_SIG
    )


def test_sign_rejects_text_without_trailing_newline() -> None:
    with pytest.raises(MalformedNoteError):
        sign_note("abc", load_signer(PETER_SKEY))


def test_sign_rejects_text_with_control_character() -> None:
    with pytest.raises(MalformedNoteError):
        sign_note("a\tb\n", load_signer(PETER_SKEY))


def test_sign_rejects_existing_signature_with_invalid_name() -> None:
    with pytest.raises(MalformedNoteError):
        sign_note(TEXT, existing=[Signature("a+b", 0, "ABCD")])


def test_sign_rejects_existing_signature_whose_hash_does_not_match() -> None:
    with pytest.raises(MalformedNoteError):
        sign_note(TEXT, existing=[Signature("PeterNeumann", 0xC74F20A3, "BADHASH=")])


# --- opening ----------------------------------------------------------------------------------


def test_open_verifies_go_signed_note() -> None:
    note = open_note(_peter_note(), [load_verifier(PETER_VKEY)])
    assert note.text == TEXT
    assert note.sigs == (PETER,)
    assert note.unverified_sigs == ()


def test_open_verifies_signed_note_spec_example() -> None:
    note = open_note(SPEC_NOTE, [load_verifier(SPEC_VKEY)])
    assert note.text == "This is an example message.\n"
    assert note.signed_by(load_verifier(SPEC_VKEY))


def test_open_accepts_bytes() -> None:
    assert open_note(_peter_note().encode(), [load_verifier(PETER_VKEY)]).text == TEXT


def test_open_reports_unknown_signature_as_unverified() -> None:
    note = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [load_verifier(PETER_VKEY)])
    assert note.sigs == (PETER,)
    assert note.unverified_sigs == (ENOCH,)


def test_open_verifies_both_known_signatures() -> None:
    verifiers = [load_verifier(PETER_VKEY), load_verifier(ENOCH_VKEY)]
    note = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, verifiers)
    assert note.sigs == (PETER, ENOCH)
    assert note.unverified_sigs == ()


def test_open_rejects_note_signed_only_by_unknown_keys() -> None:
    with pytest.raises(UnverifiedNoteError) as info:
        open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    assert str(info.value) == "note has no verifiable signatures"
    assert info.value.note.sigs == ()
    assert info.value.note.unverified_sigs == (PETER, ENOCH)


def test_open_rejects_note_signed_by_another_key_of_the_same_name() -> None:
    _, other_vkey = generate_signer("PeterNeumann")
    with pytest.raises(UnverifiedNoteError):
        open_note(_peter_note(), [load_verifier(other_vkey)])


def test_open_rejects_ambiguous_verifiers_for_a_signature() -> None:
    enoch = load_verifier(ENOCH_VKEY)
    with pytest.raises(AmbiguousVerifierError, match="EnochRoot\\+af0cfe78"):
        open_note(TEXT + "\n" + ENOCH_SIG, [enoch, load_verifier(PETER_VKEY), enoch])


def test_open_ignores_ambiguous_verifiers_no_signature_uses() -> None:
    enoch = load_verifier(ENOCH_VKEY)
    note = open_note(_peter_note(), [enoch, load_verifier(PETER_VKEY), enoch])
    assert note.sigs == (PETER,)


def test_open_rejects_tampered_text() -> None:
    tampered = _peter_note().replace("problem,", "problem;")
    with pytest.raises(InvalidSignatureError, match="PeterNeumann\\+c74f20a3"):
        open_note(tampered, [load_verifier(PETER_VKEY)])


def test_open_rejects_tampered_signature() -> None:
    raw = bytearray(base64.b64decode(PETER_B64))
    raw[10] ^= 0x01
    with pytest.raises(InvalidSignatureError):
        open_note(_replace_b64(PETER_B64, bytes(raw)), [load_verifier(PETER_VKEY)])


def test_open_rejects_signature_with_inserted_characters() -> None:
    # Go's vector: four base64 characters inserted into the signature.
    bad = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError):
        open_note(bad, [load_verifier(PETER_VKEY)])


def test_open_rejects_truncated_signature() -> None:
    raw = base64.b64decode(PETER_B64)[:-1]
    with pytest.raises(InvalidSignatureError):
        open_note(_replace_b64(PETER_B64, raw), [load_verifier(PETER_VKEY)])


def test_open_rejects_signature_with_nothing_after_key_hash() -> None:
    raw = base64.b64decode(PETER_B64)[:4]
    with pytest.raises(MalformedNoteError):
        open_note(_replace_b64(PETER_B64, raw), [load_verifier(PETER_VKEY)])


def test_open_rejects_signature_that_is_not_base64() -> None:
    bad = _peter_note().replace(PETER_B64, PETER_B64[:-1] + "!")
    with pytest.raises(MalformedNoteError):
        open_note(bad, [load_verifier(PETER_VKEY)])


def test_open_rejects_signature_without_base64_padding() -> None:
    bad = _peter_note().replace(PETER_B64, PETER_B64.rstrip("="))
    with pytest.raises(MalformedNoteError):
        open_note(bad, [load_verifier(PETER_VKEY)])


@pytest.mark.parametrize(
    "msg",
    [
        pytest.param(TEXT, id="no-signatures"),
        pytest.param(TEXT + "\n", id="blank-line-but-no-signatures"),
        pytest.param(TEXT + PETER_SIG, id="missing-blank-line"),
        pytest.param(TEXT + "\n" + PETER_SIG[:-1], id="missing-trailing-newline"),
        pytest.param("\x01" + TEXT + "\n" + PETER_SIG, id="control-character"),
        pytest.param("\ud800" + TEXT + "\n" + PETER_SIG, id="lone-surrogate"),
        pytest.param(TEXT + "\n" + f"{EM} Bad Name {PETER_B64}\n", id="name-with-space"),
        pytest.param(TEXT + "\n" + PETER_SIG + "Unexpected line.\n", id="not-a-signature-line"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace(EM, "-"), id="hyphen-not-em-dash"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace(" ", "", 1), id="no-space-after-dash"),
    ],
)
def test_open_rejects_malformed_note(msg: str) -> None:
    with pytest.raises(MalformedNoteError):
        open_note(msg, [load_verifier(PETER_VKEY)])


def test_open_rejects_invalid_utf8_bytes() -> None:
    with pytest.raises(MalformedNoteError):
        open_note(b"\xff" + _peter_note().encode(), [load_verifier(PETER_VKEY)])


def test_open_accepts_text_containing_blank_lines() -> None:
    text = "first\n\nsecond\n"
    signer = load_signer(PETER_SKEY)
    assert open_note(sign_note(text, signer), [signer.verifier()]).text == text


def test_open_reports_duplicate_signature_lines_once() -> None:
    # Go's vector: repeated verified and unverified lines, plus a mangled unknown line.
    mangled = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    msg = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + mangled
    note = open_note(msg, [load_verifier(PETER_VKEY)])
    enoch_abcd = Signature("EnochRoot", 0xAF0CFE78, mangled.split(" ")[2].rstrip("\n"))
    assert note.sigs == (PETER,)
    assert note.unverified_sigs == (ENOCH, enoch_abcd)


def test_open_rejects_second_invalid_signature_from_a_known_key() -> None:
    raw = bytearray(base64.b64decode(PETER_B64))
    raw[-1] ^= 0x01
    forged = f"{EM} PeterNeumann {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(InvalidSignatureError):
        open_note(TEXT + "\n" + PETER_SIG + forged, [load_verifier(PETER_VKEY)])


def test_open_accepts_max_signature_lines() -> None:
    note = open_note(TEXT + "\n" + PETER_SIG * MAX_SIGNATURES, [load_verifier(PETER_VKEY)])
    assert note.sigs == (PETER,)


def test_open_rejects_more_than_max_signature_lines() -> None:
    msg = TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1)
    with pytest.raises(TooManySignaturesError):
        open_note(msg, [load_verifier(PETER_VKEY)])


def test_open_rejects_too_many_unknown_signature_lines() -> None:
    msg = TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1)
    with pytest.raises(TooManySignaturesError):
        open_note(msg, [])


def test_signature_exposes_bytes_after_key_hash() -> None:
    assert PETER.signature() == base64.b64decode(PETER_B64)[4:]


# --- cosignatures -----------------------------------------------------------------------------


def _cosigner(timestamp: int = 1_700_000_000) -> CosignatureSigner:
    return CosignatureSigner("witness.example/w1", bytes(range(32)), clock=lambda: timestamp)


def test_cosignature_key_hash_matches_published_witness_key() -> None:
    verifier = load_cosignature_verifier(REMORA_VKEY)
    assert verifier.key_hash == 0xDA77ADE7
    assert key_hash("remora.n621.de", ALG_COSIGNATURE_V1, verifier.public_key) == 0xDA77ADE7


def test_encode_cosignature_verifier_key_matches_published_witness_key() -> None:
    public_key = load_cosignature_verifier(REMORA_VKEY).public_key
    assert encode_cosignature_verifier_key("remora.n621.de", public_key) == REMORA_VKEY


def test_cosignature_key_hash_differs_from_plain_key_hash_of_same_key() -> None:
    signer = _cosigner()
    plain = Ed25519Signer(signer.name, signer.seed)
    assert signer.key_hash != plain.key_hash


def test_plain_verifier_key_is_not_a_cosignature_key() -> None:
    with pytest.raises(UnknownAlgorithmError):
        load_cosignature_verifier(PETER_VKEY)


def test_cosignature_timestamp_of_published_signature() -> None:
    assert cosignature_timestamp(Signature("w", 0x646846B9, COSIG_B64)) == 1727964367


def test_cosignature_timestamp_rejects_plain_signature() -> None:
    with pytest.raises(MalformedSignatureError):
        cosignature_timestamp(PETER)


def test_cosignature_message_is_header_time_line_and_body() -> None:
    assert cosignature_message(CHECKPOINT_TEXT, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + CHECKPOINT_TEXT.encode()
    )


def test_cosignature_round_trips() -> None:
    signer = _cosigner()
    note = open_note(sign_note(CHECKPOINT_TEXT, signer), [signer.verifier()])
    assert note.text == CHECKPOINT_TEXT
    assert cosignature_timestamp(note.sigs[0]) == 1_700_000_000


def test_cosignature_payload_is_key_hash_timestamp_and_signature() -> None:
    signer = _cosigner()
    sig = open_note(sign_note(CHECKPOINT_TEXT, signer), [signer.verifier()]).sigs[0]
    raw = base64.b64decode(sig.b64)
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == signer.key_hash.to_bytes(4, "big")
    assert raw[4:12] == (1_700_000_000).to_bytes(8, "big")


def test_cosignature_with_tampered_timestamp_is_rejected() -> None:
    signer = _cosigner()
    signed = sign_note(CHECKPOINT_TEXT, signer)
    sig = open_note(signed, [signer.verifier()]).sigs[0]
    raw = bytearray(base64.b64decode(sig.b64))
    raw[11] ^= 0x01  # last byte of the timestamp
    tampered = signed.replace(sig.b64, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(InvalidSignatureError):
        open_note(tampered, [signer.verifier()])


def test_cosignature_over_tampered_body_is_rejected() -> None:
    signer = _cosigner()
    tampered = sign_note(CHECKPOINT_TEXT, signer).replace("\n42\n", "\n43\n")
    with pytest.raises(InvalidSignatureError):
        open_note(tampered, [signer.verifier()])


def test_cosignature_is_not_a_plain_ed25519_signature() -> None:
    signer = _cosigner()
    plain = Ed25519Signer(signer.name, signer.seed).verifier()
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note(CHECKPOINT_TEXT, signer), [plain])


def test_cosignature_timestamp_above_2_pow_63_is_refused() -> None:
    with pytest.raises(InvalidTimestampError):
        sign_note(CHECKPOINT_TEXT, _cosigner(1 << 63))


def test_cosignature_with_timestamp_above_2_pow_63_does_not_verify() -> None:
    signer = _cosigner()
    assert not signer.verifier().verify(CHECKPOINT_TEXT.encode(), b"\x80" + bytes(71))


def test_cosigner_refuses_text_shorter_than_a_checkpoint() -> None:
    with pytest.raises(MalformedNoteError):
        sign_note("just one line\n", _cosigner())


def test_generated_cosigner_keys_round_trip() -> None:
    skey, vkey = generate_cosigner("witness.example/w2")
    signer = load_cosigner(skey, clock=lambda: 5)
    verifier = load_cosignature_verifier(vkey)
    assert signer.verifier() == verifier
    assert signer.signer_key() == skey
    note = open_note(sign_note(CHECKPOINT_TEXT, signer), [verifier])
    assert cosignature_timestamp(note.sigs[0]) == 5


def test_cosigner_key_with_plain_type_is_rejected() -> None:
    with pytest.raises(UnknownAlgorithmError):
        load_cosigner(PETER_SKEY)


def test_cosigner_clock_is_not_part_of_equality() -> None:
    assert _cosigner(1) == _cosigner(2)
