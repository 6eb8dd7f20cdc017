#!/usr/bin/env bash
# Installs the independent SAML implementations the end-to-end suite drives as service providers:
#   - Debian packages: xmlsec1 (the CLI oracle, also pysaml2's crypto backend) and the libxml2 /
#     xmlsec development files;
#   - tests/peers/.venv: python3-saml and pysaml2, pinned in requirements.txt;
#   - tests/peers/node_modules: @node-saml/node-saml, pinned in package.json + package-lock.json.
# Idempotent: a second run only checks stamps (well under a second). Exits non-zero with a
# message on any failure. Safe to run from several processes at once (flock).
# Environment: PYTHON (default python3, >= 3.9), NODE/NPM (default node/npm, node >= 18).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PYTHON="${PYTHON:-python3}"
NODE="${NODE:-node}"
NPM="${NPM:-npm}"
APT_PACKAGES=(xmlsec1 libxmlsec1-dev libxmlsec1-openssl libxml2-dev libxslt1-dev libltdl-dev libssl-dev pkg-config gcc)
# tests/samael-oracle (samael with its xmlsec feature) also needs libclang-dev: bindgen loads libclang and its
# builtin headers to generate the xmlsec bindings; xmlsec1-config, pkg-config, libxml2/xmlsec/ssl dev files are above.
APT_PACKAGES+=(libclang-dev)
# The browser tests drive Debian's Chromium headless through playwright-core (no browser download).
APT_PACKAGES+=(chromium fonts-dejavu-core)
# ID-card login: curl (OpenSSL) presents the card certificate as a second TLS client, and
# `openssl ocsp` is the independent OCSP responder.
APT_PACKAGES+=(curl openssl)

die() { echo "tests/peers/install.sh: FAILED: $*" >&2; exit 1; }
note() { echo "tests/peers/install.sh: $*" >&2; }

mkdir -p "$VENV"
exec 9>"$VENV/.install.lock"
flock 9 || die "cannot lock $VENV/.install.lock"

# ---- 1. Debian packages -------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "missing Debian packages (${missing[*]}) and not root, no sudo"
    SUDO=(sudo -n)
  fi
  note "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/peers-apt.$$.log 2>&1; then
    note "apt-get install failed; running apt-get update first"
    "${SUDO[@]}" apt-get update -q >/tmp/peers-apt.$$.log 2>&1 || { cat /tmp/peers-apt.$$.log >&2; die "apt-get update"; }
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/peers-apt.$$.log 2>&1 \
      || { cat /tmp/peers-apt.$$.log >&2; die "apt-get install ${missing[*]}"; }
  fi
  rm -f /tmp/peers-apt.$$.log
fi
command -v xmlsec1 >/dev/null || die "xmlsec1 is not on PATH after installing the xmlsec1 package"

# ---- 2. Python venv -----------------------------------------------------------------------
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
py_stamp="$(hash_of "$HERE/requirements.txt" "$HERE/check_env.py" "$HERE/install.sh")"
if [[ -x "$VENV/bin/python" && -f "$VENV/.stamp" && "$(cat "$VENV/.stamp")" == "$py_stamp" ]] \
   && "$VENV/bin/python" -c 'import xmlsec, lxml.etree, onelogin.saml2, saml2' 2>/dev/null; then
  :
else
  command -v "$PYTHON" >/dev/null || die "no $PYTHON on PATH"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' || die "$PYTHON is older than 3.9"
  rm -f "$VENV/.stamp"
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    note "creating $VENV"
    find "$VENV" -mindepth 1 -maxdepth 1 ! -name .install.lock -exec rm -rf {} +
    "$PYTHON" -m venv "$VENV" || die "python -m venv $VENV"
  fi
  note "installing Python packages (requirements.txt)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$HERE/requirements.txt" \
    || die "pip install -r tests/peers/requirements.txt"
  check="$("$VENV/bin/python" "$HERE/check_env.py")" || die "post-install check (tests/peers/check_env.py) failed"
  note "python: $check"
  echo "$py_stamp" >"$VENV/.stamp"
fi

# ---- 3. Node ------------------------------------------------------------------------------
command -v "$NODE" >/dev/null || die "no $NODE on PATH"
"$NODE" -e 'process.exit(parseInt(process.versions.node) >= 18 ? 0 : 1)' || die "node is older than 18"
node_stamp="$(hash_of "$HERE/package.json" "$HERE/package-lock.json" "$HERE/install.sh")"
NM="$HERE/node_modules"
if [[ -f "$NM/.stamp" && "$(cat "$NM/.stamp")" == "$node_stamp" ]]; then
  :
else
  command -v "$NPM" >/dev/null || die "no $NPM on PATH"
  note "npm ci (package-lock.json)"
  (cd "$HERE" && "$NPM" ci --no-audit --no-fund --ignore-scripts --loglevel=error) >/tmp/peers-npm.$$.log 2>&1 \
    || { cat /tmp/peers-npm.$$.log >&2; rm -f /tmp/peers-npm.$$.log; die "npm ci in tests/peers"; }
  rm -f /tmp/peers-npm.$$.log
  (cd "$HERE" && "$NODE" -e 'const {SAML} = require("@node-saml/node-saml"); if (typeof SAML !== "function") process.exit(1)') \
    || die "@node-saml/node-saml does not load"
  echo "$node_stamp" >"$NM/.stamp"
fi

echo "tests/peers: ready ($(xmlsec1 --version | head -1); venv $VENV; node $("$NODE" --version))"
