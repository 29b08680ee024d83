#!/usr/bin/env bash
# shellcheck disable=SC2119
# syncfail.sh: the fdatasync of the WAL fails (the disk under it failed a
# write; an LD_PRELOAD shim makes it fail with EIO while a file exists).
# The batch it was for is answered 503, never 200, and so is everything
# after it, /healthz included, even once syncs work again: the kernel may
# have dropped the pages it could not write while later commits went on
# top, so only a restart (SQLite's recovery reads the WAL back) makes
# promises again. The log says what happened and what to do. After the
# restart Twilio's retry of the 503 is a duplicate (its row was committed)
# and its action runs once.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

SHIM=$top_builddir/tests/fixtures/failsync.so
[ -f "$SHIM" ] || bail "$SHIM not built (make check builds it)"
healthz_is() { [ "$(uh_status /healthz)" = "$1" ]; }

# Only "calls" callbacks have a job: nothing but the test's callbacks
# writes, so the sync that fails is during-1's.
mk_config "rules:" \
    "  - name: calls" \
    "    match: { UsageCategory: calls }" \
    "    actions:" \
    "      - append: $T/append.jsonl"
export FAILSYNC_TRIGGER=$T/fail LD_PRELOAD=$SHIM
uh_start
unset LD_PRELOAD

uh_params before-1
is "$(uh_post_signed)" 200 "a callback before the failure: 200"

touch "$T/fail"
uh_params during-1 UsageCategory=calls
is "$(uh_post_signed)" 503 "the WAL's fdatasync fails: that callback is answered 503"
like "$(cat "$UH_LOG")" "database: fdatasync of the WAL: Input/output error; callbacks are refused until usagehookd is restarted" \
    "the log says the sync failed and that a restart is needed"
rm -f "$T/fail"
uh_params after-1 UsageCategory=calls
is "$(uh_post_signed)" 503 "the disk works again: still 503 (no promise over a possible hole)"
is "$(uh_status /healthz)" 503 "/healthz 503"
like "$(cat "$T/resp.body")" "fdatasync of the WAL" "/healthz says why"
is "$(grep -c 'fdatasync of the WAL' "$UH_LOG")" 1 "the failure is logged once"
ok "the request lines say 503" grep -q "POST /twilio/usage 503 IdempotencyToken=after-1" "$UH_LOG"
ok "daemon still running" uh_alive

uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
uh_start
ok "restarted: /healthz 200" wait_for 10 healthz_is 200
uh_params during-1 UsageCategory=calls
is "$(uh_post_signed)" 200 "Twilio's retry of the 503: 200"
is "$(uh_header X-Usagehook-Duplicate)" 1 "a duplicate: its row was committed before the sync failed"
uh_params after-1 UsageCategory=calls
is "$(uh_post_signed)" 200 "the retry of a callback refused after the failure: 200"
is "$(uh_header X-Usagehook-Duplicate)" "" "new: nothing of it was committed"
is "$(sql_eventually "SELECT count(*) FROM jobs WHERE state = 'done'" 2)" 2 "every job ran"
is "$(grep -c '"IdempotencyToken":"during-1"' "$T/append.jsonl")" 1 \
    "the action of the callback answered 503 ran once"
is "$(sql 'PRAGMA integrity_check')" ok "PRAGMA integrity_check"
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
