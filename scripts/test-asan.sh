#!/usr/bin/env bash
# npm run test:asan [-- spec files]: builds the addon with AddressSanitizer and runs the FUSE spec
# (default: every spec file but the packing ones, which rebuild the addon) with the ASan runtime
# preloaded; any ASan report fails the run. Leak detection is off (Node does not free everything at
# exit). The normal addon is rebuilt afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null || exit 1
CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" LDFLAGS="-fsanitize=address" \
  npx --no-install node-gyp rebuild --nodedir=/usr >/dev/null || exit 1
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  for f in dist/spec/*.spec.js dist/tc39/spec/*.spec.js; do
    case "$f" in *package.spec.js|*install.spec.js) ;; *) files+=("$f") ;; esac
  done
fi
log=$(mktemp)
LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0 \
  npx --no-install mocha --no-config --require dist/spec/helpers/hooks.js --node-option expose-gc --timeout 30000 \
  "${files[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if grep -q 'ERROR: AddressSanitizer' "$log"; then echo "test:asan: AddressSanitizer reported an error"; status=1; fi
rm -f "$log"
npx --no-install node-gyp rebuild --nodedir=/usr >/dev/null   # back to the normal build
exit "$status"
