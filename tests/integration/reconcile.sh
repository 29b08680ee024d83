#!/usr/bin/env bash
# reconcile.sh: firings whose callback never arrived are recovered from a
# fake Twilio REST API (tests/fixtures/fake-twilio, HTTPS, a CA made here):
# stored once with source api, their actions run once; a late real delivery
# of the same firing (documented token, or the same trigger and interval)
# is a duplicate; a delivered firing is never recovered; other hosts'
# triggers are ignored; one-off and monthly intervals; the API down, 500,
# 429, 401, garbage JSON and a date that does not parse are logged and counted
# with nothing stored and callbacks still flowing; usagehookctl reconcile
# and usagehookctl usage.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 ||
	skip_all "openssl not installed (apt-get install openssl)"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 not installed"
FAKE=$top_builddir/tests/fixtures/fake-twilio
[ -x "$FAKE" ] || bail "$FAKE not built (make check builds it)"

(
	cd "$T" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
	    -days 2 -subj /CN=usagehookd-test-ca
	openssl req -newkey rsa:2048 -nodes -keyout good.key -out good.csr \
	    -subj /CN=127.0.0.1
	printf 'subjectAltName=IP:127.0.0.1\n' >good.ext
	openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -out good.pem -days 2 -extfile good.ext
) >"$T/openssl.log" 2>&1 || bail "openssl could not make test certificates"

FIRED=$T/fired
RECORDS=$T/records
: >"$FIRED"
start_fake() {
	rm -f "$T/api.port"
	"$FAKE" -o "$T/api.log" -p "$T/api.port" -c "$T/good.pem" \
	    -k "$T/good.key" -a "$UH_SID" -u "$UH_SID:$UH_TOKEN" -n 2 \
	    -f "$FIRED" -r "$RECORDS" >>"$T/fake.err" 2>&1 </dev/null &
	FAKE_PID=$!
	uh_track "$FAKE_PID"
	wait_for 5 test -s "$T/api.port" || bail "fake-twilio did not start"
}
start_fake
API=$(cat "$T/api.port")

cat >"$T/record.sh" <<EOF
#!/bin/sh
printf '%s %s %s\n' "\$1" "\$2" "\$USAGEHOOK_SOURCE" >>"$T/exec.log"
EOF
chmod +x "$T/record.sh"

mk_config "twilio_api: https://127.0.0.1:$API" "twilio_ca_file: $T/ca.pem" \
    "reconcile: { interval: 1s, grace: 10m }" \
    "dispatch: { backoff: 1s }" \
    "rules:" \
    "  - name: cap" \
    "    actions:" \
    "      - exec: [\"$T/record.sh\", \"{IdempotencyToken}\", \"{CurrentValue}\"]" \
    "      - append: $T/append.jsonl"
OURS=$(uh_public)
OTHER=https://other.example/twilio/usage

# Sids and times: a = daily, missed; b = fired 2 min ago (in grace);
# c = another host's; d = one-off, missed; e = monthly, missed; f = daily,
# delivered in time.
ut() { printf 'UT%032d' "$1"; }
UTA=$(ut 10); UTB=$(ut 11); UTC=$(ut 12); UTD=$(ut 13); UTE=$(ut 14)
UTF=$(ut 15); UTG=$(ut 16); UTH=$(ut 17)
at() { date -u -d "@$1" -R; }
NOW=$(date +%s)
TA=$((NOW - 20 * 60)); TB=$((NOW - 120)); TD=$((NOW - 30 * 60))
TE=$((NOW - 40 * 60)); TF=$((NOW - 25 * 60))
# line SID NAME RECURRING URL EPOCH-OR-TEXT [CATEGORY]
line() {
	local d=$5
	case $d in *[!0-9]*) ;; *) d=$(at "$d") ;; esac
	printf '%s|%s|%s|%s|price|10|12.5|%s|%s\n' "$1" "$2" "$3" \
	    "${6:-totalprice}" "$4" "$d"
}
{
	line "$UTF" "in time" daily "$OURS" "$TF"
} >"$FIRED"

uh_start
nexec() { if [ -f "$T/exec.log" ]; then wc -l <"$T/exec.log"; else echo 0; fi; }
napi() { sql "SELECT count(*) FROM callbacks WHERE source = 'api'"; }

# ---- a firing delivered in time is never recovered -----------------------------
uh_params tok-in-time "UsageTriggerSid=$UTF" "DateFired=$(at "$TF")" \
    UsageCategory=totalprice TriggerBy=price TriggerValue=10 CurrentValue=12.5
is "$(uh_post_signed)" 200 "the in-time delivery of f is stored"
wait_for 5 eval '[ "$(nexec)" -ge 1 ]'
lists() { grep -c "^GET /2010-04-01/Accounts/$UH_SID/Usage/Triggers.json" "$T/api.log" 2>/dev/null || echo 0; }
wait_for 10 eval '[ "$(lists)" -ge 3 ]'
is "$(napi)" 0 "a firing delivered in time is not recovered (passes ran)"

# ---- missed firings are recovered ------------------------------------------------
{
	line "$UTF" "in time" daily "$OURS" "$TF"
	line "$UTA" "daily cap" daily "$OURS" "$TA"
	line "$UTB" "just fired" daily "$OURS" "$TB"
	line "$UTC" "not ours" daily "$OTHER" "$TA"
	line "$UTD" "one-off" - "$OURS" "$TD"
	line "$UTE" "monthly" monthly "$OURS" "$TE"
	line "$UTH" "never fired" daily "$OURS" -
} >"$FIRED"
TOKA=$UH_SID-FIRES-$UTA-$(date -u -d "@$TA" +%F)
TOKD=$UH_SID-FIRES-$UTD-$(date -u -d "@$TD" +%FT%TZ)
TOKE=$UH_SID-FIRES-$UTE-$(date -u -d "@$TE" +%Y-%m)
ok "within two intervals the three missed firings are stored" \
    wait_for 5 eval '[ "$(napi)" -eq 3 ]'
is "$(sql "SELECT idempotency_token FROM callbacks WHERE source = 'api' ORDER BY idempotency_token")" \
    "$(printf '%s\n' "$TOKA" "$TOKD" "$TOKE" | sort)" \
    "the documented tokens: daily by day, one-off by the instant, monthly by month"
is "$(sql "SELECT date_fired || ' ' || current_value || ' ' || remote || ' ' || coalesce(signature, 'unsigned') FROM callbacks WHERE idempotency_token = '$TOKA'")" \
    "$(at "$TA") 12.5 twilio-rest-api unsigned" \
    "date_fired and current_value from the trigger resource, unsigned"
ok "each recovered firing's exec ran" wait_for 10 eval '[ "$(nexec)" -ge 4 ]'
ok "each recovered firing's append ran" \
    wait_for 10 eval '[ "$(cat "$T/append.jsonl" 2>/dev/null | wc -l)" -ge 4 ]'
grep -q "$TOKA 12.5 api" "$T/exec.log"
is "$?" 0 "the exec saw the recovered parameters, and USAGEHOOK_SOURCE=api"
like "$(grep "$TOKA" "$T/append.jsonl")" '"source": *"api"' "the append action's JSON says source api"
grep 'recovered a missed firing' "$UH_LOG" |
    grep -qF "trigger $UTA (daily cap) of account $UH_SID fired at $(at "$TA")"
is "$?" 0 "a warning names the trigger and the time it fired"
is "$(sql "SELECT count(*) FROM callbacks WHERE usage_trigger_sid IN ('$UTB', '$UTC', '$UTH')")" 0 \
    "in grace, another host's URL, never fired: nothing stored"
n=$(lists)
wait_for 10 eval '[ "$(lists)" -ge $((n + 2)) ]'
is "$(napi):$(nexec)" "3:4" "two more passes: nothing more stored, no action again"
ctl list --source api >"$T/list.out" 2>>"$T/ctl.err"
is "$(grep -c ' api ' "$T/list.out")" 3 "list --source api: the three, shown as api"
ctl show "$TOKA" >"$T/show.out" 2>>"$T/ctl.err"
like "$(cat "$T/show.out")" "source +api" "show says source api"
ctl list --source nope >/dev/null 2>&1
is "$?" 2 "list --source nope: usage error"

# ---- a late real delivery of a recovered firing is a duplicate -----------------------
uh_params "$TOKA" "UsageTriggerSid=$UTA" "DateFired=$(at "$TA")" \
    UsageCategory=totalprice TriggerBy=price TriggerValue=10 CurrentValue=12.5
is "$(uh_post_signed):$(uh_header X-Usagehook-Duplicate)" "200:1" \
    "Twilio's delivery with the documented token: 200, duplicate"
uh_params tok-late-other "UsageTriggerSid=$UTA" "DateFired=$(at $((TA + 60)))" \
    UsageCategory=totalprice TriggerBy=price TriggerValue=10 CurrentValue=13
is "$(uh_post_signed):$(uh_header X-Usagehook-Duplicate)" "200:1" \
    "another token, same trigger and day: 200, duplicate"
uh_params tok-late-e "UsageTriggerSid=$UTE" "DateFired=$(at $((TE + 5)))" \
    Recurring=monthly UsageCategory=totalprice TriggerBy=price \
    TriggerValue=10 CurrentValue=12.5
is "$(uh_post_signed):$(uh_header X-Usagehook-Duplicate)" "200:1" \
    "the monthly one: the same month is the same firing"
# Answered after the commit: a second action would be a job by now.
is "$(sql "SELECT count(*) FROM jobs"):$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token = '$TOKA'")" \
    "8:2" "no second action queued; both counted on the recovered row"
is "$(sql "SELECT count(*) FROM callbacks WHERE usage_trigger_sid = '$UTF'")" 1 \
    "f: only its delivery, never recovered"

is "$(fetch_metrics)" 200 "GET /metrics"
is "$(metric usagehookd_recovered_total)" 3 "usagehookd_recovered_total 3"
ok "usagehookd_reconcile_last_success_timestamp_seconds is recent" \
    test "$(metric usagehookd_reconcile_last_success_timestamp_seconds)" -ge "$NOW"
is "$(metric usagehookd_reconcile_failures_total)" 0 "no failure so far"

# ---- the API failing: logged, counted, nothing stored, callbacks flow -------------------
# fails_then LABEL TEXT: the failure counter grows and the log says TEXT.
logged() { grep -qF -- "$1" "$UH_LOG"; }
nfail() { fetch_metrics >/dev/null; metric usagehookd_reconcile_failures_total; }
fails_then() {
	local before
	before=$(nfail)
	wait_for 20 logged "$2"
	ok "$1: logged ($2)" logged "$2"
	wait_for 20 eval '[ "$(nfail)" -gt "$before" ]'
	ok "$1: counted" test "$(nfail)" -gt "$before"
	is "$(napi)" 3 "$1: nothing stored"
	uh_params "tok-during-$1" UsageCategory=sms
	is "$(uh_post_signed)" 200 "$1: callbacks keep flowing"
}
# reload: SIGHUP and wait for the daemon to say it reloaded.
reload() {
	local n
	n=$(grep -c 'reloaded ' "$UH_LOG")
	kill -HUP "$UH_PID"
	wait_for 10 eval '[ "$(grep -c "reloaded " "$UH_LOG")" -gt "$n" ]'
}
cp "$FIRED" "$T/fired.good"
line "$UTG" "new miss" daily "$OURS" "$TA" >>"$T/fired.good"
echo "500 100000" >"$T/api.log.fail"
fails_then 500 "account $UH_SID: cannot list its UsageTriggers: HTTP 500"
echo "429 100000" >"$T/api.log.fail"
fails_then 429 "cannot list its UsageTriggers: HTTP 429: Too Many Requests"
echo "500 100000" >"$T/api.log.fail"
printf '%s' "$UH_BADTOKEN" >"$T/token"
reload
rm -f "$T/api.log.fail"
fails_then 401 "HTTP 401: Authenticate (Twilio error 20003"
printf '%s' "$UH_TOKEN" >"$T/token"
reload
echo '!raw {"usage_triggers": [ {"sid": ' >"$FIRED"
fails_then garbage "but the answer is not JSON"
line "$UTG" "garbled" daily "$OURS" "yesterday, about noon" >"$FIRED"
fails_then bad-date "trigger $UTG: date_fired 'yesterday, about noon' is not an RFC 2822 date"
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null
cp "$T/fired.good" "$FIRED"
fails_then down "cannot connect to 127.0.0.1:$API"
ok "the daemon is healthy throughout" uh_alive
is "$(uh_status /healthz)" 200 "/healthz 200 with the API down"

# ---- usagehookctl reconcile ---------------------------------------------------------
uh_stop
start_fake
sed -i "s|twilio_api: .*|twilio_api: https://127.0.0.1:$(cat "$T/api.port")|" "$UH_CONF"
out=$(ctl reconcile --dry-run --json 2>>"$T/ctl.err")
is "$?" 0 "reconcile --dry-run: exit 0"
is "$(printf '%s' "$out" | jq -r '.firings[] | select(.usage_trigger_sid == "'"$UTG"'") | .outcome')" \
    would-recover "reconcile --dry-run --json: g would be recovered"
is "$(printf '%s' "$out" | jq -r '[.firings[] | select(.outcome == "stored")] | length')" 4 \
    "reconcile --dry-run --json: a, d, e, f are stored"
is "$(printf '%s' "$out" | jq -r '.accounts[0].calling_this_daemon')" 7 \
    "reconcile --json: seven triggers call this daemon (all pages)"
is "$(napi)" 3 "--dry-run stores nothing"
ctl reconcile >"$T/rec.out" 2>"$T/rec.err"
is "$?" 0 "reconcile: exit 0"
like "$(grep "new miss" "$T/rec.out" | head -n 1)" "recovered" "reconcile: g recovered"
like "$(cat "$T/rec.err")" "1 firing\\(s\\) recovered" "reconcile: says how many"
is "$(napi)" 4 "reconcile stored g"
ctl reconcile --json >"$T/rec2.json" 2>>"$T/ctl.err"
is "$(jq -r '.recovered' "$T/rec2.json")" 0 "reconcile again: nothing more"
ctl reconcile --account AC99999999999999999999999999999999 >/dev/null 2>&1
is "$?" 1 "reconcile --account not configured: exit 1"
ctl reconcile --account AC123 >/dev/null 2>&1
is "$?" 2 "reconcile --account malformed: exit 2"

# ---- usagehookctl usage ------------------------------------------------------------------
cat >"$RECORDS" <<'EOF2'
sms|SMS|120|messages|120|messages|0.95|usd
calls|Voice Minutes|14|calls|37|minutes|1.4|usd
mms|MMS|3|messages|3|messages|0.06|usd
totalprice|Total Price|0|-|2.41|usd|2.41|usd
phonenumbers|Phone Numbers|1|phone-numbers|1|phone-numbers|1.15|usd
EOF2
ctl usage today >"$T/usage.out" 2>"$T/usage.err"
is "$?" 0 "usage today: exit 0"
is "$(awk 'NR > 1 && $1 != "total" { print $1 }' "$T/usage.out" | tr '\n' ' ')" \
    "totalprice calls phonenumbers sms mms " \
    "usage today: every page (3 of 2), sorted by price"
like "$(grep '^calls' "$T/usage.out")" "Voice Minutes +14 calls +37 minutes +1.4 usd" \
    "usage: count, usage and price with their units"
like "$(tail -n 1 "$T/usage.out")" "total 2.4100 usd \\(Twilio's totalprice\\)" \
    "usage: a total line from Twilio's totalprice"
is "$(grep -c "GET /2010-04-01/Accounts/$UH_SID/Usage/Records/Today.json" "$T/api.log")" 3 \
    "usage today: GET .../Usage/Records/Today.json, three pages"
out=$(ctl usage monthly --category sms --json 2>>"$T/ctl.err")
is "$?" 0 "usage monthly --category sms --json: exit 0"
is "$(printf '%s' "$out" | jq -r '.accounts[0].records | map(.category + "=" + .price + " " + .price_unit) | join(",")')" \
    "sms=0.95 usd" "--json: the sms record only"
is "$(printf '%s' "$out" | jq -r '.accounts[0].total.price + " " + .accounts[0].total.from')" \
    "0.9500 rows" "--json: the total of the rows"
like "$(grep 'Usage/Records/Monthly.json' "$T/api.log" | tail -n 1)" "Category=sms" \
    "--category goes to Twilio as Category"
ctl usage weekly >/dev/null 2>"$T/usage.err"
is "$?" 2 "usage weekly: usage error"
ctl usage --start-date 2026-02-30 >/dev/null 2>&1
is "$?" 2 "usage --start-date 2026-02-30: usage error"
ctl usage yesterday --start-date -30days --end-date 2026-11-24 >/dev/null 2>>"$T/ctl.err"
is "$?" 0 "usage --start-date -30days --end-date 2026-11-24: exit 0"
like "$(grep 'Usage/Records/Yesterday.json' "$T/api.log" | head -n 1)" \
    "StartDate=-30days&EndDate=2026-11-24" "dates go to Twilio as StartDate, EndDate"
echo 'sms|SMS|1|messages|1|messages|lots|usd' >"$RECORDS"
ctl usage >/dev/null 2>"$T/usage.err"
is "$?:$(cat "$T/usage.err")" \
    "1:usagehookctl: usage: account $UH_SID: usage record sms: price 'lots' is not a number" \
    "a price that is not a number is refused, not guessed"

done_testing
