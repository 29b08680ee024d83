#!/usr/bin/env bash
# shellcheck disable=SC2119
# ctl-inspect.sh: usagehookctl list, show, rejected, jobs, retry, stats and
# purge against a database the real daemon filled, while it runs; --json is
# valid JSON everywhere; exit codes 0 ok, 1 failure, 2 usage error.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

# json FILE PATH: a value out of a JSON file (SQLite's JSON functions);
# "invalid" when the file is not JSON.
json() {
	sqlite3 -batch :memory: "SELECT CASE WHEN json_valid(readfile('$1'))
	    THEN json_extract(readfile('$1'), '$2') ELSE 'invalid' END"
}
json_ok() {
	sqlite3 -batch :memory: "SELECT json_valid(readfile('$1'))"
}
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# c ARG...: usagehookctl with stdout in $T/out, stderr in $T/err; sets rc.
c() {
	ctl "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

cat >"$T/fail.sh" <<SH
#!/bin/sh
echo ran >>"$T/fail.out"
echo "pager unreachable" >&2
exit 3
SH
chmod +x "$T/fail.sh"
mk_config \
    "dispatch: { backoff: 1s }" \
    "rules:" \
    "  - name: sms" \
    "    match: { UsageCategory: sms }" \
    "    actions:" \
    "      - append: $T/sms.jsonl" \
    "  - name: flaky" \
    "    match: { UsageCategory: calls }" \
    "    actions:" \
    "      - exec: [$T/fail.sh]" \
    "        max_attempts: 1"
uh_start

UT2=UTfedcba9876543210fedcba9876543210
is "$(uh_send IdempotencyToken=ins-a UsageTriggerSid="$UH_UTSID")" \
    "200 OK IdempotencyToken=ins-a" "fill: ins-a stored"
is "$(uh_send IdempotencyToken=ins-b UsageCategory=calls)" \
    "200 OK IdempotencyToken=ins-b" "fill: ins-b stored"
is "$(uh_send --method GET IdempotencyToken=ins-c UsageTriggerSid="$UT2")" \
    "200 OK IdempotencyToken=ins-c" "fill: ins-c stored (GET)"
is "$(uh_send IdempotencyToken=ins-a)" \
    "200 OK IdempotencyToken=ins-a duplicate" "fill: ins-a again is a duplicate"
# A request whose exact bytes we know, with an odd header, for show --raw.
uh_params ins-raw
uh_query >"$T/raw.body"
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
code=$(uh_status "$UH_PATH" -H "X-Twilio-Signature: $sig" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    -H 'X-Raw-Check: Keep  Two  Spaces' --data-binary "@$T/raw.body")
is "$code" 200 "fill: ins-raw stored"
# Refused: a wrong token, a proxy that changed the scheme, one that changed
# the Host, and no signature at all.
uh_send --token-file "$T/badtoken" IdempotencyToken=rej-token >/dev/null
uh_send --url "https://hooks.test$UH_PATH" --connect "$UH_LISTEN" \
    IdempotencyToken=rej-scheme >/dev/null
uh_send --url "http://other.test$UH_PATH" --connect "$UH_LISTEN" \
    IdempotencyToken=rej-host >/dev/null
uh_params rej-nosig
is "$(uh_post "$UH_PATH" "")" 403 "fill: unsigned request refused"
is "$(sql_eventually 'SELECT count(*) FROM rejected' 4)" 4 "fill: four rejected rows"
is "$(sql_eventually "SELECT j.state FROM jobs j JOIN callbacks c ON c.id =
    j.callback_id WHERE c.idempotency_token = 'ins-b'" dead)" dead \
    "fill: the failing action of ins-b is dead"

# ---- list ------------------------------------------------------------------
c list
is "$rc" 0 "list: exit 0"
is "$(head -n 1 "$T/out" | tr -s ' ')" \
    "ID RECEIVED METHOD CATEGORY BY VALUE CURRENT DUP TOKEN" "list: header"
is "$(awk 'NR > 1 { print $NF }' "$T/out" | tr '\n' ' ')" \
    "ins-raw ins-c ins-b ins-a " "list: every callback, newest first"
like "$(grep ' ins-a$' "$T/out")" \
    '^ *[0-9]+  20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z  POST +sms +count +1000 +1001 +1  ins-a$' \
    "list: a row has id, UTC time, method, category, trigger by/value/current, duplicates, token"
c list --category calls
is "$(awk 'NR > 1 { print $NF }' "$T/out")" ins-b "list --category calls: only ins-b"
c list --trigger "$UT2"
is "$(awk 'NR > 1 { print $NF }' "$T/out")" ins-c "list --trigger UT…: only that trigger's callback"
c list --trigger "$UT2,$UH_UTSID"
is "$(awk 'NR > 1 { print $NF }' "$T/out" | sort | tr '\n' ' ')" "ins-a ins-c ins-raw " \
    "list --trigger A,B: either trigger"
c list --limit 1
is "$(awk 'NR > 1 { print $NF }' "$T/out")" ins-raw "list --limit 1: only the newest"
c list --since 1h
is "$(($(wc -l <"$T/out") - 1))" 4 "list --since 1h: all four"
c list --since 2000-01-01T00:00:00Z
is "$(($(wc -l <"$T/out") - 1))" 4 "list --since an ISO time in the past: all four"
c list --since 2099-01-01
is "$rc:$(cat "$T/out")" "0:" "list --since a future date: exit 0, no rows"
like "$(cat "$T/err")" "no callbacks" "list with no rows says so on stderr"
c list --json
is "$(json "$T/out" '$[0].idempotency_token')" ins-raw "list --json: an array, newest first"
is "$(json "$T/out" '$[3].duplicates')" 1 "list --json: duplicates of ins-a"
like "$(json "$T/out" '$[3].received_at')" '^20[0-9-]{8}T[0-9:.]{12}Z$' "list --json: ISO UTC time"
for bad in "--since yesterday" "--since 2026-13-01" "--limit 0" "--trigger UT123" "--bogus" "--limit"; do
	# shellcheck disable=SC2086
	c list $bad
	is "$rc" 2 "list $bad: usage error, exit 2"
done
c list --category smss
is "$rc" 0 "list --category with an unknown category still runs"
like "$(cat "$T/err")" "did you mean sms" "list --category suggests a known category"

# ---- show ------------------------------------------------------------------
c show ins-a
is "$rc" 0 "show TOKEN: exit 0"
like "$(cat "$T/out")" "idempotency token +ins-a" "show: the token"
like "$(cat "$T/out")" "duplicates +1 \\(last 20" "show: the duplicate count and when"
like "$(cat "$T/out")" "url signed +http://hooks.test/twilio/usage" "show: the URL that was verified"
like "$(grep -A3 '^jobs:' "$T/out")" "sms +#1 append +done +1/8" "show: its job, done"
id=$(sql "SELECT id FROM callbacks WHERE idempotency_token = 'ins-a'")
c show "$id"
like "$(cat "$T/out")" "idempotency token +ins-a" "show ID: the same callback"
c show ins-c --json
is "$(json "$T/out" '$.method')" GET "show --json: method"
is "$(json "$T/out" '$.params.IdempotencyToken')" ins-c "show --json: decoded parameters (from the query)"
is "$(json "$T/out" '$.jobs[0].state')" "done" "show --json: jobs with state"
c show ins-b --json
like "$(json "$T/out" '$.jobs[0].last_error')" "exit|3|status" "show --json: a job's last error"
ctl show --raw ins-raw >"$T/raw.out" 2>"$T/err"
is "$?" 0 "show --raw: exit 0"
is "$(head -c 29 "$T/raw.out" | od -An -c | tr -s ' ')" \
    "$(printf 'POST /twilio/usage HTTP/1.1\r\n' | od -An -c | tr -s ' ')" \
    "show --raw: the request line, CRLF"
grep -q $'^X-Raw-Check: Keep  Two  Spaces\r$' "$T/raw.out"
is "$?" 0 "show --raw: a header exactly as sent"
grep -q $'^X-Twilio-Signature: '"$sig"$'\r$' "$T/raw.out"
is "$?" 0 "show --raw: the signature header (not a secret)"
blen=$(wc -c <"$T/raw.body")
tail -c "$blen" "$T/raw.out" | cmp -s - "$T/raw.body"
is "$?" 0 "show --raw: the body byte for byte"
{
	printf 'POST /twilio/usage HTTP/1.1\r\n'
	sql "SELECT headers FROM callbacks WHERE idempotency_token = 'ins-raw'" | head -c -1
	printf '\r\n'
	cat "$T/raw.body"
} >"$T/raw.want"
cmp -s "$T/raw.out" "$T/raw.want"
is "$?" 0 "show --raw: request line, stored headers, blank line, body; nothing else"
c show no-such-token
is "$rc" 1 "show an unknown token: exit 1"
like "$(cat "$T/err")" "no callback" "show an unknown token says so"
c show
is "$rc" 2 "show without a callback: exit 2"
c show ins-a --raw --json
is "$rc" 2 "show --raw --json: exit 2"

# ---- rejected --------------------------------------------------------------
c rejected
is "$rc" 0 "rejected: exit 0"
is "$(head -n 1 "$T/out" | tr -s ' ')" "TIME REMOTE METHOD PATH STATUS REASON" "rejected: header"
is "$(grep -c ' 403  bad-signature$' "$T/out")" 3 "rejected: three bad signatures, status and reason"
like "$(cat "$T/out")" "POST +/twilio/usage +403 +missing-signature" "rejected: the unsigned one, method and path"
like "$(cat "$T/out")" "URLs tried: http://hooks.test/twilio/usage, http://hooks.test:80/twilio/usage" \
    "rejected: the URL candidates tried"
if [ "$(sql "SELECT count(signature) FROM rejected")" -gt 0 ]; then
	like "$(cat "$T/out")" "hint: proxy mismatch: the signature verifies for https://hooks.test/twilio/usage but public_url says http://hooks.test/twilio/usage" \
	    "rejected: hint for a proxy that changed the scheme"
	like "$(cat "$T/out")" "hint: Host differs: the signature verifies for http://other.test/twilio/usage" \
	    "rejected: hint for a Host that differs"
	like "$(cat "$T/out")" "hint: no URL variant .* verifies" \
	    "rejected: hint for a wrong token"
	timeout 30 "$UH_CTL" -d "$UH_DB" rejected >"$T/out" 2>"$T/err"
	like "$(cat "$T/out")" "give -c CONFIG" "rejected with -d only: no tokens, says how to get hints"
else
	skip "rejected: proxy mismatch hint" "the daemon does not keep rejected.signature yet"
	skip "rejected: Host hint" "the daemon does not keep rejected.signature yet"
	skip "rejected: wrong token hint" "the daemon does not keep rejected.signature yet"
	skip "rejected -d: hint" "the daemon does not keep rejected.signature yet"
fi
c rejected --limit 1 --json
is "$(json_ok "$T/out")" 1 "rejected --json is valid JSON"
is "$(sqlite3 :memory: "SELECT json_array_length(readfile('$T/out'))")" 1 "rejected --limit 1 --json: one row"
is "$(json "$T/out" '$[0].reason')" missing-signature "rejected --json: newest first, with reason"
c rejected --limit 2 --json
is "$(json "$T/out" '$[1].urls_tried[0]')" "http://hooks.test/twilio/usage" "rejected --json: urls_tried"
grep -rqF "$UH_TOKEN" "$T/out" "$T/raw.out"
is "$?" 1 "no output prints the auth token"

# ---- jobs and retry ----------------------------------------------------------
c jobs
is "$rc" 0 "jobs: exit 0"
is "$(head -n 1 "$T/out" | tr -s ' ')" "ID TOKEN RULE ACTION STATE TRIES NEXT RUN LAST ERROR" "jobs: header"
is "$(($(wc -l <"$T/out") - 1))" 4 "jobs: one job for each sms callback and one for ins-b"
c jobs --dead
dead=$(awk 'NR == 2 { print $1 }' "$T/out")
like "$(sed -n 2p "$T/out")" "^ *[0-9]+  ins-b  flaky  #1 exec  dead  +1/1  -  .+" \
    "jobs --dead: the dead job with token, rule, action, state, tries, last error"
is "$(($(wc -l <"$T/out") - 1))" 1 "jobs --dead: only dead jobs"
c jobs --json --state "done"
is "$(json "$T/out" '$[0].state')" "done" "jobs --state done --json"
c jobs --state sleeping
is "$rc" 2 "jobs --state with an unknown state: exit 2"
is "$(lines "$T/fail.out")" 1 "retry: the failing action ran once"
c retry "$dead"
is "$rc:$(cat "$T/out")" "0:job $dead queued" "retry a dead job: queued"
wait_for 10 eval '[ "$(lines "$T/fail.out")" -ge 2 ]'
is "$(lines "$T/fail.out")" 2 "retry: the daemon ran it again"
is "$(sql_eventually "SELECT state || ' ' || attempts FROM jobs WHERE id = $dead" "dead 1")" \
    "dead 1" "retry: attempts were reset (1 of max 1 again), dead again"
done_id=$(sql "SELECT j.id FROM jobs j JOIN callbacks c ON c.id = j.callback_id
    WHERE c.idempotency_token = 'ins-a'")
c retry "$dead" "$done_id" --json
is "$rc" 1 "retry --json with one job that cannot be retried: exit 1"
is "$(json "$T/out" '$[0].queued'):$(json "$T/out" '$[1].queued'):$(json "$T/out" '$[1].state')" \
    "1:0:done" "retry --json: what happened to each job"
wait_for 10 eval '[ "$(lines "$T/fail.out")" -ge 3 ]'
is "$(lines "$T/fail.out")" 3 "retry: the daemon ran it a third time"
is "$(sql_eventually "SELECT state FROM jobs WHERE id = $dead" dead)" dead "retry: and it is dead again"
c retry "$done_id"
is "$rc" 1 "retry a done job: exit 1"
like "$(cat "$T/err")" "rerun ins-a --rule sms" "retry a done job points at rerun"
c retry 999999
is "$rc" 1 "retry an unknown job: exit 1"
c retry x1
is "$rc" 2 "retry a non-number: exit 2"
c retry
is "$rc" 2 "retry without a job: exit 2"

# ---- stats -------------------------------------------------------------------
today=$(date -u +%Y-%m-%d)
c stats
is "$rc" 0 "stats: exit 0"
like "$(cat "$T/out")" "UTC\\): 4, duplicates 1" "stats: callbacks and duplicates of the last 7 days"
like "$(cat "$T/out")" "$today +sms +3 +1" "stats: today's sms callbacks and duplicates"
like "$(cat "$T/out")" "$today +calls +1 +0" "stats: today's calls callbacks"
like "$(cat "$T/out")" "bad-signature +3" "stats: rejected by reason"
like "$(cat "$T/out")" "missing-signature +1" "stats: the other reason"
like "$(cat "$T/out")" "dead +1" "stats: jobs by state"
c stats --json
is "$(json "$T/out" '$.duplicates')" 1 "stats --json: duplicates"
is "$(json_ok "$T/out")" 1 "stats --json is valid JSON"
is "$(sqlite3 :memory: "SELECT json_extract(readfile('$T/out'), '\$.rejected.\"bad-signature\"')")" 3 \
    "stats --json: rejected by reason"
is "$(json "$T/out" '$.jobs.done')" 3 "stats --json: jobs by state"
c stats --days 0
is "$rc" 2 "stats --days 0: exit 2"

# ---- reading while the daemon writes -------------------------------------------
(
	for i in $(seq 1 20); do
		uh_send IdempotencyToken="busy-$i" >/dev/null || echo "send $i failed"
	done
) >"$T/busy.out" 2>&1 &
busy=$!
fails=0
for i in $(seq 1 20); do
	ctl list --limit 5 >/dev/null 2>>"$T/ctl.err" || fails=$((fails + 1))
	ctl stats >/dev/null 2>>"$T/ctl.err" || fails=$((fails + 1))
done
wait "$busy"
is "$fails:$(cat "$T/busy.out")" "0:" "list and stats while the daemon commits: no failure on either side"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token LIKE 'busy-%'")" 20 \
    "all 20 callbacks sent meanwhile were stored"

# ---- -d without a config -------------------------------------------------------
timeout 30 "$UH_CTL" -d "$UH_DB" list --limit 1 >"$T/out" 2>"$T/err"
is "$?:$(awk 'NR == 2 { print $NF }' "$T/out")" "0:busy-20" "list with -d alone (no config): works"
timeout 30 "$UH_CTL" -d "$T/nope.db" list >/dev/null 2>&1
is "$?" 1 "list -d a missing file: exit 1"
ok "list -d a missing file does not create it" test ! -e "$T/nope.db"

# ---- purge -------------------------------------------------------------------
old_cb=$(sql "SELECT id FROM callbacks WHERE idempotency_token = 'ins-b'")
sql "UPDATE callbacks SET received_at = received_at - 10 * 86400000 WHERE id = $old_cb;
    UPDATE rejected SET at = at - 10 * 86400000 WHERE idempotency_token = 'rej-token'"
c purge --older-than 7d
is "$rc" 0 "purge: exit 0"
like "$(cat "$T/out")" "^purged 1 callback \\(with their jobs\\) and 1 rejected request from before " \
    "purge: prints what it deleted"
is "$(sql "SELECT count(*) FROM callbacks WHERE id = $old_cb"):$(sql "SELECT count(*) FROM jobs WHERE callback_id = $old_cb")" \
    "0:0" "purge: the old callback and its jobs are gone"
is "$(sql "SELECT count(*) FROM callbacks")" 23 "purge: the others stay"
is "$(sql "SELECT count(*) FROM rejected")" 3 "purge: old rejected rows go, newer stay"
c purge --older-than 7d --json
is "$(json "$T/out" '$.callbacks')" 0 "purge again: nothing left to delete (--json)"
c purge
is "$rc" 2 "purge without --older-than: exit 2"
c purge --older-than soon
is "$rc" 2 "purge --older-than with a bad duration: exit 2"
ok "the daemon still runs" uh_alive

# ---- usage errors everywhere ---------------------------------------------------
for cmd in check-config list show rejected jobs retry stats purge replay rerun test-rules sign send; do
	c "$cmd" --no-such-flag
	is "$rc" 2 "$cmd --no-such-flag: exit 2"
	c "$cmd" --help
	like "$rc:$(cat "$T/out")" "^0:usage: usagehookctl .* $cmd" "$cmd --help: usage on stdout, exit 0"
done
uh_stop
is "$UH_STATUS" 0 "the daemon stops cleanly"
done_testing
