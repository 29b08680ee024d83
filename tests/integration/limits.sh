#!/usr/bin/env bash
# limits.sh: max_connections holds extra connections back until one closes;
# a client that stalls mid-headers or mid-body is cut off at request_timeout
# and stores nothing, while the daemon keeps serving others.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config --tcp "limits: { max_connections: 2, request_timeout: 2s }"
uh_start

# Two idle connections fill the limit; a third is not served meanwhile.
exec 5<>"/dev/tcp/127.0.0.1/$UH_PORT"
exec 6<>"/dev/tcp/127.0.0.1/$UH_PORT"
sleep 0.2
is "$(UH_CURL_TIMEOUT=0.7 uh_status /healthz)" 000 \
    "third connection waits while max_connections (2) are open"
exec 5>&- 6>&-
is "$(uh_status /healthz)" 200 "served once the idle connections are gone"
like "$(cat "$T/daemon.log")" "max_connections \\(2\\) reached" \
    "reaching the limit is logged for the operator"

# A slow client that stops in the middle of its headers.
exec 5<>"/dev/tcp/127.0.0.1/$UH_PORT"
printf 'POST %s HTTP/1.1\r\nHost: hooks.test\r\n' "$UH_PATH" >&5
start=$SECONDS
timeout 6 cat <&5 >/dev/null
elapsed=$((SECONDS - start))
exec 5>&-
ok "stalled headers: connection closed after request_timeout (${elapsed}s)" \
    [ "$elapsed" -le 5 ]

# A slow client that promises a body and sends only part of it.
uh_params slow-body
body=$(uh_query)
exec 5<>"/dev/tcp/127.0.0.1/$UH_PORT"
printf 'POST %s HTTP/1.1\r\nHost: hooks.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s' \
    "$UH_PATH" $((${#body} + 100)) "$body" >&5
start=$SECONDS
timeout 6 cat <&5 >/dev/null
elapsed=$((SECONDS - start))
exec 5>&-
ok "stalled body: connection closed after request_timeout (${elapsed}s)" \
    [ "$elapsed" -le 5 ]
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'slow-body'")" 0 \
    "a partial body stores nothing"

is "$(uh_send >/dev/null 2>&1; echo $?)" 0 "the daemon still serves callbacks"
is "$(uh_status /healthz)" 200 "and is healthy"

done_testing
