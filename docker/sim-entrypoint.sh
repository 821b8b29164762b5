#!/bin/sh
# The simulator container: fill the topology template from the environment
# (docker/render-topology.mjs), then run the lab in the foreground. The lab
# stops cleanly on SIGTERM (docker stop); compose gives it an init process.
set -eu
template=${1:-/etc/gvos-sim/topology.yaml}
rendered=/var/lib/gvos-sim/topology.yaml
node docker/render-topology.mjs "$template" "$rendered"
exec node bin/gvos-sim.js lab up "$rendered"
