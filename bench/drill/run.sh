#!/bin/sh
# Drill benchmark: runs the example drill (pilot light, region outage) 5
# times and prints median and worst RTO, detection and RPO next to the
# reference points (Route 53 failover floor, AWS DRS). Extra arguments go to
# the Go program, e.g. bench/drill/run.sh -runs 3 -out drill.json
set -eu
cd "$(dirname "$0")/../.."
go build -o bin/ ./cmd/pilotlight ./examples/ticketing
exec go run ./bench/drill -pilotlight bin/pilotlight "$@"
