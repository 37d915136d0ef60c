#!/usr/bin/env bash
# Peers for bench/serving.py, each in its own git-ignored venv under .bench/, plus wrk from Debian.
#
#     bash bench/serving_setup.sh          # idempotent: skips whatever is already there and works
#
# .bench/mlflow    mlflow 3.x                                        + weir's scikit-learn version
# .bench/mlserver  mlserver==1.7.1, mlserver-sklearn==1.7.1, uvloop<0.22 + weir's scikit-learn version
#
# Both peers get exactly the scikit-learn that weir's venv has, so every server loads the same model
# with the same library. MLServer 1.7 does not start under uvloop 0.22 (hence the pin).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SKLEARN=$(.venv/bin/python -c 'import sklearn; print(sklearn.__version__)')

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian)..."
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi

# pip through the local mirror warns about every index location it skips; keep real messages only.
quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }

# make_venv NAME PROBE PACKAGE...: create .bench/NAME unless PROBE (python code) already succeeds in it.
make_venv() {
    local name=$1 probe=$2
    shift 2
    local venv=.bench/$name
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$probe" >/dev/null 2>&1; then
        echo "$venv: present"
        return
    fi
    echo "$venv: creating (a few minutes)..."
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install -q "$@" 2>&1 | quiet
    "$venv/bin/python" -c "$probe"
    echo "$venv: ready"
}

check_sklearn="import sklearn; assert sklearn.__version__ == '$SKLEARN', sklearn.__version__"
make_venv mlflow "import mlflow, mlflow.sklearn; assert mlflow.__version__.startswith('3.'); $check_sklearn" \
    "mlflow>=3,<4" "scikit-learn==$SKLEARN"
make_venv mlserver "import mlserver, mlserver_sklearn, uvloop; assert mlserver.__version__ == '1.7.1'; $check_sklearn" \
    "mlserver==1.7.1" "mlserver-sklearn==1.7.1" "uvloop<0.22" "scikit-learn==$SKLEARN"
