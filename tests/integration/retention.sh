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
done_testing
