#!/usr/bin/env bash
# shellcheck disable=SC2119
# restart.sh: stored callbacks survive a SIGTERM restart and a SIGKILL right
# after the 200 (the answer comes only after the commit); retries after a
# restart are still duplicates.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config --tcp
uh_start

for i in $(seq 1 10); do
	out=$(uh_send "IdempotencyToken=restart-$i")
	like "$out" "^200 .*IdempotencyToken=restart-$i\$" "callback $i stored: 200"
done
is "$(sql 'SELECT count(*) FROM callbacks')" 10 "10 rows before the restart"

uh_stop
is "$UH_STATUS" 0 "SIGTERM: usagehookd exits 0"
uh_start
is "$(sql 'SELECT count(*) FROM callbacks')" 10 "10 rows after the restart"
out=$(uh_send IdempotencyToken=restart-3)
like "$out" '^200 .*IdempotencyToken=restart-3 duplicate$' \
    "a retry of a stored callback after the restart: 200 duplicate"
is "$(sql 'SELECT count(*) FROM callbacks')" 10 "the retry added no row"
is "$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token = 'restart-3'")" 1 \
    "the retry is counted as a duplicate"

# SIGKILL immediately after the 200: the row must already be on disk.
out=$(uh_send IdempotencyToken=restart-killed)
like "$out" '^200 .*IdempotencyToken=restart-killed$' "one more callback: 200"
uh_kill
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'restart-killed'")" 1 \
    "after SIGKILL the acknowledged row is in the database"
uh_start
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'restart-killed'")" 1 \
    "and still there after the next start"
is "$(sql 'PRAGMA integrity_check')" ok "database integrity_check after SIGKILL"
out=$(uh_send IdempotencyToken=restart-killed)
like "$out" '^200 .*IdempotencyToken=restart-killed duplicate$' \
    "Twilio's retry of the killed one: 200 duplicate"
is "$(sql 'SELECT count(*) FROM callbacks')" 11 "11 rows in all"
uh_stop
is "$UH_STATUS" 0 "SIGTERM: usagehookd exits 0"

# On a Unix socket, a SIGKILL leaves the socket file behind: the next start
# must still bind (a stale socket is replaced).
mk_config
uh_start
uh_kill
ok "stale socket file left by SIGKILL" test -S "$UH_SOCK"
uh_start
is "$(uh_status /healthz)" 200 "restart over a stale Unix socket: /healthz 200"
is "$(sql 'SELECT count(*) FROM callbacks')" 11 "same database, same 11 rows"
uh_stop
is "$UH_STATUS" 0 "SIGTERM: usagehookd exits 0"
done_testing
