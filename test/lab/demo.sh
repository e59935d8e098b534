#!/usr/bin/env bash
# make demo: the main job on a local sandbox. The lab (a real Glance + Keystone on 127.0.0.1) is
# already up (make lab-up); this makes a small real disk image, serves it over HTTP with a SHA256SUMS
# file, imports it with glancing, imports a second version, and shows what Glance holds.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
lab=${GLANCING_LAB:-$top/.lab}
bin=$top/.venv/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/glancing-demo.XXXXXX")
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck disable=SC1091
source "$lab/openrc"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

make_image() {  # make_image VERSION: a 16 MiB qcow2 with some data, compressed with xz
    "$bin/python" - "$work/raw" "$1" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(b"glancing demo image, version " + sys.argv[2].encode() + b"\n")
    f.write(os.urandom(6 << 20))
    f.truncate(16 << 20)
PY
    qemu-img convert -q -f raw -O qcow2 "$work/raw" "$work/www/demo.qcow2"
    rm -f "$work/raw" "$work/www/demo.qcow2.xz"
    xz -T1 -0 "$work/www/demo.qcow2"
    (cd "$work/www" && sha256sum demo.qcow2.xz > SHA256SUMS)
}

mkdir -p "$work/www"
port=$("$bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/python" -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >/dev/null 2>&1 &
server_pid=$!
url=http://127.0.0.1:$port

say "1. A small qcow2 image, xz-compressed, served at $url with a SHA256SUMS file"
make_image 1
ls -l "$work/www"
sleep 0.5

say "2. glancing -S $url/SHA256SUMS -n 'Demo Linux' --property version=1 $url/demo.qcow2.xz"
"$bin/glancing" -S "$url/SHA256SUMS" -n "Demo Linux" --property version=1 "$url/demo.qcow2.xz"

say "3. A new version of the same image: the previous one is kept as a hidden backup"
make_image 2
"$bin/glancing" -S "$url/SHA256SUMS" -n "Demo Linux" --property version=2 "$url/demo.qcow2.xz"

say "4. What Glance holds now (glance image-list, then the hidden backups)"
"$bin/glance" image-list --tag glancing
"$bin/glance" image-list --tag glancing-backup --hidden true 2>/dev/null || \
    "$bin/glance" image-list --property-filter os_hidden=true

say "5. The new image, with its properties (glance image-show)"
id=$("$bin/glance" image-list --tag glancing --property-filter name="Demo Linux" -f value -c ID 2>/dev/null | head -1 || true)
[ -n "$id" ] || id=$("$bin/glance" image-list --tag glancing | awk '/Demo Linux/ {print $2; exit}')
"$bin/glance" image-show "$id"

say "6. A tampered download is refused, and Glance is left as it was"
printf 'tampered' >> "$work/www/demo.qcow2.xz"
"$bin/glancing" -S "$url/SHA256SUMS" -n "Demo Linux" "$url/demo.qcow2.xz" && exit 1 || echo "exit code $? (1 = verification failed)"

cat <<MSG

The sandbox keeps running: its credentials are in $lab/openrc (source it and use glance/glancing).
Stop it with:  make lab-down
MSG
