#!/usr/bin/env bash
# Installs everything procstat needs on Debian/Ubuntu: FUSE (fuse, libfuse2) and the npm packages
# from package-lock.json (which applies patches/ to fuse-native and builds it from source).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v fusermount >/dev/null || need+=(fuse)
ldconfig -p 2>/dev/null | grep -q 'libfuse\.so\.2 ' || need+=(libfuse2)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  echo "installed: ${need[*]}"
fi
npm ci --no-audit --no-fund
