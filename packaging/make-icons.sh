#!/usr/bin/env bash
# Makes the installers' icons from assets/carebook.svg into assets/icons/ (run once after the
# SVG changes, then commit them): PNGs 16..512 for the Linux icon theme and the AppImage, an
# .ico for Windows, an .icns for macOS. Needs librsvg2-bin, imagemagick and icnsutils.
set -euo pipefail
cd "$(dirname "$0")/.."
out=assets/icons
mkdir -p "$out"
for size in 16 32 48 64 128 256 512; do
  rsvg-convert -w "$size" -h "$size" assets/carebook.svg -o "$out/carebook-$size.png"
done
convert "$out"/carebook-{16,32,48,64,128,256}.png "$out/carebook.ico"
png2icns "$out/carebook.icns" "$out"/carebook-{16,32,48,128,256,512}.png >/dev/null
