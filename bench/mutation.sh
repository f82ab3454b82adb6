#!/usr/bin/env bash
# The long mutation profile over the engine's judging modules (see [tool.mutmut] in pyproject.toml):
#   bash bench/mutation.sh            # run, then list the survivors
# Every survivor must be killed by a test of its class or listed in bench/results/mutation.md as
# equivalent, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install -q -e '.[test,mutation]'
rm -rf mutants  # a fresh run: mutmut keeps results across config changes otherwise
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" || true
mutmut results
