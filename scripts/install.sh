#!/usr/bin/env bash
# Installs everything procstat and its tests need on Debian/Ubuntu: FUSE (fuse, libfuse2), prometheus
# and tmux for the spec, and the npm packages from package-lock.json (which applies patches/ to
# fuse-native and builds it from source).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v fusermount >/dev/null || need+=(fuse)
ldconfig -p 2>/dev/null | grep -q 'libfuse\.so\.2 ' || need+=(libfuse2)
# The test suite also drives a real Prometheus server (and promtool) and a real terminal (tmux).
command -v prometheus >/dev/null || need+=(prometheus)
command -v tmux >/dev/null || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  echo "installed: ${need[*]}"
fi
npm ci --no-audit --no-fund
