"""A private RabbitMQ cluster with its MQTT plugin: the clustered broker of docs/deployment.md,
started on free loopback ports for tests and demos, with the same four roles as sim/broker.py.

Each node is a `rabbitmq-server` process (Debian package `rabbitmq-server`, 3.10) with its own
node name, MQTT listener, Erlang distribution port, database and log folders; the nodes share one
Erlang cookie and one private `epmd` (on a free port, so the cluster meets no other Erlang node of
the host). Node 1 loads the users and permissions at boot (`load_definitions`); the others join it
with `rabbitmqctl join_cluster`.

The roles are those of `sim.broker.acl_rules`, translated into RabbitMQ's permissions:

- topic permissions on `amq.topic` (the exchange the MQTT plugin publishes to): one write and one
  read regular expression per user over AMQP routing keys, where the plugin turns the MQTT topic
  `a/b` into `a.b` and a subscription's `+` into `*`. A '.' inside a level would become a level
  of its own (a wildcard subscription would miss it), so junction ids with a '.' are refused, and
  the id `*` (a wildcard in AMQP);
- vhost permissions on the plugin's subscription queues, `mqtt-subscription-{client id}qos{0,1}`:
  a user may only declare, bind and read the queues of client ids made of its user name (exactly
  it with `bind_client_ids`, or it followed by `-anything`), so no user reads another's session.
  `controller` may use any client id (one per instance, docs/deployment.md).

What RabbitMQ 3.10 does not give (MQTT 5, retained messages across nodes, client ids bound to user
names, a per-client session expiry) and how the contract degrades is in docs/deployment.md, and
tested in tests/integration/test_rabbitmq_cluster.py.

    with RabbitCluster(tmp_path, site="city", junctions=["J1"]) as cluster:
        ctl = cluster.settings("controller", node=0)
        dev = cluster.settings(field_user("J1"), node=1)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from controller.adapters.mqtt import MqttSettings, Topics, topic_level
from controller.config import BrokerConfig, Config
from controller.errors import AdapterError
from controller.live import LOCKSTEP_TIMEOUT_S
from sim.broker import CONTROLLER, TlsFiles, acl_rules, free_port, new_password, private_settings
from sim.simulate import SimulateRequest

log = logging.getLogger(__name__)

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")  # the Debian package's scripts (/usr/sbin's wrappers su to `rabbitmq`)
EXCHANGE = "amq.topic"
VHOST = "/"
MQTT_VERSION = "3.1.1"  # the only MQTT version of RabbitMQ 3.10's plugin (MQTT 5 came with 3.13)
NOTHING = "^$"  # a permission pattern that matches no resource


def find_rabbitmq() -> tuple[Path, Path, str]:
    """(rabbitmq-server, rabbitmqctl, epmd), or AdapterError(fatal) naming what to install."""
    server, ctl = RABBIT_BIN / "rabbitmq-server", RABBIT_BIN / "rabbitmqctl"
    epmd = shutil.which("epmd")
    if not (os.access(server, os.X_OK) and os.access(ctl, os.X_OK) and epmd):
        raise AdapterError(
            f"RabbitMQ not found ({server}, {ctl}, epmd): install the Debian package `rabbitmq-server` "
            "(make system-deps)",
            fatal=True,
        )
    return server, ctl, epmd


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def amqp_key(topic: str) -> str:
    """The AMQP routing key RabbitMQ 3.10's MQTT plugin uses for an MQTT topic: '/' becomes '.'."""
    return topic.replace("/", ".")


def check_junction_ids(junctions: Iterable[str]) -> None:
    """AdapterError naming the first junction id RabbitMQ 3.10 cannot route as one topic level:
    a '.' splits it into two AMQP words (`+/status` would not match it), `*` is an AMQP wildcard."""
    for jid in junctions:
        level = topic_level(jid)
        if "." in level or level == "*":
            raise AdapterError(
                f"junction id {jid!r} cannot be one topic level on RabbitMQ's MQTT plugin "
                "('.' is its level separator, '*' a wildcard): rename the traffic light (docs/deployment.md)",
                fatal=True,
            )


def topic_regex(topic_filter: str) -> str:
    """A regular expression (no anchors) over routing keys for an MQTT topic filter: it matches
    every topic of the filter, and the binding key of a subscription to the filter or to a
    narrower one ('+' matches one level or '*', a trailing '#' any number of levels)."""
    levels = amqp_key(topic_filter).split(".")
    out = ""
    for i, level in enumerate(levels):
        if level == "#":
            if i != len(levels) - 1:
                raise AdapterError(f"'#' must be the last level of the topic filter {topic_filter!r}")
            return out + r"(\..*)?" if out else ".*"
        out += (r"\." if i else "") + (r"[^.]+" if level == "+" else re.escape(level))
    return out


def _any_of(filters: Sequence[str]) -> str:
    return "^(" + "|".join(topic_regex(f) for f in filters) + ")$" if filters else NOTHING


def definitions(
    rules: Mapping[str, Sequence[tuple[str, str]]], passwords: Mapping[str, str], *, bind_client_ids: bool
) -> dict[str, list[dict[str, str]]]:
    """RabbitMQ definitions (users, vhost permissions, topic permissions) of the roles `rules`
    (user -> [(access, MQTT topic filter)], sim.broker.acl_rules), in the format of
    `rabbitmqctl import_definitions` and of `load_definitions`."""
    users: list[dict[str, str]] = []
    perms: list[dict[str, str]] = []
    topic_perms: list[dict[str, str]] = []
    for user, user_rules in rules.items():
        users.append({"name": user, "password_hash": password_hash(passwords[user]), "tags": ""})
        users[-1]["hashing_algorithm"] = "rabbit_password_hashing_sha256"
        cid = ".*" if user == CONTROLLER else re.escape(user) + ("" if bind_client_ids else "(-.*)?")
        queues = f"mqtt-subscription-{cid}qos[01]"
        perms.append(
            {
                "user": user,
                "vhost": VHOST,
                "configure": f"^{queues}$",
                "write": f"^({queues}|{re.escape(EXCHANGE)})$",
                "read": f"^({queues}|{re.escape(EXCHANGE)})$",
            }
        )
        writes = [f for access, f in user_rules if access in ("write", "readwrite")]
        reads = [f for access, f in user_rules if access in ("read", "readwrite")]
        topic_perms.append(
            {"user": user, "vhost": VHOST, "exchange": EXCHANGE, "write": _any_of(writes), "read": _any_of(reads)}
        )
    return {"users": users, "vhosts": [{"name": VHOST}], "permissions": perms, "topic_permissions": topic_perms}


def rabbitmq_conf(
    host: str, port: int, tls: TlsFiles | None, session_ttl_s: float, session_queues: str, definitions_file: Path | None
) -> str:
    """rabbitmq.conf of a node: no AMQP listener, one MQTT listener (TLS only when `tls`), no
    anonymous access, the session expiry of every client (mqtt.subscription_ttl) and the type of
    the session queues; `load_definitions` at boot when definitions_file is given."""
    conf = ["# generated by sim/rabbit.py", "listeners.tcp = none", "loopback_users = none"]
    if tls is None:
        conf.append(f"mqtt.listeners.tcp.default = {host}:{port}")
    else:
        conf += [
            "mqtt.listeners.tcp = none",
            f"mqtt.listeners.ssl.default = {host}:{port}",
            f"ssl_options.cacertfile = {tls.ca_file}",
            f"ssl_options.certfile = {tls.cert_file}",
            f"ssl_options.keyfile = {tls.key_file}",
            "ssl_options.versions.1 = tlsv1.2",
            "ssl_options.verify = verify_none",  # clients are not asked for certificates: passwords
            "ssl_options.fail_if_no_peer_cert = false",
        ]
    conf += [
        "mqtt.allow_anonymous = false",
        f"mqtt.vhost = {VHOST}",
        f"mqtt.exchange = {EXCHANGE}",
        f"mqtt.durable_queue_type = {session_queues}",
        "log.file.level = info",
        "log.console = false",
    ]
    if session_ttl_s > 0:  # 0: clean sessions only, nothing kept
        conf.append(f"mqtt.subscription_ttl = {round(session_ttl_s * 1000)}")
    if definitions_file is not None:
        conf.append(f"load_definitions = {definitions_file}")
    return "\n".join(conf) + "\n"


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
    session_queues: str = "quorum",
    repo_root: Path | None = None,
) -> dict[str, str]:
    """A production RabbitMQ cluster's files in `out` (outside the repository): definitions.json
    (users with salted hashes, permissions of the four roles, client ids bound to user names),
    rabbitmq.conf for every node (its MQTT listener on host:port, the session expiry of
    [broker] session_expiry_s, quorum session queues), enabled_plugins, and credentials/ with one
    file per user (existing passwords kept). Returns user -> password."""
    from sim.broker import CREDENTIALS_DIR, plan_provision, write_credentials

    junctions = list(junctions)
    check_junction_ids(junctions)
    plan = plan_provision(out, cfg, junctions, operators, monitors, repo_root)
    users = dict(plan.passwords)
    plan.out.mkdir(parents=True, exist_ok=True)
    defs = plan.out / "definitions.json"
    defs.write_text(json.dumps(definitions(plan.rules, users, bind_client_ids=True), indent=1))
    defs.chmod(0o600)
    ttl_s = cfg.broker.session_expiry_s
    (plan.out / "rabbitmq.conf").write_text(rabbitmq_conf(host, port, tls, ttl_s, session_queues, defs))
    (plan.out / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
    write_credentials(plan.out / CREDENTIALS_DIR, users)
    return users


@dataclass(frozen=True)
class RabbitNode:
    """One node of the cluster: its Erlang node name, its MQTT port and its folder."""

    name: str
    mqtt_port: int
    dist_port: int
    folder: Path

    @property
    def log_path(self) -> Path:
        return self.folder / "log" / f"{self.name}.log"


class RabbitCluster:
    """A cluster of `nodes` RabbitMQ nodes on loopback with the MQTT plugin and the service's roles.

    `start` boots every node, joins nodes 2.. to node 1 and checks that the cluster runs them all;
    it raises AdapterError(fatal), with the tail of the node's log, when a node does not come up.
    `stop` stops every node and the private epmd. Users and passwords as sim.broker.Broker."""

    def __init__(
        self,
        workdir: str | Path,
        site: str,
        junctions: Iterable[str] = (),
        *,
        nodes: int = 2,
        operators: Sequence[str] = ("operator",),
        monitors: Sequence[str] = ("monitor",),
        extra_users: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        replays: bool = True,
        bind_client_ids: bool = False,
        session_ttl_s: float = BrokerConfig.session_expiry_s,
        session_queues: str = "classic",
        tls: TlsFiles | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """session_ttl_s: how long the broker keeps the session of a client with clean_session
        false while it is away (mqtt.subscription_ttl: one value for every client, MQTT 3.1.1
        has no per-client session expiry). bind_client_ids: a user's client id must be its user
        name exactly (otherwise its user name followed by `-anything`). session_queues: the type of
        the queues that hold persistent sessions, "classic" (on the node where the client first
        subscribed) or "quorum" (replicated on every node; needs a majority of the nodes up)."""
        if session_queues not in ("classic", "quorum"):
            raise AdapterError(f"session_queues must be 'classic' or 'quorum', got {session_queues!r}")
        if nodes < 1:
            raise AdapterError(f"a cluster needs at least one node, got {nodes}")
        self.server, self.ctl_path, self.epmd = find_rabbitmq()
        junctions = list(junctions)
        check_junction_ids(junctions)
        self.workdir = Path(workdir).resolve()
        self.topics = Topics(site)
        self.host = host
        self.tls = tls
        self.session_ttl_s = session_ttl_s
        self.session_queues = session_queues
        self.bind_client_ids = bind_client_ids
        self.rules = acl_rules(self.topics, junctions, operators, monitors, extra_users, replays)
        self.users = {u: new_password() for u in self.rules}
        self.epmd_port = free_port(host)
        tag = secrets.token_hex(3)  # node names unique on the host, whatever else runs there
        self.nodes = [
            RabbitNode(f"tsc{k + 1}-{tag}@localhost", free_port(host), free_port(host), self.workdir / f"node{k + 1}")
            for k in range(nodes)
        ]
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._epmd: subprocess.Popen[bytes] | None = None

    # -- environment -----------------------------------------------------------------------
    def _env(self, node: RabbitNode | None = None) -> dict[str, str]:
        """Environment of a node (or of the CLI tools when node is None): private HOME (the cookie)
        and epmd, the node's folders, ports and config."""
        env = {**os.environ, "HOME": str(self.workdir), "ERL_EPMD_PORT": str(self.epmd_port)}
        env["RABBITMQ_CONF_ENV_FILE"] = "/dev/null"  # not the host's /etc/rabbitmq/rabbitmq-env.conf
        if node is None:
            return env
        f = node.folder
        env.update(
            RABBITMQ_NODENAME=node.name,
            RABBITMQ_NODE_IP_ADDRESS=self.host,
            RABBITMQ_DIST_PORT=str(node.dist_port),
            RABBITMQ_MNESIA_BASE=str(f / "mnesia"),
            RABBITMQ_LOG_BASE=str(f / "log"),
            RABBITMQ_CONFIG_FILE=str(f / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(f / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(f / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(f / "rabbitmq.pid"),
            # distribution on loopback only; idle schedulers sleep (two small CPUs shared with SUMO)
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} "
            "+sbwt none +sbwtdcpu none +sbwtdio none",
        )
        return env

    def conf_text(self, node: RabbitNode, seed: bool) -> str:
        """rabbitmq.conf of one node; the seed node loads the users and permissions."""
        defs = self.workdir / "definitions.json" if seed else None
        return rabbitmq_conf(self.host, node.mqtt_port, self.tls, self.session_ttl_s, self.session_queues, defs)

    def write_files(self) -> None:
        """Cookie, definitions and one folder per node (conf, enabled plugins)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        cookie = self.workdir / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(16))
            cookie.chmod(0o400)
        defs = self.workdir / "definitions.json"
        defs.write_text(json.dumps(definitions(self.rules, self.users, bind_client_ids=self.bind_client_ids)))
        defs.chmod(0o600)
        for k, node in enumerate(self.nodes):
            (node.folder / "log").mkdir(parents=True, exist_ok=True)
            (node.folder / "rabbitmq.conf").write_text(self.conf_text(node, seed=k == 0))
            (node.folder / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")  # offline: read at boot

    # -- processes -------------------------------------------------------------------------
    def start(self, timeout_s: float = 120.0) -> RabbitCluster:
        """Boot every node (in parallel), cluster them, and return once each one's MQTT listener
        accepts connections. AdapterError(fatal) with the node's log when one does not."""
        if self._procs:
            return self
        self.write_files()
        with open(self.workdir / "epmd.log", "ab") as out:
            self._epmd = subprocess.Popen(
                [self.epmd, "-port", str(self.epmd_port), "-address", self.host], stdout=out, stderr=out
            )
        try:
            deadline = time.monotonic() + timeout_s
            for node in self.nodes:
                self._spawn(node)
            for node in self.nodes:
                self._wait_listening(node, deadline)
            for node in self.nodes[1:]:
                self.join(node, deadline)
            self._check_running(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, node: RabbitNode) -> None:
        with open(node.folder / "stdout.log", "ab") as out:
            self._procs[node.name] = subprocess.Popen(
                [str(self.server)], stdout=out, stderr=out, env=self._env(node), cwd=node.folder
            )

    def _wait_listening(self, node: RabbitNode, deadline: float) -> None:
        proc = self._procs[node.name]
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AdapterError(
                    f"RabbitMQ node {node.name} exited with {proc.returncode}: {self.log_tail(node)}", fatal=True
                )
            try:
                with socket.create_connection((self.host, node.mqtt_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise AdapterError(
            f"RabbitMQ node {node.name} did not listen for MQTT on {self.host}:{node.mqtt_port} in time: "
            f"{self.log_tail(node)}",
            fatal=True,
        )

    def ctl(self, node: RabbitNode, *args: str, timeout_s: float = 60.0) -> str:
        """rabbitmqctl -n node args...: its output, or AdapterError(fatal) with its error."""
        cmd = [str(self.ctl_path), "-n", node.name, *args]
        try:
            done = subprocess.run(cmd, env=self._env(), capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AdapterError(f"{' '.join(cmd)} did not answer in {timeout_s:g} s", fatal=True) from None
        if done.returncode != 0:
            raise AdapterError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-800:]}", fatal=True)
        return done.stdout

    def join(self, node: RabbitNode, deadline: float) -> None:
        """Make `node` (fresh) a member of node 1's cluster: stop_app, join_cluster, start_app."""

        def left() -> float:
            return max(5.0, deadline - time.monotonic())

        self.ctl(node, "stop_app", timeout_s=left())
        self.ctl(node, "join_cluster", self.nodes[0].name, timeout_s=left())
        self.ctl(node, "start_app", timeout_s=left())
        self._wait_listening(node, deadline)

    def running_nodes(self) -> list[str]:
        """The cluster's running nodes, as node 1 (or the first node up) sees them."""
        for node in self.nodes:
            if self.node_running(node):
                status = json.loads(self.ctl(node, "cluster_status", "--formatter", "json"))
                return sorted(status.get("running_nodes", []))
        return []

    def _check_running(self, deadline: float) -> None:
        want = sorted(n.name for n in self.nodes)
        while True:
            got = self.running_nodes()
            if got == want:
                return
            if time.monotonic() > deadline:
                raise AdapterError(f"RabbitMQ cluster runs {got}, not {want}: {self.log_tail()}", fatal=True)
            time.sleep(0.5)

    def node_running(self, node: RabbitNode) -> bool:
        proc = self._procs.get(node.name)
        return proc is not None and proc.poll() is None

    def stop_node(self, node: RabbitNode, timeout_s: float = 30.0) -> None:
        """SIGTERM: the node shuts down cleanly (its clients are disconnected)."""
        proc = self._procs.pop(node.name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        """Stop the nodes (the last one started first) and the private epmd."""
        for node in reversed(self.nodes):
            self.stop_node(node)
        if self._epmd is not None:
            self._epmd.terminate()
            try:
                self._epmd.wait(5)
            except subprocess.TimeoutExpired:
                self._epmd.kill()
                self._epmd.wait()
            self._epmd = None

    def __enter__(self) -> RabbitCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, node: RabbitNode | None = None, n: int = 20) -> str:
        """The last n lines of a node's log and output (node 1 by default)."""
        node = node or self.nodes[0]
        text = ""
        for p in (node.log_path, node.folder / "stdout.log"):
            if p.exists():
                text += p.read_text(errors="replace")
        return "\n".join(text.splitlines()[-n:])

    # -- clients ---------------------------------------------------------------------------
    def settings(self, user: str, client_id: str | None = None, *, node: int = 0, **overrides: Any) -> MqttSettings:
        """MQTT 3.1.1 connection settings for one of the users, on node `node` (0-based)
        (sim.broker.private_settings)."""
        overrides.setdefault("protocol", MQTT_VERSION)
        port = self.nodes[node].mqtt_port
        return private_settings(self.host, port, user, self.users[user], client_id, self.tls, overrides)

    def controller_config(self, cfg: Config, node: int = 0) -> Config:
        """cfg with [broker] pointing at node `node` as the controller user, MQTT 3.1.1."""
        return replace(
            cfg,
            broker=replace(
                cfg.broker,
                host=self.host,
                port=self.nodes[node].mqtt_port,
                tls=self.tls is not None,
                ca_file=str(self.tls.ca_file) if self.tls else "",
                username=CONTROLLER,
                password=self.users[CONTROLLER],
                mqtt_version=MQTT_VERSION,
                session_expiry_s=min(cfg.broker.session_expiry_s, self.session_ttl_s),
            ),
        )

    def split(self, controller_node: int = 0, field_node: int = 1, spread: bool = False) -> ClusterSplit:
        """A Broker-like view (sim.mqtt_run.MqttLoop) that connects the controller user to one
        node (each region's instance to the next node with `spread`) and every other user (field
        devices, the replay clock) to another."""
        return ClusterSplit(self, controller_node, field_node % len(self.nodes), spread)


class ClusterSplit:
    """sim.broker.Broker's client-side interface over a RabbitCluster: the controller on one
    node, everyone else on another, so every message of a run crosses the cluster. With
    `spread`, each controller client id (one per region instance, sim/mqtt_run.py) gets the next
    node in turn, starting at controller_node."""

    def __init__(self, cluster: RabbitCluster, controller_node: int, field_node: int, spread: bool = False) -> None:
        self.cluster, self.controller_node, self.field_node, self.spread = cluster, controller_node, field_node, spread
        self.placed: dict[str, int] = {}  # controller client id -> node index

    @property
    def topics(self) -> Topics:
        return self.cluster.topics

    @property
    def host(self) -> str:
        return self.cluster.host

    @property
    def port(self) -> int:
        return self.cluster.nodes[self.controller_node].mqtt_port

    def _node(self, user: str, client_id: str | None) -> int:
        if user != CONTROLLER:
            return self.field_node
        if not self.spread or client_id is None:
            return self.controller_node
        if client_id not in self.placed:
            self.placed[client_id] = (self.controller_node + len(self.placed)) % len(self.cluster.nodes)
        return self.placed[client_id]

    def settings(self, user: str, client_id: str | None = None, **overrides: Any) -> MqttSettings:
        return self.cluster.settings(user, client_id, node=self._node(user, client_id), **overrides)

    def controller_config(self, cfg: Config) -> Config:
        """[broker] of the controller user (host and port as for controller_node; the region
        nodes of sim/mqtt_run.py connect with settings(), placed by client id)."""
        return self.cluster.controller_config(cfg, self.controller_node)

    def log_tail(self, n: int = 20) -> str:
        return "\n".join(self.cluster.log_tail(node, n) for node in self.cluster.nodes)


def run_via_cluster(
    req: SimulateRequest,
    cfg: Config,
    broker: ClusterSplit,
    *,
    timeout_s: float = LOCKSTEP_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """sim.simulate.run in lockstep through a running cluster (sim.mqtt_run.MqttLoop): the
    service on one node, the field and the replay clock on another. Same outputs as
    `simulate --via-mqtt` (tripinfo.xml, summary.json with summary["transport"])."""
    from sim.mqtt_run import MqttLoop
    from sim.simulate import run

    # ClusterSplit stands for the Broker's client side (topics, settings, controller_config)
    factory = functools.partial(MqttLoop, broker=broker, timeout_s=timeout_s)
    return run(req, cfg, progress=progress, loop_factory=factory)
