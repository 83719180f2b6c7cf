# shellcheck shell=bash
# Shared set-up for scripts/test, scripts/develop and scripts/e2e (sourced, not run).
# Picks a Python (the one named by $PYTHON, else the newest suitable one on
# the machine), creates a virtual environment for it when missing, and keeps
# it in step with requirements_test.txt. Exports VENV and activates it.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

_python_version() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null; }

_pick_python() {
  if [ -n "${PYTHON:-}" ]; then
    _python_version "$PYTHON" >/dev/null || { echo "PYTHON=$PYTHON does not run" >&2; return 1; }
    echo "$PYTHON"
    return
  fi
  local best="" best_version="0.0.0" candidate version
  local candidates=(python3.14 python3.13 python3 /opt/py314/bin/python3.14)
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/3.1[3-9]*/bin/python3)
  fi
  for candidate in "${candidates[@]}"; do
    version=$(_python_version "$candidate") || continue
    # Home Assistant 2025.4 (the oldest supported release) needs Python 3.13.
    [ "$(printf '%s\n' 3.13.0 "$version" | sort -V | head -n1)" = 3.13.0 ] || continue
    if [ "$(printf '%s\n' "$best_version" "$version" | sort -V | tail -n1)" = "$version" ] \
        && [ "$version" != "$best_version" ]; then
      best=$candidate best_version=$version
    fi
  done
  [ -n "$best" ] || { echo "No Python >= 3.13 found; set PYTHON=/path/to/python3.13-or-newer" >&2; return 1; }
  echo "$best"
}

python_bin=$(_pick_python)
python_version=$(_python_version "$python_bin")
export VENV="${VENV:-$repo_root/.venv/py$python_version}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating virtual environment $VENV (Python $python_version)" >&2
  "$python_bin" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
wanted=$(cat "$repo_root/requirements_test.txt" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing test and development requirements into $VENV (a few minutes the first time)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$repo_root/requirements_test.txt" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "pip install failed" >&2; return 1; }
  echo "$wanted" > "$stamp"
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"
cd "$repo_root" || return 1
