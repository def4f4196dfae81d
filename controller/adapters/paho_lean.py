"""paho-mqtt's MQTT 5 `Properties` and `ReasonCode` without their per-packet set-up, exactly.

paho 2.x builds a `Properties` object for every MQTT 5 packet it reads (each PUBLISH, each
PUBACK), and its `__init__` builds three constant tables (the property names, their types and
the packets each applies to) anew for every one, then `unpack` clears the object by asking
for each of the 27 names in turn. Each PUBACK also builds a `ReasonCode`, whose `__init__`
copies the table of reason names out of a read-only mapping (a slow copy). In a lockstep run
through the broker (sim/mqtt_run.py: QoS 1 feeds, one PUBACK per message) that is most of
paho's own cost per packet.

`LeanProperties` keeps the three tables on the class, built once from paho's own `__init__`
(so they are paho's, whatever its version), and clears by looking in the instance's own
attributes. Every method paho and its callers use (`unpack`, `pack`, `json`, attribute
access, `isEmpty`) reads the same tables and the same attributes, so it decodes and encodes
the same bytes into the same values. `LeanReasonCode` is paho's ReasonCode whose table is a
plain dict with the same entries: each instance still gets its own copy, made by the fast
path. `install()` puts both where paho's decoder and client look the classes up, on the paho
release they were read against only (EXACT_FOR; elsewhere it does nothing); it is idempotent
and changes nothing else.
"""

from __future__ import annotations

import importlib

import paho.mqtt
from paho.mqtt import client
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_TEMPLATE = Properties(0)  # type: ignore[no-untyped-call]  # paho's own tables, as its __init__ builds them
_COMPRESSED = tuple(name.replace(" ", "") for name in _TEMPLATE.names)


class LeanProperties(Properties):
    """paho's Properties with its constant tables shared by every instance."""

    types = _TEMPLATE.types
    names = _TEMPLATE.names
    properties = _TEMPLATE.properties

    def __init__(self, packetType: int) -> None:  # paho's parameter name
        object.__setattr__(self, "packetType", packetType)

    def clear(self) -> None:
        """Every property removed (paho's clear: delattr of each name the instance holds)."""
        held = self.__dict__
        for name in _COMPRESSED:
            if name in held:
                del held[name]


class LeanReasonCode(ReasonCode):
    """paho's ReasonCode with its table of names as a plain dict (copied per instance as before)."""

    # paho's __init__ copies it into each instance (an instance field to the type checker, as in paho)
    names: dict[int, dict[str, list[int]]] = dict(ReasonCode.names)  # noqa: RUF012


# the paho releases whose Properties and ReasonCode these classes were read against (2.2.0: the
# decoder in paho.mqtt._packet); on another release install() leaves paho as it is
EXACT_FOR = ("2.2.",)


def install() -> bool:
    """paho's packet decoder and client build the lean classes from now on (idempotent). Only on
    a paho release they were checked against (EXACT_FOR): elsewhere nothing is patched and paho
    runs its own classes (the same bytes, a little more CPU). Returns whether they are installed."""
    if not str(getattr(paho.mqtt, "__version__", "")).startswith(EXACT_FOR):
        return False
    try:
        packet = importlib.import_module("paho.mqtt._packet")
    except ImportError:  # a release without the private decoder module
        return False
    for module in (packet, client):
        module.Properties = LeanProperties  # type: ignore[attr-defined]
        module.ReasonCode = LeanReasonCode  # type: ignore[attr-defined]
    return True
