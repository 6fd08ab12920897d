#!/usr/bin/env bash
# Installs the system packages the app and its tests need (read-aloud, audio streaming, CJK
# fonts, the test browser, npm for the OpenAI spec mock). Skips quietly where they are present or apt is not ours to use.
set -euo pipefail
want="$(grep -v '^#' "$(dirname "$0")/../packages.txt" | xargs) chromium libime-data-language-model"
missing=""
for p in $want; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
command -v npm >/dev/null || missing="$missing npm"  # for the OpenAI spec mock in the contract tests
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "Installing system packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
  echo "Please install these system packages yourself:$missing (read-aloud and browser tests need them)." >&2
fi
