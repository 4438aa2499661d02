#!/usr/bin/env bash
# Installs everything procstat's repository needs on Debian/Ubuntu, then the npm packages:
#   fuse3           fusermount3 and libfuse3.so.3: what procstat needs at run time
#   libfuse3-dev    headers to build the addon from source (this repository has no prebuilt binary)
#   libfuse2        only for the benchmark's and the spec's bare fuse-native baseline (coexists with fuse3;
#                   Debian's "fuse" package would remove fuse3, so it is never installed)
#   prometheus tmux attr strace  for the spec (promtool, a real Prometheus server, a real terminal, getfattr,
#                   tracing the threads' affinity calls)
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v fusermount3 >/dev/null || need+=(fuse3)
[ -f /usr/include/fuse3/fuse_lowlevel.h ] || need+=(libfuse3-dev)
ldconfig -p 2>/dev/null | grep -q 'libfuse\.so\.2 ' || need+=(libfuse2)
command -v make >/dev/null && command -v g++ >/dev/null || need+=(build-essential)
command -v prometheus >/dev/null || need+=(prometheus)
command -v tmux >/dev/null || need+=(tmux)
command -v getfattr >/dev/null || need+=(attr)
command -v strace >/dev/null || need+=(strace)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  echo "installed: ${need[*]}"
fi
npm ci --no-audit --no-fund   # builds the addon from native/ (node-gyp, Node's installed headers: see .npmrc)
