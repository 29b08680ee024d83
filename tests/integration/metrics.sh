#!/usr/bin/env bash
# shellcheck disable=SC2119
# metrics.sh: what an operator alerts on is in /metrics: the build, new
# callbacks by account and category (unknown categories folded into
# "other"), jobs by rule and outcome, which token verified, the time of
# the last accepted callback, and a request-latency histogram; promtool
# (when installed) finds the exposition valid.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

printf '#!/bin/sh\nexit 0\n' >"$T/ok.sh"
printf '#!/bin/sh\nexit 3\n' >"$T/fail.sh"
chmod +x "$T/ok.sh" "$T/fail.sh"
mk_config --secondary "dispatch: { backoff: 1s, max_attempts: 2 }" \
    "rules:" \
    "  - name: works" \
    "    match: { UsageCategory: sms }" \
    "    actions:" \
    "      - exec: [\"$T/ok.sh\"]" \
    "  - name: breaks" \
    "    match: { UsageCategory: calls }" \
    "    actions:" \
    "      - exec: [\"$T/fail.sh\"]"
start=$(date +%s)
uh_start

for i in 1 2 3; do
	uh_send IdempotencyToken=m-sms-$i UsageCategory=sms >/dev/null
done
uh_send IdempotencyToken=m-sms-2nd UsageCategory=sms --token-file "$T/token2" >/dev/null
uh_send IdempotencyToken=m-calls UsageCategory=calls >/dev/null
uh_send IdempotencyToken=m-odd UsageCategory=no-such-category >/dev/null
uh_send IdempotencyToken=m-sms-1 UsageCategory=sms >/dev/null	# a duplicate

dead_seen() { fetch_metrics >/dev/null; [ "$(metric 'usagehookd_jobs_total{rule="breaks",outcome="dead"}')" -ge 1 ]; }
wait_for 30 dead_seen
is "$(fetch_metrics)" 200 "GET /metrics"
is "$(metric 'usagehookd_build_info{version="'"$("$UH_D" --version | sed -n '1s/.* //p')"'"}')" 1 \
    "usagehookd_build_info names the running version"
is "$(metric "usagehookd_callbacks_total{account=\"$UH_SID\",category=\"sms\"}")" 4 \
    "callbacks by account and category: 4 new sms (the duplicate is not one)"
is "$(metric "usagehookd_callbacks_total{account=\"$UH_SID\",category=\"calls\"}")" 1 \
    "... 1 calls"
is "$(metric "usagehookd_callbacks_total{account=\"$UH_SID\",category=\"other\"}")" 1 \
    "... a category Twilio does not list counts as other"
unlike "$(cat "$T/metrics")" "no-such-category" "... and never becomes a label of its own"
is "$(metric 'usagehookd_verified_total{token="primary"}')" 6 "verified by the primary token: 6"
is "$(metric 'usagehookd_verified_total{token="secondary"}')" 1 "verified by the secondary token: 1"
like "$(ctl show m-sms-2nd)" "verified by +the secondary token" "show says which token verified"
like "$(ctl show m-sms-1)" "verified by +the primary token" "... the primary for the others"
like "$(ctl show m-sms-2nd --json)" '"verified_by": "secondary"' "show --json: verified_by"
is "$(metric 'usagehookd_jobs_total{rule="works",outcome="done"}')" 4 "jobs by rule and outcome: 4 done"
is "$(metric 'usagehookd_jobs_total{rule="breaks",outcome="failed"}')" 1 \
    "... a failed attempt"
is "$(metric 'usagehookd_jobs_total{rule="breaks",outcome="dead"}')" 1 "... then dead"
gauge_dead() { fetch_metrics >/dev/null; [ "$(metric 'usagehookd_jobs{state="dead"}')" -ge 1 ]; }
wait_for 30 gauge_dead
is "$(metric 'usagehookd_jobs{state="dead"}')" 1 "the jobs gauge, counted in the database: 1 dead"
is "$(metric 'usagehookd_jobs{state="done"}')" 4 "... 4 done"
is "$(metric 'usagehookd_jobs{state="queued"}')" 0 "... none queued"
last=$(metric usagehookd_last_accepted_timestamp_seconds)
ok "the last accepted callback's time is now ($last)" \
    test "$last" -ge "$start" -a "$last" -le "$(date +%s)"
is "$(metric usagehookd_request_seconds_count)" 7 "the request-latency histogram counts every claim (7)"
is "$(metric 'usagehookd_request_seconds_bucket{le="+Inf"}')" 7 "... its +Inf bucket too"
if command -v promtool >/dev/null 2>&1; then
	out=$(promtool check metrics <"$T/metrics" 2>&1)
	is "$?" 0 "promtool check metrics: the exposition is valid"
	[ -z "$out" ] || diag "$out"
else
	skip "promtool check metrics" "promtool is not installed (apt-get install prometheus)"
fi

# contrib/: the alerting rules load, and the dashboard and the rules name
# only metrics this daemon exports (checked against the /metrics above).
RULES=$top_srcdir/contrib/prometheus/usagehookd-rules.yml
DASH=$top_srcdir/contrib/grafana/usagehookd.json
if command -v promtool >/dev/null 2>&1; then
	out=$(promtool check rules "$RULES" 2>&1)
	is "$?" 0 "promtool check rules contrib/prometheus/usagehookd-rules.yml"
	[ "$?" -eq 0 ] || diag "$out"
else
	skip "promtool check rules" "promtool is not installed (apt-get install prometheus)"
fi
if command -v python3 >/dev/null 2>&1; then
	ok "the Grafana dashboard is valid JSON" python3 -m json.tool "$DASH"
else
	skip "the Grafana dashboard is valid JSON" "python3 is not installed"
fi
exported=$(sed -n 's/^\(usagehookd_[a-z_]*\).*/\1/p' "$T/metrics" | sort -u)
for f in "$DASH" "$RULES"; do
	named=$(grep -o 'usagehookd_[a-z_]*' "$f" | sort -u)
	isnt "$named" "" "${f##*/} names usagehookd metrics"
	is "$(comm -23 <(printf '%s\n' "$named") <(printf '%s\n' "$exported") | tr '\n' ' ')" "" \
	    "${f##*/} names only metrics /metrics exports"
done

# metrics_listen: /metrics and /healthz on a listener of their own (TCP
# here, the callbacks on a Unix socket); nothing else there.
uh_stop
MPORT=$(uh_free_port) || bail "no free TCP port found"
mk_config "metrics_listen: 127.0.0.1:$MPORT"
uh_start
mcurl() { curl -s -o "$T/mout" -w '%{http_code}' --max-time 10 "$@"; }
is "$(mcurl "http://127.0.0.1:$MPORT/metrics")" 200 "metrics_listen: GET /metrics 200"
like "$(cat "$T/mout")" "usagehookd_build_info" "... the exposition"
is "$(mcurl "http://127.0.0.1:$MPORT/healthz")" 200 "metrics_listen: GET /healthz 200"
is "$(mcurl "http://127.0.0.1:$MPORT$UH_PATH")" 404 "metrics_listen: the callback path is not served there"
is "$(mcurl -X POST "http://127.0.0.1:$MPORT/metrics")" 501 "metrics_listen: POST refused (evhttp: 501)"
is "$(mcurl -X GET --data x=1 "http://127.0.0.1:$MPORT/metrics")" 413 "metrics_listen: a body refused (413)"
is "$(fetch_metrics)" 200 "/metrics is still on the callback listener"
cp "$UH_CONF" "$T/m.yaml"
sed -i "s|^metrics_listen: .*|metrics_listen: \"$UH_LISTEN\"|" "$T/m.yaml"
out=$(timeout 30 "$UH_CTL" -c "$T/m.yaml" check-config 2>&1)
like "$out" "m.yaml:[0-9]+:[0-9]+: metrics_listen: .* is the callback listener" \
    "check-config: metrics_listen equal to listen is an error with file:line:col"

done_testing
