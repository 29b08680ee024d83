#!/usr/bin/env bash
# shellcheck disable=SC2119,SC2317
# ctl-replay.sh: usagehookctl replay, rerun and test-rules with real daemons.
# Round trip: daemon A stores a callback; replay --to daemon B (its own
# database and public_url) is re-signed, accepted and stored by B; replayed
# to A it answers as a duplicate under its original signature.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

json() {
	sqlite3 -batch :memory: "SELECT CASE WHEN json_valid(readfile('$1'))
	    THEN json_extract(readfile('$1'), '$2') ELSE 'invalid' END"
}
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
c() {
	ctl "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

cat >"$T/record.sh" <<SH
#!/bin/sh
echo "\$1" >>"$T/exec.out"
SH
chmod +x "$T/record.sh"
mk_config \
    "dispatch: { backoff: 1s }" \
    "rules:" \
    "  - name: sms-big" \
    "    match: { UsageCategory: sms, CurrentValue: \">= 100\" }" \
    "    actions:" \
    "      - append: $T/big.jsonl" \
    "    continue: true" \
    "  - name: calls" \
    "    match: { UsageCategory: \"calls*\" }" \
    "    actions:" \
    "      - exec: [$T/record.sh, \"{IdempotencyToken}\"]" \
    "  - name: every" \
    "    match: { UsageCategory: [sms, \"calls*\"] }" \
    "    actions:" \
    "      - append: $T/every.jsonl" \
    "        max_attempts: 5"
uh_start

# Daemon B: same account, its own socket, database and public URL.
B_DIR=$T/b
B_SOCK=$B_DIR/http.sock
B_DB=$B_DIR/b.db
B_CONF=$B_DIR/b.yaml
B_URL=http://b.hooks.test$UH_PATH
mkdir -p "$B_DIR"
cat >"$B_CONF" <<EOF
listen: "unix:$B_SOCK"
public_url: http://b.hooks.test
path: $UH_PATH
database: $B_DB
trusted_proxies: [unix]
accounts:
  - sid: $UH_SID
    auth_token_file: $T/token
EOF
"$UH_D" -c "$B_CONF" >>"$T/b.out" 2>>"$UH_LOG" &
B_PID=$!
uh_track "$B_PID"
b_ready() {
	[ "$(curl -sS --max-time 1 --unix-socket "$B_SOCK" -o /dev/null \
	    -w '%{http_code}' http://localhost/healthz 2>/dev/null)" = 200 ]
}
wait_for 10 b_ready || bail "daemon B did not start"
bsql() {
	sqlite3 -batch -cmd '.timeout 5000' "$B_DB" "$@"
}

is "$(uh_send IdempotencyToken=rp-1 CurrentValue=150)" "200 OK IdempotencyToken=rp-1" \
    "A stores rp-1"
is "$(uh_send --method GET IdempotencyToken=rp-get UsageCategory=calls-inbound)" \
    "200 OK IdempotencyToken=rp-get" "A stores rp-get (GET)"
is "$(uh_send IdempotencyToken=rp-none UsageCategory=mms)" "200 OK IdempotencyToken=rp-none" \
    "A stores rp-none (no rule matches)"
wait_for 10 has_lines "$T/every.jsonl" 1
wait_for 10 has_lines "$T/exec.out" 1
is "$(lines "$T/big.jsonl"):$(lines "$T/every.jsonl"):$(lines "$T/exec.out")" "1:1:1" \
    "their actions ran once (rp-get stops at calls, which does not continue)"
sig=$(sql "SELECT signature FROM callbacks WHERE idempotency_token = 'rp-1'")

# ---- replay ------------------------------------------------------------------
c replay rp-1 --dry-run
is "$rc" 0 "replay --dry-run: exit 0"
is "$(head -n 1 "$T/out")" $'POST /twilio/usage HTTP/1.1\r' "replay --dry-run: the request line"
grep -q $'^X-Twilio-Signature: '"$sig"$'\r$' "$T/out"
is "$?" 0 "replay --dry-run to the same URL: the original signature"
grep -q $'^Host: hooks.test\r$' "$T/out"
is "$?" 0 "replay --dry-run: Host of the target"
is "$(tail -n 1 "$T/out")" "$(sql "SELECT body FROM callbacks WHERE idempotency_token = 'rp-1'")" \
    "replay --dry-run: the stored body"
like "$(cat "$T/err")" "original signature" "replay --dry-run says which signature"
is "$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token = 'rp-1'")" 0 \
    "replay --dry-run sends nothing"

c replay rp-1 --to "$B_URL" --connect "unix:$B_SOCK" --dry-run
grep -q $'^Host: b.hooks.test\r$' "$T/out"
is "$?" 0 "replay --to --dry-run: Host of the new target"
newsig=$(sed -n 's/^X-Twilio-Signature: \(.*\)\r$/\1/p' "$T/out")
isnt "$newsig" "$sig" "replay --to another URL: a new signature"
like "$(cat "$T/err")" "re-signed for $B_URL" "replay --to says it re-signed"
is "$(bsql "SELECT count(*) FROM callbacks")" 0 "replay --to --dry-run sends nothing"

# The original signature does not hold at B: B refuses it.
code=$(curl -sS --max-time 20 --unix-socket "$B_SOCK" -o /dev/null -w '%{http_code}' \
    -H "X-Twilio-Signature: $sig" -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "$(sql "SELECT body FROM callbacks WHERE idempotency_token = 'rp-1'")" \
    "http://localhost$UH_PATH")
is "$code" 403 "B refuses the original signature (so a replay must re-sign)"

c replay rp-1 --to "$B_URL" --connect "unix:$B_SOCK"
is "$rc:$(cat "$T/out")" "0:200 OK IdempotencyToken=rp-1" "replay --to B: B accepts it (re-signed)"
is "$(bsql "SELECT method || ' ' || url FROM callbacks WHERE idempotency_token = 'rp-1'")" \
    "POST $B_URL" "B stored rp-1, verified against its own public URL"
is "$(bsql "SELECT hex(body) FROM callbacks WHERE idempotency_token = 'rp-1'")" \
    "$(sql "SELECT hex(body) FROM callbacks WHERE idempotency_token = 'rp-1'")" \
    "B stored the same body byte for byte"
c replay rp-1 --to "$B_URL" --connect "unix:$B_SOCK"
is "$(cat "$T/out")" "200 OK IdempotencyToken=rp-1 duplicate" "replay --to B again: a duplicate at B"

jobs_before=$(sql "SELECT count(*) FROM jobs")
c replay rp-1
is "$rc:$(cat "$T/out")" "0:200 OK IdempotencyToken=rp-1 duplicate" \
    "replay to A (the default target): a duplicate, under the original signature"
is "$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token = 'rp-1'")" 1 \
    "A counted the duplicate"
is "$(sql "SELECT count(*) FROM jobs")" "$jobs_before" "a duplicate queues no jobs"

c replay rp-1 --json
is "$(json "$T/out" '$.status'):$(json "$T/out" '$.duplicate'):$(json "$T/out" '$.resigned')" \
    "200:1:0" "replay --json: status, duplicate, not re-signed"
is "$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token = 'rp-1'")" 2 \
    "A counted that duplicate too"
c replay rp-1 --to "$B_URL" --connect "unix:$B_SOCK" --dry-run --json
is "$(json "$T/out" '$.resigned'):$(json "$T/out" '$.url')" "1:$B_URL" \
    "replay --dry-run --json: re-signed for the target"
is "$(json "$T/out" '$.headers[0]')" "Host: b.hooks.test" "replay --dry-run --json: the headers to send"
c replay rp-1 --resign --dry-run
like "$(cat "$T/err")" "re-signed" "replay --resign re-signs even for the same URL"
grep -q $'^X-Twilio-Signature: '"$sig"$'\r$' "$T/out"
is "$?" 0 "replay --resign for the same URL and token: the same signature"

c replay rp-get --to "$B_URL" --connect "unix:$B_SOCK"
is "$(cat "$T/out")" "200 OK IdempotencyToken=rp-get" "replay a GET to B: accepted"
is "$(bsql "SELECT method FROM callbacks WHERE idempotency_token = 'rp-get'")" GET \
    "B stored it as a GET"
is "$(bsql "SELECT substr(uri, 1, instr(uri, '?')) FROM callbacks WHERE idempotency_token = 'rp-get'")" \
    "$UH_PATH?" "B got the parameters in the query"
c replay rp-get
is "$(cat "$T/out")" "200 OK IdempotencyToken=rp-get duplicate" "replay the GET to A: a duplicate"

c replay rp-1 --to "$B_URL" --connect "unix:$B_SOCK" --token-file "$T/badtoken"
is "$rc" 1 "replay re-signed with a wrong token: B refuses, exit 1"
like "$(cat "$T/out")" "^403 " "replay prints B's status"
c replay rp-1 --to "http://127.0.0.1:1$UH_PATH"
is "$rc" 1 "replay to an address nobody answers: exit 1"
c replay no-such
is "$rc" 1 "replay an unknown callback: exit 1"
c replay rp-1 --to "ftp://x/"
is "$rc" 2 "replay --to a non-HTTP URL: exit 2"
c replay
is "$rc" 2 "replay without a callback: exit 2"
grep -qF "$UH_TOKEN" "$T/out" "$T/err"
is "$?" 1 "replay never prints the auth token"

# ---- stored credentials (issue 11) ---------------------------------------------
# Twilio sends Basic credentials when the callback URL has userinfo: a replay
# leaves them (and cookies) out unless --keep-auth, and warns before sending
# a signed request in clear text to another host.
uh_params rp-auth UsageCategory=mms	# no rule: the counts below stay
is "$(uh_post_signed -H 'Authorization: Basic dHdpbGlvOnMzY3JldA==' -H 'Cookie: session=abc123')" 200 \
    "A stores rp-auth, sent with Authorization and Cookie"
like "$(sql "SELECT headers FROM callbacks WHERE idempotency_token = 'rp-auth'")" \
    "Authorization: Basic dHdpbGlvOnMzY3JldA==" "A keeps the request's headers as they came"
c replay rp-auth --dry-run
grep -qiE $'^(Authorization|Cookie):' "$T/out"
is "$rc:$?" "0:1" "replay: no Authorization or Cookie in what it sends"
like "$(cat "$T/err")" "left out the stored Authorization, Cookie \(credentials for the original URL\); --keep-auth sends them" \
    "replay says it left them out and how to keep them"
c replay rp-auth --dry-run --keep-auth
is "$rc:$(grep -ciE $'^(Authorization: Basic dHdpbGlvOnMzY3JldA==|Cookie: session=abc123)\r$' "$T/out")" "0:2" \
    "replay --keep-auth: both sent as stored"
unlike "$(cat "$T/err")" "left out" "replay --keep-auth: no note"
c replay rp-auth --to "$B_URL" --connect "unix:$B_SOCK"
is "$rc:$(cat "$T/out")" "0:200 OK IdempotencyToken=rp-auth" "replay --to B: accepted"
is "$(bsql "SELECT instr(headers, 'Authorization') + instr(headers, 'Cookie') FROM callbacks WHERE idempotency_token = 'rp-auth'")" 0 \
    "B received neither Authorization nor Cookie"
unlike "$(cat "$T/err")" "warning" "no warning over a Unix socket"
c replay rp-auth --to "http://192.0.2.10$UH_PATH" --dry-run
like "$(cat "$T/err")" "warning: a signed request goes over plain http to 192.0.2.10, not the host it was sent to" \
    "replay --to http://another-host: a warning (dry run: nothing sent)"
c replay rp-auth --to "http://192.0.2.10$UH_PATH" --dry-run --keep-auth
like "$(cat "$T/err")" "warning: a signed request, with any stored credentials, goes over plain http" \
    "with --keep-auth the warning says the credentials go too"
c replay rp-auth --to "https://192.0.2.10$UH_PATH" --dry-run
unlike "$(cat "$T/err")" "warning" "no warning over https"
c replay rp-auth --to "http://127.0.0.1:1$UH_PATH" --dry-run
unlike "$(cat "$T/err")" "warning" "no warning to a loopback address"
c replay rp-auth --to "http://$(sql "SELECT substr(url, 8, instr(substr(url, 8), '/') - 1) FROM callbacks WHERE idempotency_token = 'rp-auth'")$UH_PATH" --dry-run
unlike "$(cat "$T/err")" "warning" "no warning to the host it was sent to"

# A target whose answer never ends: refused at 64 KiB of headers.
"$top_builddir/tests/fixtures/flood" -p "$T/flood.port" -o "$T/flood.log" \
    -l $((512 * 1024 * 1024)) >>"$T/b.out" 2>&1 </dev/null &
uh_track "$!"
wait_for 5 test -s "$T/flood.port" || bail "flood did not start"
c replay rp-auth --to "http://127.0.0.1:$(cat "$T/flood.port")$UH_PATH"
fport=$(cat "$T/flood.port")
is "$rc:$(tail -n 1 "$T/err")" "1:usagehookctl: replay: the answer from http://127.0.0.1:$fport$UH_PATH (127.0.0.1:$fport) has more than usagehookctl's limit of 64 KiB of status line and headers" \
    "replay to a server streaming headers forever: exit 1 at 64 KiB"

# ---- test-rules ----------------------------------------------------------------
jobs_before=$(sql "SELECT count(*) FROM jobs")
c test-rules rp-1
is "$rc" 0 "test-rules TOKEN: exit 0"
like "$(grep '^sms-big' "$T/out")" "^sms-big +match" "test-rules: sms-big matches"
like "$(cat "$T/out")" "action #1 append: $T/big.jsonl" "test-rules: with its action, kind and target"
like "$(grep '^calls' "$T/out")" '^calls +no +UsageCategory is "sms", want "calls\*"' \
    "test-rules: why calls does not match"
like "$(grep '^every' "$T/out")" "^every +match" "test-rules: every matches too (sms-big continues)"
is "$(tail -n 1 "$T/out")" "2 actions would run" "test-rules: how many actions"
c test-rules --param UsageCategory=calls-outbound --param IdempotencyToken=tok-x
like "$(grep '^calls' "$T/out")" "^calls +match" "test-rules --param: calls matches"
like "$(cat "$T/out")" "action #1 exec: $T/record.sh tok-x" "test-rules: exec argv with its template filled"
like "$(grep '^every' "$T/out")" "^every +skipped +rule calls matched first" \
    "test-rules: a later matching rule is skipped after one without continue"
c test-rules rp-1 CurrentValue=50
like "$(grep '^sms-big' "$T/out")" 'CurrentValue is "50", want >= 100' \
    "test-rules TOKEN K=V: the override decides"
c test-rules rp-none
is "$(tail -n 1 "$T/out")" "no rule matches: nothing would run" "test-rules: no rule matches"
c test-rules rp-1 --json
is "$(json "$T/out" '$.rules[0].result')" match "test-rules --json: result"
is "$(json "$T/out" '$.rules[0].actions[0].kind')" append "test-rules --json: actions"
is "$(json "$T/out" '$.actions')" 2 "test-rules --json: count"
is "$(sql "SELECT count(*) FROM jobs")" "$jobs_before" "test-rules queues nothing"
is "$(lines "$T/big.jsonl"):$(lines "$T/exec.out")" "1:1" "test-rules runs nothing"
c test-rules
is "$rc" 2 "test-rules without a callback or --param: exit 2"
c test-rules --param nonsense
is "$rc" 2 "test-rules --param without '=': exit 2"

# ---- rerun -------------------------------------------------------------------
c rerun rp-1
is "$rc" 0 "rerun: exit 0"
is "$(head -n 1 "$T/out" | tr -s ' ')" "JOB RULE ACTION TARGET" "rerun: header"
is "$(awk 'NR > 1 { print $2 " " $3 $4 }' "$T/out" | tr '\n' ' ')" \
    "sms-big #1append every #1append " "rerun: a job for each action of each matching rule"
ids=$(awk 'NR > 1 { printf "%s%s", sep, $1; sep = "," }' "$T/out")
wait_for 10 has_lines "$T/every.jsonl" 2
is "$(lines "$T/big.jsonl"):$(lines "$T/every.jsonl")" "2:2" "rerun: the running daemon ran them"
is "$(sql_eventually "SELECT group_concat(state || '/' || attempts || '/' || max_attempts, ' ')
    FROM (SELECT * FROM jobs WHERE id IN ($ids) ORDER BY id)" "done/1/8 done/1/5")" \
    "done/1/8 done/1/5" "rerun: new jobs, done on attempt 1, max_attempts from dispatch and from the action"
is "$(tail -n 1 "$T/big.jsonl" | grep -c '"IdempotencyToken":"rp-1"')" 1 \
    "rerun: the action got the stored callback"
c rerun rp-1 --rule every --json
is "$(json "$T/out" '$.jobs[0].rule')" every "rerun --rule: only that rule (--json)"
is "$(json "$T/out" '$.jobs[1].id')" "" "rerun --rule: one job"
wait_for 10 has_lines "$T/every.jsonl" 3
is "$(lines "$T/every.jsonl"):$(lines "$T/big.jsonl")" "3:2" "rerun --rule: ran that rule's action only"
c rerun rp-get --rule calls
wait_for 10 has_lines "$T/exec.out" 2
is "$(tail -n 1 "$T/exec.out")" rp-get "rerun --rule calls: the exec ran again with the stored token"
c rerun rp-1 --rule evry
is "$rc" 1 "rerun --rule with an unknown rule: exit 1"
like "$(cat "$T/err")" "no rule named evry \\(did you mean every\\?\\)" "rerun --rule suggests a name"
c rerun rp-none
is "$rc" 1 "rerun a callback no rule matches: exit 1"
like "$(cat "$T/err")" "nothing to queue" "rerun says nothing was queued"
c rerun no-such
is "$rc" 1 "rerun an unknown callback: exit 1"
c rerun
is "$rc" 2 "rerun without a callback: exit 2"
ok "daemon A still runs" uh_alive
ok "daemon B still runs" kill -0 "$B_PID"
uh_stop
is "$UH_STATUS" 0 "daemon A stops cleanly"
done_testing
