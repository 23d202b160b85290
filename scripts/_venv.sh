# Sourced by scripts/demo and scripts/test: create or reuse .venv and install
# the project into it (with the extras named in $PEPPASYNC_EXTRAS) when
# setup.cfg changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "peppasync needs Python 3.11 or newer on PATH (or PYTHON=/path/to/python3.11)" >&2
  return 1
}
if [ ! -x "$venv/bin/python" ]; then
  py="$(pick_python)"
  echo "creating virtualenv in $venv with $py" >&2
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
fi
extras="${PEPPASYNC_EXTRAS:-}"
stamp="$venv/.peppasync-installed${extras:+-$extras}"
want="$(cat "$root/setup.cfg" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing peppasync${extras:+[$extras]} into $venv" >&2
  "$venv/bin/python" -m pip install --quiet -e "$root${extras:+[$extras]}" >&2
  echo "$want" > "$stamp"
fi
