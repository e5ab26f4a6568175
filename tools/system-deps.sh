#!/usr/bin/env bash
# Install the system packages the tests need: bubblewrap (the grading sandbox), Chromium
# (the browser tests) and PostgreSQL (the gradebook on a real server: tests/postgres_server.py).
# Never skips: without them `make test` fails here, saying why.
set -euo pipefail
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v chromium >/dev/null || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null \
    || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: missing system packages: ${missing[*]}" >&2
    echo "Install them with your package manager (Debian/Ubuntu: sudo apt-get install ${missing[*]})." >&2
    exit 1
fi
echo "installing ${missing[*]} with apt-get..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
