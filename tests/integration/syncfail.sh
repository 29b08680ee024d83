#!/usr/bin/env bash
# shellcheck disable=SC2119
# syncfail.sh: the fdatasync of the WAL fails (the disk under it failed a
# write; an LD_PRELOAD shim makes it fail with EIO while a file exists).
# The commit it belonged to fails, so its callbacks are answered 503, never
# 200, nothing of them stays, and /healthz says 503 meanwhile; the log says
# the sync failed and where to look. When the disk takes writes again the
# daemon goes on without a restart, Twilio's retry of the 503 is a new
# callback and its action runs once.
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
like "$(cat "$UH_LOG")" "database: COMMIT: disk I/O error \\(fsync failed: the disk did not take the write; see the kernel log\\)" \
    "the log says the sync failed and where to look"
is "$(uh_status /healthz)" 503 "/healthz 503 while it fails"
like "$(cat "$T/resp.body")" "fsync failed" "/healthz says why"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'during-1'")" 0 \
    "nothing of the 503 is stored"

rm -f "$T/fail"
ok "the disk works again: /healthz 200 without a restart" wait_for 10 healthz_is 200
uh_params after-1 UsageCategory=calls
is "$(uh_post_signed)" 200 "and callbacks are 200 again"
uh_params during-1 UsageCategory=calls
is "$(uh_post_signed)" 200 "Twilio's retry of the 503: 200"
is "$(uh_header X-Usagehook-Duplicate)" "" "a new callback: nothing of it was committed before"
is "$(sql_eventually "SELECT count(*) FROM jobs WHERE state = 'done'" 2)" 2 "every job ran"
is "$(grep -c '"IdempotencyToken":"during-1"' "$T/append.jsonl")" 1 \
    "the action of the callback first answered 503 ran once"
ok "the log says writes succeed again" grep -q "writes succeed again" "$UH_LOG"
is "$(sql 'PRAGMA integrity_check')" ok "PRAGMA integrity_check"
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
