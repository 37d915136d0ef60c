#!/usr/bin/env bash
# Install what the test suite starts by itself (PostgreSQL server binaries, redis-server, and Chromium for
# the dashboard's browser tests) when missing.
# The tests start and stop their own servers on loopback; nothing is left running.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

have_redis() {
  command -v redis-server >/dev/null 2>&1
}

have_chromium() {
  command -v chromium >/dev/null 2>&1
}

missing=()
if have_chromium; then
  echo "services: chromium present"
else
  missing+=(chromium)
fi
if have_postgres; then
  echo "services: PostgreSQL binaries present"
else
  missing+=(postgresql)
fi
if have_redis; then
  echo "services: redis-server present"
else
  missing+=(redis-server)
fi
if [ "${#missing[@]}" = 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "services: missing ${missing[*]}; install (sudo apt-get install -y ${missing[*]}) and rerun" >&2
  exit 1
fi
echo "services: installing ${missing[*]} from Debian packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the services on install; the tests run their own, so stop any that came up.
for service in postgresql redis-server; do
  (service "$service" stop >/dev/null 2>&1 || true)
done
have_postgres
have_redis
