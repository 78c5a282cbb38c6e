#!/bin/sh
# Replication benchmark: pilotlight replicate vs rclone sync on local stores.
# Run from anywhere; extra arguments go to the Go program, for example:
#   bench/replication/run.sh -small 2000 -large 4 -out bench.json
set -eu
cd "$(dirname "$0")/../.."

go build -o bin/pilotlight ./cmd/pilotlight

if ! command -v rclone >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update && apt-get install -y rclone
	else
		echo "rclone is not installed: sudo apt-get install -y rclone (or pass -skip-rclone)" >&2
		exit 1
	fi
fi

exec go run ./bench/replication -pilotlight bin/pilotlight "$@"
