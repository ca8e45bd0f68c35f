#!/usr/bin/env bash
# Install the Debian packages SpendSense needs when any is missing.
# As root: apt-get installs them. Otherwise: print the exact command and fail.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Commands that may come from elsewhere than Debian (a JDK, Node.js) count as present.
declare -A provides=([openjdk-17-jre-headless]=java [maven]=mvn [nodejs]=node [npm]=npm [postgresql]=initdb)
still=()
for pkg in "${missing[@]}"; do
  cmd="${provides[$pkg]:-}"
  if [[ -n "$cmd" ]] && { command -v "$cmd" >/dev/null || ls /usr/lib/postgresql/*/bin/"$cmd" >/dev/null 2>&1; }; then
    continue
  fi
  still+=("$pkg")
done
[[ ${#still[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]]; then
  echo "installing system packages: ${still[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${still[@]}" >/dev/null
else
  echo "missing system packages: run: sudo apt-get install -y ${still[*]}" >&2
  exit 1
fi
