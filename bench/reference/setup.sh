#!/usr/bin/env bash
# Installs the reference benchmark's Python packages (requirements.txt beside this script:
# diffusers and peft, pinned, with their own dependencies) into the project venv, <repo>/.venv.
# Idempotent: when the pinned versions are already importable it does nothing and exits 0,
# so it also works offline on a machine where they are present. When they are missing and
# cannot be installed (no network), it says so and exits 1. The venv's torch is kept as is.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="$root/.venv/bin/python"
req="$here/requirements.txt"

if [[ ! -x "$py" ]]; then
  echo "setup.sh: no project venv at $root/.venv (expected $py); create it with torch first" >&2
  exit 1
fi

# Exit 0 when every pin in requirements.txt is installed at that version and imports.
check() {
  "$py" - "$req" <<'PY' 2>/dev/null
import importlib, importlib.metadata as md, re, sys
ok = True
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, version = re.split(r"==", line)
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        have = None
    if have != version:
        print(f"  {name}: want {version}, have {have}")
        ok = False
        continue
    importlib.import_module(name.replace("-", "_"))
sys.exit(0 if ok else 1)
PY
}

if check; then
  echo "setup.sh: reference packages already installed ($(grep -v '^#' "$req" | xargs))"
  exit 0
fi

# Keep the venv's torch: pip must not replace it while resolving diffusers' and peft's deps.
torch_version="$("$py" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)"
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
[[ -n "$torch_version" ]] && echo "torch==$torch_version" >"$constraints"

echo "setup.sh: installing $(grep -v '^#' "$req" | xargs) into $root/.venv" >&2
if ! "$py" -m pip install -q --disable-pip-version-check --no-input --retries 1 --timeout 20 \
    -c "$constraints" -r "$req" >&2; then
  echo "setup.sh: ERROR: could not install the reference packages (is PyPI reachable? an offline" >&2
  echo "  machine needs them installed beforehand: run bench/reference/setup.sh where there is network)" >&2
  exit 1
fi

if ! check; then
  echo "setup.sh: ERROR: installed, but the pinned versions do not import; see above" >&2
  exit 1
fi
echo "setup.sh: done"
