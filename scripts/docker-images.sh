#!/bin/sh
# Build the images of docker/ with nothing pulled and nothing downloaded:
#   gvos-sim:local            the simulator (one lab per container)
#   gvos-sim-snmptrapd:local  the lab's trap receiver
#   gvos-sim-ca:local         the lab's ACME CA (Debian's Pebble)
#   gvos-sim-step-ca:local    the lab's CA as step-ca, built from Debian's Go
#                             sources (scripts/build-step-ca.sh); with
#                             GVOS_STEP_CA=1, or by default where golang-go and
#                             golang-github-smallstep-certificates-dev are installed
# from the base image gvos-sim-base:bookworm, made first by
# scripts/docker-base-image.sh when missing.
#
# The build context is a staging directory: the built project (npm run build
# here first), src/ (the GUI's files), bin/, mibs/, firmware-sim/, examples/,
# docker/, and node_modules without the development packages (npm prune
# --offline). `docker build --network none` proves the builds fetch nothing.
#
#   scripts/docker-images.sh            # all three
#   GVOS_BASE_TAG=... scripts/docker-images.sh
set -eu
cd "$(dirname "$0")/.."
BASE=${GVOS_BASE_TAG:-gvos-sim-base:bookworm}

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  echo "docker-images: base image $BASE missing; building it (scripts/docker-base-image.sh)" >&2
  GVOS_BASE_TAG=$BASE scripts/docker-base-image.sh
fi
if [ ! -d node_modules ]; then
  echo "docker-images: no node_modules: run scripts/setup.sh (npm ci) first" >&2
  exit 1
fi
npm run --silent build

STAGE=$(mktemp -d /tmp/gvos-image-context.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
cp package.json package-lock.json "$STAGE/"
# node_modules may be a symbolic link (git worktrees share one): copy its target.
cp -a "$(readlink -f node_modules)" "$STAGE/node_modules"
(cd "$STAGE" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)
mkdir -p "$STAGE/dist"
cp -a dist/src "$STAGE/dist/src"
cp -a src bin mibs firmware-sim examples docker "$STAGE/"

targets="simulator snmptrapd ca"
step_ca=${GVOS_STEP_CA:-auto}
if [ "$step_ca" = auto ]; then
  step_ca=0
  if dpkg-query -W -f='${Status}' golang-go golang-github-smallstep-certificates-dev 2>/dev/null |
    grep -c "install ok installed" | grep -qx 2; then step_ca=1; fi
fi
if [ "$step_ca" = 1 ]; then
  scripts/build-step-ca.sh "$STAGE/step-ca-bin"
  targets="$targets step-ca"
else
  echo "docker-images: no step-ca image (GVOS_STEP_CA=1 builds it from Debian's Go sources)" >&2
fi

for target in $targets; do
  case $target in
    simulator) tag=gvos-sim:local ;;
    snmptrapd) tag=gvos-sim-snmptrapd:local ;;
    ca) tag=gvos-sim-ca:local ;;
    step-ca) tag=gvos-sim-step-ca:local ;;
  esac
  echo "docker-images: $tag (target $target)" >&2
  docker build --quiet --network none --build-arg "BASE_IMAGE=$BASE" \
    -f "$STAGE/docker/Dockerfile" --target "$target" -t "$tag" "$STAGE" >/dev/null
done
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^gvos-sim' >&2
