#!/usr/bin/env bash
# actions.sh: rules and the outbox with the real daemon: an exec action runs
# once for 20 deliveries; a failing one is retried on schedule, then dead; a
# crash before an action ran does not lose it; http actions reach a loopback
# server over TLS and refuse a wrong host; SIGHUP with a broken file keeps
# the old rules; hostile parameter values reach exec verbatim; a captured
# callback re-split (Recurring moved into the token, same signature) is
# refused and runs nothing again.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || skip_all "openssl not installed (apt-get install openssl)"
SINK=$top_builddir/tests/fixtures/sink
[ -x "$SINK" ] || bail "$SINK not built (make check builds it)"

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
job_state() {
	sql "SELECT j.state || ' ' || j.attempts FROM jobs j JOIN callbacks c
	    ON c.id = j.callback_id WHERE c.idempotency_token = '$1'"
}
state_is() { [ "$(job_state "$1")" = "$2" ]; }

# Programs the exec actions run: they record argv, environment and stdin.
cat >"$T/record.sh" <<SH
#!/bin/sh
printf '%s|%s|%s\n' "\$1" "\$USAGEHOOK_IDEMPOTENCY_TOKEN" "\$2" >>"$T/exec.out"
cat >"$T/stdin.\$USAGEHOOK_JOB_ID"
SH
cat >"$T/fail.sh" <<SH
#!/bin/sh
date +%s.%N >>"$T/fail.out"
exit 3
SH
# Blocks (like a wedged pager) until the test arms it.
cat >"$T/slow.sh" <<SH
#!/bin/sh
[ -f "$T/armed" ] || { echo \$\$ >>"$T/slow.pids"; exec sleep 60; }
echo "\$1" >>"$T/slow.out"
SH
chmod +x "$T/record.sh" "$T/fail.sh" "$T/slow.sh"

# A CA, a certificate for 127.0.0.1 and one for another name.
uh_certs good:IP:127.0.0.1 bad:DNS:wrong.example
start_sink() {
	# Its own output must not hold the caller's $(...) open.
	"$SINK" -o "$T/$1.out" -p "$T/$1.port" "${@:2}" \
	    >>"$T/sink.log" 2>&1 </dev/null &
	uh_track "$!"
	wait_for 5 test -s "$T/$1.port" || bail "sink $1 did not start"
}
# Not in $(...): uh_track must run in this shell so cleanup stops them.
start_sink good -c "$T/good.pem" -k "$T/good.key"
start_sink bad -c "$T/bad.pem" -k "$T/bad.key"
GOOD=$(cat "$T/good.port")
BAD=$(cat "$T/bad.port")
# Targets whose answer never ends: headers, or a body, without end.
FLOOD=$top_builddir/tests/fixtures/flood
for mode in h b; do
	"$FLOOD" -p "$T/flood-$mode.port" -o "$T/flood-$mode.log" -l $((512 * 1024 * 1024)) \
	    $([ $mode = b ] && echo -b) >>"$T/sink.log" 2>&1 </dev/null &
	uh_track "$!"
	wait_for 5 test -s "$T/flood-$mode.port" || bail "flood $mode did not start"
done
FLOODH=$(cat "$T/flood-h.port")
FLOODB=$(cat "$T/flood-b.port")
printf 'secret-for-the-hook\n' >"$T/hook-secret"

RULES=(
"dispatch: { backoff: 1s, max_attempts: 3, per_rule: 1 }"
"rules:"
"  - name: once"
"    match: { UsageCategory: sms }"
"    actions:"
"      - exec: [\"$T/record.sh\", \"{UsageRecordUri}\", \"{DateFired}\"]"
"  - name: failing"
"    match: { UsageCategory: calls }"
"    actions:"
"      - exec: [\"$T/fail.sh\"]"
"  - name: wedged"
"    match: { UsageCategory: mms }"
"    actions:"
"      - exec: [\"$T/slow.sh\", \"{IdempotencyToken}\"]"
"        timeout: 120s"
"  - name: hook"
"    match: { UsageCategory: totalprice }"
"    actions:"
"      - http: https://127.0.0.1:$GOOD/hook"
"        ca_file: $T/ca.pem"
"        headers: { X-Secret: { file: $T/hook-secret } }"
"  - name: flood-headers"
"    match: { UsageCategory: sms-outbound-longcode }"
"    actions:"
"      - http: http://127.0.0.1:$FLOODH/hook"
"        max_attempts: 1"
"  - name: flood-body"
"    match: { UsageCategory: sms-outbound-shortcode }"
"    actions:"
"      - http: http://127.0.0.1:$FLOODB/hook"
"        max_attempts: 1"
"  - name: wronghost"
"    match: { UsageCategory: recordings }"
"    actions:"
"      - http: https://127.0.0.1:$BAD/hook"
"        ca_file: $T/ca.pem"
"        max_attempts: 1"
)
mk_config "${RULES[@]}"
cp "$UH_CONF" "$T/good.yaml"
ctl check-config >/dev/null 2>"$T/check.err" || diag "$(cat "$T/check.err")"
uh_start

# 1. Twenty deliveries of one firing: one row, one exec.
for _ in $(seq 1 20); do
	uh_send IdempotencyToken=once-1 UsageCategory=sms >/dev/null &
	uh_track "$!"
done
wait_for 10 has_lines "$T/exec.out" 1
wait_for 10 state_is once-1 "done 1"
sleep 1.5	# long enough for a second run to show up if there were one
is "$(lines "$T/exec.out")" 1 "20 deliveries of one token: the exec action ran once"
is "$(job_state once-1)" "done 1" "its job is done after one attempt"
is "$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token='once-1'")" 19 \
    "19 duplicates counted"
like "$(cat "$T"/stdin.* 2>/dev/null)" '"IdempotencyToken":"once-1"' \
    "the callback reached stdin as JSON"
cbid=$(sql "SELECT id FROM callbacks WHERE idempotency_token='once-1'")
like "$(cat "$T"/stdin.* 2>/dev/null)" "\"usagehook\":\\{\"job\":[0-9]+,\"rule\":\"[^\"]*\",\"attempt\":1,\"id\":$cbid,\"received_at\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\",\"source\":\"callback\"\\}" \
    "with the callback's id, received_at, source and the rule"

# 2. Hostile values reach argv verbatim and run nothing.
evil='$(touch '"$T"'/pwned); touch '"$T"'/pwned2 `touch '"$T"'/pwned3`'
uh_send IdempotencyToken=evil-1 UsageCategory=sms "UsageRecordUri=$evil" \
    "DateFired=1;rm -rf /" >/dev/null
wait_for 10 has_lines "$T/exec.out" 2
is "$(sed -n 2p "$T/exec.out")" "$evil|evil-1|1;rm -rf /" \
    "shell syntax in parameters reaches exec as plain text"

# 2b. Issue 11: the signature covers names and values run together, so a
# captured callback with "&Recurring=daily" dropped and "Recurringdaily"
# appended to its token verifies; it must not be stored as a new firing.
out=$(uh_send UsageCategory=sms)
tok=${out##*IdempotencyToken=}
like "$tok" '^AC[0-9a-f]{32}-FIRES-UT[0-9a-f]{32}-' "a firing with Twilio's token shape: $tok"
wait_for 10 has_lines "$T/exec.out" 3
sql "SELECT body FROM callbacks WHERE idempotency_token = '$tok'" >"$T/captured.body"
capsig=$(sql "SELECT signature FROM callbacks WHERE idempotency_token = '$tok'")
resplit=$(sed -e 's/&Recurring=daily//' -e 's/\(IdempotencyToken=[^&]*\)/\1Recurringdaily/' \
    "$T/captured.body" | tr -d '\n')
isnt "$resplit" "$(cat "$T/captured.body")" "the captured body is re-split"
is "$(uh_status "$UH_PATH" -H "X-Twilio-Signature: $capsig" \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$resplit")" 400 \
    "the re-split request (signature still valid) is refused 400"
# The rejected row is written after the answer: wait for it (5 s at most).
is "$(sql_eventually "SELECT reason || ': ' || detail FROM rejected ORDER BY id DESC LIMIT 1" \
    "invalid-callback: Recurring missing")" \
    "invalid-callback: Recurring missing" "rejected says Recurring is missing"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token LIKE '$tok%'")" 1 \
    "no second callback row under the longer token"
is "$(uh_status "$UH_PATH" -H "X-Twilio-Signature: $capsig" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "$(tr -d '\n' <"$T/captured.body")")" 200 \
    "the captured request itself is still a duplicate 200"
is "$(uh_header X-Usagehook-Duplicate)" 1 "marked duplicate"
ok "nothing the values asked for was run" \
    test ! -e "$T/pwned" -a ! -e "$T/pwned2" -a ! -e "$T/pwned3"

# 3. A failing action: retried after about 1 s and 2 s, then dead.
uh_send IdempotencyToken=fail-1 UsageCategory=calls >/dev/null
wait_for 15 state_is fail-1 "dead 3"
is "$(job_state fail-1)" "dead 3" "a failing action is dead after max_attempts (3)"
is "$(lines "$T/fail.out")" 3 "it ran exactly 3 times"
gaps=$(awk 'NR > 1 { printf "%.1f ", $1 - prev } { prev = $1 }' "$T/fail.out")
read -r g1 g2 <<<"$gaps"
ok "retry 1 waited 0.5-1 s of backoff (${g1}s)" awk -v g="$g1" 'BEGIN { exit !(g >= 0.4 && g <= 1.6) }'
ok "retry 2 waited 1-2 s of backoff (${g2}s)" awk -v g="$g2" 'BEGIN { exit !(g >= 0.9 && g <= 2.6) }'
like "$(sql "SELECT last_error FROM jobs WHERE state = 'dead'")" "exit status 3" \
    "the dead job keeps its last error"
like "$(cat "$UH_LOG")" "dead after 3 attempts" "the dead letter is logged"

# 4. http action over TLS with the test's CA, secret header from a file.
uh_send IdempotencyToken=hook-1 UsageCategory=totalprice >/dev/null
wait_for 10 state_is hook-1 "done 1"
is "$(job_state hook-1)" "done 1" "http action to https://127.0.0.1 verified by ca_file: done"
line=$(cat "$T/good.out" 2>/dev/null)
like "$line" '\[Idempotency-Key: hook-1\]' "it carries Idempotency-Key"
like "$line" '\[X-Secret: secret-for-the-hook\]' "and the secret header read from its file"
like "$line" '"UsageCategory":"totalprice"' "and the callback as JSON"
unlike "$(cat "$UH_LOG")" "secret-for-the-hook" "the secret is never logged"

# 4b. Issue 11: an http target streaming headers (or a body) forever costs
# the daemon 64 KiB (1 MiB), not 610 MB: the job fails naming URL and limit.
# The daemon's peak RSS (VmHWM), in KiB.
rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$UH_PID/status"; }
rss0=$(rss_kib)
uh_send IdempotencyToken=flood-h UsageCategory=sms-outbound-longcode >/dev/null
uh_send IdempotencyToken=flood-b UsageCategory=sms-outbound-shortcode >/dev/null
wait_for 30 state_is flood-h "dead 1"
wait_for 30 state_is flood-b "dead 1"
is "$(job_state flood-h):$(sql "SELECT last_error FROM jobs j JOIN callbacks c ON c.id = j.callback_id WHERE c.idempotency_token = 'flood-h'")" \
    "dead 1:the answer from http://127.0.0.1:$FLOODH has a malformed status line or headers, or more than usagehookd's limit of 64 KiB of them" \
    "a target streaming headers forever: the job fails, URL and limit named"
is "$(job_state flood-b):$(sql "SELECT last_error FROM jobs j JOIN callbacks c ON c.id = j.callback_id WHERE c.idempotency_token = 'flood-b'")" \
    "dead 1:the answer from http://127.0.0.1:$FLOODB has a body over usagehookd's limit of 1 MiB" \
    "a target streaming a body forever: the job fails, URL and limit named"
for mode in h b; do
	wait_for 10 test -s "$T/flood-$mode.log"
	read -r fsent fwhy <"$T/flood-$mode.log"
	ok "flood-$mode: the daemon hung up after ${fsent:-?} bytes ($fwhy) of 512 MiB" \
	    test "$fwhy" = peer-closed -a "${fsent:-999999999}" -lt $((32 * 1024 * 1024))
done
rss1=$(rss_kib)
ok "the daemon's peak RSS grew by $((rss1 - rss0)) KiB (under 16 MiB)" test $((rss1 - rss0)) -lt 16384

# 5. A certificate for another host name is refused.
uh_send IdempotencyToken=wrong-1 UsageCategory=recordings >/dev/null
wait_for 10 state_is wrong-1 "dead 1"
is "$(job_state wrong-1)" "dead 1" "http action to a host whose certificate names another: refused"
is "$(lines "$T/bad.out")" 0 "nothing was sent to it"
like "$(sql "SELECT last_error FROM jobs j JOIN callbacks c ON c.id = j.callback_id
    WHERE c.idempotency_token = 'wrong-1'")" "[Hh]ost|[Vv]erif|mismatch" \
    "the error says the certificate did not verify"

# 6. SIGHUP with a broken file: refused with file:line:col, old rules kept.
printf 'listen: [unclosed\n' >"$UH_CONF"
kill -HUP "$UH_PID"
wait_for 5 grep -q "reload refused" "$UH_LOG"
like "$(cat "$UH_LOG")" "usagehookd.yaml:[0-9]+:[0-9]+:" "a broken file on SIGHUP is reported with file:line:col"
# usagehookctl reads the config too: send with the good copy.
timeout 30 "$UH_CTL" -c "$T/good.yaml" send IdempotencyToken=after-hup \
    UsageCategory=sms >/dev/null 2>>"$T/ctl.err"
wait_for 10 has_lines "$T/exec.out" 4
is "$(grep -c "|$tok|" "$T/exec.out")" 1 "the re-split ran no action again"
like "$(sed -n 4p "$T/exec.out")" "after-hup" "the old rules keep running after the refused reload"
cp "$T/good.yaml" "$UH_CONF"

# 6b. A valid reload: a new rule and a new account apply from then on.
SID2=AC22222222222222222222222222222222
(umask 077 && printf 'second-account-token-0123456789ab' >"$T/token-2nd")
{
	cat "$T/good.yaml"
	echo "  - name: added-on-reload"
	echo "    match: { UsageCategory: sms-outbound }"
	echo "    actions:"
	echo "      - exec: [\"$T/record.sh\", \"reloaded\"]"
} >"$T/reloaded.yaml"
sed -i "s|^accounts:|accounts:\n  - sid: $SID2\n    auth_token_file: $T/token-2nd|" \
    "$T/reloaded.yaml"
cp "$T/reloaded.yaml" "$UH_CONF"
is "$(uh_send IdempotencyToken=second-before AccountSid=$SID2 \
    --token-file "$T/token-2nd" | cut -d' ' -f1)" 403 \
    "before the reload the second account's callbacks are refused"
kill -HUP "$UH_PID"
wait_for 5 grep -q "reloaded " "$UH_LOG"
is "$(uh_send IdempotencyToken=second-after AccountSid=$SID2 \
    --token-file "$T/token-2nd" | cut -d' ' -f1)" 200 \
    "after SIGHUP a callback of the newly added account is accepted"
uh_send IdempotencyToken=new-rule UsageCategory=sms-outbound >/dev/null
wait_for 10 grep -q "^reloaded|new-rule" "$T/exec.out"
like "$(cat "$T/exec.out")" "reloaded\|new-rule" "and the rule added by the reload runs"

# 7. SIGKILL after the 200s and before the actions finished: they run later.
uh_send IdempotencyToken=crash-1 UsageCategory=mms >/dev/null	# starts, wedges
uh_send IdempotencyToken=crash-2 UsageCategory=mms >/dev/null	# queued: per_rule 1
wait_for 10 state_is crash-1 "running 1"
is "$(job_state crash-2)" "queued 0" "with per_rule 1 the second job waits its turn"
uh_kill
# Only the wedged programs this test started (they outlive a SIGKILLed daemon).
xargs -r kill -KILL <"$T/slow.pids" 2>/dev/null
: >"$T/armed"
uh_start
wait_for 20 has_lines "$T/slow.out" 2
is "$(sort "$T/slow.out" | tr '\n' ' ')" "crash-1 crash-2 " \
    "after a SIGKILL both jobs (running and queued) ran on restart"
like "$(cat "$UH_LOG")" "interrupted by the last stop will run again" \
    "the restart says it requeued the interrupted job"

# 8. A callback no rule matches is stored and counted, not an error.
is "$(uh_send IdempotencyToken=nomatch-1 UsageCategory=sms-inbound | cut -d' ' -f1)" 200 \
    "a callback that matches no rule is answered 200"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'nomatch-1'")" 1 \
    "and stored"
is "$(sql "SELECT count(*) FROM jobs j JOIN callbacks c ON c.id = j.callback_id
    WHERE c.idempotency_token = 'nomatch-1'")" 0 "with no jobs"
fetch_metrics >/dev/null
is "$(metric usagehookd_unmatched_total)" 1 "and counted in /metrics as unmatched"

uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
