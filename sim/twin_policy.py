"""The SUMO twin for a change of policy or of its parameters (issue 14): the candidate policy and
the incumbent one, each run in closed loop over the horizon, from what the controller knows.

An acyclic policy (max_pressure, schedule, adaptive) decides every second: its decisions cannot
be simulated one by one before they go out. What is validated instead is the policy with its
parameters: the twin runs the project's own controller (controller/service.py ControllerService,
the policy, the same safety gate) against the twin's own induction loops and virtual roadside
controllers (sim/field.py SumoField, sim/roadside.py), as `simulate` does in process
(sim/simulate.py InProcessLoop), once per policy, on the same scenario and seed. It never reads
the field's state.

Steps (`predict_policies`, what the validation gate runs in its worker process):
1. Scenario: sim/twin.py build_scenario (the recent counts projected over the horizon, routed;
   the estimated queues as standing vehicles), built once and used by both runs; the region's
   induction loops (the city's own too: the twin loads only the network) as an additional file.
2. Two runs in parallel, each a process of its own (libsumo runs one simulation per process),
   forked from the caller once the controller is imported (no start-up cost per run; the spec
   is kept beside the run: `python -m sim.twin_policy SPEC` reruns it): the policy with its
   config controls the region's junctions, every other traffic light keeps the network's program.
   Do no harm is off inside the run: the policy is judged on its own, not rescued by a switch to
   the fixed plan half-way.
3. Prediction per junction: sim/twin.py write_lanedata / read_prediction (SUMO's time loss on
   the junction's approach edges), as for a cycle plan.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import sumolib

from controller.config import Config
from controller.core.validation import PolicyChoice, ValidationParams
from controller.errors import AdapterError
from controller.model import Intersection
from controller.validation import policy_config
from sim.field import SumoField, write_detector_file
from sim.simulate import InProcessLoop
from sim.sumo import SumoRefused, load_api, start_command, start_sumo
from sim.twin import (
    TwinRequest,
    TwinResult,
    approach_edges,
    approach_lanes,
    build_scenario,
    read_prediction,
    region_counts,
    region_of,
    write_lanedata,
)


@dataclass(frozen=True)
class PolicyTwinRequest:
    """One validation of a policy change: the region, what the controller knows, the policy in
    force and the candidate, and the service's config (each run applies its policy's parameters)."""

    net_file: str
    junctions: tuple[Intersection, ...]  # the region: the policies control these
    counts: Mapping[str, tuple[int, ...]]  # loop -> vehicles per class (VEHICLE_CLASSES order) over window_s
    window_s: float
    queues_pcu: Mapping[str, float]  # lane -> estimated queue (PCU)
    incumbent: PolicyChoice
    candidate: PolicyChoice
    cfg: Config
    work_dir: str
    horizon_s: float = ValidationParams.horizon_s
    seed: int = ValidationParams.seed
    programs: tuple[str, ...] = ()  # additional files with the city's own signal programs (TwinRequest.programs)
    vtype_files: tuple[str, ...] = ()  # the city's vehicle types (TwinRequest.vtype_files)

    def scenario(self) -> TwinRequest:
        """The same scenario as a cycle plan's twin (no plans: the network's programs, or the
        city's own when `programs` names them)."""
        return TwinRequest(
            self.net_file,
            self.junctions,
            self.counts,
            self.window_s,
            self.queues_pcu,
            {},
            {},
            self.work_dir,
            horizon_s=self.horizon_s,
            seed=self.seed,
            vehicle_spacing_m=self.cfg.detectors.vehicle_spacing_m,
            programs=self.programs,
            vtype_files=self.vtype_files,
        )


@dataclass(frozen=True)
class RunSpec:
    """One closed-loop run, what the child process reads (pickled)."""

    net_file: str
    routes: tuple[str, ...]
    additional: tuple[str, ...]
    junctions: tuple[Intersection, ...]
    policy: str
    cfg: Config
    horizon_s: float
    seed: int


def loops_file(junctions: tuple[Intersection, ...], path: Path, loop_length_m: float) -> Path:
    """The region's induction loops as a SUMO additional, the city's own included (the twin
    loads the bare network, without the scenario's files where the city's loops are)."""
    own = {
        j.id: dataclasses.replace(j, detectors=tuple(dataclasses.replace(d, city=False) for d in j.detectors))
        for j in junctions
    }
    return write_detector_file(own, path, loop_length_m)


def _launch(spec: RunSpec, out: Path) -> int:
    """Fork a child that runs `spec` (this process has the controller imported already: the child
    starts at once); its output goes to out/run.log. Returns its pid (exit status 0: done)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.pickle").write_bytes(pickle.dumps(spec))  # to rerun by hand: python -m sim.twin_policy SPEC
    log_fd = os.open(out / "run.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pid = os.fork()
    if pid:
        os.close(log_fd)
        return pid
    status = 1  # the child: never returns into the caller's code
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        sys.stderr = os.fdopen(2, "w", closefd=False)
        print(f"policy={spec.policy} plans_sent={run_closed_loop(spec)}", flush=True)
        status = 0
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(status)


def _exit_code(status: int) -> int:
    """A child's exit code from its wait status (a signal: 128 + its number)."""
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _end(pids: Iterable[int]) -> None:
    """Kill and reap children (SIGKILL: a twin's run keeps nothing worth a clean exit)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _wait_all(pids: dict[str, int], poll_s: float = 0.02) -> str | None:
    """Reap every child, whatever happens. The first to fail ends the others (their prediction is
    of no use without it: SIGKILL, a twin's run keeps nothing); an interrupt ends them all. Returns
    the name of the first child that failed, None when every one exited 0."""
    running, failed = dict(pids), None
    try:
        while running:
            for name, pid in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
                del running[name]
                if failed is None and _exit_code(status) != 0:
                    failed = name
                    _end(running.values())
                    running.clear()
                    break
            if running:
                time.sleep(poll_s)
    finally:
        _end(running.values())  # interrupted: no child left running or unreaped
    return failed


def predict_policies(req: PolicyTwinRequest) -> TwinResult:
    """Build the scenario once, run the incumbent policy and the candidate in parallel, read both.
    AdapterError when a policy or its parameters are refused by the config, or a run fails."""
    t0 = time.monotonic()
    configs = {
        "incumbent": (req.incumbent.name, policy_config(req.cfg, req.incumbent)),
        "candidate": (req.candidate.name, policy_config(req.cfg, req.candidate)),
    }
    net = sumolib.net.readNet(req.net_file, withInternal=False)
    routes, info = build_scenario(req.scenario(), net)
    run_dir = Path(req.work_dir).resolve() / f"policy_{time.time_ns()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    loops = loops_file(req.junctions, run_dir / "loops.add.xml", req.cfg.detectors.loop_length_m)
    approaches = {j.id: approach_lanes(net, j) for j in req.junctions}
    edges = approach_edges(approaches)
    t1 = time.monotonic()
    specs = {}
    for name, (policy, cfg) in configs.items():
        out = run_dir / name
        out.mkdir(parents=True, exist_ok=True)
        lanedata = write_lanedata(out / "lanedata.add.xml", out / "lanedata.xml", req.horizon_s, edges)
        specs[name] = RunSpec(
            req.net_file,
            tuple(map(str, routes)),
            (*req.programs, str(loops), str(lanedata)),
            req.junctions,
            policy,
            cfg,
            req.horizon_s,
            req.seed,
        )
    procs: dict[str, int] = {}
    try:
        for name, spec in specs.items():
            procs[name] = _launch(spec, run_dir / name)
    except BaseException:
        _end(procs.values())
        raise
    failed = _wait_all(procs)
    if failed is not None:
        run_log = run_dir / failed / "run.log"
        said = [ln for ln in run_log.read_text().splitlines() if ln.strip()]
        raise AdapterError(f"twin policy run {failed} failed: {said[-1] if said else 'no output'} ({run_log})")
    t2 = time.monotonic()
    preds = {name: read_prediction(run_dir / name / "lanedata.xml", approaches) for name in procs}
    return TwinResult.of(preds, (t0, t1, t2), info, {"runs": str(run_dir)})


def run_closed_loop(spec: RunSpec) -> int:
    """One policy in closed loop with the twin's SUMO over the horizon (in this process: libsumo
    when installed, one simulation per process). Returns the plans the controller sent."""
    api = load_api(True)
    args = ["-n", spec.net_file, "-r", ",".join(spec.routes), "-a", ",".join(spec.additional)]
    args += ["-b", "0", "-e", f"{spec.horizon_s:g}", "--seed", str(spec.seed), "--step-length", "1"]
    args += ["--no-step-log", "true", "--no-warnings", "true", "--duration-log.disable", "true"]
    try:
        start_sumo(api, [start_command(api), *args])
    except SumoRefused as exc:  # SUMO's reason first: the command line is in the run's spec
        raise AdapterError(f"the twin's SUMO did not start: {exc}") from None
    try:
        junctions = {j.id: j for j in spec.junctions}
        rs = spec.cfg.roadside
        field = SumoField(api, junctions, rs.backup_s, keep_off_through_intergreen=rs.keep_off_through_intergreen)
        # the policy judged on its own: no do-no-harm switch to the fixed plan inside the run, and
        # no twin of the twin (simulate wires the gate when [validation] is enabled)
        harm = dataclasses.replace(spec.cfg.harm, enabled=False, validate_return=False)
        validation = dataclasses.replace(spec.cfg.validation, enabled=False)
        cfg = dataclasses.replace(spec.cfg, harm=harm, validation=validation)
        loop = InProcessLoop(field, junctions, cfg, spec.policy, 0.0)
        loop.start(0.0)
        t_s = api.simulation.getTime()
        while t_s < spec.horizon_s:
            api.simulationStep()
            t_s = api.simulation.getTime()
            loop.second(t_s)
        return loop.plans_sent
    finally:
        api.close()


@dataclass(frozen=True)
class PolicyRequestMaker:
    """The service's side of a policy change's validation (controller/validation.py
    DeskValidation.make_policy_request): a PolicyTwinRequest on the region of one junction (it and
    its upstream and downstream neighbours), from the recent counts the service keeps and the
    estimated queues, with the service's config."""

    net_file: str
    junctions: Mapping[str, Intersection]
    recent: object  # RecentCounts: totals(now_s) -> loop -> vehicles per class
    window_s: float
    work_dir: str
    cfg: Config
    horizon_s: float = ValidationParams.horizon_s
    seed: int = ValidationParams.seed
    programs: tuple[str, ...] = ()  # PolicyTwinRequest.programs
    vtype_files: tuple[str, ...] = ()  # PolicyTwinRequest.vtype_files

    def region(self, jid: str) -> tuple[Intersection, ...]:
        return region_of(self.junctions, jid)

    def __call__(
        self, jid: str, candidate: PolicyChoice, incumbent: PolicyChoice, queues_pcu: Mapping[str, float], now_s: float
    ) -> PolicyTwinRequest:
        region = self.region(jid)
        lanes = {ln for r in region for m in r.movements for ln in m.lanes}
        return PolicyTwinRequest(
            self.net_file,
            region,
            region_counts(self.recent, region, now_s),
            self.window_s,
            {ln: q for ln, q in queues_pcu.items() if ln in lanes},
            incumbent,
            candidate,
            self.cfg,
            self.work_dir,
            horizon_s=self.horizon_s,
            seed=self.seed,
            programs=self.programs,
            vtype_files=self.vtype_files,
        )


def main(argv: list[str]) -> int:
    spec = pickle.loads(Path(argv[0]).read_bytes())
    plans = run_closed_loop(spec)
    print(f"policy={spec.policy} plans_sent={plans}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
