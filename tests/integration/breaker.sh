#!/usr/bin/env bash
# breaker.sh: the circuit breaker with the real daemon against a fake Twilio
# (tests/fixtures/fake-twilio) over HTTPS: a firing of a subaccount over 500
# suspends it as its parent and completes its calls in progress (every
# page); a Slack-style sink gets valid JSON whose text carries a value with
# '"', '\', a newline and UTF-8 intact; the same firing delivered 20 more
# times suspends once; a 403 from Twilio makes the job dead at once with
# Twilio's message; usagehookctl accounts list/activate bring it back; the
# webhook URL from a file never shows whole in test-rules or rerun.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 ||
	skip_all "openssl not installed (apt-get install openssl)"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed (apt-get install jq)"
command -v base64 >/dev/null 2>&1 || skip_all "base64 not installed (coreutils)"
FAKE=$top_builddir/tests/fixtures/fake-twilio
SINK=$top_builddir/tests/fixtures/sink
[ -x "$FAKE" ] || bail "$FAKE not built (make check builds it)"
[ -x "$SINK" ] || bail "$SINK not built (make check builds it)"

SUB=ACfeed0000000000000000000000000001
SUB_TOKEN=5ub5ub5ub5ub5ub5ub5ub5ub5ub5ub5u
REQ=$T/api.log

count() { if [ -f "$2" ]; then grep -c -- "$1" "$2"; else echo 0; fi; }
job_states() {
	sql "SELECT group_concat(j.state || ' ' || j.attempts, ',') FROM
	    (SELECT j.state, j.attempts FROM jobs j JOIN callbacks c ON
	    c.id = j.callback_id WHERE c.idempotency_token = '$1' ORDER BY
	    j.id) j"
}
states_are() { [ "$(job_states "$1")" = "$2" ]; }

uh_certs good:IP:127.0.0.1

# The fake: the parent's credentials, the subaccount's, 3 calls each in
# progress, pages of 2 (so ending them takes two pages).
"$FAKE" -o "$REQ" -p "$T/api.port" -c "$T/good.pem" -k "$T/good.key" \
    -a "$UH_SID" -u "$UH_SID:$UH_TOKEN" -s "$SUB:$SUB_TOKEN" -C 3 -n 2 \
    >>"$T/fake.err" 2>&1 </dev/null &
uh_track "$!"
wait_for 5 test -s "$T/api.port" || bail "fake-twilio did not start"
API=$(cat "$T/api.port")
"$SINK" -o "$T/slack.out" -p "$T/slack.port" -b >>"$T/sink.log" 2>&1 \
    </dev/null &
uh_track "$!"
wait_for 5 test -s "$T/slack.port" || bail "sink did not start"
SLACK=$(cat "$T/slack.port")
# Slack's incoming webhook URL is a secret: it lives in a file.
(umask 077 && printf 'http://127.0.0.1:%s/services/T0/B0/XSECRETX\n' \
    "$SLACK" >"$T/slack-url" && printf '%s' "$SUB_TOKEN" >"$T/subtoken")

mk_config \
    "  - sid: $SUB" \
    "    auth_token_file: $T/subtoken" \
    "    parent: $UH_SID" \
    "twilio_api: https://127.0.0.1:$API" "twilio_ca_file: $T/ca.pem" \
    "dispatch: { backoff: 1s, max_attempts: 5 }" \
    "rules:" \
    "  - name: breaker" \
    "    match: { AccountSid: $SUB, TriggerBy: price, CurrentValue: \">= 500\" }" \
    "    actions:" \
    "      - twilio: suspend" \
    "        end_calls: true" \
    "      - http: { file: $T/slack-url }" \
    "        body: '{\"text\": \"suspended {AccountSid}: {UsageCategory} {CurrentValue} > {TriggerValue}\"}'"
out=$(ctl check-config 2>&1)
is "$?" 0 "check-config accepts the breaker" || diag "$out"
uh_start

# fire TOKEN [NAME=VALUE...]: a callback of the subaccount, signed with its
# token; prints the status.
fire() {
	local tok=$1 sig
	shift
	uh_params "$tok" "AccountSid=$SUB" TriggerBy=price TriggerValue=500 \
	    CurrentValue=512.40 "$@"
	sig=$(ctl sign --url "$(uh_public)" --token-file "$T/subtoken" \
	    "${PARAMS[@]}") || { echo sign-failed; return; }
	uh_post "$UH_PATH" "$sig"
}

# ---- suspend, end calls, post to Slack ----------------------------------------
CAT=$'sms "quoted" \\back\nline2 caf\xc3\xa9'
is "$(fire tok-1 "UsageCategory=$CAT")" 200 "the firing is accepted"
wait_for 15 states_are tok-1 "done 1,done 1"
is "$(job_states tok-1)" "done 1,done 1" "both actions done on the first attempt"

BASIC="Basic $(printf '%s:%s' "$UH_SID" "$UH_TOKEN" | base64 -w0)"
line=$(grep -m1 "^POST /2010-04-01/Accounts/$SUB.json" "$REQ")
is "$(printf '%s' "$line" | cut -f2)" "$BASIC" \
    "the suspend is made with the parent's credentials"
is "$(printf '%s' "$line" | cut -f4)" "Status=suspended" "it posts Status=suspended"
is "$(count "^GET /2010-04-01/Accounts/$SUB/Calls.json?Status=in-progress" "$REQ")" 2 \
    "the calls in progress are listed, every page (2 pages of 2)"
is "$(count "^POST /2010-04-01/Accounts/$SUB/Calls/CA[0-9a-f]*.json.*Status=completed" "$REQ")" 3 \
    "each of the 3 calls in progress is completed"
curl -sS --cacert "$T/ca.pem" -u "$UH_SID:$UH_TOKEN" \
    "https://127.0.0.1:$API/2010-04-01/Accounts/$SUB.json" >"$T/acct.json"
is "$(jq -r .status "$T/acct.json")" suspended "Twilio has the subaccount suspended"
curl -sS --cacert "$T/ca.pem" -u "$UH_SID:$UH_TOKEN" \
    "https://127.0.0.1:$API/2010-04-01/Accounts/$SUB/Calls.json?Status=in-progress" \
    >"$T/calls.json"
is "$(jq '.calls | length' "$T/calls.json")" 0 "no call is left in progress"
like "$(cat "$UH_LOG")" "account $SUB suspended \\(as $UH_SID\\); 3 calls in progress completed" \
    "the daemon logs the suspend and how many calls it ended"

ok "the Slack sink got a post" test -f "$T/slack.out.1"
if jq -e . "$T/slack.out.1" >/dev/null 2>&1; then
	pass "the Slack body is valid JSON"
else
	fail "the Slack body is valid JSON"
	diag "$(cat "$T/slack.out.1")"
fi
want="suspended $SUB: $CAT 512.40 > 500"
is "$(jq -r .text "$T/slack.out.1")" "$want" \
    "its text carries the quote, backslash, newline and UTF-8 intact"
like "$(head -n1 "$T/slack.out")" "^POST /services/T0/B0/XSECRETX .*Content-Type: application/json" \
    "it went to the URL read from the file, as application/json"

# ---- the same firing 20 more times: one suspend --------------------------------
for i in $(seq 1 20); do
	s=$(fire tok-1 "UsageCategory=$CAT")
	[ "$s" = 200 ] || diag "redelivery $i: $s"
done
is "$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token = 'tok-1'")" 20 \
    "the 20 redeliveries are counted as duplicates"
is "$(count "^POST /2010-04-01/Accounts/$SUB.json" "$REQ")" 1 \
    "and the account is suspended once"
is "$(sql "SELECT count(*) FROM jobs")" 2 "no new job"

# ---- the URL from the file never shows whole ---------------------------------
out=$(ctl test-rules tok-1 2>&1)
unlike "$out" "XSECRETX" "test-rules does not show the webhook URL whole"
like "$out" "http://127.0.0.1:$SLACK/…" "it shows the URL's origin"
out=$(ctl rerun tok-1 2>&1)
unlike "$out" "XSECRETX" "rerun does not show the webhook URL whole"
wait_for 15 states_are tok-1 "done 1,done 1,done 1,done 1"
is "$(count "^POST /2010-04-01/Accounts/$SUB.json" "$REQ")" 2 \
    "a rerun suspends again (an already suspended account: still success)"
unlike "$(cat "$UH_LOG")" "XSECRETX" "the daemon's log never has the URL"

# ---- Twilio refuses: dead at once ---------------------------------------------
echo "403 1" >"$REQ.fail"
is "$(fire tok-2 UsageCategory=sms)" 200 "a second firing is accepted"
wait_for 15 states_are tok-2 "dead 1,done 1"
is "$(job_states tok-2)" "dead 1,done 1" \
    "a 403 makes the twilio job dead on its first attempt, no retries"
err=$(sql "SELECT j.last_error FROM jobs j JOIN callbacks c ON c.id = j.callback_id
    WHERE c.idempotency_token = 'tok-2' AND j.action = 0" 2>&1)
like "$err" "HTTP 403: Account \\(injected\\) may not be changed by this caller \\(Twilio error 20403" \
    "the job's error is Twilio's message and code"
like "$(cat "$UH_LOG")" "dead on attempt 1 \\(no retry can fix this\\)" \
    "the log says no retry can fix it"

# ---- a subaccount's own credentials cannot suspend ------------------------------
code=$(curl -sS --cacert "$T/ca.pem" -u "$SUB:$SUB_TOKEN" -o "$T/self.json" \
    -w '%{http_code}' -d Status=suspended \
    "https://127.0.0.1:$API/2010-04-01/Accounts/$SUB.json")
is "$code $(jq -r .code "$T/self.json")" "401 20003" \
    "the fake answers a subaccount's own credentials as Twilio does"

# ---- the operator: list, activate ----------------------------------------------
out=$(ctl accounts list 2>&1)
is "$?" 0 "accounts list: exit 0" || diag "$out"
like "$out" "$SUB +$UH_SID +suspended +Subaccount" "it lists the subaccount as suspended"
like "$out" "$UH_SID +- +active +Main account" "and the parent as active"
out=$(ctl accounts activate "$SUB" 2>&1)
is "$?" 0 "accounts activate: exit 0" || diag "$out"
is "$out" "$SUB: active (was suspended)" "it says what changed"
out=$(ctl accounts list --json)
is "$(printf '%s' "$out" | jq -r ".[] | select(.sid == \"$SUB\") | .status")" active \
    "accounts list --json: active again"
out=$(ctl accounts suspend "$UH_SID" 2>&1)
is "$?" 1 "accounts suspend of an account without a parent: exit 1"
like "$out" "has no parent" "it says why"
out=$(ctl accounts suspend AC42 2>&1)
is "$?" 2 "accounts suspend of something that is no AccountSid: usage error"
out=$(ctl accounts suspend ACfeed0000000000000000000000000009 2>&1)
is "$?" 1 "accounts suspend of an account not in the config: exit 1"
like "$out" "is not one of the accounts in" "it says so"
echo "403 1" >"$REQ.fail"
out=$(ctl accounts list 2>&1)
is "$?" 1 "accounts list when Twilio refuses one account: exit 1"
like "$out" "HTTP 403: Account \\(injected\\) may not be changed" \
    "the refusal is in the ERROR column"
like "$out" "1 of 2 accounts could not be read" "and summed up"
out=$(ctl accounts suspend "$SUB" --end-calls --json 2>&1)
is "$(printf '%s' "$out" | jq -r '.status + " " + .previous_status + " " + (.calls_completed | tostring)')" \
    "suspended active 0" "accounts suspend --end-calls --json: new and old status, calls ended"

done_testing
