#!/usr/bin/env bash
# Debian packages the tool and its tests need. As root, installs what is missing; otherwise prints
# exactly what to install and fails.
set -euo pipefail
PYTHON=${1:-python3.11}
packages=(
  libpango-1.0-0 libpangoft2-1.0-0   # WeasyPrint's text layout
  libharfbuzz-subset0                # font subsetting: WeasyPrint ~3x faster with it
  fonts-croscore fonts-liberation2   # Tinos / Liberation Serif 2.x: Times metrics, every Vietnamese letter
  poppler-utils                      # pdffonts, pdftoppm (tests, preview --png)
  dovecot-imapd                      # a real IMAP server for the tests of `replies fetch`
)
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || packages+=("python3-venv")
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing Debian packages. Install them with:" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
