#!/usr/bin/env bash
# shellcheck disable=SC2119
# storm.sh: a duplicate storm. 100 identical deliveries at once, then
# Twilio-style retries (3 rounds of 20, one after a clean restart, one after
# a SIGKILL) give exactly one row, one job and one run of its action; every
# answer is 200 and all but the first say X-Usagehook-Duplicate; the
# duplicates column and /metrics count them.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

LOADGEN=$top_builddir/tests/fixtures/loadgen
[ -x "$LOADGEN" ] || bail "$LOADGEN not built (make check builds it)"

# The action writes one line per run; the rule matches only this storm.
cat >"$T/record.sh" <<SH
#!/bin/sh
echo "\$USAGEHOOK_IDEMPOTENCY_TOKEN \$USAGEHOOK_JOB_ID" >>"$T/runs"
SH
chmod +x "$T/record.sh"
mk_config "dispatch: { concurrency: 8, per_rule: 8, backoff: 1s }" \
    "rules:" \
    "  - name: storm" \
    "    match: { UsageCategory: sms }" \
    "    actions:" \
    "      - exec: [\"$T/record.sh\"]" \
    "      - append: $T/append.jsonl"
uh_start

TOK=storm-$$
# deliver N ROUND: N identical deliveries at once; prints the loader's summary.
deliver() {
	"$LOADGEN" -a "unix:$UH_SOCK" -k "$T/token" -p "$TOK" -r -c "$1" -n "$1" \
	    -o "$T/results.$2" 2>>"$T/loadgen.err"
}
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
dup_col() { sql "SELECT duplicates FROM callbacks WHERE idempotency_token = '$TOK'"; }

out=$(deliver 100 storm)
is "$out" "sent=100 answered=100 ok=100 dup=99 s4xx=0 s5xx=0 errors=0 max_ms=${out##*max_ms=}" \
    "100 identical deliveries at once: 100 answers of 200, 99 marked duplicate"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = '$TOK'")" 1 "exactly one row"
is "$(dup_col)" 99 "duplicates column is 99"
is "$(sql 'SELECT count(*) FROM jobs')" 2 "one set of jobs (two actions)"
fetch_metrics >/dev/null
is "$(metric usagehookd_accepted_total)" 1 "/metrics: accepted_total 1"
is "$(metric usagehookd_duplicates_total)" 99 "/metrics: duplicates_total 99"

# Twilio retries: a round while the first run may still be going on.
out=$(deliver 20 retry1)
is "$out" "sent=20 answered=20 ok=20 dup=20 s4xx=0 s5xx=0 errors=0 max_ms=${out##*max_ms=}" \
    "retry round 1 (20 at once): all 200 duplicate"
for _ in $(seq 1 100); do
	[ "$(sql "SELECT count(*) FROM jobs WHERE state = 'done'")" = 2 ] && break
	sleep 0.1
done
is "$(sql "SELECT group_concat(state || ' ' || attempts, ',') FROM jobs")" "done 1,done 1" \
    "both jobs done after one attempt"

# A clean restart, then a round.
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
uh_start
out=$(deliver 20 retry2)
is "$out" "sent=20 answered=20 ok=20 dup=20 s4xx=0 s5xx=0 errors=0 max_ms=${out##*max_ms=}" \
    "retry round 2 after a restart: all 200 duplicate"
fetch_metrics >/dev/null
is "$(metric usagehookd_duplicates_total)" 20 "/metrics of the new process: duplicates_total 20"
is "$(metric usagehookd_accepted_total)" 0 "/metrics of the new process: accepted_total 0"

# A crash, then the last round.
uh_kill
uh_start
out=$(deliver 20 retry3)
is "$out" "sent=20 answered=20 ok=20 dup=20 s4xx=0 s5xx=0 errors=0 max_ms=${out##*max_ms=}" \
    "retry round 3 after a SIGKILL: all 200 duplicate"

is "$(sql "SELECT count(*) FROM callbacks")" 1 "after 160 deliveries: still one row"
is "$(dup_col)" 159 "duplicates column is 159"
is "$(cat "$T"/results.* | awk '$1 == 200' | wc -l)" 160 "160 answers of 200 recorded"
is "$(cat "$T"/results.* | grep -c ' dup$')" 159 "159 of them marked duplicate"
is "$(sql 'SELECT count(*) FROM jobs')" 2 "still one set of jobs"
sleep 1.5	# long enough for a second run to show up if there were one
is "$(lines "$T/runs")" 1 "the exec action ran exactly once"
is "$(lines "$T/append.jsonl")" 1 "the append action ran exactly once"
like "$(cat "$T/runs")" "^$TOK [0-9]+\$" "and it ran for the storm's token"
is "$(sql "SELECT group_concat(state || ' ' || attempts, ',') FROM jobs")" "done 1,done 1" \
    "its jobs are done after one attempt each"

ok "daemon still running" uh_alive
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
