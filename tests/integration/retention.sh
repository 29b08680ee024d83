#!/usr/bin/env bash
# retention.sh: the daemon purges callbacks (with their jobs) and rejections
# older than `retention` by itself, shortly after start and then daily, and
# keeps everything younger.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config "retention: { callbacks: 1h, rejected: 2h }" \
    "rules:" \
    "  - name: every" \
    "    actions:" \
    "      - log: \"got {IdempotencyToken}\""
uh_start
for t in old-1 old-2 young-1; do
	uh_send IdempotencyToken=$t >/dev/null
done
is "$(uh_status /twilio/usage -X POST -d 'a=1' \
    -H 'Content-Type: application/x-www-form-urlencoded')" 403 "one rejection"
sql_eventually "SELECT count(*) FROM jobs WHERE state = 'done'" 3 >/dev/null
uh_stop

# Age two callbacks past 1h and the rejection past 2h, as if time passed.
day_ago=$(( ($(date +%s) - 86400) * 1000 ))
sql "UPDATE callbacks SET received_at = $day_ago WHERE idempotency_token LIKE 'old-%';
    UPDATE rejected SET at = $day_ago;"
uh_start
is "$(sql_eventually "SELECT count(*) FROM callbacks" 1)" 1 \
    "callbacks older than retention.callbacks are purged after start"
is "$(sql "SELECT idempotency_token FROM callbacks")" young-1 "the young one stays"
is "$(sql "SELECT count(*) FROM jobs")" 1 "the purged callbacks' jobs went with them"
is "$(sql "SELECT count(*) FROM rejected")" 0 "rejections older than retention.rejected are purged"
like "$(cat "$UH_LOG")" "retention: purged 2 callback\\(s\\)" "the purge is logged"
uh_stop
is "$UH_STATUS" 0 "stops cleanly with the retention thread"

# ---- usagehookctl purge below retention's minimum (1h) --------------------
uh_start
for t in recent-1 recent-2; do
	uh_send IdempotencyToken=$t >/dev/null
done
is "$(uh_status /twilio/usage -X POST -d 'a=1' \
    -H 'Content-Type: application/x-www-form-urlencoded')" 403 "one more rejection"
sql_eventually "SELECT count(*) FROM jobs WHERE state = 'done'" 3 >/dev/null
uh_stop
# Ten minutes old, one job not run yet (as if its action were pending).
ten_min_ago=$(( ($(date +%s) - 600) * 1000 ))
sql "UPDATE callbacks SET received_at = $ten_min_ago;
    UPDATE rejected SET at = $ten_min_ago;
    UPDATE jobs SET state = 'queued' WHERE callback_id =
      (SELECT id FROM callbacks WHERE idempotency_token = 'recent-2');"
ctl purge --older-than 5m >"$T/purge.out" 2>"$T/purge.err"
is "$?" 1 "purge --older-than 5m (below 1h) without --force: exit 1"
like "$(cat "$T/purge.err")" "below retention's minimum of 1h; it would delete 3 callbacks with their 3 jobs \\(1 not yet run, which then never run\\) and 1 rejected request" \
    "it says what it would delete, jobs not yet run included"
like "$(cat "$T/purge.err")" "refused without --force" "and that --force is needed"
is "$(sql "SELECT count(*) FROM callbacks") $(sql "SELECT count(*) FROM jobs") $(sql "SELECT count(*) FROM rejected")" \
    "3 3 1" "nothing was deleted"
ctl purge --older-than 5m --force >"$T/purge.out" 2>"$T/purge.err"
is "$?" 0 "with --force: exit 0"
like "$(cat "$T/purge.err")" "it deletes 3 callbacks" "--force still says what goes"
like "$(cat "$T/purge.out")" "^purged 3 callbacks \\(with their jobs\\) and 1 rejected request" \
    "and purges"
is "$(sql "SELECT count(*) FROM callbacks") $(sql "SELECT count(*) FROM jobs") $(sql "SELECT count(*) FROM rejected")" \
    "0 0 0" "all of it is gone"
ctl purge --older-than 1h >"$T/purge.out" 2>"$T/purge.err"
is "$?" 0 "1h, retention's minimum, needs no --force"
done_testing
