#!/usr/bin/env bash
# wal.sh: the writer never checkpoints inside a COMMIT; the housekeeping
# thread does, so the WAL is reused instead of growing with every callback.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config
uh_start
send_batch() {
	local i
	for i in $(seq 1 60); do
		uh_send "IdempotencyToken=wal-$1-$i" >/dev/null || return 1
	done
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
ok "the WAL is reused after checkpoints: it does not grow with every batch" \
    [ "$s3" -le $((s1 * 3 / 2)) ]
is "$(sql 'PRAGMA integrity_check')" ok "integrity_check ok"
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
