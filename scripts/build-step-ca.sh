#!/bin/sh
# Build smallstep step-ca from Debian 12's Go sources, for the step-ca image of
# docker/ (Debian 12 has no step-ca binary package and npm none; the sources
# come as golang-github-smallstep-certificates-dev 0.19.0, the command is
# docker/step-ca/main.go). Offline once the packages are installed: GOPATH
# mode over /usr/share/gocode, no module download.
#
#   scripts/build-step-ca.sh <output binary>
#
# Installs golang-go and golang-github-smallstep-certificates-dev when missing
# (as root; else prints the apt command). About 2.5 minutes the first time.
set -eu
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/build-step-ca.sh <output binary>}
PKGS="golang-go golang-github-smallstep-certificates-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "build-step-ca: run: sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
  echo "build-step-ca: installing Debian packages:$missing" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
gopath=$(mktemp -d /tmp/gvos-step-ca.XXXXXX)
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/gvos-sim/step-ca"
cp docker/step-ca/main.go "$gopath/src/gvos-sim/step-ca/"
# The sources' cgo warnings (zstd) are noise; a failed build still exits non-zero.
GO111MODULE=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode" go build -o "$out" gvos-sim/step-ca 2>"$gopath/build.log" || {
  cat "$gopath/build.log" >&2
  exit 1
}
echo "build-step-ca: $out" >&2
