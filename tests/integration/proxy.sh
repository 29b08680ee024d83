#!/usr/bin/env bash
# shellcheck disable=SC2119
# proxy.sh: without public_url the signed URL comes from X-Forwarded-Proto /
# X-Forwarded-Host for trusted peers only (the Unix socket here), else from
# http:// + Host; :443 and no port both verify; the secondary token verifies.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

PUB=https://hooks.example.com
FWD=(-H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Host: hooks.example.com')

# post_for URL TOKEN-FILE [CURL-ARG...]: POST PARAMS signed for URL.
post_for() {
	local url=$1 tf=$2
	shift 2
	uh_post "$UH_PATH" "$(uh_sign "$url" --token-file "$tf" "${PARAMS[@]}")" "$@"
}

# -- Unix socket, trusted ("unix" in trusted_proxies), no public_url.
mk_config --no-public-url --trusted '[unix]' --secondary
uh_start

uh_params px-fwd
is "$(post_for "$PUB$UH_PATH" "$T/token" "${FWD[@]}")" 200 \
    "trusted peer: forwarded https://hooks.example.com/twilio/usage verifies"
uh_params px-fwd-443
is "$(post_for "$PUB:443$UH_PATH" "$T/token" "${FWD[@]}")" 200 \
    "signed for https://hooks.example.com:443/twilio/usage: verifies"
uh_params px-fwd-hostport
is "$(post_for "$PUB$UH_PATH" "$T/token" -H 'X-Forwarded-Proto: https' \
    -H 'X-Forwarded-Host: hooks.example.com:443')" 200 \
    "forwarded host with :443, signed without the port: verifies"
uh_params px-fwd-http
is "$(post_for "http://hooks.example.com$UH_PATH" "$T/token" "${FWD[@]}")" 403 \
    "forwarded https, signed for http: 403"
uh_params px-query
is "$(uh_post "$UH_PATH?tenant=a%20b" \
    "$(uh_sign "$PUB$UH_PATH?tenant=a%20b" --token-file "$T/token" "${PARAMS[@]}")" \
    "${FWD[@]}")" 200 "a query string on the callback URL is part of the signed URL"
uh_params px-secondary
is "$(post_for "$PUB$UH_PATH" "$T/token2" "${FWD[@]}")" 200 \
    "signed with the secondary token (rotation): verifies"
uh_params px-wrong
is "$(post_for "$PUB$UH_PATH" "$T/badtoken" "${FWD[@]}")" 403 \
    "signed with an unknown token: 403"
uh_params px-host
is "$(post_for "http://hooks.example.com$UH_PATH" "$T/token" -H 'Host: hooks.example.com')" 200 \
    "no forwarded headers: http:// + Host verifies"
uh_params px-host80
is "$(post_for "http://hooks.example.com:80$UH_PATH" "$T/token" -H 'Host: hooks.example.com')" 200 \
    "no forwarded headers: signed with :80 also verifies"

# The client behind the trusted proxy: X-Forwarded-For from the right, the
# first address that is no trusted proxy, and the peer it came through.
remote_of() { sql "SELECT remote FROM callbacks WHERE idempotency_token = '$1'"; }
uh_params px-xff
post_for "$PUB$UH_PATH" "$T/token" "${FWD[@]}" -H 'X-Forwarded-For: 198.51.100.7' >/dev/null
is "$(remote_of px-xff)" "198.51.100.7 via unix" "remote: the forwarded client, via the proxy"
like "$(ctl show px-xff)" "198\\.51\\.100\\.7 via unix" "show says it"
uh_params px-xff-chain
post_for "$PUB$UH_PATH" "$T/token" "${FWD[@]}" \
    -H 'X-Forwarded-For: 10.9.9.9, 192.0.2.1' -H 'X-Forwarded-For: 203.0.113.9' >/dev/null
is "$(remote_of px-xff-chain)" "203.0.113.9 via unix" \
    "a chain over two headers: the rightmost untrusted address (a client cannot forge it)"
uh_params px-xff-v6
post_for "$PUB$UH_PATH" "$T/token" "${FWD[@]}" -H 'X-Forwarded-For: 2001:db8::7' >/dev/null
is "$(remote_of px-xff-v6)" "2001:db8::7 via unix" "an IPv6 client"
uh_params px-xff-junk
post_for "$PUB$UH_PATH" "$T/token" "${FWD[@]}" -H 'X-Forwarded-For: 198.51.100.7, <script>' >/dev/null
is "$(remote_of px-xff-junk)" unix "a forwarded value that is no address: the peer only"
uh_params px-xff-bad
post_for "$PUB$UH_PATH" "$T/badtoken" "${FWD[@]}" -H 'X-Forwarded-For: 198.51.100.8' >/dev/null
is "$(sql_eventually "SELECT remote FROM rejected WHERE idempotency_token = 'px-xff-bad'" "198.51.100.8 via unix")" \
    "198.51.100.8 via unix" \
    "a refused request records the client via the proxy too"
uh_stop

# -- TCP from 127.0.0.1, which is NOT in trusted_proxies: forwarded ignored.
mk_config --tcp --no-public-url --trusted '[unix]'
uh_start
uh_params px-untrusted
is "$(post_for "$PUB$UH_PATH" "$T/token" "${FWD[@]}")" 403 \
    "untrusted peer: forwarded headers ignored, https signature refused: 403"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'px-untrusted'")" 0 \
    "untrusted peer: nothing stored"
uh_params px-untrusted-host
is "$(post_for "http://127.0.0.1:$UH_PORT$UH_PATH" "$T/token" "${FWD[@]}")" 200 \
    "untrusted peer: the URL is http:// + Host despite forwarded headers"
uh_params px-untrusted-xff
post_for "http://127.0.0.1:$UH_PORT$UH_PATH" "$T/token" -H 'X-Forwarded-For: 198.51.100.7' >/dev/null
is "$(remote_of px-untrusted-xff)" 127.0.0.1 "untrusted peer: X-Forwarded-For ignored, the peer recorded"
uh_stop

# -- TCP from 127.0.0.1 listed in trusted_proxies: forwarded headers used.
mk_config --tcp --no-public-url --trusted '[127.0.0.1]'
uh_start
uh_params px-trusted-tcp
is "$(post_for "$PUB$UH_PATH" "$T/token" "${FWD[@]}")" 200 \
    "trusted 127.0.0.1: forwarded https URL verifies"
uh_stop

# -- public_url wins over forwarded headers, even from a trusted peer.
mk_config --public-url https://public.example.org
uh_start
uh_params px-public
is "$(post_for "https://public.example.org$UH_PATH" "$T/token" "${FWD[@]}")" 200 \
    "public_url set: its URL verifies"
uh_params px-public-fwd
is "$(post_for "$PUB$UH_PATH" "$T/token" "${FWD[@]}")" 403 \
    "public_url set: the forwarded URL does not"
uh_stop
done_testing
