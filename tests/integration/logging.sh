#!/usr/bin/env bash
# shellcheck disable=SC2119
# logging.sh: with JOURNAL_STREAM naming stderr every line carries a journald
# priority prefix (<6> info, <4> refused, ...), plain timestamped lines
# otherwise; one info line per request with status, IdempotencyToken and
# latency; and no auth token ever reaches the log, stdout or the database
# across good, bad and refused requests, reloads and a refused config.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

ENV_TOKEN=e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4
SID2=AC11111111111111111111111111111111
export UH_ENV_TOKEN=$ENV_TOKEN
SECRETS=("$UH_TOKEN" "$UH_TOKEN2" "$ENV_TOKEN")

# traffic: good, duplicate, secondary, env-token account, GET, bad signature,
# no signature, a broken body, an unknown path, healthz, metrics, reloads.
traffic() {
	local p=$1
	uh_params "$p-good"
	is "$(uh_post_signed)" 200 "$p: a signed callback: 200"
	is "$(uh_post_signed)" 200 "$p: its retry: 200 (duplicate)"
	uh_params "$p-secondary"
	is "$(uh_post "$UH_PATH" "$(uh_sign "$(uh_public)" --secondary "${PARAMS[@]}")")" 200 \
	    "$p: signed with the secondary token: 200"
	uh_params "$p-env" "AccountSid=$SID2"
	is "$(uh_post "$UH_PATH" "$(uh_sign "$(uh_public)" --token-file "$T/envtoken" "${PARAMS[@]}")")" 200 \
	    "$p: the auth_token_env account: 200"
	uh_params "$p-get"
	is "$(uh_status "$UH_PATH?$(uh_query)" -H "X-Twilio-Signature: $(uh_sign \
	    "$(uh_public)?$(uh_query)" --method GET)")" 200 "$p: a signed GET: 200"
	uh_params "$p-badsig"
	is "$(uh_post "$UH_PATH" "$(uh_sign "$(uh_public)" --token-file "$T/badtoken" "${PARAMS[@]}")")" 403 \
	    "$p: a wrong signature: 403"
	uh_params "$p-nosig"
	is "$(uh_post "$UH_PATH" "")" 403 "$p: no signature: 403"
	is "$(uh_status "$UH_PATH" --data-binary 'AccountSid=%zz' \
	    -H "X-Twilio-Signature: x")" 400 "$p: a broken body: 400"
	is "$(uh_status /nowhere)" 404 "$p: an unknown path: 404"
	is "$(uh_status /healthz)" 200 "$p: /healthz"
	is "$(fetch_metrics)" 200 "$p: /metrics"
	kill -HUP "$UH_PID"
	cp "$UH_CONF" "$T/good.yaml"
	printf 'limits: { max_body: nonsense }\n' >>"$UH_CONF"
	kill -HUP "$UH_PID"
	sleep 0.3
	cp "$T/good.yaml" "$UH_CONF"
}

# no_secret NAME FILE...: none of the tokens, nor their first 12 characters.
no_secret() {
	local name=$1 s hits=
	shift
	for s in "${SECRETS[@]}"; do
		if grep -qF -e "$s" -e "${s:0:12}" "$@" 2>/dev/null; then
			hits+=" ${s:0:4}…"
		fi
	done
	is "$hits" "" "$name"
}

mk_config --secondary "  - sid: $SID2" "    auth_token_env: UH_ENV_TOKEN"
printf '%s' "$ENV_TOKEN" >"$T/envtoken"

# -- Under systemd: stderr is the journal stream JOURNAL_STREAM names.
: >>"$UH_LOG"
export JOURNAL_STREAM
JOURNAL_STREAM=$(stat -L -c '%d:%i' "$UH_LOG")
start_line=$(($(wc -l <"$UH_LOG") + 2))
uh_start -v
traffic journal
uh_stop
is "$UH_STATUS" 0 "journal: exit 0"
unset JOURNAL_STREAM
tail -n "+$start_line" "$UH_LOG" | grep -v '^---- ' >"$T/journal.log"
ok "journal: the daemon wrote lines" [ -s "$T/journal.log" ]
is "$(grep -cvE '^<[0-7]>' "$T/journal.log")" 0 \
    "journal: every line starts with a priority prefix <N>"
ok "journal: <6> info line with method, path, status, IdempotencyToken, latency" \
    grep -qE "^<6>POST $UH_PATH 200 IdempotencyToken=journal-good [0-9.]+ms\$" "$T/journal.log"
ok "journal: the retry's line says duplicate" \
    grep -qE "^<6>POST $UH_PATH 200 duplicate IdempotencyToken=journal-good " "$T/journal.log"
ok "journal: a refused callback is a <4> warning" \
    grep -qE "^<4>refused POST $UH_PATH from [^ ]+: 403 bad-signature" "$T/journal.log"
ok "journal: no timestamp of our own (journald adds one)" \
    [ "$(grep -cE '^<[0-7]>[0-9]{4}-[0-9]{2}-' "$T/journal.log")" = 0 ]
is "$(grep -c 'IdempotencyToken=journal-' "$T/journal.log" | tr -d ' ')" \
    "$(grep -cE '<[0-9]>[A-Z]+ [^ ]+ [0-9]{3}( duplicate)? IdempotencyToken=journal-' "$T/journal.log")" \
    "journal: request lines have one shape"

# -- A JOURNAL_STREAM inherited from elsewhere (not our stderr): plain lines.
start_line=$(($(wc -l <"$UH_LOG") + 2))
JOURNAL_STREAM=1:1 uh_start
uh_stop
ok "a JOURNAL_STREAM that is not stderr gives no <N> prefixes" \
    [ "$(tail -n "+$start_line" "$UH_LOG" | grep -v '^---- ' | grep -cE '^<[0-7]>')" = 0 ]

# -- Not under systemd: plain lines with a UTC timestamp, no prefix.
start_line=$(($(wc -l <"$UH_LOG") + 2))
uh_start
traffic plain
uh_stop
is "$UH_STATUS" 0 "plain: exit 0"
tail -n "+$start_line" "$UH_LOG" | grep -v '^---- ' >"$T/plain.log"
is "$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z usagehookd: ' "$T/plain.log")" 0 \
    "plain: every line is 'TIMESTAMP usagehookd: message'"
ok "plain: the request line" grep -qE \
    "Z usagehookd: POST $UH_PATH 200 IdempotencyToken=plain-good [0-9.]+ms\$" "$T/plain.log"

# -- A token file the config refuses: the error names the file, not the token.
printf '%s more\n' "$UH_TOKEN" >"$T/token"
out=$("$UH_D" --check-config -c "$UH_CONF" 2>&1)
like "$out" "token contains spaces" "a malformed token file is refused"
printf '%s' "$out" >"$T/refused.out"

no_secret "no token in the daemon's log (${#SECRETS[@]} tokens, good and bad requests, -v)" \
    "$UH_LOG"
no_secret "no token on the daemon's stdout" "$T/daemon.out"
no_secret "no token in a refused config's errors" "$T/refused.out"
sql .dump >"$T/db.dump"
no_secret "no token in the database (callbacks, rejected rows and their headers)" \
    "$T/db.dump"

done_testing
