#!/usr/bin/env bash
# Idempotent: make PostgreSQL's server binaries (initdb, pg_ctl, postgres) available for the
# PostgresStore tests and demo, which start a throwaway server in a temp directory. Debian
# puts them in /usr/lib/postgresql/<version>/bin; nothing is started or enabled here.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
echo "==> installing Debian package: postgresql"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
