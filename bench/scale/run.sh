#!/bin/sh
# Scale benchmark: a 2,000-instance recovery on the simulated cloud, for
# pilotlight and a naive baseline, with the bounds and the goals of issue 7.
# Extra arguments go to the Go program, e.g. bench/scale/run.sh -seed 2 -out scale.json
set -eu
cd "$(dirname "$0")/../.."
exec go run ./bench/scale "$@"
