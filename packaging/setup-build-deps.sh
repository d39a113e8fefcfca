#!/usr/bin/env bash
# Installs what building and running Carebook needs beyond Rust, on Debian/Ubuntu: clang and
# libclang (sqlite-loadable's and the webcam's V4L2 bindings are generated with bindgen; the
# latter from the kernel headers, linux-libc-dev), the sqlite3 shell (a test
# loads the engine into it, as an administrator would), and the X11/Wayland client libraries
# the window opens with (a desktop has them; a bare machine may not), and gnome-keyring with
# D-Bus for the keyring test. Quiet when all is there.
set -euo pipefail
need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
# The webcam's V4L2 bindings are generated from the kernel's headers.
[ -f /usr/include/linux/videodev2.h ] || need+=(linux-libc-dev)
# The keyring test runs a real Secret Service on a private D-Bus session.
command -v dbus-run-session >/dev/null 2>&1 || need+=(dbus-daemon)
command -v gnome-keyring-daemon >/dev/null 2>&1 || need+=(gnome-keyring)
for pkg in libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxi6 libxkbcommon0 libxkbcommon-x11-0 libwayland-client0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "please install: ${need[*]}" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing build dependencies: ${need[*]}" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
