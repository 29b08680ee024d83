#!/usr/bin/env bash
# shellcheck disable=SC2119
# methods.sh: a signed callback by each of Twilio's six CallbackMethods is
# answered 200 and stored once with its method; HEAD answers carry no body.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config --tcp
uh_start

for m in GET POST PUT PATCH DELETE HEAD; do
	out=$(uh_send --method "$m" "IdempotencyToken=method-$m")
	rc=$?
	like "$out" "^200 .*IdempotencyToken=method-$m\$" "send --method $m answers 200"
	is "$rc" 0 "send --method $m exits 0"
	is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'method-$m'")" 1 \
	    "$m: one row stored"
	is "$(sql "SELECT method FROM callbacks WHERE idempotency_token = 'method-$m'")" "$m" \
	    "$m: the row keeps the method"
done
is "$(sql 'SELECT count(*) FROM callbacks')" 6 "six methods, six rows"

# Body methods keep the form body; query methods the query in the URL.
like "$(sql "SELECT body FROM callbacks WHERE idempotency_token = 'method-PATCH'")" \
    'IdempotencyToken=method-PATCH' "PATCH: the form body is stored"
like "$(sql "SELECT url FROM callbacks WHERE idempotency_token = 'method-GET'")" \
    '\?.*IdempotencyToken=method-GET' "GET: the parameters came in the query string"

# A raw HEAD request: the answer must end at the blank line after the headers.
uh_params method-HEAD-raw
query=$(uh_query)
sig=$(uh_sign "$(uh_public)?$query" --method HEAD)
if exec 3<>"/dev/tcp/127.0.0.1/$UH_PORT"; then
	printf 'HEAD %s?%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nX-Twilio-Signature: %s\r\nConnection: close\r\n\r\n' \
	    "$UH_PATH" "$query" "$UH_PORT" "$sig" >&3
	timeout 10 cat <&3 >"$T/head.raw"
	exec 3<&-
	like "$(head -n 1 "$T/head.raw")" '^HTTP/1\.[01] 200' "raw HEAD answers 200"
	is "$(sed -n '1,/^\r$/p' "$T/head.raw" | wc -c)" "$(wc -c <"$T/head.raw")" \
	    "raw HEAD: nothing after the headers" ||
	    diag "$(cat -A "$T/head.raw")"
	is "$(sql "SELECT method FROM callbacks WHERE idempotency_token = 'method-HEAD-raw'")" HEAD \
	    "raw HEAD stored with its method"
else
	fail "connect to 127.0.0.1:$UH_PORT for a raw HEAD"
fi

uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
