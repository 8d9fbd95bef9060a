#!/usr/bin/env bash
# Installs what Warren needs to build and test, from Debian's packages and npm only,
# and only what is missing. Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(build-essential cmake ninja-build ccache python3 libboost1.81-dev libboost-json1.81-dev
      doctest-dev python3-pika rabbitmq-server amqp-tools librabbitmq-dev clang-format clang-tidy)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Node 20 + npm may already be there (its npm conflicts with Debian's npm package).
command -v node >/dev/null || apt-get install -y -q --no-install-recommends nodejs
command -v npm >/dev/null || apt-get install -y -q --no-install-recommends npm

# amqplib for the interop tests (npm registry).
if [ -f "$here/tests/interop/node/package.json" ] && [ ! -d "$here/tests/interop/node/node_modules/amqplib" ]; then
    (cd "$here/tests/interop/node" && npm install --no-audit --no-fund --loglevel=error)
fi
