#!/usr/bin/env bash
# shellcheck disable=SC2119
# statuses.sh: every row of the status table in DESIGN.md, against the real
# daemon: 200, duplicate, 403 (unsigned, wrong, tampered), 400, 413, 431,
# 415, 404, /healthz, /metrics, and 503 while the database takes no writes.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config 'limits: {max_body: 1KiB}'
uh_start

is "$(fetch_metrics)" 200 "GET /metrics answers 200"
cp "$T/metrics" "$T/metrics.before"
received0=$(metric usagehookd_received_total)
accepted0=$(metric usagehookd_accepted_total)
dups0=$(metric usagehookd_duplicates_total)
rejected0=$(metric usagehookd_rejected_total)

# Rows in rejected are written off the event loop, after the answer: every
# refusal that keeps a row bumps nrej, and we wait for that row to appear.
nrej=0
expect_rejected() {
	nrej=$((nrej + 1))
	is "$(sql_eventually 'SELECT count(*) FROM rejected' "$nrej")" "$nrej" \
	    "$1: one more row in rejected"
	isnt "$(sql 'SELECT reason FROM rejected ORDER BY rowid DESC LIMIT 1')" "" \
	    "$1: the rejected row has a reason"
}

# 200, then 200 with X-Usagehook-Duplicate for the same IdempotencyToken.
uh_params st-ok
is "$(uh_post_signed)" 200 "valid signed callback: 200"
first_body=$(cat "$T/resp.body")
is "$(uh_header X-Usagehook-Duplicate)" "" "first delivery is not marked duplicate"
is "$(uh_post_signed)" 200 "same token again: 200"
is "$(uh_header X-Usagehook-Duplicate)" 1 "same token again: X-Usagehook-Duplicate: 1"
is "$(cat "$T/resp.body")" "$first_body" "duplicate answer has the same body"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'st-ok'")" 1 \
    "the repeat adds no row"
is "$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token = 'st-ok'")" 1 \
    "the repeat is counted in duplicates"

# A charset parameter on the form content type is fine.
uh_params st-charset
is "$(uh_post_signed -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8')" 200 \
    "form with charset=utf-8: 200"

# 403: unsigned.
uh_params st-unsigned
is "$(uh_post "$UH_PATH" "")" 403 "no X-Twilio-Signature: 403"
expect_rejected unsigned
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'st-unsigned'")" 0 \
    "unsigned: nothing in callbacks"

# 403: signed with another token.
uh_params st-wrong
sig=$(uh_sign "$(uh_public)" --token-file "$T/badtoken" "${PARAMS[@]}")
is "$(uh_post "$UH_PATH" "$sig")" 403 "signature under the wrong token: 403"
expect_rejected "wrong signature"

# 403: garbage in the header.
uh_params st-garbage
is "$(uh_post "$UH_PATH" 'not-a-signature')" 403 "garbage signature: 403"
expect_rejected "garbage signature"

# 403: a value changed after signing.
uh_params st-tampered CurrentValue=101
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
uh_params st-tampered CurrentValue=99999
is "$(uh_post "$UH_PATH" "$sig")" 403 "CurrentValue tampered after signing: 403"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'st-tampered'")" 0 \
    "tampered: nothing in callbacks"
expect_rejected tampered

# 403: signed for another URL (another path on the same host).
uh_params st-otherurl
sig=$(uh_sign "$UH_PUBLIC_URL/elsewhere" "${PARAMS[@]}")
is "$(uh_post "$UH_PATH" "$sig")" 403 "signed for another URL: 403"
expect_rejected "another URL"

# 400: signed, but not a UsageTrigger callback.
uh_params st-unused -IdempotencyToken
is "$(uh_post_signed)" 400 "signed without IdempotencyToken: 400"
expect_rejected "no IdempotencyToken"

uh_params st-badsid AccountSid=ACnot-a-valid-account-sid
sig=$(uh_sign "$(uh_public)" --token-file "$T/token" "${PARAMS[@]}")
is "$(uh_post "$UH_PATH" "$sig")" 400 "signed with a malformed AccountSid: 400"
expect_rejected "malformed AccountSid"

uh_params st-badut UsageTriggerSid=UTxyz
is "$(uh_post_signed)" 400 "signed with a malformed UsageTriggerSid: 400"
expect_rejected "malformed UsageTriggerSid"

uh_params st-longtoken "IdempotencyToken=$(printf 'x%.0s' $(seq 1 300))"
is "$(uh_post_signed)" 400 "signed with a 300-byte IdempotencyToken: 400"
expect_rejected "long IdempotencyToken"

# 400: broken percent-encoding, signed over the raw value: refused, no crash.
for bad in '%G1' '%4' '%'; do
	uh_params "st-pct$bad" -CurrentValue
	sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}" "CurrentValue=$bad")
	body="$(uh_query)&CurrentValue=$bad"
	is "$(uh_status "$UH_PATH" -H "X-Twilio-Signature: $sig" \
	    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$body")" 400 \
	    "broken percent-encoding 'CurrentValue=$bad': 400"
	expect_rejected "broken percent-encoding '$bad'"
done
is "$(uh_status /healthz)" 200 "still answers /healthz after broken encodings"
ok "daemon still running" uh_alive

# 413: a body over limits.max_body (1 KiB here), properly signed.
uh_params st-big "CurrentValue=$(printf '9%.0s' $(seq 1 2048))"
is "$(uh_post_signed)" 413 "2 KiB body over max_body 1KiB: 413"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'st-big'")" 0 \
    "413: nothing in callbacks"
fetch_metrics >/dev/null
is "$(metric usagehookd_body_too_large_total)" 1 "413 counted in /metrics"
# Far over the limit: libevent refuses it before reading it whole.
uh_params st-huge "CurrentValue=$(printf '9%.0s' $(seq 1 8192))"
is "$(uh_post_signed)" 413 "8 KiB body (8x max_body): 413 as well"

# 431: headers over limits.max_header (8 KiB by default).
uh_params st-bighdr
is "$(uh_post_signed -H "X-Padding: $(printf 'h%.0s' $(seq 1 16384))")" 431 \
    "16 KiB header over max_header: 431"
is "$(uh_status /healthz)" 200 "still answers /healthz after 413 and 431"

# 413 and 431 count but need not keep rows: start counting afresh.
nrej=$(sql 'SELECT count(*) FROM rejected')
for _ in 1 2 3 4 5; do
	sleep 0.2
	[ "$(sql 'SELECT count(*) FROM rejected')" = "$nrej" ] && break
	nrej=$(sql 'SELECT count(*) FROM rejected')
done

# 415: a body method without a form body.
sig=$(uh_sign "$(uh_public)")
is "$(uh_status "$UH_PATH" -H "X-Twilio-Signature: $sig" -H 'Content-Type: application/json' \
    --data-binary "{\"AccountSid\":\"$UH_SID\",\"IdempotencyToken\":\"st-json\"}")" 415 \
    "POST with Content-Type application/json: 415"
expect_rejected "415"

# 404 for other paths; /healthz 200.
is "$(uh_status /nope)" 404 "GET /nope: 404"
uh_params st-404
is "$(uh_post "/twilio/usage-not" "$(uh_sign "$UH_PUBLIC_URL/twilio/usage-not" "${PARAMS[@]}")")" 404 \
    "POST to another path: 404"
is "$(uh_status /healthz)" 200 "GET /healthz: 200"

# /metrics moved.
is "$(fetch_metrics)" 200 "GET /metrics answers 200 again"
like "$(uh_curl /metrics -o /dev/null -w '%{content_type}')" \
    'text/plain' "/metrics is text/plain"
like "$(cat "$T/metrics")" '# TYPE usagehookd_received_total counter' \
    "/metrics declares usagehookd_received_total a counter"
is "$(( $(metric usagehookd_accepted_total) - accepted0 ))" 2 "accepted_total +2 (st-ok, st-charset)"
is "$(( $(metric usagehookd_duplicates_total) - dups0 ))" 1 "duplicates_total +1"
rej=$(( $(metric usagehookd_rejected_total) - rejected0 ))
like "$rej" '^([1-9][0-9]+|[6-9])$' "rejected_total grew for the 403/400/415 answers (+$rej)"
rec=$(( $(metric usagehookd_received_total) - received0 ))
like "$rec" '^([1-9][0-9]+|[3-9])$' "received_total grew (+$rec)"
like "$(cat "$T/metrics")" 'usagehookd_rejected_total\{reason="[^"]+"\} [0-9]+' \
    "rejected_total is labelled by reason"

# 503: another connection holds SQLite's write lock, so the daemon cannot
# commit (chmod cannot do it: root ignores modes and the files stay open).
mkfifo "$T/lock.fifo"
sqlite3 -bail "$UH_DB" <"$T/lock.fifo" >"$T/lock.out" 2>&1 &
lockpid=$!
uh_track "$lockpid"
exec 7>"$T/lock.fifo"
# If sqlite3 gave up early, a write to the FIFO must not kill this script.
trap '' PIPE
printf '.timeout 10000\nBEGIN EXCLUSIVE;\n.print UH-LOCK-HELD\n' >&7
for _ in $(seq 1 100); do
	grep -qx UH-LOCK-HELD "$T/lock.out" 2>/dev/null && break
	sleep 0.1
done
if grep -qx UH-LOCK-HELD "$T/lock.out"; then
	UH_CURL_TIMEOUT=40
	uh_params st-locked
	is "$(uh_post_signed)" 503 "database not writable: 503"
	is "$(uh_status /healthz)" 503 "database not writable: /healthz 503"
	UH_CURL_TIMEOUT=20
	exec 7>&-
	wait "$lockpid"
	is "$(uh_status /healthz)" 200 "lock released: /healthz 200 again"
	is "$(uh_post_signed)" 200 "Twilio's retry after the 503: 200"
	is "$(uh_header X-Usagehook-Duplicate)" "" "the retry is new: the 503 stored nothing"
else
	exec 7>&-
	diag "$(cat "$T/lock.out")"
	fail "could not take the database's write lock for the 503 case"
fi

ok "daemon still running at the end" uh_alive
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
