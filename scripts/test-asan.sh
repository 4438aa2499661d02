#!/usr/bin/env bash
# Builds the addon with AddressSanitizer and runs the FUSE spec with the runtime preloaded; any
# error report from ASan fails the run. Leak detection is off (Node itself does not free at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" LDFLAGS="-fsanitize=address" npx --no-install node-gyp rebuild --nodedir=/usr
npm run build
log=$(mktemp)
status=0
LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 npx --no-install mocha "$@" 2>&1 | tee "$log" || status=$?
if grep -q 'ERROR: AddressSanitizer' "$log"; then echo "test:asan: AddressSanitizer reported an error"; status=1; fi
rm -f "$log"
npx --no-install node-gyp rebuild --nodedir=/usr >/dev/null   # back to the normal build
exit $status
