#!/usr/bin/env bash
# shellcheck disable=SC2119,SC2059
# (SC2059: the requests are printf formats on purpose, \r\n and all.)
# smuggling.sh: a request whose framing evhttp would read otherwise than the
# client meant (a HEAD with a body, two Content-Length that differ, a
# Transfer-Encoding other than one "chunked", or with a Content-Length; a
# space before a header's colon; two Host) is answered 400 alone and its connection closed, so nothing it
# carries is parsed as a request; GET and DELETE bodies are read, not
# parsed. Two X-Twilio-Signature: 400. Pipelined requests followed by a
# half-close are all answered. An absolute-form target is routed and signed
# by its path and query.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

RAW=$top_builddir/tests/fixtures/rawhttp
[ -x "$RAW" ] || bail "$RAW is not built (make check builds it)"

mk_config --tcp
uh_start

# raw NAME [RAWHTTP-ARG...]: send $T/NAME.in on one connection; the answer
# lands in $T/NAME.out, rawhttp's exit status in RAW_RC (0: the
# daemon closed the connection, 2: still open after the bound).
raw() {
	local name=$1
	shift
	"$RAW" -a "127.0.0.1:$UH_PORT" -t 5 "$@" <"$T/$name.in" >"$T/$name.out" \
	    2>"$T/$name.err"
	RAW_RC=$?
}
# statuses NAME: the status lines of the answers in $T/NAME.out, one line.
statuses() {
	tr -d '\r' <"$T/$1.out" | grep -aE '^HTTP/1\.[01] [0-9]{3}' |
	    awk '{ printf "%s%s", sep, $2; sep = " " }'
}

SMUGGLED='GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'
SLEN=$(printf "$SMUGGLED" | wc -c)

# -- A HEAD with a body evhttp does not read.
printf "HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: $SLEN\r\n\r\n$SMUGGLED" >"$T/head-cl.in"
raw head-cl
is "$(statuses head-cl)" 400 "HEAD /healthz with a GET /metrics body: one answer, 400"
is "$RAW_RC" 0 "and the daemon closed the connection" || diag "$(cat "$T/head-cl.err")"
like "$(cat "$UH_LOG")" 'refused HEAD /healthz from 127\.0\.0\.1: 400 bad framing: a HEAD request with a body' \
    "the refusal is logged with its reason"

printf "HEAD /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n$SMUGGLED\r\n0\r\n\r\n" "$SLEN" >"$T/head-te.in"
raw head-te
is "$(statuses head-te)/$RAW_RC" 400/0 "HEAD with Transfer-Encoding: chunked: 400, closed"

printf 'HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$T/head-zero.in"
raw head-zero
is "$(statuses head-zero)" "200 200" "HEAD with Content-Length: 0 is fine, the next request too"

# A signed HEAD callback with a body: refused, not stored, nothing smuggled.
uh_params smuggle-head
q=$(uh_query)
sig=$(uh_sign "$(uh_public)?$q" --method HEAD)
printf "HEAD %s?%s HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: %s\r\nContent-Length: $SLEN\r\n\r\n$SMUGGLED" \
    "$UH_PATH" "$q" "$sig" >"$T/head-cb.in"
raw head-cb
is "$(statuses head-cb)/$RAW_RC" 400/0 "a signed HEAD callback with a body: 400, closed"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'smuggle-head'")" 0 \
    "and not stored"

# -- GET and DELETE bodies are read (and ignored), not parsed as requests.
for m in GET DELETE; do
	printf "$m /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: $SLEN\r\nConnection: close\r\n\r\n$SMUGGLED" \
	    >"$T/$m-cl.in"
	raw "$m-cl"
	is "$(statuses "$m-cl")" 200 "$m /healthz with a GET /metrics body: one answer, 200"
done

# -- Content-Length and Transfer-Encoding evhttp would read its own way.
printf "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: $SLEN\r\n\r\n$SMUGGLED" >"$T/two-cl.in"
raw two-cl
is "$(statuses two-cl)/$RAW_RC" 400/0 "two Content-Length that differ: 400, closed"
printf 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc' >"$T/same-cl.in"
raw same-cl
is "$(statuses same-cl)" 200 "two Content-Length that agree: 200"
printf "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n%x\r\n$SMUGGLED\r\n0\r\n\r\n" "$SLEN" >"$T/te-other.in"
raw te-other
is "$(statuses te-other)/$RAW_RC" 400/0 "Transfer-Encoding: xchunked: 400, closed"
printf "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n%x\r\n$SMUGGLED\r\n0\r\n\r\n" "$SLEN" >"$T/te-two.in"
raw te-two
is "$(statuses te-two)/$RAW_RC" 400/0 "two Transfer-Encoding headers: 400, closed"
printf "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n$SMUGGLED\r\n0\r\n\r\n" "$SLEN" >"$T/te-cl.in"
raw te-cl
is "$(statuses te-cl)/$RAW_RC" 400/0 "Transfer-Encoding with Content-Length: 400, closed"
printf "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n$SMUGGLED\r\n0\r\n\r\n" "$SLEN" >"$T/te-chunked.in"
raw te-chunked
is "$(statuses te-chunked)" 200 "one Transfer-Encoding: chunked is read: 200"

printf "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length : $SLEN\r\n\r\n$SMUGGLED" >"$T/cl-space.in"
raw cl-space
is "$(statuses cl-space)/$RAW_RC" 400/0 "\"Content-Length :\" (space before the colon): 400, closed"

# -- Two Host headers; two signatures.
printf 'GET /healthz HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n' >"$T/two-host.in"
raw two-host
is "$(statuses two-host)/$RAW_RC" 400/0 "two Host headers: 400, closed"
uh_params two-sigs
body=$(uh_query)
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
printf 'POST %s HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: %s\r\nX-Twilio-Signature: forged\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$UH_PATH" "$sig" "${#body}" "$body" >"$T/two-sigs.in"
raw two-sigs
is "$(statuses two-sigs)" 400 "two X-Twilio-Signature headers (the first valid): 400"
like "$(cat "$T/two-sigs.out")" 'malformed' "answered as malformed"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'two-sigs'")" 0 \
    "not stored"
is "$(sql_eventually "SELECT detail FROM rejected WHERE idempotency_token = 'two-sigs'" \
    'two X-Twilio-Signature headers')" 'two X-Twilio-Signature headers' \
    "the refusal is kept with its reason"

# -- Pipelined requests, then a half-close: every request read is answered.
uh_params halfclose
body=$(uh_query)
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST %s HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%sGET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n' \
    "$UH_PATH" "$sig" "${#body}" "$body" >"$T/halfclose.in"
raw halfclose -s
is "$(statuses halfclose)" "200 200 200 404" \
    "4 pipelined requests, then a half-close: 4 answers, in order"
is "$RAW_RC" 0 "then the daemon closed the connection"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'halfclose'")" 1 \
    "the callback among them is stored"

# -- An absolute-form target: routed and signed by its path and query.
uh_params absolute-post
body=$(uh_query)
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
printf 'POST http://hooks.test%s HTTP/1.1\r\nHost: hooks.test\r\nX-Twilio-Signature: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$UH_PATH" "$sig" "${#body}" "$body" >"$T/absolute-post.in"
raw absolute-post
is "$(statuses absolute-post)" 200 "POST http://hooks.test$UH_PATH (absolute-form): 200"
is "$(sql "SELECT url FROM callbacks WHERE idempotency_token = 'absolute-post'")" \
    "$(uh_public)" "signed and stored as public_url + path"
uh_params absolute-get
q=$(uh_query)
sig=$(uh_sign "$(uh_public)?$q" --method GET)
printf 'GET http://elsewhere.test%s?%s HTTP/1.1\r\nHost: hooks.test\r\nX-Twilio-Signature: %s\r\nConnection: close\r\n\r\n' \
    "$UH_PATH" "$q" "$sig" >"$T/absolute-get.in"
raw absolute-get
is "$(statuses absolute-get)" 200 "GET http://elsewhere.test$UH_PATH?query (absolute-form): 200"
is "$(sql "SELECT url FROM callbacks WHERE idempotency_token = 'absolute-get'")" \
    "$(uh_public)?$q" "signed as public_url + path + ? + query"

is "$(uh_status /healthz)" 200 "the daemon is still healthy"
fetch_metrics >/dev/null
ok "usagehookd_bad_framing_total counts the framing refusals ($(metric usagehookd_bad_framing_total))" \
    test "$(metric usagehookd_bad_framing_total)" -ge 5
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
