"""Signed notes (c2sp.org/signed-note) with Ed25519 keys, and Ed25519 witness cosignatures.

A signed note is a UTF-8 text ending in a newline, a blank line, then one or more signature
lines ``— <key name> <base64(key hash || signature)>``. Checkpoints of the audit log are
signed notes (see `corridor.audit.checkpoint`), and witnesses add their cosignatures
(c2sp.org/tlog-cosignature, signature type 0x04) as further signature lines on the same note.

The behaviour follows golang.org/x/mod/sumdb/note, the reference implementation, so notes
and key strings interoperate with Go tooling byte for byte:

* verifier keys are ``<name>+<hex key hash>+<base64(type || public key)>`` and signer keys
  ``PRIVATE+KEY+<name>+<hex key hash>+<base64(type || Ed25519 seed)>``;
* the key hash is the first four bytes, big-endian, of
  SHA-256(name || 0x0A || type || public key);
* `open_note` ignores signatures from unknown keys, rejects the note if a known key's
  signature fails, if no known key signed it, or if it carries more than `MAX_SIGNATURES`
  signature lines.

One deliberate difference: the Go package verifies only the first signature line of each
known key and skips later lines from that key; here every distinct line from a known key is
verified (the spec says verifiers MUST verify signatures from known keys), and identical
repeats are skipped.

Everything here is a parsing edge, so failures raise subclasses of `NoteError` (itself a
`ValueError`) with messages that name the offending part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "COSIGNATURE_HEADER",
    "MAX_SIGNATURES",
    "MAX_TIMESTAMP",
    "AmbiguousVerifierError",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Ed25519Signer",
    "Ed25519Verifier",
    "InvalidSignatureError",
    "InvalidSignerError",
    "InvalidTimestampError",
    "KeyHashMismatchError",
    "MalformedKeyError",
    "MalformedNoteError",
    "MalformedSignatureError",
    "Note",
    "NoteError",
    "Signature",
    "Signer",
    "TooManySignaturesError",
    "UnknownAlgorithmError",
    "UnverifiedNoteError",
    "Verifier",
    "cosignature_message",
    "cosignature_timestamp",
    "encode_cosignature_verifier_key",
    "encode_signer_key",
    "encode_verifier_key",
    "generate_cosigner",
    "generate_signer",
    "is_valid_name",
    "key_hash",
    "load_cosignature_verifier",
    "load_cosigner",
    "load_signer",
    "load_verifier",
    "open_note",
    "sign_note",
]

ALG_ED25519: Final = 0x01
"""Signature type of plain Ed25519 note signatures (c2sp.org/signed-note)."""

ALG_COSIGNATURE_V1: Final = 0x04
"""Signature type of timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature)."""

MAX_SIGNATURES: Final = 100
"""Most signature lines `open_note` accepts, as in the Go package (the spec requires >= 16)."""

MAX_TIMESTAMP: Final = (1 << 63) - 1
"""Largest cosignature timestamp the spec allows."""

COSIGNATURE_HEADER: Final = "cosignature/v1"
"""First line of the message an Ed25519 cosignature signs."""

SIGNATURE_PREFIX: Final = "— "
"""Every signature line starts with an em dash (U+2014) and a space."""

PRIVATE_KEY_PREFIX: Final = "PRIVATE+KEY+"

ED25519_KEY_SIZE: Final = 32
ED25519_SIGNATURE_SIZE: Final = 64
KEY_HASH_SIZE: Final = 4
TIMESTAMP_SIZE: Final = 8

# Go's unicode.IsSpace: the Unicode White_Space property. Python's str.isspace also matches
# U+001C..U+001F, which Go accepts in names, so the set is spelled out to match Go exactly.
_SPACES: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_HEX8: Final = re.compile(r"[0-9a-fA-F]{8}")
_B64: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_CONTROL: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")


# --- errors -----------------------------------------------------------------------------------


class NoteError(ValueError):
    """Base class of every error raised by this module."""


class MalformedKeyError(NoteError):
    """A signer or verifier key string, or key material, is not well-formed."""


class KeyHashMismatchError(MalformedKeyError):
    """The key hash in a key string is not the hash of its name and public key."""


class UnknownAlgorithmError(MalformedKeyError):
    """A key string names a signature type this module does not implement."""


class MalformedNoteError(NoteError):
    """A signed note, or a text to be signed, breaks the signed-note format."""


class TooManySignaturesError(MalformedNoteError):
    """A note has more than `MAX_SIGNATURES` signature lines."""


class MalformedSignatureError(NoteError):
    """A signature's bytes do not have the layout its signature type requires."""


class InvalidSignerError(NoteError):
    """A signer has an invalid key name or key hash."""


class InvalidTimestampError(NoteError):
    """A cosignature timestamp is negative or above 2^63 - 1."""


class InvalidSignatureError(NoteError):
    """A signature from a known key does not verify; the whole note is rejected."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_hash:08x}")
        self.name = name
        self.key_hash = key_hash


class AmbiguousVerifierError(NoteError):
    """More than one of the given verifiers has the name and key hash of a signature line."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(f"ambiguous key {name}+{key_hash:08x}: several verifiers match")
        self.name = name
        self.key_hash = key_hash


class UnverifiedNoteError(NoteError):
    """The note parsed, but no known key signed it. `note` holds what was found."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note


# --- keys -------------------------------------------------------------------------------------


def is_valid_name(name: str) -> bool:
    """Report whether `name` can be a key name: non-empty, UTF-8, no spaces and no '+'."""
    if not name or "+" in name or any(c in _SPACES for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def key_hash(name: str, alg: int, public_key: bytes) -> int:
    """The key hash (key ID): SHA-256(name || 0x0A || alg || public_key)[:4] as a uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:KEY_HASH_SIZE], "big")


def _b64decode(text: str) -> bytes | None:
    """Decode standard padded base64 as Go's StdEncoding does; None if it is not base64."""
    if not _B64.fullmatch(text):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_name(name: str) -> None:
    if not is_valid_name(name):
        raise MalformedKeyError(
            f"invalid key name {name!r}: it must be non-empty, without spaces or '+'"
        )


def _check_key_size(what: str, key: bytes) -> None:
    if len(key) != ED25519_KEY_SIZE:
        raise MalformedKeyError(f"{what} must be {ED25519_KEY_SIZE} bytes, not {len(key)}")


def _encode_key(name: str, alg: int, hash_: int, key: bytes) -> str:
    return f"{name}+{hash_:08x}+{_b64encode(bytes([alg]) + key)}"


@dataclass(frozen=True, slots=True)
class _KeyString:
    name: str
    key_hash: int
    alg: int
    key: bytes


def _parse_key_string(text: str, what: str) -> _KeyString:
    """Split ``<name>+<hash>+<base64(alg || key)>`` (the Go package's chop rules)."""
    name, _, rest = text.partition("+")
    hash16, _, key64 = rest.partition("+")
    if not _HEX8.fullmatch(hash16):
        raise MalformedKeyError(f"malformed {what}: key hash must be 8 hex digits")
    if not is_valid_name(name):
        raise MalformedKeyError(f"malformed {what}: invalid key name {name!r}")
    raw = _b64decode(key64)
    if not raw:
        raise MalformedKeyError(f"malformed {what}: key data is not non-empty base64")
    return _KeyString(name, int(hash16, 16), raw[0], raw[1:])


def _ed25519_public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


# --- signers and verifiers --------------------------------------------------------------------


class Verifier(Protocol):
    """Checks signatures made by one key, identified by its name and key hash."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> int: ...

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Report whether `sig` (without the key hash prefix) is a valid signature of `msg`."""
        ...


class Signer(Protocol):
    """Signs note texts with one key, identified by its name and key hash."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> int: ...

    def sign(self, msg: bytes) -> bytes:
        """Return the signature of `msg`, without the key hash prefix."""
        ...


@dataclass(frozen=True)
class Ed25519Verifier:
    """Verifier of plain Ed25519 note signatures (type 0x01)."""

    name: str
    public_key: bytes
    key_hash: int = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_key_size("an Ed25519 public key", self.public_key)
        object.__setattr__(self, "key_hash", key_hash(self.name, ALG_ED25519, self.public_key))

    def verify(self, msg: bytes, sig: bytes) -> bool:
        return _ed25519_verify(self.public_key, msg, sig)

    def verifier_key(self) -> str:
        """This verifier as a key string ``<name>+<hash>+<base64(0x01 || public key)>``."""
        return _encode_key(self.name, ALG_ED25519, self.key_hash, self.public_key)


@dataclass(frozen=True)
class Ed25519Signer:
    """Signer of plain Ed25519 note signatures (type 0x01). Keep it secret."""

    name: str
    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    key_hash: int = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_key_size("an Ed25519 seed", self.seed)
        public_key = _ed25519_public(self.seed)
        object.__setattr__(self, "public_key", public_key)
        object.__setattr__(self, "key_hash", key_hash(self.name, ALG_ED25519, public_key))

    def sign(self, msg: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(msg)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self.public_key)

    def signer_key(self) -> str:
        """This signer as ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>``."""
        return PRIVATE_KEY_PREFIX + _encode_key(self.name, ALG_ED25519, self.key_hash, self.seed)


def _ed25519_verify(public_key: bytes, msg: bytes, sig: bytes) -> bool:
    if len(sig) != ED25519_SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(sig, msg)
    except (InvalidSignature, ValueError):
        return False
    return True


def encode_verifier_key(name: str, public_key: bytes) -> str:
    """Encode an Ed25519 public key as a verifier key string (Go's NewEd25519VerifierKey)."""
    return Ed25519Verifier(name, public_key).verifier_key()


def encode_signer_key(name: str, seed: bytes) -> str:
    """Encode a 32-byte Ed25519 seed as a signer key string."""
    return Ed25519Signer(name, seed).signer_key()


def generate_signer(name: str) -> tuple[str, str]:
    """Generate an Ed25519 key pair for `name`: (signer key string, verifier key string)."""
    _check_name(name)
    signer = Ed25519Signer(name, Ed25519PrivateKey.generate().private_bytes_raw())
    return signer.signer_key(), signer.verifier().verifier_key()


def load_verifier(vkey: str) -> Ed25519Verifier:
    """Parse a verifier key string of type 0x01, checking its key hash (Go's NewVerifier)."""
    parsed = _parse_key_string(vkey, "verifier key")
    if parsed.key_hash != key_hash(parsed.name, parsed.alg, parsed.key):
        raise KeyHashMismatchError(
            f"verifier key hash {parsed.key_hash:08x} does not match the key of {parsed.name}"
        )
    if parsed.alg != ALG_ED25519:
        raise UnknownAlgorithmError(
            f"verifier key type 0x{parsed.alg:02x} is not Ed25519 (0x{ALG_ED25519:02x})"
        )
    _check_key_size("an Ed25519 public key", parsed.key)
    return Ed25519Verifier(parsed.name, parsed.key)


def _parse_signer_key(skey: str, alg: int) -> _KeyString:
    if not skey.startswith(PRIVATE_KEY_PREFIX):
        raise MalformedKeyError(f"malformed signer key: it must start with {PRIVATE_KEY_PREFIX!r}")
    parsed = _parse_key_string(skey[len(PRIVATE_KEY_PREFIX) :], "signer key")
    if parsed.alg != alg:
        raise UnknownAlgorithmError(
            f"signer key type 0x{parsed.alg:02x} is not the expected 0x{alg:02x}"
        )
    _check_key_size("an Ed25519 seed", parsed.key)
    # The hash is of the public key, which must be derived from the seed first.
    if parsed.key_hash != key_hash(parsed.name, alg, _ed25519_public(parsed.key)):
        raise KeyHashMismatchError(
            f"signer key hash {parsed.key_hash:08x} does not match the key of {parsed.name}"
        )
    return parsed


def load_signer(skey: str) -> Ed25519Signer:
    """Parse a signer key string of type 0x01, checking its key hash (Go's NewSigner)."""
    parsed = _parse_signer_key(skey, ALG_ED25519)
    return Ed25519Signer(parsed.name, parsed.key)


# --- notes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line of a note, verified or not."""

    name: str
    key_hash: int
    b64: str
    """The base64 text of the line: base64(key hash || signature)."""

    def line(self) -> str:
        """The signature line, ``— <name> <base64>`` and a newline."""
        return f"{SIGNATURE_PREFIX}{self.name} {self.b64}\n"

    def signature(self) -> bytes:
        """The signature bytes, without the four-byte key hash."""
        raw = _b64decode(self.b64)
        if raw is None or len(raw) <= KEY_HASH_SIZE:
            raise MalformedSignatureError(
                f"signature of {self.name} is not base64 of a key hash and a signature"
            )
        return raw[KEY_HASH_SIZE:]


@dataclass(frozen=True)
class Note:
    """An opened note: its text and which keys signed it.

    `sigs` are signatures verified by one of the given verifiers, in note order, one per key;
    `unverified_sigs` are the distinct lines from keys none of the verifiers knows.
    """

    text: str
    sigs: tuple[Signature, ...] = ()
    unverified_sigs: tuple[Signature, ...] = ()

    def signed_by(self, verifier: Verifier) -> bool:
        """Report whether `verifier`'s key is among the verified signatures."""
        return any(s.name == verifier.name and s.key_hash == verifier.key_hash for s in self.sigs)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if _CONTROL.search(text):
        raise MalformedNoteError("note text must not contain control characters but newline")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNoteError("note text is not valid UTF-8") from exc


def sign_note(text: str, *signers: Signer, existing: Iterable[Signature] = ()) -> str:
    """Sign `text` with each signer and return the signed note.

    `existing` signatures (for example those of an opened note, to add a cosignature) are
    written first, except those from a key among `signers`, whose new signature replaces
    them; new signatures follow in the order of `signers`. This is Go's note.Sign.
    """
    _check_text(text)
    msg = text.encode("utf-8")
    new_lines: list[str] = []
    replaced: set[tuple[str, int]] = set()
    for signer in signers:
        name, hash_ = signer.name, signer.key_hash
        if not is_valid_name(name) or not 0 <= hash_ < 1 << 32:
            raise InvalidSignerError(f"invalid signer {name!r}+{hash_:08x}")
        replaced.add((name, hash_))
        raw = hash_.to_bytes(KEY_HASH_SIZE, "big") + signer.sign(msg)
        new_lines.append(Signature(name, hash_, _b64encode(raw)).line())
    old_lines: list[str] = []
    for old in existing:
        if not is_valid_name(old.name):
            raise MalformedNoteError(f"existing signature has an invalid key name {old.name!r}")
        if (old.name, old.key_hash) in replaced:
            continue
        old_raw = _b64decode(old.b64)
        if (
            old_raw is None
            or len(old_raw) <= KEY_HASH_SIZE
            or int.from_bytes(old_raw[:KEY_HASH_SIZE], "big") != old.key_hash
        ):
            raise MalformedNoteError(
                f"existing signature of {old.name} is not base64 of its key hash and a signature"
            )
        old_lines.append(old.line())
    return text + "\n" + "".join(old_lines) + "".join(new_lines)


def open_note(msg: str | bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse a signed note and verify its signatures from the known `verifiers`.

    Raises `MalformedNoteError` if the note breaks the format (or `TooManySignaturesError`
    above `MAX_SIGNATURES` lines), `InvalidSignatureError` if a known key's signature does
    not verify, `AmbiguousVerifierError` if two verifiers share a signature's name and key
    hash, and `UnverifiedNoteError` if no known key signed it. Signatures from unknown keys
    are returned in `Note.unverified_sigs`.
    """
    if isinstance(msg, bytes):
        try:
            msg = msg.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError("note is not valid UTF-8") from exc
    else:
        try:
            msg.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MalformedNoteError("note is not valid UTF-8") from exc
    if _CONTROL.search(msg):
        raise MalformedNoteError("note contains a control character other than newline")

    split = msg.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("note must end with a newline-terminated signature line")

    known: dict[tuple[str, int], list[Verifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_hash), []).append(v)

    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise TooManySignaturesError(
            f"note has {len(lines)} signature lines, more than the limit of {MAX_SIGNATURES}"
        )
    body = text.encode("utf-8")
    sigs: list[Signature] = []
    verified_keys: set[tuple[str, int]] = set()
    unverified: list[Signature] = []
    seen_lines: set[str] = set()
    for number, line in enumerate(lines, start=1):
        sig, sig_bytes = _parse_signature_line(line, number)
        if line in seen_lines:
            continue  # an identical repeat: already verified or already listed
        seen_lines.add(line)
        matches = known.get((sig.name, sig.key_hash))
        if not matches:
            unverified.append(sig)
            continue
        if len(matches) > 1:
            raise AmbiguousVerifierError(sig.name, sig.key_hash)
        if not matches[0].verify(body, sig_bytes):
            raise InvalidSignatureError(sig.name, sig.key_hash)
        if (sig.name, sig.key_hash) not in verified_keys:
            verified_keys.add((sig.name, sig.key_hash))
            sigs.append(sig)

    note = Note(text, tuple(sigs), tuple(unverified))
    if not sigs:
        raise UnverifiedNoteError(note)
    return note


def _parse_signature_line(line: str, number: int) -> tuple[Signature, bytes]:
    """Parse one signature line: the signature and its bytes after the key hash."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(
            f"signature line {number} does not start with an em dash and a space"
        )
    name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_name(name):
        raise MalformedNoteError(f"signature line {number} has an invalid key name {name!r}")
    raw = _b64decode(b64)
    if raw is None:
        raise MalformedNoteError(f"signature line {number} ({name}) is not valid base64")
    if len(raw) <= KEY_HASH_SIZE:
        raise MalformedNoteError(f"signature line {number} ({name}) is too short")
    hash_ = int.from_bytes(raw[:KEY_HASH_SIZE], "big")
    return Signature(name, hash_, b64), raw[KEY_HASH_SIZE:]


# --- cosignatures (c2sp.org/tlog-cosignature, Ed25519 type 0x04) ------------------------------


def cosignature_message(text: str | bytes, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosignature signs: header line, time line, then the note text."""
    _check_timestamp(timestamp)
    body = text.encode("utf-8") if isinstance(text, str) else text
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n".encode("ascii") + body


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InvalidTimestampError(f"cosignature timestamp {timestamp} is not in [0, 2^63-1]")


def _unix_now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class CosignatureVerifier:
    """Verifier of a witness's timestamped Ed25519 cosignatures (type 0x04)."""

    name: str
    public_key: bytes
    key_hash: int = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_key_size("an Ed25519 public key", self.public_key)
        hash_ = key_hash(self.name, ALG_COSIGNATURE_V1, self.public_key)
        object.__setattr__(self, "key_hash", hash_)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        if len(sig) != TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(sig[:TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        message = cosignature_message(msg, timestamp)
        return _ed25519_verify(self.public_key, message, sig[TIMESTAMP_SIZE:])

    def verifier_key(self) -> str:
        """This verifier as ``<name>+<hash>+<base64(0x04 || public key)>``."""
        return _encode_key(self.name, ALG_COSIGNATURE_V1, self.key_hash, self.public_key)


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's cosigning key (type 0x04). `clock` gives the Unix time to sign at."""

    name: str
    seed: bytes = field(repr=False)
    clock: Callable[[], int] = field(default=_unix_now, repr=False, compare=False)
    public_key: bytes = field(init=False)
    key_hash: int = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_key_size("an Ed25519 seed", self.seed)
        public_key = _ed25519_public(self.seed)
        object.__setattr__(self, "public_key", public_key)
        object.__setattr__(self, "key_hash", key_hash(self.name, ALG_COSIGNATURE_V1, public_key))

    def sign(self, msg: bytes) -> bytes:
        """Cosign a checkpoint body: timestamp (8 bytes, big-endian) || Ed25519 signature."""
        return self.sign_at(msg, self.clock())

    def sign_at(self, msg: bytes, timestamp: int) -> bytes:
        """Cosign `msg` at the given Unix time."""
        if not msg.endswith(b"\n") or msg.count(b"\n") < 3:
            raise MalformedNoteError("a cosigned text must be a checkpoint of at least 3 lines")
        message = cosignature_message(msg, timestamp)
        sig = Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)
        return timestamp.to_bytes(TIMESTAMP_SIZE, "big") + sig

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public_key)

    def signer_key(self) -> str:
        """This key as ``PRIVATE+KEY+<name>+<hash>+<base64(0x04 || seed)>``."""
        return PRIVATE_KEY_PREFIX + _encode_key(
            self.name, ALG_COSIGNATURE_V1, self.key_hash, self.seed
        )


def encode_cosignature_verifier_key(name: str, public_key: bytes) -> str:
    """Encode a witness's Ed25519 public key as ``<name>+<hash>+<base64(0x04 || key)>``."""
    return CosignatureVerifier(name, public_key).verifier_key()


def generate_cosigner(name: str) -> tuple[str, str]:
    """Generate a witness key pair for `name`: (signer key string, verifier key string)."""
    _check_name(name)
    signer = CosignatureSigner(name, Ed25519PrivateKey.generate().private_bytes_raw())
    return signer.signer_key(), signer.verifier().verifier_key()


def load_cosignature_verifier(vkey: str) -> CosignatureVerifier:
    """Parse a witness verifier key string of type 0x04, checking its key hash."""
    parsed = _parse_key_string(vkey, "verifier key")
    if parsed.key_hash != key_hash(parsed.name, parsed.alg, parsed.key):
        raise KeyHashMismatchError(
            f"verifier key hash {parsed.key_hash:08x} does not match the key of {parsed.name}"
        )
    if parsed.alg != ALG_COSIGNATURE_V1:
        raise UnknownAlgorithmError(
            f"verifier key type 0x{parsed.alg:02x} is not an Ed25519 cosignature key (0x04)"
        )
    _check_key_size("an Ed25519 public key", parsed.key)
    return CosignatureVerifier(parsed.name, parsed.key)


def load_cosigner(skey: str, clock: Callable[[], int] = _unix_now) -> CosignatureSigner:
    """Parse a witness signer key string of type 0x04, checking its key hash."""
    parsed = _parse_signer_key(skey, ALG_COSIGNATURE_V1)
    return CosignatureSigner(parsed.name, parsed.key, clock)


def cosignature_timestamp(sig: Signature) -> int:
    """The Unix time embedded in an Ed25519 cosignature (not verified by this call)."""
    raw = _b64decode(sig.b64)
    if raw is None or len(raw) != KEY_HASH_SIZE + TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE:
        raise MalformedSignatureError(f"signature of {sig.name} is not an Ed25519 cosignature")
    timestamp = int.from_bytes(raw[KEY_HASH_SIZE : KEY_HASH_SIZE + TIMESTAMP_SIZE], "big")
    _check_timestamp(timestamp)
    return timestamp
