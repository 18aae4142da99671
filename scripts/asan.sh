#!/usr/bin/env bash
# pnpm test:asan — the native addon under AddressSanitizer and
# UndefinedBehaviorSanitizer.
#
# 1. Copies packages/native (sources, binding.gyp, build script; node_modules
#    linked) to a scratch directory and builds it there with --sanitize
#    (-Dsanitize=1: -fsanitize=address,undefined). The normal addon in
#    packages/native/build/Release is never touched and stays unsanitized.
# 2. Runs the native and engine tests with RXTLS_NATIVE_PATH pointing at the
#    sanitized addon and libasan preloaded into every Node process (Node itself
#    is not built with ASan, so the runtime must come first via LD_PRELOAD).
# 3. Fails if any test fails or any sanitizer wrote a report (reports go to
#    files, so a report from any child process is caught, even one whose
#    output a test swallowed).
#
# Leak detection is off (detect_leaks=0): Node does not free everything at
# exit (its isolate, OpenSSL's global state), so LeakSanitizer would report
# Node's own exit-time leaks on every run. Leaks of rxtls objects are covered
# by test/hostile/leaks.test.ts through the native live-object counters.
# Tests relax their RSS bounds when RXTLS_SANITIZED=1: ASan keeps freed memory
# in a quarantine, so RSS measures nothing useful here.
#
#   scripts/asan.sh [test path filter …]   (default: the native and engine tests)
#   RXTLS_ASAN_DIR=/path  scratch directory (default: a new one under /tmp, removed at exit)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)

libasan=$(g++ -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
  echo "asan: libasan.so not found (g++ -print-file-name=libasan.so gave '$libasan'); install g++" >&2
  exit 1
fi

if [ -n "${RXTLS_ASAN_DIR:-}" ]; then
  work=$RXTLS_ASAN_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/rxtls-asan.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
pkg="$work/native"
reports="$work/reports"
rm -rf "$pkg" "$reports"
mkdir -p "$pkg" "$reports"

# A copy of the package, so node-gyp's build directory is the copy's own.
cp -r packages/native/src packages/native/scripts packages/native/binding.gyp packages/native/package.json "$pkg/"
ln -s "$root/packages/native/node_modules" "$pkg/node_modules"
echo "asan: building the sanitized addon in $pkg"
(cd "$pkg" && node scripts/build-addon.mjs --sanitize) >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  echo "asan: sanitized build failed" >&2
  exit 1
}
addon="$pkg/build/Release/rxtls.node"
# Not `ldd | grep -q`: under pipefail, grep quitting early can fail the pipeline.
deps=$(ldd "$addon")
[[ "$deps" == *libasan* ]] || { echo "asan: $addon is not linked against libasan" >&2; exit 1; }
built=$(date +%s)
echo "asan: built in $((built - started)) s"

filters=("$@")
if [ ${#filters[@]} -eq 0 ]; then
  # The native tests (sessions, fd SSL, fuzz), the engine against real peers,
  # and the hostile-socket tests; test/core/ssl and test/core/bio drive the
  # fd-based native objects (FdSsl, Bio, the readiness waits); reentry,
  # ssl-reentry, verify-host and data-before-error call back into sessions
  # and fd objects mid-call; ssl-wait times their waits out;
  # test/core/native-transport* the native transport (tcp_*.cc, buffer_bio.cc);
  # handshake-offload its steps on the thread pool (and the memory Session's);
  # test/core/tls-socket* the documented TLSSocket, whose Socket's connection
  # the native transport takes over (tcp_adopt.cc).
  filters=(test/native/ test/core/interop test/core/failures test/core/ssl.test test/core/bio.test test/hostile/sockets test/hostile/misuse
    test/core/reentry test/core/ssl-reentry test/core/ssl-wait test/core/verify-host test/core/data-before-error test/core/native-transport
    test/core/handshake-offload test/core/tls-socket)
fi

status=0
# The pnpm build of the TypeScript packages must exist; tests import dist/.
RXTLS_NATIVE_PATH="$addon" \
RXTLS_SANITIZED=1 \
LD_PRELOAD="$libasan" \
ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$reports/asan" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan" \
RXTLS_TEST_CONCURRENCY="${RXTLS_TEST_CONCURRENCY:-1}" \
  node scripts/run-tests.mjs "${filters[@]}" || status=$?

if compgen -G "$reports/*" >/dev/null; then
  echo "asan: sanitizer reports:" >&2
  for f in "$reports"/*; do
    echo "---- $f" >&2
    cat "$f" >&2
  done
  status=1
fi
echo "asan: tests ran in $(( $(date +%s) - built )) s; total $(( $(date +%s) - started )) s"
if [ "$status" -eq 0 ]; then
  echo "asan: no sanitizer reports, all tests passed"
fi
exit "$status"
