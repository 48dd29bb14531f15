#!/usr/bin/env bash
# Install plancycle from the committed lock: every package of the tree at its exact version, checked
# against its hashes, then the project itself (editable, no dependency resolution of its own).
# Used by ./dev, .ci/run, deploy/Dockerfile and the systemd guide, so all of them get the same packages.
#
#   requirements/install.sh PYTHON [dev|prod|LOCKFILE]
#
# PYTHON is the interpreter to install into (a virtual environment's bin/python, or the image's python).
# dev installs requirements/dev.txt (the tools for tests and lint too); prod requirements/prod.txt.
set -euo pipefail
python=${1:?usage: requirements/install.sh PYTHON [dev|prod]}
set_name=${2:-dev}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
case "$set_name" in
  dev|prod) lock="$here/$set_name.txt" ;;
  *) lock=$set_name ;;  # a lock file's path (./dev deps upgrade tries a new lock before adopting it)
esac
[ -f "$lock" ] || { echo "no lock file $lock" >&2; exit 2; }

# pip older than 23.3 refuses a hashed lock whose packages are asked for with extras (prefect asks for
# sqlalchemy[asyncio]); the lock pins pip itself, installed first from its own hashed lines.
pip_lines=$(mktemp)
trap 'rm -f "$pip_lines"' EXIT
awk '/^pip==/{p=1} p&&/^[a-z]/&&!/^pip==/{p=0} p' "$lock" | grep -v "^ *#" >"$pip_lines"
if [ -s "$pip_lines" ]; then
  "$python" -m pip install -q --require-hashes --no-deps -r "$pip_lines"
fi
"$python" -m pip install -q --require-hashes --no-deps -r "$lock"
"$python" -m pip install -q --no-deps --no-build-isolation -e "$root"
"$python" -m pip check
