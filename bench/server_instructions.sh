#!/bin/bash
# bench/server_instructions.sh TREE SECONDS PORT [MODE]
#
# Instructions of the `pyconvex serve` process (bench/channels_app, SQLite) per HTTP insert (or WebSocket, MODE),
# HTTP layer included, the SQLite writer child not traced. callgrind's counters are dumped
# (and zeroed) after a warm-up and again after SECONDS of bench/load.mjs `channels` with 16
# connections: the second dump over the inserts the load generator counted. A figure that
# the machine's load moves far less than timings (under valgrind the server runs about 50
# times slower, so its commit groups are smaller than natively). Take the machine lock
# shared, as for bench/instructions.py. MODE (default `channels`) is load.mjs's: `ws` and
# `http` insert bench/app's `bench:insert` (16 WebSocket sync sessions, or 16 HTTP clients),
# served from bench/app instead of bench/channels_app.
set -e
TREE=$(cd "$1" && pwd); SECS=$2; PORT=$3; MODE=${4:-channels}
BENCH=$(cd "$(dirname "$0")" && pwd)
APP=channels_app
if [ "$MODE" != channels ]; then APP=app; fi
PYTHON=${PYTHON:-$BENCH/../.venv/bin/python}
D=$(mktemp -d)
cd "$D"
PYTHONPATH=$TREE valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" "$PYTHON" \
  -m pyconvex.cli.main serve --functions "$BENCH/$APP/convex" \
  --db "sqlite:///$D/db.sqlite3" --port "$PORT" --site-port 0 >/dev/null 2>"$D/vg.err" &
VG=$!
for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$PORT/version" && break; sleep 0.5; done
node "$BENCH/load.mjs" "$MODE" "http://127.0.0.1:$PORT" 16 3 >/dev/null 2>&1
callgrind_control -d "$VG" >/dev/null 2>&1
sleep 1
RATE=$(node "$BENCH/load.mjs" "$MODE" "http://127.0.0.1:$PORT" 16 "$SECS" 2>/dev/null | tail -1)
callgrind_control -d "$VG" >/dev/null 2>&1
sleep 1
kill -INT "$VG"; wait "$VG" || true
TOTAL=$(grep -h "^summary:\|^totals:" "$D/cg.out.2" | head -1 | awk '{print $2}')
python3 -c "
rate, secs, total = float('$RATE'.replace(',', '')), float('$SECS'), int('$TOTAL')
n = rate * secs
print(f'$TREE: {rate:,.0f} inserts/s under valgrind, {n:,.0f} inserts, {total / n:,.0f} instructions per insert')
"
rm -rf "$D"
