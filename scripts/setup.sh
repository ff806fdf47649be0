#!/usr/bin/env bash
# Installs everything ipmp needs on Debian 12 with Node 20 (as root), then
# builds the native addon and the TypeScript. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for p in iproute2 nftables iperf3 iputils-ping tcpdump ethtool procps util-linux coreutils python3 make g++; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -f native-bindings/build/Release/ipmp_native.node ] || [ -n "$(find native-bindings/src native-bindings/binding.gyp -newer native-bindings/build/Release/ipmp_native.node 2>/dev/null)" ]; then
  echo "setup: building the native addon"
  npx --no-install node-gyp rebuild --directory native-bindings --nodedir=/usr >/dev/null
fi

echo "setup: compiling TypeScript"
npx --no-install tsc -p tsconfig.json
