#!/usr/bin/env bash
# dbfile.sh: the database file under the running daemon. Created 0600 (with
# its -wal and -shm) outside systemd, as it holds raw requests. Moved away
# or deleted, it is noticed within a second and on /healthz: callbacks and
# /healthz get 503, an error names the path; moved back, the daemon goes on
# without a restart. Another file put in its place is not adopted (the
# daemon still holds the old one's WAL): 503 until a restart.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

# eventually SECONDS CMD...: poll CMD until it succeeds or time runs out.
eventually() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}
mode() { stat -c %a "$1" 2>/dev/null || echo missing; }
healthz_is() { [ "$(uh_status /healthz)" = "$1" ]; }

mk_config
umask 022
uh_start
uh_params perm-1
is "$(uh_post_signed)" 200 "a callback is stored"
is "$(mode "$UH_DB") $(mode "$UH_DB-wal") $(mode "$UH_DB-shm")" "600 600 600" \
    "under umask 022 the database, its -wal and -shm are created 0600"

# ---- moved away and back ------------------------------------------------
mv "$UH_DB" "$T/elsewhere.db"
ok "the move is logged within a few seconds, naming the path" eventually 10 \
    grep -q "database error: database $UH_DB is gone" "$UH_LOG"
uh_params moved-1
is "$(uh_post_signed)" 503 "moved: a callback is answered 503"
is "$(uh_status /healthz)" 503 "moved: /healthz 503"
like "$(cat "$T/resp.body")" "database $UH_DB is gone .*moved or deleted" \
    "/healthz says why"
mv "$T/elsewhere.db" "$UH_DB"
ok "moved back: /healthz 200 again" eventually 10 healthz_is 200
uh_params moved-2
is "$(uh_post_signed)" 200 "moved back: a callback is stored again"
ok "the return is logged" eventually 10 \
    grep -q "database $UH_DB is back in place" "$UH_LOG"
is "$(sql "SELECT group_concat(idempotency_token, ' ') FROM (SELECT idempotency_token FROM callbacks ORDER BY id)")" \
    "perm-1 moved-2" "the file holds what was answered 200, not the 503"

# ---- deleted ------------------------------------------------------------
rm -f "$UH_DB"
uh_params deleted-1
is "$(uh_post_signed)" 503 "deleted: a callback is answered 503 at once"
is "$(uh_status /healthz)" 503 "deleted: /healthz 503"
# A new file in its place is not adopted while the old WAL is open.
: >"$UH_DB"
uh_params deleted-2
is "$(uh_post_signed)" 503 "another file in its place: still 503"
like "$(uh_curl /healthz)" "another file than the one opened" \
    "/healthz: another file; restart to use it"
rm -f "$UH_DB"
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
uh_start
uh_params after-restart
is "$(uh_post_signed)" 200 "after a restart a new database takes callbacks"
uh_stop
done_testing
