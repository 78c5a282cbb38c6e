#!/bin/sh
# DNS benchmark: pilotlight's DNS server vs gdnsd under dnsperf, and the
# failover time of a failover record with the local provider.
# Run from anywhere; extra arguments go to the Go program, for example:
#   bench/dns/run.sh -duration 5s -runs 1 -out bench.json
set -eu
cd "$(dirname "$0")/../.."

go build -o bin/ ./cmd/pilotlight ./examples/ticketing

missing=""
command -v dnsperf >/dev/null 2>&1 || missing="$missing dnsperf"
command -v gdnsd >/dev/null 2>&1 || missing="$missing gdnsd"
command -v dig >/dev/null 2>&1 || missing="$missing bind9-dnsutils"
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
	else
		echo "missing:$missing; install with: sudo apt-get install -y$missing" >&2
		exit 1
	fi
fi

exec go run ./bench/dns -pilotlight bin/pilotlight "$@"
