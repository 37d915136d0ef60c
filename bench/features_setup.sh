#!/usr/bin/env bash
# Feast for bench/features.py, in its own git-ignored venv under .bench/.
#
#     bash bench/features_setup.sh          # idempotent: skips the install when the stamp matches and Feast imports
#
# .bench/feast    feast[duckdb]==0.67.0: DuckDB offline store (through ibis), sqlite online store, `feast serve`
#
# bench/features_feast.py runs with .bench/feast/bin/python and needs nothing from weir's venv.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
FEAST_VERSION=0.67.0
VENV=.bench/feast
STAMP=$VENV/.stamp
WANT="feast[duckdb]==$FEAST_VERSION"

# pip through the local mirror warns about every index location it skips; keep real messages only.
quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }

probe="import feast, duckdb, ibis, fastapi, uvicorn, pyarrow, pandas; assert feast.__version__ == '$FEAST_VERSION', feast.__version__"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/python" ] \
    && "$VENV/bin/python" -c "$probe" >/dev/null 2>&1; then
    echo "$VENV: present ($WANT)"
    exit 0
fi

echo "$VENV: creating (a few minutes)..."
rm -rf "$VENV"
mkdir -p .bench
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip 2>&1 | quiet
"$VENV/bin/pip" install -q "$WANT" 2>&1 | quiet
"$VENV/bin/python" -c "$probe"
test -x "$VENV/bin/feast"
echo "$WANT" >"$STAMP"
echo "$VENV: ready (feast $("$VENV/bin/python" -c "import feast; print(feast.__version__)"))"
