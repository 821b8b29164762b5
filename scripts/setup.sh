#!/bin/sh
# Install what gvos-sim and its tests need on Debian 12 with Node 20:
# npm packages (npm ci), the Debian packages of the real peers (only the
# missing ones; as root, else the exact apt command is printed), then build.
# lego is not used by the tests: it is bench/fleet-issuance's reference ACME
# client (without it that benchmark's lego rows come out empty).
set -eu
cd "$(dirname "$0")/.."

PKGS="pebble snmptrapd snmpd snmp sshpass openssh-client openssl chromium libnss3-tools tmux python3-netmiko ssh-audit testssl.sh lego"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages:$missing" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: missing Debian packages:$missing" >&2
    echo "setup: run: sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
