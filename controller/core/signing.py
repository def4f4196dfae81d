"""Plan signatures: HMAC-SHA256 with a per-junction key derived from a master secret.

Pure (hashlib/hmac only). The controller holds the master secrets; each roadside cabinet holds
only its own derived key, so a cabinet that is broken into cannot sign plans for any other
junction. docs/security.md says why HMAC rather than Ed25519, and how keys are provisioned and
rotated.

Wire format (docs/mqtt.md, "Plan"): the plan body is compact JSON whose last two members are
the key id and the signature, `...,"kid":"2026a","sig":"<64 hex digits>"}`. The signature is
HMAC-SHA256(junction key, signed bytes), where the signed bytes are the payload exactly as
received up to (not including) `,"sig":` followed by `}`. A verifier needs no JSON
canonicalisation: it cuts a fixed-length suffix. Example:

    >>> ring = Keyring.from_masters({"k1": bytes(32)})
    >>> signed = ring.sign(b'{"v":1,"junction":"J1"}', "J1")
    >>> signed[:40]
    b'{"v":1,"junction":"J1","kid":"k1","sig":'

    >>> ring.for_junction("J1").verify(signed)
    ''
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

KEY_LABEL = b"tsc/v1/plan-key/"  # domain separation of the derived keys
SIG_HEX_LEN = 64
_SIG_PREFIX = b',"sig":"'
_SUFFIX_LEN = len(_SIG_PREFIX) + SIG_HEX_LEN + 2  # ,"sig":"<hex>"}
_KID_RE = re.compile(rb',"kid":"([A-Za-z0-9_.-]{1,32})"$')
KID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MIN_MASTER_BYTES = 16


def derive_junction_key(master: bytes, junction: str) -> bytes:
    """The 32-byte key of one junction: HMAC-SHA256(master, "tsc/v1/plan-key/" + junction id)
    (the HKDF-Expand step with a single block, RFC 5869)."""
    return hmac.new(master, KEY_LABEL + junction.encode("utf-8"), hashlib.sha256).digest()


def _mac(key: bytes, signed: bytes) -> str:
    return hmac.new(key, signed, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class JunctionKeys:
    """What one roadside cabinet holds: its derived key per key id. It accepts a plan signed
    with any of them (the current key and the previous one during a rotation)."""

    junction: str
    keys: Mapping[str, bytes]

    def verify(self, payload: bytes) -> str:
        """'' when the payload carries a valid signature by one of these keys, else the reason
        ("unsigned", "unknown key id ...", "bad signature")."""
        if (
            len(payload) <= _SUFFIX_LEN
            or payload[-_SUFFIX_LEN : -_SUFFIX_LEN + len(_SIG_PREFIX)] != _SIG_PREFIX
            or not payload.endswith(b'"}')
        ):
            return "unsigned plan"
        sig = payload[-SIG_HEX_LEN - 2 : -2]
        head = payload[:-_SUFFIX_LEN]
        m = _KID_RE.search(head)
        if m is None:
            return "unsigned plan (no key id before the signature)"
        kid = m.group(1).decode()
        key = self.keys.get(kid)
        if key is None:
            return f"unknown key id {kid!r}"
        try:
            sig_text = sig.decode("ascii")
        except UnicodeDecodeError:
            return "bad signature"
        if not hmac.compare_digest(_mac(key, head + b"}"), sig_text):
            return "bad signature"
        return ""


@dataclass(frozen=True)
class Keyring:
    """The controller's master secrets by key id; `current` signs, every one verifies."""

    current: str
    masters: Mapping[str, bytes]

    def __post_init__(self) -> None:
        if self.current not in self.masters:
            raise ValueError(f"current key id {self.current!r} is not among the keys {sorted(self.masters)}")
        for kid, secret in self.masters.items():
            if not KID_PATTERN.fullmatch(kid):
                raise ValueError(f"key id {kid!r} must be 1-32 characters of A-Z a-z 0-9 _ . -")
            if len(secret) < MIN_MASTER_BYTES:
                raise ValueError(f"key {kid!r} is {len(secret)} bytes, at least {MIN_MASTER_BYTES} required")

    @staticmethod
    def from_masters(masters: Mapping[str, bytes], current: str | None = None) -> Keyring:
        """`current` defaults to the first key id."""
        if not masters:
            raise ValueError("no plan key")
        return Keyring(current or next(iter(masters)), dict(masters))

    def for_junction(self, junction: str) -> JunctionKeys:
        """The keys to provision in that junction's cabinet."""
        return JunctionKeys(junction, {kid: derive_junction_key(m, junction) for kid, m in self.masters.items()})

    def sign(self, body: bytes, junction: str) -> bytes:
        """body: a non-empty compact JSON object. Returns it with the current key id and the
        signature appended as its last two members."""
        if not body.endswith(b"}") or len(body) < 3:
            raise ValueError("only a non-empty JSON object can be signed")
        key = derive_junction_key(self.masters[self.current], junction)
        head = body[:-1] + b',"kid":"' + self.current.encode() + b'"'
        return head + _SIG_PREFIX + _mac(key, head + b"}").encode() + b'"}'
