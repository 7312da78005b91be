#!/usr/bin/env bash
# One command from a fresh Debian machine (as root) to Quorum's main job: install Debian and npm packages, build,
# then start Redis + an S3-protocol server + the service and run the demo (upload, ingest, profile).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
npm install --no-audit --no-fund --loglevel=error
npm run build --silent
exec npx tsx scripts/demo.ts "$@"
