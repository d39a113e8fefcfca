#!/usr/bin/env bash
# Installs what building Carebook needs beyond Rust, on Debian/Ubuntu: clang and libclang
# (sqlite-loadable's bindings are generated with bindgen) and the sqlite3 shell (a test loads
# the engine into it, as an administrator would). Quiet and quick when all is there.
set -euo pipefail
need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "please install: ${need[*]} (clang, libclang and the sqlite3 shell)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing build dependencies: ${need[*]}" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
