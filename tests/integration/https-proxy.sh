#!/usr/bin/env bash
# shellcheck disable=SC2119
# https-proxy.sh: outgoing HTTPS through HTTPS_PROXY (an HTTP CONNECT
# tunnel, tests/fixtures/connect-proxy on loopback) and past it with
# NO_PROXY: the REST API (usagehookctl triggers list) and send; proxy
# credentials from the URL; a refusal or an unusable setting said plainly.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

FAKE=$top_builddir/tests/fixtures/fake-twilio
PROXY=$top_builddir/tests/fixtures/connect-proxy
SINK=$top_builddir/tests/fixtures/sink
for p in "$FAKE" "$PROXY" "$SINK"; do
	[ -x "$p" ] || bail "$p not built (make check builds it)"
done

# Names that resolve nowhere: only the proxy (which takes every host for
# 127.0.0.1) can reach them, so a success proves the tunnel was used.
uh_certs api:DNS:api.twilio.test hooks:DNS:hooks.test
mk_config "twilio_ca_file: $T/ca.pem"
start_bg() {	# NAME PORTFILE CMD...: in the background, tracked, port read
	local name=$1 pf=$2
	shift 2
	"$@" >>"$T/$name.err" 2>&1 </dev/null &
	uh_track "$!"
	uh_wait 10 test -s "$pf" || bail "$name did not start"
}
start_bg fake "$T/api.port" "$FAKE" -o "$T/api.log" -p "$T/api.port" \
    -c "$T/api.pem" -k "$T/api.key" -a "$UH_SID" -u "$UH_SID:$UH_TOKEN"
start_bg sink "$T/sink.port" "$SINK" -o "$T/sink.out" -p "$T/sink.port" \
    -c "$T/hooks.pem" -k "$T/hooks.key"
start_bg proxy "$T/proxy.port" "$PROXY" -p "$T/proxy.port" -l "$T/proxy.log"
AUTH=$(printf 'ops:s3cr et' | base64 -w0)
start_bg authproxy "$T/authproxy.port" "$PROXY" -p "$T/authproxy.port" \
    -l "$T/authproxy.log" -a "$AUTH"
API=$(cat "$T/api.port")
SPORT=$(cat "$T/sink.port")
PX=http://127.0.0.1:$(cat "$T/proxy.port")
APX=127.0.0.1:$(cat "$T/authproxy.port")
tlist() { timeout 60 "$UH_CTL" -c "$UH_CONF" triggers list --api-base "https://api.twilio.test:$API" "$@" 2>&1; }
nconnect() { grep -c "CONNECT $1" "${2:-$T/proxy.log}" 2>/dev/null || true; }

# The REST API through the tunnel.
out=$(HTTPS_PROXY=$PX tlist)
is "$?" 0 "triggers list through HTTPS_PROXY: exit 0"
is "$(nconnect "api.twilio.test:$API")" 1 "... the proxy was asked for a tunnel to the API's host and port"
out=$(https_proxy=$PX tlist)
is "$?" 0 "https_proxy (lower case) works too"
out=$(tlist)
isnt "$?" 0 "without a proxy the name does not resolve (so the tunnel was what worked)"
before=$(nconnect api.twilio.test)
out=$(HTTPS_PROXY=$PX NO_PROXY=localhost,.twilio.test tlist)
isnt "$?" 0 "NO_PROXY=.twilio.test: connected directly (and failed to resolve)"
is "$(nconnect api.twilio.test)" "$before" "... the proxy was not asked"
out=$(HTTPS_PROXY=$PX NO_PROXY='*' tlist)
is "$(nconnect api.twilio.test)" "$before" "NO_PROXY='*': never the proxy"

# send through the tunnel, the certificate still checked against the URL.
out=$(HTTPS_PROXY=$PX timeout 60 "$UH_CTL" -c "$UH_CONF" send \
    --url "https://hooks.test:$SPORT/twilio/usage" --ca-file "$T/ca.pem" 2>&1)
like "$out" "^200 " "send through HTTPS_PROXY: 200 from the TLS server behind it"
out=$(HTTPS_PROXY=$PX timeout 60 "$UH_CTL" -c "$UH_CONF" send \
    --url "https://hooks.test:$SPORT/twilio/usage" 2>&1)
like "$out" "certificate" "... and without the CA the certificate is refused (TLS is end to end)"

# Proxy credentials: from the URL's user info, %-escapes decoded.
out=$(HTTPS_PROXY=http://$APX tlist)
like "$out" "proxy http://$APX refused CONNECT api.twilio.test:$API: 407 .*user and password" \
    "a proxy asking for credentials: 407 said, with what to do"
out=$(HTTPS_PROXY="http://ops:s3cr%20et@$APX" tlist)
is "$?" 0 "HTTPS_PROXY=http://user:pass@host:port: accepted"
like "$(cat "$T/authproxy.log")" "CONNECT api.twilio.test:$API auth" "... Proxy-Authorization sent"
unlike "$out" "s3cr" "... the password never printed"

# Settings that cannot work are said, not ignored.
out=$(HTTPS_PROXY=https://127.0.0.1:1 tlist)
like "$out" "only an http:// proxy" "an https:// proxy: refused with the reason"
out=$(HTTPS_PROXY=http://127.0.0.1:99999 tlist)
like "$out" "HTTPS_PROXY: .* is not http://host:port" "a bad port: said"

# The daemon's http action through the tunnel (HTTPS_PROXY in its
# environment, as a systemd drop-in's Environment= gives it).
mk_config "rules:" "  - name: hook" "    match: { UsageCategory: sms }" \
    "    actions:" "      - http: https://hooks.test:$SPORT/hook" \
    "        ca_file: $T/ca.pem" "        max_attempts: 1"
before=$(nconnect "hooks.test:$SPORT")
HTTPS_PROXY=$PX NO_PROXY=localhost uh_start
uh_send IdempotencyToken=px-action UsageCategory=sms >/dev/null
uh_wait 30 grep -q '^POST /hook' "$T/sink.out"
like "$(grep '^POST /hook' "$T/sink.out")" "^POST /hook" "an http action reached its https target through the proxy"
is "$(($(nconnect "hooks.test:$SPORT") - before))" 1 "... by a CONNECT to its host and port"
like "$(cat "$T/sink.out")" '"IdempotencyToken": *"px-action"' "... with the callback as JSON"
uh_wait 20 grep -q 'done on attempt 1' "$UH_LOG"
like "$(cat "$UH_LOG")" "job [0-9]+ \\(rule hook, http\\): done on attempt 1" "... and the job is done"
uh_stop

done_testing
