"""Mosquitto for this service: the users, ACL and configuration of the four roles, and a private
broker process for demos, replays and tests.

Roles (docs/operators.md, "Roles"), one ACL block each, all from the MQTT contract (docs/mqtt.md):

- field device `field-{junction}`: publishes only its own detectors and status, reads only its
  own plans and the service heartbeats;
- `controller`: reads every feed, status and override of the site, and the heartbeats of the
  other instances (region failover); the only publisher of plans, of the service topics
  (heartbeat, junction table) and of the replies to operators;
- operators (`operator` by default): publish overrides only under their own user name
  (`{junction}/override/{user}`: the broker vouches for the identity the service records),
  read everything of the site;
- monitors (`monitor` by default): read everything of the site, publish nothing;
- `sim`: the lockstep clock of replays, and their packed detector messages (sim/mqtt_run.py; a
  sharded replay's per region on `sim/detectors/{region}`).

Client ids are bound to user names (`use_username_as_clientid`): whatever client id a client
asks for, the broker uses its user name, so no user can take over another user's session. One
connection per user at a time: a second one replaces the first (same user, same session).
Refusals are logged: bad credentials at notice level; with `log_denied` (the default here),
every publish the ACL refuses ("Denied PUBLISH", Mosquitto's debug level).

`provision(out_dir, ...)` (`run_controller.py broker-setup`) writes the same files for a
production broker, plus one credential file per user, outside the repository.

    with Broker(tmp_path, site="city", junctions=["J1", "J2"]) as broker:
        settings = broker.settings("controller")
"""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from controller.adapters.mqtt import MqttSettings, Topics, topic_level
from controller.config import Config
from controller.errors import AdapterError, ConfigError

log = logging.getLogger(__name__)

MOSQUITTO = "/usr/sbin/mosquitto"
CONTROLLER = "controller"
SIM = "sim"
CREDENTIALS_DIR = "credentials"  # one file per user under the provisioned folder: {user}.password


def find_mosquitto() -> str:
    for cand in (shutil.which("mosquitto"), MOSQUITTO):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise AdapterError("mosquitto not found: install the Debian package `mosquitto` (make system-deps)", fatal=True)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def new_password() -> str:
    """A fresh random password for a broker user (24 URL-safe characters)."""
    return secrets.token_urlsafe(18)


def private_settings(
    host: str,
    port: int,
    user: str,
    password: str,
    client_id: str | None,
    tls: TlsFiles | None,
    overrides: dict[str, Any],
) -> MqttSettings:
    """Connection settings of a user of a private broker (Broker, sim.rabbit.RabbitCluster): a
    random client id `{user}-{hex}` unless given, fast reconnects (0.2 s, at most 2 s: a broker a
    test restarts is back within seconds), TLS with the broker's CA when it listens with TLS.
    `overrides`: any other MqttSettings field, winning over these."""
    if tls is not None:
        overrides = {"tls": True, "ca_file": str(tls.ca_file), **overrides}
    return MqttSettings(
        **{
            "host": host,
            "port": port,
            "username": user,
            "password": password,
            "client_id": client_id or f"{user}-{secrets.token_hex(3)}",
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 2.0,
            **overrides,
        }
    )


def field_user(junction: str) -> str:
    """The broker user of one junction's field device."""
    return "field-" + topic_level(junction).replace(":", "%3A")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a TLS listener: the CA that signed the server certificate (clients verify
    the broker with it), the server certificate and its private key."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def acl_rules(
    topics: Topics,
    junctions: Iterable[str],
    operators: Sequence[str],
    monitors: Sequence[str],
    extra_users: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    replays: bool = True,
) -> dict[str, list[tuple[str, str]]]:
    """user -> [(access, MQTT topic filter)] of the four roles (and `sim`), as described in the
    module docstring; access is read, write or readwrite. One source for every broker: Mosquitto's
    ACL file (acl_text) and RabbitMQ's topic permissions (sim/rabbit.py)."""
    t, root = topics, topics.root
    beats = ("read", f"{root}/service/+")  # everyone may watch the service heartbeats
    rules: dict[str, list[tuple[str, str]]] = {
        CONTROLLER: [
            ("read", f"{root}/+/detectors"),
            ("read", f"{root}/+/status"),
            ("read", f"{root}/+/override/+"),
            ("write", f"{root}/+/plan"),
            ("write", f"{root}/service/#"),
            ("write", f"{root}/ops/+"),
            ("read", t.clock),
            ("read", t.packed_detectors),
            ("read", t.packed_detectors_regions),
            ("write", t.ticked),
            beats,  # the other instances' heartbeats: region failover (controller/takeover.py)
        ]
    }
    if replays:  # the lockstep clock user of `simulate --via-mqtt`; a production broker has none
        packed = [("write", t.packed_detectors), ("write", t.packed_detectors_regions)]
        rules[SIM] = [("write", t.clock), *packed, ("read", t.ticked), beats]
    for op in operators:  # overrides only under the operator's own name: the broker vouches for it
        rules[op] = [("write", f"{root}/+/override/{topic_level(op)}"), ("read", f"{root}/#")]
    for mon in monitors:
        rules[mon] = [("read", f"{root}/#")]
    for j in junctions:
        rules[field_user(j)] = [("write", t.detectors(j)), ("write", t.status(j)), ("read", t.plan(j)), beats]
    for user, extra in (extra_users or {}).items():
        rules[user] = [*extra, beats]
    return rules


def acl_text(rules: Mapping[str, Sequence[tuple[str, str]]]) -> str:
    """The Mosquitto ACL of `rules` (acl_rules): one `user` block each."""
    lines = ["# generated by sim/broker.py: who may publish/read what (docs/mqtt.md, docs/operators.md)", ""]
    for user, user_rules in rules.items():
        lines += [f"user {user}", *(f"topic {access} {flt}" for access, flt in user_rules), ""]
    return "\n".join(lines)


def conf_text(
    *,
    host: str,
    port: int,
    workdir: Path,
    tls: TlsFiles | None,
    bind_client_ids: bool,
    log_denied: bool,
    message_size_limit: int,
    max_inflight: int,
) -> str:
    """mosquitto.conf for the passwd and acl files of `workdir` (see Broker)."""
    conf = [
        "# generated by sim/broker.py (run_controller.py broker-setup)",
        "per_listener_settings false",
        f"listener {port} {host}",
    ]
    if tls is not None:
        conf += [f"cafile {tls.ca_file}", f"certfile {tls.cert_file}", f"keyfile {tls.key_file}", "tls_version tlsv1.2"]
    conf += [
        "allow_anonymous false",
        f"password_file {workdir / 'passwd'}",
        f"acl_file {workdir / 'acl'}",
        # the broker, not the client, names the session: nobody takes over another user's session
        f"use_username_as_clientid {'true' if bind_client_ids else 'false'}",
        "persistence true",
        f"persistence_location {workdir / 'data'}/",
        "autosave_interval 5",
        f"log_dest file {workdir / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    if log_denied:
        conf.append("log_type debug  # the only level at which Mosquitto 2.0 logs 'Denied PUBLISH'")
    conf += [
        f"message_size_limit {message_size_limit}",
        # replays and benchmarks push thousands of messages a second through one client
        f"max_inflight_messages {max_inflight}",
        "max_queued_messages 1000000",
        "set_tcp_nodelay true",
    ]
    if os.geteuid() == 0:
        conf.append(f"user {getpass.getuser()}")  # do not drop to `mosquitto`: it cannot read our files
    return "\n".join(conf) + "\n"


def hash_password_file(path: Path, users: Mapping[str, str], binary: str) -> None:
    """Plain user:password lines, hashed in place by one mosquitto_passwd -U call (one -b call
    per user is too slow for thousands of field devices)."""
    path.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    path.chmod(0o600)
    tool = shutil.which("mosquitto_passwd") or str(Path(binary).with_name("mosquitto_passwd"))
    done = subprocess.run([tool, "-U", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise AdapterError(f"mosquitto_passwd failed: {done.stderr.strip()}", fatal=True)


class Broker:
    def __init__(
        self,
        workdir: str | Path,
        site: str,
        junctions: Iterable[str] = (),
        *,
        operators: Sequence[str] = ("operator",),
        monitors: Sequence[str] = ("monitor",),
        extra_users: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        message_size_limit: int = 1024 * 1024,
        max_inflight: int = 1000,
        port: int | None = None,
        host: str = "127.0.0.1",
        binary: str | None = None,
        tls: TlsFiles | None = None,
        bind_client_ids: bool | None = None,
        log_denied: bool = True,
        passwords: Mapping[str, str] | None = None,
        replays: bool = True,
        yields: bool = False,
    ) -> None:
        """extra_users: user -> [(access, topic filter)], access one of read/write/readwrite
        (benchmarks use a gateway user that publishes for many junctions from several
        connections: with extra users, client ids are not bound unless bind_client_ids=True).
        passwords: user -> password to keep (the others are generated).
        replays: with the `sim` user of lockstep replays (not on a production broker).
        yields: Mosquitto runs under SCHED_BATCH (Linux; elsewhere ignored): a message it is sent
        wakes it without preempting the sender, which goes on until it waits. For a lockstep
        replay's private broker, whose one client process sends dozens of messages a second in
        bursts: on a busy machine each send otherwise hands the core to Mosquitto mid-burst. An
        idle core still takes it at once."""
        self.workdir = Path(workdir)
        self.topics = Topics(site)
        self.junctions = tuple(junctions)
        self.operators = tuple(operators)
        self.monitors = tuple(monitors)
        self.extra_users = dict(extra_users or {})
        self.message_size_limit = message_size_limit
        self.max_inflight = max_inflight
        self.host = host
        self.port = port or free_port(self.host)
        self.binary = binary or find_mosquitto()
        self.tls = tls
        self.bind_client_ids = not self.extra_users if bind_client_ids is None else bind_client_ids
        self.log_denied = log_denied
        self.replays = replays
        self.yields = yields
        self.rules = acl_rules(self.topics, self.junctions, self.operators, self.monitors, self.extra_users, replays)
        kept = dict(passwords or {})
        self.users: dict[str, str] = {u: kept.get(u) or new_password() for u in self.rules}
        self._proc: subprocess.Popen[bytes] | None = None
        self._written = False

    # -- files ----------------------------------------------------------------------------
    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def acl(self) -> str:
        return acl_text(self.rules)

    def write_files(self) -> None:
        """passwd (hashed), acl and mosquitto.conf in the work folder."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        hash_password_file(self.workdir / "passwd", self.users, self.binary)
        acl = self.workdir / "acl"
        acl.write_text(self.acl())
        acl.chmod(0o600)
        self.conf_path.write_text(
            conf_text(
                host=self.host,
                port=self.port,
                workdir=self.workdir,
                tls=self.tls,
                bind_client_ids=self.bind_client_ids,
                log_denied=self.log_denied,
                message_size_limit=self.message_size_limit,
                max_inflight=self.max_inflight,
            )
        )
        self._written = True

    def write_credentials(self, folder: Path | None = None) -> Path:
        """One file per user, {user}.password (mode 0600), in folder (default workdir/credentials)."""
        return write_credentials(folder or self.workdir / CREDENTIALS_DIR, self.users)

    # -- process --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """Mosquitto's process id (the benches pin it and read its CPU); AdapterError before start()."""
        if self._proc is None:
            raise AdapterError("the broker has not been started: no process id")
        return self._proc.pid

    def start(self, timeout_s: float = 10.0) -> Broker:
        if self.running:
            return self
        if not self._written:
            self.write_files()
        with open(self.workdir / "mosquitto.stderr", "ab") as err:
            self._proc = subprocess.Popen([self.binary, "-c", str(self.conf_path)], stdout=err, stderr=err)
        if self.yields:
            _batch_scheduling(self._proc.pid)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AdapterError(f"mosquitto exited with {self._proc.returncode}: {self.log_tail()}", fatal=True)
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise AdapterError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout_s} s", fatal=True)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM: Mosquitto writes its persistence database and exits."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down for down_s, start again on the same port with the same state."""
        self.stop()
        if down_s > 0:
            time.sleep(down_s)
        self.start()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n: int = 20) -> str:
        text = ""
        for p in (self.log_path, self.workdir / "mosquitto.stderr"):
            if p.exists():
                text += p.read_text(errors="replace")
        return "\n".join(text.splitlines()[-n:])

    # -- credentials ----------------------------------------------------------------------
    def settings(self, user: str, client_id: str | None = None, **overrides: Any) -> MqttSettings:
        """Connection settings for one of this broker's users (private_settings)."""
        overrides.setdefault("max_inflight", self.max_inflight)
        return private_settings(self.host, self.port, user, self.users[user], client_id, self.tls, overrides)

    def controller_config(self, cfg: Config) -> Config:
        """cfg with [broker] pointing at this broker as the controller user."""
        return replace(
            cfg,
            broker=replace(
                cfg.broker,
                host=self.host,
                port=self.port,
                tls=self.tls is not None,
                ca_file=str(self.tls.ca_file) if self.tls else "",
                username=CONTROLLER,
                password=self.users[CONTROLLER],
            ),
        )


def _batch_scheduling(pid: int) -> None:
    """SCHED_BATCH for process pid where the platform has it (see Broker's `yields`)."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return
    try:
        os.sched_setscheduler(pid, policy, os.sched_param(0))
    except OSError as exc:  # not allowed here: the broker runs as it would have
        log.info("mosquitto pid=%d stays on the default scheduling: %s", pid, exc)


def write_credentials(folder: Path, users: Mapping[str, str]) -> Path:
    """One file per user, {user}.password (mode 0600), in folder (mode 0700)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for user, password in users.items():
        f = folder / f"{user}.password"
        f.write_text(password + "\n")
        f.chmod(0o600)
    return folder


def read_credentials(folder: Path) -> dict[str, str]:
    """user -> password from the {user}.password files of a provisioned credentials folder."""
    if not folder.is_dir():
        return {}
    return {f.name[: -len(".password")]: f.read_text().strip() for f in folder.glob("*.password")}


def check_provision(
    out: Path, cfg: Config, operators: Sequence[str], monitors: Sequence[str], repo_root: Path | None
) -> Path:
    """The resolved output folder of a production broker's files, or ConfigError: the folder is
    inside the repository (credentials never go into it), or a user name is reserved, not a
    plain name, or both operator and monitor."""
    out = out.resolve()
    if repo_root is not None and out.is_relative_to(repo_root.resolve()):
        raise ConfigError(
            "--out", "broker-setup", f"{out} is inside the repository {repo_root}: credentials must live outside it"
        )
    reserved = {CONTROLLER, SIM}
    for name in [*operators, *monitors]:
        if not name or name in reserved or name.startswith("field-") or any(c in name for c in "/+#: "):
            raise ConfigError(cfg.source, "operators", f"user name {name!r} is reserved or not a plain name")
    both = sorted(set(operators) & set(monitors))
    if both:
        raise ConfigError(cfg.source, "operators", f"{both} both operator and monitor")
    return out


@dataclass(frozen=True)
class ProvisionPlan:
    """What a production broker is provisioned with, checked by check_provision. The one shape
    behind both provisioners, which take the same arguments: provision here (Mosquitto) and
    sim.rabbit.provision (a RabbitMQ cluster).

    out: the resolved output folder, outside the repository; rules: user -> [(access, MQTT topic
    filter)] of the roles (acl_rules, without the `sim` user of replays); passwords: user ->
    password, the one in out/credentials kept, a new one for a user without a file."""

    out: Path
    rules: Mapping[str, list[tuple[str, str]]]
    passwords: Mapping[str, str]


def plan_provision(
    out: Path,
    cfg: Config,
    junctions: Iterable[str],
    operators: Sequence[str],
    monitors: Sequence[str],
    repo_root: Path | None,
) -> ProvisionPlan:
    """The ProvisionPlan of a production broker, or ConfigError (check_provision)."""
    out = check_provision(out, cfg, operators, monitors, repo_root)
    rules = acl_rules(Topics(cfg.service.site), junctions, operators, monitors, replays=False)
    kept = read_credentials(out / CREDENTIALS_DIR)
    return ProvisionPlan(out, rules, {u: kept.get(u) or new_password() for u in rules})


def provision(
    out: Path,
    cfg: Config,
    junctions: Iterable[str],
    *,
    operators: Sequence[str],
    monitors: Sequence[str],
    host: str,
    port: int,
    tls: TlsFiles | None = None,
    log_denied: bool = False,
    repo_root: Path | None = None,
) -> Broker:
    """Write a production broker's passwd, acl and mosquitto.conf into `out`, and one credential
    file per user into out/credentials (`run_controller.py broker-setup`). A user whose
    credential file exists keeps its password (re-run after adding junctions or operators).
    `out` must not be inside the repository (repo_root): credentials never go into it."""
    junctions = tuple(junctions)
    plan = plan_provision(out, cfg, junctions, operators, monitors, repo_root)
    broker = Broker(
        plan.out,
        cfg.service.site,
        junctions,
        operators=operators,
        monitors=monitors,
        port=port,
        host=host,
        tls=tls,
        bind_client_ids=True,
        log_denied=log_denied,
        passwords=plan.passwords,
        replays=False,
    )
    broker.write_files()
    broker.write_credentials()
    return broker
