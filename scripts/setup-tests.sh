#!/usr/bin/env bash
# Everything the test suite needs, on a fresh Debian machine (as root; the README's test command
# and .ci/run both call it): the virtual environment with the `dev` and `local` extras, the
# programs the tests run (nginx, openssl, Chromium), and PostgreSQL and Redis on loopback.
# Safe to run again: it installs only what is missing and starts only what is not running.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: $* missing; run as root, or install it: apt-get install $*" >&2
    exit 1
  fi
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  echo "== installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

python=${PYTHON:-python3}
"$python" -c "import ensurepip" 2>/dev/null || apt_install python3-venv
# `local` compiles llama-cpp-python (about 5 min on 2 cores, once: pip's wheel cache keeps it);
# the LLM tests run a tiny GGUF model in-process and behind llama.cpp's own server.
have g++ || apt_install g++
have make || apt_install make
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
echo "== python packages"
.venv/bin/python -m pip install --quiet --upgrade pip
CMAKE_ARGS="-DLLAVA_BUILD=OFF" .venv/bin/python -m pip install --quiet -e ".[dev,local]"

# nginx: the shipped proxy rules in front of replicas, `nginx -t` of the shipped config;
# openssl: the test certificates; Chromium (Debian's; Playwright downloads no browser): the UI.
have nginx || apt_install nginx
have openssl || apt_install openssl
have chromium || [ -n "${NANOBRAIN_CHROMIUM:-}" ] || apt_install chromium
# The distributed mode's tests use PostgreSQL and Redis on loopback (each run its own database
# and key prefix); the fault-injection tests start private instances from the same packages.
have redis-server || apt_install redis-server
have pg_ctlcluster || apt_install postgresql

echo "== services"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
fi
# The tests sign in as `postgres` without a password; Debian's default asks loopback clients for
# one, so a cluster that does gets a trust rule for that user on loopback only.
if pg_isready -q -h 127.0.0.1 -p 5432 && ! psql -w -h 127.0.0.1 -U postgres -d postgres -Atc "select 1" >/dev/null 2>&1; then
  version=$(ls /etc/postgresql | head -n 1)
  sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' \
    "/etc/postgresql/$version/main/pg_hba.conf"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/tests.log
fi
for _ in $(seq 50); do
  if pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "== ready: .venv/bin/python -m pytest"
    exit 0
  fi
  sleep 0.2
done
echo "error: PostgreSQL or Redis did not come up on 127.0.0.1" >&2
exit 1
