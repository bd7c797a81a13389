#!/usr/bin/env bash
# Installs the Debian packages named on the command line when any is missing (as root), or stops
# with a message naming them. Packages are looked up with dpkg-query, never guessed from PATH.
set -euo pipefail
missing=()
for pkg in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "kingbus: the tests need these Debian packages: ${missing[*]}" >&2
  echo "         install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "kingbus: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package may start a system server on port 3306; the tests never use it.
if command -v systemctl >/dev/null 2>&1; then systemctl stop mariadb >/dev/null 2>&1 || true; fi
