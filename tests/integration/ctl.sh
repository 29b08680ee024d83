#!/usr/bin/env bash
# shellcheck disable=SC2119
# ctl.sh: usagehookctl check-config, sign and send, and its exit codes
# (0 ok, 1 failure, 2 usage error).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config
good=$UH_CONF

# check-config
ctl check-config >"$T/out" 2>&1
is "$?" 0 "check-config on a good config: exit 0"
bad=$T/bad.yaml
sed 's/^path: .*/path: \/twilio\/usage\nfrobnicate: yes/' "$good" >"$bad"
line=$(grep -n '^frobnicate:' "$bad" | cut -d: -f1)
timeout 30 "$UH_CTL" -c "$bad" check-config >"$T/out" 2>"$T/err"
is "$?" 1 "check-config on a bad config: exit 1"
like "$(cat "$T/err")" "$bad:$line:1: " "check-config prints FILE:LINE:COL for the unknown key"

# sign: 28 characters of base64, equal to HMAC-SHA1 computed here.
uh_params ctl-sign
sig=$(uh_sign "https://hooks.example.com/twilio/usage" "${PARAMS[@]}")
is "$?" 0 "sign: exit 0"
like "$sig" '^[A-Za-z0-9+/]{27}=$' "sign prints 28 characters of base64"
if command -v openssl >/dev/null 2>&1; then
	s="https://hooks.example.com/twilio/usage"
	while IFS= read -r p; do
		s+="${p%%=*}${p#*=}"
	done < <(printf '%s\n' "${PARAMS[@]}" | LC_ALL=C sort -t= -k1,1)
	want=$(printf '%s' "$s" | openssl dgst -sha1 -hmac "$UH_TOKEN" -binary | base64)
	is "$sig" "$want" "sign matches HMAC-SHA1 over URL + sorted name/value pairs"
	url="https://hooks.example.com/twilio/usage?$(uh_query)"
	want=$(printf '%s' "$url" | openssl dgst -sha1 -hmac "$UH_TOKEN" -binary | base64)
	is "$(uh_sign "$url" --method GET)" "$want" "sign --method GET signs the URL with its query only"
	want=$(printf '%s' "https://hooks.example.com/twilio/usage" |
	    openssl dgst -sha1 -hmac "$UH_TOKEN2" -binary | base64)
	is "$(uh_sign https://hooks.example.com/twilio/usage --token-file "$T/token2")" "$want" \
	    "sign --token-file uses that token"
else
	skip "sign matches HMAC-SHA1" "openssl not installed"
	skip "sign --method GET" "openssl not installed"
	skip "sign --token-file" "openssl not installed"
fi

# send: against a running daemon.
uh_start
out=$(uh_send IdempotencyToken=ctl-1)
rc=$?
like "$out" '^200 [A-Za-z ]+ IdempotencyToken=ctl-1$' "send: 200 and the token"
is "$rc" 0 "send: exit 0"
out=$(uh_send IdempotencyToken=ctl-1)
rc=$?
like "$out" '^200 [A-Za-z ]+ IdempotencyToken=ctl-1 duplicate$' "send again: 200 ... duplicate"
is "$rc" 0 "send again: exit 0"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'ctl-1'")" 1 "one row for ctl-1"

# Fields not given are filled in, with a fresh token each time.
a=$(uh_send)
b=$(uh_send)
like "$a" '^200 .*IdempotencyToken=[^ ]+$' "send with no fields: 200 with a generated token"
tok_a=${a##*IdempotencyToken=}
tok_b=${b##*IdempotencyToken=}
isnt "$tok_a" "$tok_b" "two sends, two different tokens"
row=$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = '$tok_a' AND account_sid = '$UH_SID'" 2>&1)
if [[ $row =~ ^[0-9]+$ ]]; then
	is "$row" 1 "the generated callback is stored with the config's AccountSid"
else
	is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = '$tok_a'")" 1 \
	    "the generated callback is stored"
fi

# Failures are exit 1, not 2.
out=$(uh_send --url "$UH_PUBLIC_URL/not-here" --connect "$UH_LISTEN" IdempotencyToken=ctl-404)
rc=$?
like "$out" '^404 ' "send to another path prints 404"
is "$rc" 1 "send answered non-2xx: exit 1"
uh_stop
out=$(ctl send IdempotencyToken=ctl-down 2>&1)
is "$?" 1 "send with the daemon down: exit 1"
isnt "$out" "" "send with the daemon down says why"

# Usage errors: exit 2.
timeout 30 "$UH_CTL" >/dev/null 2>&1
is "$?" 2 "no command: exit 2"
ctl frobnicate >/dev/null 2>&1
is "$?" 2 "unknown command: exit 2"
ctl sign >/dev/null 2>&1
is "$?" 2 "sign without --url: exit 2"
ctl send --no-such-option >/dev/null 2>&1
is "$?" 2 "unknown option: exit 2"
ctl sign --url http://x/ not-a-pair >/dev/null 2>&1
is "$?" 2 "sign with an argument that is not K=V: exit 2"
done_testing
