#!/usr/bin/env bash
# The long mutation profile over the engine's judging modules: the tolerance policy, the verdict,
# the reference and probe oracles, the diagnosis review and the backward judge (the modules and
# the test selection are in [tool.mutmut], pyproject.toml):
#   bash bench/mutation.sh            # run, then list every mutant that was not killed
# Every survivor must be killed by a test of its class or listed in bench/results/mutation.md as
# equivalent, with the reason. The whole profile is long (about 1,300 mutants; hours on 2 cores):
# MUTMUT_CHILDREN sets the workers, and `mutmut run "matcalc.core.tolerance*"` reruns one module.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -q -e '.[test,mutation]'
rm -rf mutants  # a fresh run: mutmut keeps results across config changes otherwise
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" || true
mutmut results
