#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu/Debian).
# It installs: Debian packages with apt (bubblewrap, setpriv, a Python >= 3.11), a virtual
# environment in /opt/mmids/venv readable by everyone (numpy, the mmids wheel, the grader's
# notebook readers), the differentiation libraries in /opt/mmids/hidden (mode 0700: only the
# grader, running as root, can import them) and the unprivileged user student code runs as
# where bubblewrap cannot run in the container.
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MMIDS=/opt/mmids
SANDBOX_USER="@SANDBOX_USER@"
APT_PACKAGES=(@APT_PACKAGES@)
TORCH_INDEX="@TORCH_INDEX@"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}"

# a Python >= 3.11 (numpy 2.4 needs it): the system's, else Debian/Ubuntu's python3.11
PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$PY" ]; then
  apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv
  PY=/usr/bin/python3.11
fi
VERSION="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
apt-get install -y -qq --no-install-recommends "python${VERSION}-venv" || true

mkdir -p "$MMIDS"
"$PY" -m venv "$MMIDS/venv"
"$MMIDS/venv/bin/pip" install -q --upgrade pip
"$MMIDS/venv/bin/pip" install -q -r "$SRC/requirements.txt" "$SRC/@WHEEL@"
"$MMIDS/venv/bin/pip" install -q --target "$MMIDS/hidden" --extra-index-url "$TORCH_INDEX" \
  -r "$SRC/requirements-hidden.txt"
chmod -R a+rX,go-w "$MMIDS/venv"
chmod 0700 "$MMIDS/hidden"

if ! id -u "$SANDBOX_USER" >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$SANDBOX_USER"
fi
"$MMIDS/venv/bin/python" -c "import mmids, numpy; print('mmids and numpy', numpy.__version__, 'installed')"
