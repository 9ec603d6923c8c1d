#!/usr/bin/env bash
# What the test suite needs besides npm packages: nats-server, redis-server (started by the tests on
# free ports), curl and openssl (protocol tests), strace, fuse and python3-fusepy (durability tests:
# syscall order, and test/helpers/lossyfs.py, a FUSE file system that loses unsynced writes), and
# root for mounts (the full-disk and power-cut tests). Installs what is missing from Debian's packages when it can (root with
# apt-get); otherwise names what is missing and fails. Run by `npm test` (pretest) and by .ci/run.
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
declare -A pkg=([nats-server]=nats-server [redis-server]=redis-server [curl]=curl [openssl]=openssl [strace]=strace)
missing=()
pkg[fusermount]=fuse
for bin in "${!pkg[@]}"; do command -v "$bin" >/dev/null 2>&1 || missing+=("${pkg[$bin]}"); done
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import fusepy' 2>/dev/null || missing+=(python3-fusepy)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${missing[*]} (Debian packages)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null && exit 0
  echo "test-deps: apt-get install ${missing[*]} failed" >&2
  exit 1
fi
echo "test-deps: missing ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]}) or run as root" >&2
exit 1
