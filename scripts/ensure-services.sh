#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, trust auth for postgres) and Redis (127.0.0.1:6379) answer.
# Uses those already listening; otherwise installs Debian's packages and starts them.
set -euo pipefail

PGPORT=${MZ_PGPORT:-5432}
REDISPORT=${MZ_REDISPORT:-6379}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "ensure-services: need root to install $*" >&2; exit 1; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() {  # name port
  for _ in $(seq 1 60); do listening "$2" && return 0; sleep 0.5; done
  echo "ensure-services: $1 did not start on 127.0.0.1:$2" >&2; exit 1
}

if listening "$PGPORT"; then
  echo "PostgreSQL: using the one listening on 127.0.0.1:$PGPORT"
else
  echo "PostgreSQL: not listening, installing and starting Debian's package"
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    as_root pg_createcluster "$version" main >/dev/null
  fi
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! as_root grep -q "moe-zdorovye tests" "$hba"; then
    # Trust local TCP connections: the tests connect as postgres without a password.
    as_root sed -i '1i # moe-zdorovye tests: trust loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  as_root sed -i "s/^#\?port = .*/port = $PGPORT/" "/etc/postgresql/$version/main/postgresql.conf"
  as_root mkdir -p /var/run/postgresql && as_root chown postgres:postgres /var/run/postgresql
  as_root runuser -u postgres -- pg_ctlcluster "$version" main start || as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_for PostgreSQL "$PGPORT"
fi

if listening "$REDISPORT"; then
  echo "Redis: using the one listening on 127.0.0.1:$REDISPORT"
else
  echo "Redis: not listening, installing and starting Debian's package"
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDISPORT" --save "" --appendonly no \
    --dir /tmp --logfile /tmp/moe-zdorovye-redis.log
  wait_for Redis "$REDISPORT"
fi

# The kiosk ticket (PDF) needs a TrueType font with Cyrillic; Debian's DejaVu is the one looked for.
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ -z "${MZ_TICKET_FONT:-}" ]; then
  echo "Fonts: installing Debian's fonts-dejavu-core for the kiosk ticket"
  apt_install fonts-dejavu-core
fi

# The browser tests (tests/browser/) drive Debian's Chromium with Playwright; no browser is downloaded.
if [ ! -x "${MZ_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "Chromium: installing Debian's chromium for the browser tests"
  apt_install chromium
fi
