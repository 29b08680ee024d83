#!/usr/bin/env bash
# wal.sh: the writer never checkpoints inside a COMMIT; the housekeeping
# thread does, so the WAL is reused instead of growing with every callback.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

LOADGEN=$top_builddir/tests/fixtures/loadgen
[ -x "$LOADGEN" ] || bail "$LOADGEN not built (make check builds it)"

mk_config
uh_start
# send_batch NAME: 60 callbacks one after the other, one commit each, in a
# fraction of the 1 s checkpoint tick (usagehookctl under a sanitizer took
# seconds, so ticks fell inside a batch and split it unevenly).
send_batch() {
	"$LOADGEN" -a "unix:$UH_SOCK" -k "$T/token" -p "wal-$1" -c 1 -n 60 \
	    -o "$T/results.$1" >/dev/null 2>"$T/loadgen.err" ||
	    diag "loadgen: $(cat "$T/loadgen.err")"
}
wal_size() { stat -c %s "$UH_DB-wal" 2>/dev/null || echo 0; }

send_batch a
sleep 2.5	# a checkpoint tick or two
s1=$(wal_size)
send_batch b
sleep 2.5
s2=$(wal_size)
send_batch c
sleep 2.5
s3=$(wal_size)
diag "WAL bytes after 60, 120, 180 callbacks: $s1 $s2 $s3"
ok "callbacks are stored" [ "$(sql 'SELECT count(*) FROM callbacks')" = 180 ]
# A batch writes F bytes of frames; at most one tick falls inside it, so
# s1 >= F/2. The ticks between batches checkpoint everything, and the next
# batch starts the WAL over: s3 <= F <= 2 s1. Never reused, it would be 3F.
ok "the WAL is reused after checkpoints: it does not grow with every batch" \
    [ "$s3" -le $((s1 * 2)) ]
is "$(sql 'PRAGMA integrity_check')" ok "integrity_check ok"

# A WAL a burst left long (here 24 MiB that another process wrote) is cut
# back by the housekeeping thread (a TRUNCATE checkpoint past 16 MiB), even
# with no write after it.
sql "CREATE TABLE pad (x);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24)
    INSERT INTO pad SELECT randomblob(1048576) FROM n;" >/dev/null
big=$(wal_size)
diag "WAL after 24 MiB from another process: $big bytes"
wal_short() { [ "$(wal_size)" -le 16777216 ]; }
for _ in $(seq 1 50); do
	wal_short && break
	sleep 0.1
done
ok "the long WAL is cut back within a few ticks ($(wal_size) bytes)" wal_short
is "$(sql 'SELECT count(*) FROM pad')" 24 "the rows it held are in the database"
# Under steady load the writer seldom begins right when a checkpoint has
# caught up, so the WAL would never start over and grow by the second
# (259 MB after 8 s at 2,000 callbacks/s): once housekeeping's checkpoints
# caught up, the writer copies the last frames between two batches and its
# next commit starts the WAL over, without cutting the file; it stays about
# a second of frames. (Without: 50 MB at 2.5 s, 110 MB at 5.5 s.)
"$LOADGEN" -a "unix:$UH_SOCK" -k "$T/token" -p steady -c 4 -R 1000 -d 6 \
    -o "$T/results.steady" >"$T/steady.out" 2>"$T/loadgen.err" &
steady=$!
uh_track "$steady"
sleep 2.5
w1=$(wal_size)
sleep 3
w2=$(wal_size)
wait "$steady"
diag "WAL bytes under steady load at 2.5 s and 5.5 s: $w1 $w2 ($(cat "$T/steady.out"))"
ok "under steady load the WAL does not keep growing" \
    [ "$w2" -le $((w1 * 3 / 2 + 4194304)) ]
ok "and once the load is gone it is cut back" wait_for 10 wal_short
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
