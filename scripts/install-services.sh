#!/usr/bin/env bash
# Install what the test suite starts by itself (PostgreSQL server binaries) when it is missing.
# The tests start and stop their own servers on loopback; nothing is left running.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if have_postgres; then
  echo "services: PostgreSQL binaries present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "services: PostgreSQL is missing; install it (sudo apt-get install -y postgresql) and rerun" >&2
  exit 1
fi
echo "services: installing PostgreSQL from Debian packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# Debian starts a cluster on install; the tests run their own, so stop it if it came up.
(service postgresql stop >/dev/null 2>&1 || true)
have_postgres
