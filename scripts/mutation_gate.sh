#!/usr/bin/env bash
# Mutation testing of the safety gate and the roadside's plan admission (docs/policies.md, "The
# gate's tests under mutation"): mutmut in a private venv, on a copy of this tree (mutmut writes
# its mutated sources under the copy's mutants/). Not part of `make test`: on this 2-core machine
# under load the gate alone takes more than an hour.
#
#   scripts/mutation_gate.sh gate|trust OUT [MUTANT_GLOB...]
#
# gate:  controller/core/safety.py, against the gate's tests;
# trust: controller/roadside_agent.py, controller/core/signing.py, controller/adapters/trust.py,
#        against the plan-trust and roadside tests.
# OUT: a new folder (the copy, and OUT/venv unless VENV names one made before); MUTANT_GLOB:
# only these mutants (fnmatch, e.g. 'controller.core.safety.x__fit__mutmut_*'). MUT_MAX_EXAMPLES
# (default 10) caps every Hypothesis test's examples, and the shrink phase is off: a screen, its
# survivors are worth a run at the suite's own counts (MUT_MAX_EXAMPLES=0). Results:
# `cd OUT/tree && $VENV/bin/mutmut results`, `... mutmut show NAME`.
set -euo pipefail
preset=${1:?gate or trust}
out=${2:?output folder}
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$out/venv}
mkdir -p "$out"
if [ ! -x "$venv/bin/mutmut" ]; then
    python3 -m venv "$venv"
    # the project's dependencies and test tools from pyproject.toml (one list), not the project itself:
    # the copy is imported from its own folder
    mapfile -t deps < <("$venv/bin/python" -c 'import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["test"]))' "$here/pyproject.toml")
    "$venv/bin/pip" install -q "mutmut==3.8.1" "${deps[@]}"
fi
tree=$out/tree
mkdir -p "$tree"
cp -r "$here/controller" "$here/sim" "$here/tests" "$here/intersections" "$here/config.toml" "$here/pyproject.toml" "$tree/"
find "$tree" -name __pycache__ -prune -exec rm -rf {} +
cat > "$tree/tests/mut_noshrink.py" <<'EOF'
"""pytest plugin of the mutation runs (scripts/mutation_gate.sh): Hypothesis without its shrink
phase (a killed mutant costs its first failing example); MUT_MAX_EXAMPLES=N caps every test's examples."""

import os

from hypothesis import Phase, settings

CAP = int(os.environ.get("MUT_MAX_EXAMPLES", "10"))
settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None)
settings.load_profile("mutation")
if CAP:
    _init = settings.__init__

    def _capped(self, parent=None, **kw):  # type: ignore[no-untyped-def]
        if kw.get("max_examples", CAP + 1) > CAP:
            kw["max_examples"] = CAP
        _init(self, parent, **kw)

    settings.__init__ = _capped  # type: ignore[method-assign]
EOF
q() { printf '"%s", ' "$@" | sed 's/, $//'; }
# deselected: a test of the module's own state (mutmut's tables are module state), a count of the
# memo's hits that needs more than the capped examples, and the six policies' closed loops (a
# minute a mutant; run the survivors again with them: MUT_FULL=1)
deselect=(--deselect tests/unit/test_gate_memo_owned.py::test_the_safety_module_keeps_no_state
    --deselect tests/unit/test_gate_latest.py::test_latest_s_is_set_on_most_plans)
[ "${MUT_FULL:-0}" = 1 ] || deselect+=(--deselect
    tests/unit/test_safety_properties.py::test_every_policy_through_gate_and_roadside_shows_a_safe_signal)
case $preset in
gate)
    mutate=(controller/core/safety.py)
    tests=(tests/unit/test_safety_gate.py tests/unit/test_safety_gate_exact.py tests/unit/test_safety_properties.py
        tests/unit/test_gate_latest.py tests/unit/test_gate_memo.py tests/unit/test_gate_memo_owned.py
        tests/unit/test_gate_target.py tests/unit/test_roadside.py tests/unit/test_roadside_early_start.py
        tests/unit/test_roadside_keep_off.py tests/unit/test_roadside_transitions.py tests/unit/test_plan_trust.py) ;;
trust)
    mutate=(controller/roadside_agent.py controller/core/signing.py controller/adapters/trust.py)
    tests=(tests/unit/test_plan_trust.py tests/unit/test_plan_trust_edges.py tests/unit/test_roadside.py
        tests/unit/test_roadside_early_start.py tests/unit/test_roadside_keep_off.py
        tests/unit/test_roadside_transitions.py tests/unit/test_safety_properties.py tests/unit/test_safety_gate.py
        tests/unit/test_policy_restore.py tests/unit/test_takeover.py) ;;
*) echo "preset: gate or trust" >&2; exit 2 ;;
esac
cat >> "$tree/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["controller", "sim"]
only_mutate = [$(q "${mutate[@]}")]
pytest_add_cli_args = [$(q "${deselect[@]}"), "-p", "tests.mut_noshrink", "-m", "not slow", "-p", "no:cacheprovider"]
pytest_add_cli_args_test_selection = [$(q "${tests[@]}")]
also_copy = ["intersections", "config.toml"]
EOF
cd "$tree"
MUT_MAX_EXAMPLES=${MUT_MAX_EXAMPLES:-10} nice -n 5 "$venv/bin/mutmut" run --max-children "${MUT_CHILDREN:-2}" "$@"
"$venv/bin/mutmut" results > "$out/results.txt" || true
echo "survivors: $out/results.txt"
