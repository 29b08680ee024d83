#!/usr/bin/env bash
# shellcheck disable=SC2119
# triggers.sh: usagehookctl triggers against a fake Twilio REST API
# (tests/fixtures/fake-twilio) over HTTPS with a CA made here: the exact
# method, path, Basic credentials and form of each call, pagination, the
# %2B of a relative value, Twilio's errors on one line, retries on 503 and
# 429, local checks that send nothing, certificate and host name checks,
# plan/apply and their idempotence, and a callback sent the way a created
# trigger calls (its URL, its method), accepted by the daemon.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 ||
	skip_all "openssl not installed (apt-get install openssl)"
command -v base64 >/dev/null 2>&1 || skip_all "base64 not installed (coreutils)"
FAKE=$top_builddir/tests/fixtures/fake-twilio
[ -x "$FAKE" ] || bail "$FAKE not built (make check builds it)"

API_KEY=SK00112233445566778899aabbccddeeff
API_SECRET=apikeysecretapikeysecretapikeyse
ROOT=/2010-04-01/Accounts/$UH_SID/Usage/Triggers
REQ=$T/api.log
SID_RE='^UT[0-9a-f]{32}$'


# A CA, a certificate for 127.0.0.1 and one for another name.
uh_certs good:IP:127.0.0.1 bad:DNS:wrong.example

# start_fake NAME CERT-NAME: a fake API logging to $T/NAME.log, its port in
# $T/NAME.port. Not in $(...): uh_track must run in this shell to kill it.
start_fake() {
	"$FAKE" -o "$T/$1.log" -p "$T/$1.port" -c "$T/$2.pem" -k "$T/$2.key" \
	    -a "$UH_SID" -u "$UH_SID:$UH_TOKEN" -u "$API_KEY:$API_SECRET" -n 2 \
	    >>"$T/fake.err" 2>&1 </dev/null &
	uh_track "$!"
	wait_for 5 test -s "$T/$1.port" || bail "fake-twilio $1 did not start"
}
start_fake api good
start_fake wrong bad
API=$(cat "$T/api.port")
BAD=$(cat "$T/wrong.port")

# The config: the daemon on its socket, public_url http://hooks.test.
mk_config "twilio_api: https://127.0.0.1:$API" "twilio_ca_file: $T/ca.pem"
cp "$UH_CONF" "$T/base.yaml"
DAEMON_URL=$(uh_public)
BASIC="Basic $(printf '%s:%s' "$UH_SID" "$UH_TOKEN" | base64 -w0)"

nreq() { if [ -f "$REQ" ]; then wc -l <"$REQ"; else echo 0; fi; }
# req N FIELD: field (1 request line, 2 Authorization, 3 Content-Type,
# 4 body) of request N counting from 1; negative N counts from the end.
req() {
	local n=$1
	[ "$n" -lt 0 ] && n=$(($(nreq) + n + 1))
	sed -n "${n}p" "$REQ" | cut -f "$2"
}
# tctl ARG...: usagehookctl triggers; stderr to $T/t.err (kept per call).
tctl() {
	ctl triggers "$@" 2>"$T/t.err"
}
# The value of a field in fetch/create's table output on stdin.
field() { awk -v k="$1" '$1 == k { sub(/^[^ ]+ +/, ""); print; exit }'; }

# ---- create ------------------------------------------------------------------
out=$(tctl create --category sms --value +30 --name "sms plus 30")
is "$?" 0 "create: exit 0"
SID1=$(printf '%s\n' "$out" | field sid)
like "$SID1" "$SID_RE" "create prints the new trigger's SID"
is "$(req -1 1)" "POST $ROOT.json" "create: POST .../Usage/Triggers.json"
is "$(req -1 2)" "$BASIC" "create: Basic AccountSid:auth token"
is "$(req -1 3)" "application/x-www-form-urlencoded" "create: a form body"
is "$(req -1 4)" "CallbackMethod=POST&CallbackUrl=http%3A%2F%2Fhooks.test%2Ftwilio%2Fusage&FriendlyName=sms%20plus%2030&TriggerValue=%2B30&UsageCategory=sms" \
    "create: form fields, URL = public_url + path, method POST, +30 as %2B30"
is "$(printf '%s\n' "$out" | field trigger_value)" 87.000000 \
    "Twilio read the relative value as +30 (57 + 30)"

out=$(tctl create --category totalprice --value 2.50 --trigger-by price \
    --recurring daily --method get --url "$DAEMON_URL")
is "$?" 0 "create with every option: exit 0"
SID2=$(printf '%s\n' "$out" | field sid)
is "$(req -1 4)" "CallbackMethod=GET&CallbackUrl=http%3A%2F%2Fhooks.test%2Ftwilio%2Fusage&Recurring=daily&TriggerBy=price&TriggerValue=2.50&UsageCategory=totalprice" \
    "create: --trigger-by, --recurring, --method (upper-cased) and --url sent"
out=$(tctl create --category mms --value 10 --url "https://elsewhere.example/x?a=b&c=d")
SID3=$(printf '%s\n' "$out" | field sid)
like "$(req -1 4)" "^CallbackMethod=POST&CallbackUrl=https%3A%2F%2Felsewhere.example%2Fx%3Fa%3Db%26c%3Dd&TriggerValue=10&UsageCategory=mms\$" \
    "create: the URL's ?, = and & are percent-encoded; no name: none sent"

# ---- local checks: usage errors, nothing sent ----------------------------------
before=$(nreq)
tctl create --category smss --value 1 >/dev/null
is "$?:$(head -n 1 "$T/t.err")" \
    "2:usagehookctl: triggers create: --category smss: not a Twilio usage category; did you mean sms?" \
    "an unknown category is a usage error with a suggestion"
tctl create --category sms --value 1 --recurring weekly >/dev/null
is "$?" 2 "--recurring weekly: exit 2"
tctl create --category sms --value 1 --trigger-by cost >/dev/null
like "$?:$(head -n 1 "$T/t.err")" "^2:.*--trigger-by cost: want count, usage or price; did you mean count\\?" \
    "--trigger-by cost: exit 2 with a suggestion"
tctl create --category sms --value 1 --method FETCH >/dev/null
is "$?" 2 "--method FETCH: exit 2"
tctl create --category sms --value ten >/dev/null
is "$?" 2 "--value ten: exit 2"
tctl create --category sms >/dev/null
is "$?" 2 "create without --value: exit 2"
tctl fetch UT123 >/dev/null
is "$?" 2 "fetch of a malformed SID: exit 2"
tctl update "$SID1" >/dev/null
is "$?" 2 "update with nothing to change: exit 2"
tctl list --url x >/dev/null
is "$?" 2 "an option another subcommand takes: exit 2"
is "$(nreq)" "$before" "none of the refused commands sent a request"

# ---- list: every page --------------------------------------------------------
before=$(nreq)
out=$(tctl list)
is "$?" 0 "list: exit 0"
is "$(printf '%s\n' "$out" | grep -cE '^UT[0-9a-f]{32} ')" 3 "list shows the 3 triggers of 2 pages"
is "$(($(nreq) - before))" 2 "list made two requests"
is "$(req $((before + 1)) 1)" "GET $ROOT.json" "list: the first page, GET .../Triggers.json"
is "$(req $((before + 2)) 1)" "GET $ROOT.json?PageSize=2&Page=1&PageToken=PA1" \
    "list: then next_page_uri as Twilio gave it"
is "$(req $((before + 2)) 2)" "$BASIC" "list: every page with the credentials"
is "$(tctl list --json | grep -c '"sid": "UT')" 3 "list --json: an array of the 3"
tctl list --category totalprice --recurring daily --trigger-by price >"$T/out"
is "$(req -1 1)" "GET $ROOT.json?UsageCategory=totalprice&Recurring=daily&TriggerBy=price" \
    "list filters are the query parameters UsageCategory, Recurring, TriggerBy"
is "$(grep -c '^UT' "$T/out")" 1 "the filtered list has the one match"

# ---- fetch, update, delete, errors ---------------------------------------------
out=$(tctl fetch "$SID1")
is "$?:$(req -1 1)" "0:GET $ROOT/$SID1.json" "fetch: GET .../Triggers/UT....json"
is "$(printf '%s\n' "$out" | field callback_url)" "$DAEMON_URL" "fetch shows the callback URL"
like "$(tctl fetch "$SID1" --json)" '"friendly_name": "sms plus 30"' "fetch --json"
out=$(tctl update "$SID1" --name renamed --method put)
is "$?:$(req -1 1)" "0:POST $ROOT/$SID1.json" "update: POST .../Triggers/UT....json"
is "$(req -1 4)" "CallbackMethod=PUT&FriendlyName=renamed" "update sends only what changes"
is "$(printf '%s\n' "$out" | field callback_method)" PUT "update shows the changed trigger"
out=$(tctl delete "$SID3")
is "$?:$out" "0:deleted $SID3" "delete: exit 0, says so"
is "$(req -1 1)|$(req -1 4)" "DELETE $ROOT/$SID3.json|" "delete: DELETE .../Triggers/UT....json, no body"
tctl fetch "$SID3" >/dev/null
is "$?" 1 "fetch of a deleted trigger: exit 1"
is "$(cat "$T/t.err")" \
    "usagehookctl: triggers fetch: HTTP 404: The requested resource $ROOT/$SID3.json was not found (Twilio error 20404, https://www.twilio.com/docs/errors/20404)" \
    "Twilio's error: message, code and more_info on one line"

# ---- retries -------------------------------------------------------------------
before=$(nreq)
echo "503 2" >"$REQ.fail"
out=$(tctl list)
is "$?:$(printf '%s\n' "$out" | grep -c '^UT')" 0:2 "503 twice, then the answer: list succeeds"
is "$(($(nreq) - before))" 3 "the page was asked 3 times"
before=$(nreq)
echo "503 9" >"$REQ.fail"
tctl fetch "$SID1" >/dev/null
is "$?:$(($(nreq) - before))" 1:4 "503 every time: 4 attempts, then exit 1"
like "$(cat "$T/t.err")" "HTTP 503: Service is unavailable.*\\(after 4 attempts\\)$" \
    "and the error says how many attempts"
rm -f "$REQ.fail"
before=$(nreq)
echo "429 1 1" >"$REQ.fail"
tctl fetch "$SID1" >/dev/null
is "$?:$(($(nreq) - before))" 0:2 "429 with Retry-After: 1: asked again, then fine"
echo "429 1 3600" >"$REQ.fail"
tctl fetch "$SID1" >/dev/null
like "$?:$(cat "$T/t.err")" "^1:.*HTTP 429: Too Many Requests.*Retry-After: 3600" \
    "a Retry-After of an hour is not waited for: exit 1, said why"
rm -f "$REQ.fail"

# ---- credentials and TLS -------------------------------------------------------
sed "s|auth_token_file: .*|auth_token_file: $T/badtoken|" "$T/base.yaml" >"$T/badtoken.yaml"
timeout 30 "$UH_CTL" -c "$T/badtoken.yaml" triggers list >/dev/null 2>"$T/t.err"
is "$?:$(cat "$T/t.err")" \
    "1:usagehookctl: triggers list: HTTP 401: Authenticate (Twilio error 20003, https://www.twilio.com/docs/errors/20003)" \
    "a wrong auth token: Twilio's 401 on one line"
(umask 077 && printf '%s\n' "$API_SECRET" >"$T/apisecret")
sed "s|^    auth_token_file: .*|&\\n    api_key_sid: $API_KEY\\n    api_key_secret_file: $T/apisecret|" \
    "$T/base.yaml" >"$T/apikey.yaml"
timeout 30 "$UH_CTL" -c "$T/apikey.yaml" triggers fetch "$SID1" >/dev/null 2>"$T/t.err"
is "$?" 0 "with an API key: exit 0"
is "$(req -1 2)" "Basic $(printf '%s:%s' "$API_KEY" "$API_SECRET" | base64 -w0)" \
    "with an API key: Basic api_key_sid:secret"
is "$(req -1 1)" "GET $ROOT/$SID1.json" "with an API key: still the account's path"
before=$(nreq)
tctl list --api-base "https://127.0.0.1:$BAD" >/dev/null
like "$?:$(cat "$T/t.err")" "^1:.*TLS: certificate verify failed: (hostname|IP address) mismatch" \
    "a certificate for another name is refused"
grep -v '^twilio_ca_file:' "$T/base.yaml" >"$T/noca.yaml"
timeout 30 "$UH_CTL" -c "$T/noca.yaml" triggers list >/dev/null 2>"$T/t.err"
like "$?:$(cat "$T/t.err")" "^1:.*TLS: certificate verify failed: (unable to get local issuer|self.signed)" \
    "a CA the system store does not have is refused"
is "$(nreq)" "$before" "no request went out over an unverified connection"
sed "s|^twilio_api: .*|twilio_api: https://127.0.0.1:1|" "$T/base.yaml" >"$T/apibase.yaml"
timeout 30 "$UH_CTL" -c "$T/apibase.yaml" triggers list --api-base "https://127.0.0.1:$API" \
    >/dev/null 2>"$T/t.err"
is "$?:$(($(nreq) - before))" 0:1 "--api-base wins over twilio_api"

# ---- an API that never stops answering (issue 11) ---------------------------------
# Headers without end (or a body without end): refused at 64 KiB of headers
# (16 MiB of body), the URL and the limit named; before, 2.4 GB of RSS.
FLOOD=$top_builddir/tests/fixtures/flood
for mode in headers body; do
	"$FLOOD" -p "$T/flood-$mode.port" -o "$T/flood-$mode.log" -l $((512 * 1024 * 1024)) \
	    -c "$T/good.pem" -k "$T/good.key" $([ $mode = body ] && echo -b) \
	    >>"$T/fake.err" 2>&1 </dev/null &
	uh_track "$!"
	wait_for 5 test -s "$T/flood-$mode.port" || bail "flood $mode did not start"
	fport=$(cat "$T/flood-$mode.port")
	timeout 60 "$UH_CTL" -c "$T/base.yaml" triggers list \
	    --api-base "https://127.0.0.1:$fport" >/dev/null 2>"$T/t.err"
	rc=$?
	if [ $mode = headers ]; then
		want="the answer from https://127.0.0.1:$fport has a malformed status line or headers, or more than usagehookd's limit of 64 KiB of them"
	else
		want="the answer from https://127.0.0.1:$fport has a body over usagehookd's limit of 16 MiB"
	fi
	is "$rc:$(cat "$T/t.err")" "1:usagehookctl: triggers list: $want" \
	    "an API streaming $mode forever: exit 1, the URL and the limit named"
	wait_for 10 test -s "$T/flood-$mode.log"
	read -r fsent fwhy <"$T/flood-$mode.log"
	ok "and the client hung up after ${fsent:-?} bytes ($fwhy), far short of the 512 MiB it would send" \
	    test "$fwhy" = peer-closed -a "${fsent:-999999999}" -lt $((32 * 1024 * 1024))
done

# ---- plan and apply --------------------------------------------------------------
out=$(tctl create --category calls --value 10 --url https://elsewhere.example/hook --name foreign)
FOREIGN=$(printf '%s\n' "$out" | field sid)
out=$(tctl create --category mms --value 5 --name stale)
STALE=$(printf '%s\n' "$out" | field sid)
cat "$T/base.yaml" - >"$UH_CONF" <<YAML
triggers:
  - name: renamed
    usage_category: sms
    trigger_value: "+30"
  - name: sms-daily-spend
    usage_category: sms
    trigger_by: price
    trigger_value: 100
    recurring: daily
  - name: Trigger for totalprice at price of 2.50
    usage_category: totalprice
    trigger_by: price
    trigger_value: "2.5"
    recurring: daily
    callback_method: GET
YAML
ok "the declared triggers check" ctl check-config
before=$(nreq)
out=$(tctl plan)
is "$?" 0 "plan: exit 0"
printf '%s\n' "$out" >"$T/plan.out"
is "$(awk 'NR > 1 && /^(create|update|replace|delete|unchanged) / { print $1 }' "$T/plan.out" | sort | tr '\n' ' ')" \
    "create delete unchanged update " "plan: create, update, delete and unchanged"
like "$out" "update +renamed +$SID1 +callback_method PUT -> POST" "plan: the update says what changes"
like "$out" "delete +stale +$STALE +not in the config; calls this daemon" \
    "plan: a trigger calling this daemon that the config lacks is deleted"
unlike "$out" "foreign" "plan: a trigger calling another URL is left alone"
like "$out" "plan: 1 to create, 1 to update, 0 to replace, 1 to delete, 1 unchanged" "plan: the summary"
like "$out" "1 trigger calling other URLs left alone \\(--prune-all deletes it\\)" "plan: and says what it left alone"
is "$(tail -n +$((before + 1)) "$REQ" | cut -f1 | cut -d' ' -f1 | sort -u | tr '\n' ' ')" "GET " \
    "plan only reads"
like "$(tctl plan --prune-all)" "delete +foreign +$FOREIGN +not in the config; --prune-all" \
    "plan --prune-all deletes the other URL's trigger too"
like "$(tctl plan --json)" '"action": "create",' "plan --json"

before=$(nreq)
out=$(tctl apply)
is "$?" 0 "apply: exit 0"
NEW=$(printf '%s\n' "$out" | awk '$1 == "create" { print $3 }')
like "$NEW" "$SID_RE" "apply prints the new trigger's SID"
tail -n +$((before + 1)) "$REQ" | grep -v '^GET ' >"$T/apply.req"
is "$(cut -f1,4 "$T/apply.req")" "POST $ROOT.json	CallbackMethod=POST&CallbackUrl=http%3A%2F%2Fhooks.test%2Ftwilio%2Fusage&FriendlyName=sms-daily-spend&Recurring=daily&TriggerBy=price&TriggerValue=100&UsageCategory=sms
POST $ROOT/$SID1.json	CallbackMethod=POST
DELETE $ROOT/$STALE.json	" "apply: create, then update, then delete; exact requests"
like "$out" "apply: 1 created, 1 updated, 0 replaced, 1 deleted, 1 unchanged, 0 failed" "apply: the summary"
before=$(nreq)
out=$(tctl apply)
is "$?" 0 "apply again: exit 0"
like "$out" "apply: 0 created, 0 updated, 0 replaced, 0 deleted, 3 unchanged, 0 failed" \
    "apply again changes nothing"
is "$(tail -n +$((before + 1)) "$REQ" | grep -vc '^GET ')" 0 "apply again sends only GETs"

# A value Twilio cannot update: the trigger is replaced, new one first.
sed -i 's/^    trigger_value: 100$/    trigger_value: 200/' "$UH_CONF"
like "$(tctl plan)" "replace +sms-daily-spend +$NEW +trigger_value 100.000000 -> 200" \
    "plan: a changed value is a replace"
before=$(nreq)
out=$(tctl apply)
is "$?" 0 "apply of a replace: exit 0"
REPL=$(printf '%s\n' "$out" | awk '$1 == "replace" { print $3 }')
is "$(tail -n +$((before + 1)) "$REQ" | grep -v '^GET ' | cut -f1 | sed "s/$REPL/NEW/")" \
    "POST $ROOT.json
DELETE $ROOT/$NEW.json" "apply: replace creates the new trigger, then deletes the old"
like "$(tctl plan)" "plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 3 unchanged" \
    "after the replace the plan is empty"

# ---- a callback the way the created trigger calls ----------------------------------
uh_start
for sid in "$SID2" "$REPL"; do
	json=$(tctl fetch "$sid" --json)
	url=$(printf '%s\n' "$json" | sed -n 's/^  "callback_url": "\(.*\)",$/\1/p')
	method=$(printf '%s\n' "$json" | sed -n 's/^  "callback_method": "\(.*\)",$/\1/p')
	tok="$UH_SID-FIRES-$sid-2026-11-24"
	out=$(uh_send --url "$url" --connect "unix:$UH_SOCK" --method "$method" \
	    "UsageTriggerSid=$sid" "IdempotencyToken=$tok")
	is "$out" "200 OK IdempotencyToken=$tok" \
	    "a firing of trigger ${sid:0:8}... ($method $url) is accepted"
	is "$(sql "SELECT method || ' ' || usage_trigger_sid FROM callbacks WHERE idempotency_token = '$tok'")" \
	    "$method $sid" "and stored with its method and UsageTriggerSid"
done
uh_stop
is "$UH_STATUS" 0 "the daemon stops cleanly"

done_testing
