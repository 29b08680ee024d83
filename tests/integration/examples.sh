#!/usr/bin/env bash
# examples.sh: each file of etc/examples passes check-config as shipped
# (its credentials in a $CREDENTIALS_DIRECTORY made here), then runs in the
# real daemon with its endpoints moved to loopback: a firing posts to a
# sink what Slack, Teams and PagerDuty Events v2 take, parsed here as JSON
# (dedup_key the IdempotencyToken), and the circuit breaker suspends the
# subaccount at a fake Twilio.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 ||
	skip_all "openssl not installed (apt-get install openssl)"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed (apt-get install jq)"
FAKE=$top_builddir/tests/fixtures/fake-twilio
SINK=$top_builddir/tests/fixtures/sink
[ -x "$FAKE" ] || bail "$FAKE not built (make check builds it)"
[ -x "$SINK" ] || bail "$SINK not built (make check builds it)"
EX=$top_srcdir/etc/examples
MAIN=AC00000000000000000000000000000000
PARENT=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
SUB=ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb


# The credentials the examples name, as systemd would pass them.
export CREDENTIALS_DIRECTORY=$T/cred
mkdir -m 700 "$CREDENTIALS_DIRECTORY"
(umask 077
printf '%s' "$UH_TOKEN" >"$CREDENTIALS_DIRECTORY/twilio-auth-token"
printf '%s' "$UH_TOKEN2" >"$CREDENTIALS_DIRECTORY/twilio-sub-auth-token")

uh_certs good:IP:127.0.0.1

"$SINK" -o "$T/sink.out" -p "$T/sink.port" -b >>"$T/sink.log" 2>&1 \
    </dev/null &
uh_track "$!"
wait_for 5 test -s "$T/sink.port" || bail "sink did not start"
SINKURL=http://127.0.0.1:$(cat "$T/sink.port")
"$FAKE" -o "$T/api.log" -p "$T/api.port" -c "$T/good.pem" -k "$T/good.key" \
    -a "$PARENT" -u "$PARENT:$UH_TOKEN" -s "$SUB:$UH_TOKEN2" -C 1 \
    >>"$T/fake.err" 2>&1 </dev/null &
uh_track "$!"
wait_for 5 test -s "$T/api.port" || bail "fake-twilio did not start"
API=$(cat "$T/api.port")
printf '%s/services/T0/B0/SLACKSECRET\n' "$SINKURL" \
    >"$CREDENTIALS_DIRECTORY/slack-url"
printf '%s/workflows/1/triggers/manual/paths/invoke?sig=TEAMSSECRET\n' \
    "$SINKURL" >"$CREDENTIALS_DIRECTORY/teams-url"

# ---- as shipped ---------------------------------------------------------------
for f in "$EX"/*.yaml; do
	out=$(timeout 30 "$UH_CTL" -c "$f" check-config 2>&1)
	is "$?" 0 "check-config accepts $(basename "$f") as shipped" ||
	    diag "$out"
done

# run NAME SID TOKEN-FILE EXTRA-YAML: the example on loopback, one firing
# of account SID (over 500) signed with its token; waits for its jobs.
NBODY=0
run() {
	local name=$1 sid=$2 tokfile=$3 extra=$4 sig
	UH_CONF=$T/$name.yaml
	UH_DB=$T/$name.db
	UH_SOCK=$T/http.sock
	UH_PORT=
	UH_PUBLIC_URL=https://hooks.example.com
	sed -e "s|unix:/run/usagehookd/http.sock|unix:$UH_SOCK|" \
	    -e "s|/var/lib/usagehookd/usagehookd.db|$UH_DB|" \
	    -e "s|https://events.pagerduty.com|$SINKURL|" \
	    "$EX/$name.yaml" >"$UH_CONF"
	[ -n "$extra" ] && printf '%s\n' "$extra" >>"$UH_CONF"
	uh_start
	uh_params "tok-$name" "AccountSid=$sid" TriggerBy=price \
	    TriggerValue=500 CurrentValue=612.5 \
	    "UsageCategory=$CAT"
	sig=$(ctl sign --url "$(uh_public)" --token-file "$tokfile" \
	    "${PARAMS[@]}") || bail "sign failed"
	is "$(uh_post "$UH_PATH" "$sig")" 200 "$name: the firing is accepted"
	NBODY=$((NBODY + 1))
	wait_for 15 test -s "$T/sink.out.$NBODY"
	ok "$name: the sink got a post" test -s "$T/sink.out.$NBODY"
	if jq -e . "$T/sink.out.$NBODY" >/dev/null 2>&1; then
		pass "$name: what arrived is JSON"
	else
		fail "$name: what arrived is JSON"
		diag "$(cat "$T/sink.out.$NBODY")"
	fi
	BODY=$T/sink.out.$NBODY
}
CAT=$'sms "x" \\ caf\xc3\xa9'

run slack "$MAIN" "$CREDENTIALS_DIRECTORY/twilio-auth-token" ""
like "$(jq -r .text "$BODY")" "Twilio sms \"x\" \\\\ café spend is 612.5 \\(trigger at 500, daily\\) on $MAIN" \
    "slack: the text carries the values intact"
ok "slack: posted to the URL in the credential file" \
    grep -q "^POST /services/T0/B0/SLACKSECRET " "$T/sink.out"
unlike "$(ctl test-rules tok-slack 2>&1)" SLACKSECRET \
    "slack: test-rules keeps the webhook URL secret"
uh_stop

run teams "$MAIN" "$CREDENTIALS_DIRECTORY/twilio-auth-token" ""
is "$(jq -r '.attachments[0].contentType' "$BODY")" \
    application/vnd.microsoft.card.adaptive "teams: an Adaptive Card"
is "$(jq -r '.attachments[0].content.body[0].text' "$BODY")" \
    "Twilio spend: $CAT at 612.5" "teams: its title has the values"
is "$(jq -r '.attachments[0].content.body[1].facts[0].value' "$BODY")" \
    "$MAIN" "teams: and the account"
uh_stop

run pagerduty "$MAIN" "$CREDENTIALS_DIRECTORY/twilio-auth-token" ""
is "$(jq -r .dedup_key "$BODY")" tok-pagerduty \
    "pagerduty: dedup_key is the IdempotencyToken"
is "$(jq -r '.event_action + " " + .payload.severity + " " + .payload.source' "$BODY")" \
    "trigger critical usagehookd" "pagerduty: a critical trigger event"
is "$(jq -r .payload.custom_details.usage_category "$BODY")" "$CAT" \
    "pagerduty: the details keep the values intact"
ok "pagerduty: posted to /v2/enqueue" grep -q "^POST /v2/enqueue " "$T/sink.out"
uh_stop

run circuit-breaker "$SUB" "$CREDENTIALS_DIRECTORY/twilio-sub-auth-token" \
    "twilio_api: https://127.0.0.1:$API
twilio_ca_file: $T/ca.pem"
like "$(jq -r .text "$BODY")" "breaker tripped for $SUB: " \
    "circuit-breaker: Slack hears of the suspend"
wait_for 15 grep -q "Status=completed" "$T/api.log"
is "$(grep -c "^POST /2010-04-01/Accounts/$SUB.json.*Status=suspended" "$T/api.log")" 1 \
    "circuit-breaker: the subaccount is suspended once"
is "$(grep -c "^POST /2010-04-01/Accounts/$SUB/Calls/CA.*Status=completed" "$T/api.log")" 1 \
    "circuit-breaker: its call in progress is completed"
uh_stop

done_testing
