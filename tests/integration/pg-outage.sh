#!/usr/bin/env bash
# pg-outage.sh: PostgreSQL stopped for 5 s under load: answers are only 200
# (each with its row) and 503; /healthz says 503 and why; once PostgreSQL is
# back the same daemon answers 200 again and runs the jobs, no restart.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"

pg_need
pg_start
UH_DB=$PG_URI

count_200() { cat "$T"/load.* 2>/dev/null | grep -c ' 200$'; }
more_200() { [ "$(count_200)" -ge "$1" ]; }
healthz_is() { [ "$(uh_status /healthz)" = "$1" ]; }
q_is() { [ "$(psql_q "$1" 2>/dev/null)" = "$2" ]; }

mk_config \
"rules:" \
"  - name: keep" \
"    match: { UsageCategory: sms }" \
"    actions:" \
"      - append: $T/append.jsonl"
uh_start
PID=$UH_PID

# worker N: distinct signed deliveries, one at a time, until $T/stop.
worker() {
	local n=0 body sig code
	while [ ! -e "$T/stop" ] && [ "$n" -lt 2000 ]; do
		n=$((n + 1))
		uh_params "out-$1-$n"
		body=$(uh_query)
		sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
		code=$(curl -sS --max-time 20 --unix-socket "$UH_SOCK" \
		    -o /dev/null -w '%{http_code}' \
		    -H "X-Twilio-Signature: $sig" \
		    -H 'Content-Type: application/x-www-form-urlencoded' \
		    --data-binary "$body" "http://localhost$UH_PATH" 2>/dev/null)
		echo "out-$1-$n $code" >>"$T/load.$1"
	done
}
for w in 1 2 3 4; do
	worker "$w" &
	uh_track "$!"
	wpids+=("$!")
done

wait_for 30 more_200 40 || diag "load did not get going: $(count_200) 200s"
before=$(count_200)
pg_stop fast
t0=$SECONDS
ok "/healthz says 503 while PostgreSQL is down" wait_for 10 healthz_is 503
like "$(cat "$T/resp.body")" 'database not writable: .*PostgreSQL|database not writable: .*connection|database not writable: .*server' \
    "/healthz says why"
diag "healthz: $(cat "$T/resp.body")"
# The outage itself: 5 s of load against a stopped server.
while [ $((SECONDS - t0)) -lt 5 ]; do sleep 0.2; done
during=$(cat "$T"/load.* | grep -vc ' 200$')
pg_start
ok "/healthz says 200 again without a restart" wait_for 20 healthz_is 200
ok "the daemon is the same process" test "$UH_PID" = "$PID"
after=$(count_200)
ok "callbacks get 200 again" wait_for 30 more_200 $((after + 40))
touch "$T/stop"
for p in "${wpids[@]}"; do wait "$p"; done

diag "200s before the stop $before, non-200 answers $during"
others=$(cat "$T"/load.* | awk '$2 != 200 && $2 != 503' | head -5)
is "$others" "" "only 200 and 503 were answered"
ok "some requests got 503 during the outage" test "$during" -gt 0
cat "$T"/load.* | awk '$2 == 200 { print $1 }' | sort >"$T/ok.tokens"
psql_q "SELECT idempotency_token FROM callbacks" | sort >"$T/db.tokens"
is "$(comm -23 "$T/ok.tokens" "$T/db.tokens" | head -5)" "" \
    "every 200 has its row ($(wc -l <"$T/ok.tokens") of them)"
n=$(wc -l <"$T/db.tokens")
ok "the jobs of every row ran" wait_for 30 q_is \
    "SELECT count(*) FROM jobs WHERE state = 'done'" "$n"
ok "warnings were not logged once per failed request" \
    test "$(grep -c 'database: ' "$UH_LOG")" -lt 20
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
