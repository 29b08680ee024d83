#!/usr/bin/env bash
# shellcheck disable=SC2119
# nginx.sh: Debian's nginx runs the sample site etc/nginx/usagehookd.conf (on
# a high loopback port, TLS with a certificate made here by openssl) in front
# of the daemon's Unix socket (0666 in a 0755 directory, as under systemd),
# with an unprivileged worker when run as root. Shows: callbacks signed for
# the public https URL verify; a client cannot spoof X-Forwarded-* through
# nginx, nor straight to the daemon over TCP (127.0.0.1 not trusted); the
# sample limits agree: a body nginx lets through the daemon takes, a larger
# one is nginx's 413; with limits that differ a body between them is a 413
# from whichever is lower (the daemon's passed through nginx, not a 502).
# A HEAD carrying a request as its body is refused and smuggles nothing
# into other clients' requests on the keepalive upstream connections.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || skip_all "nginx not installed (apt-get install nginx)"
command -v openssl >/dev/null 2>&1 ||
	skip_all "openssl not installed (apt-get install openssl)"

SAMPLE=$top_srcdir/etc/nginx/usagehookd.conf
SAMPLE_YAML=$top_srcdir/etc/usagehookd.yaml
N=$T/nginx

# wait_until SECONDS CMD...: poll CMD every 50 ms, at most SECONDS.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# size_bytes SIZE: "64k", "64KiB", "1m" ... in bytes.
size_bytes() {
	local v=${1,,}
	case $v in
	*kib | *kb | *k) echo $((${v%%[a-z]*} * 1024)) ;;
	*mib | *mb | *m) echo $((${v%%[a-z]*} * 1024 * 1024)) ;;
	*b) echo "${v%b}" ;;
	*) echo "$v" ;;
	esac
}

# -- The samples agree on the body limit before anything runs.
ngx_limit=$(sed -n 's/^[[:space:]]*client_max_body_size[[:space:]]*\([^;]*\);.*/\1/p' "$SAMPLE")
uh_limit=$(sed -n 's/^[[:space:]]*max_body:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$SAMPLE_YAML")
is "$(size_bytes "$ngx_limit")" "$(size_bytes "$uh_limit")" \
    "sample nginx client_max_body_size ($ngx_limit) = sample limits.max_body ($uh_limit)"
LIMIT=$(size_bytes "$ngx_limit")

# -- A certificate for 127.0.0.1, made here.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" \
    -out "$T/tls.crt" >"$T/openssl.out" 2>&1 ||
	bail "openssl could not make a certificate: $(cat "$T/openssl.out")"

# -- The daemon on a Unix socket, 0666 in a directory like RuntimeDirectory.
mk_config --no-public-url --trusted '[unix]' "limits: { max_body: $uh_limit }"
mkdir -p "$T/run"
chmod 0755 "$T/run"
# An unprivileged nginx worker must get through $T to the socket.
chmod 0711 "$T"
UH_SOCK=$T/run/http.sock
UH_LISTEN=unix:$UH_SOCK
sed -i "s|^listen: .*|listen: \"$UH_LISTEN\"|" "$UH_CONF"
uh_start
is "$(stat -c %a "$UH_SOCK")" 666 "the daemon's socket is mode 0666"

# -- nginx with the sample site, pointed at this socket, port and certificate.
NGX_PORT=$(uh_free_port) || bail "no free TCP port found"
PUB=https://127.0.0.1:$NGX_PORT
mkdir -p "$N/tmp"
sed -e "s|server unix:/run/usagehookd/http.sock;|server unix:$UH_SOCK;|" \
    -e "s|listen 443 ssl http2;|listen 127.0.0.1:$NGX_PORT ssl http2;|" \
    -e '/listen \[::\]:443 ssl http2;/d' \
    -e 's|server_name hooks.example.com;|server_name 127.0.0.1;|' \
    -e "s|ssl_certificate .*|ssl_certificate $T/tls.crt;|" \
    -e "s|ssl_certificate_key .*|ssl_certificate_key $T/tls.key;|" \
    "$SAMPLE" >"$N/site.conf"
for want in "server unix:$UH_SOCK;" "listen 127.0.0.1:$NGX_PORT ssl" \
    "ssl_certificate $T/tls.crt;" "ssl_certificate_key $T/tls.key;"; do
	grep -qF "$want" "$N/site.conf" ||
	    bail "the sample site changed shape; nginx.sh found no '$want' after its edits"
done
{
	[ "$(id -u)" -eq 0 ] && echo "user nobody nogroup;"
	cat <<EOF
worker_processes 1;
daemon off;
pid $N/nginx.pid;
error_log $N/error.log info;
events { worker_connections 64; }
http {
	access_log $N/access.log;
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	include $N/site.conf;
}
EOF
} >"$N/nginx.conf"
"$NGINX" -t -e "$N/error.log" -p "$N" -c "$N/nginx.conf" >"$N/t.out" 2>&1
ok "nginx -t accepts the sample site" grep -q 'test is successful' "$N/t.out" ||
	diag "$(cat "$N/t.out")"
"$NGINX" -e "$N/error.log" -p "$N" -c "$N/nginx.conf" >>"$N/out" 2>&1 &
NGX_PID=$!
uh_track "$NGX_PID"

# ngx PATH [CURL-ARG...]: https through nginx; prints the status code.
ngx() {
	local path=$1
	shift
	curl -sS --max-time 20 --cacert "$T/tls.crt" -o "$T/ngx.body" \
	    -w '%{http_code}' "$@" "$PUB$path" 2>>"$T/ngx.err" || true
}
ngx_up() {
	[ "$(ngx /)" = 404 ]
}
wait_until 10 ngx_up || {
	diag "$(cat "$N/error.log" "$N/out" 2>/dev/null | tail -n 20)"
	bail "nginx did not answer on 127.0.0.1:$NGX_PORT within 10 s"
}
pass "nginx serves TLS on 127.0.0.1:$NGX_PORT with the generated certificate"
[ "$(id -u)" -eq 0 ] &&
	is "$(ps -o user= --ppid "$NGX_PID" | sort -u | tr -d ' ')" nobody \
	    "its worker runs unprivileged (nobody), as www-data would"

# ngx_post TOKEN URL-SIGNED-FOR [CURL-ARG...]: a callback through nginx.
ngx_post() {
	local tok=$1 url=$2 p args=()
	shift 2
	uh_params "$tok"
	for p in "${PARAMS[@]}"; do
		args+=(--data-urlencode "$p")
	done
	ngx "$UH_PATH" -H "X-Twilio-Signature: $(uh_sign "$url" "${PARAMS[@]}")" \
	    "${args[@]}" "$@"
}

# -- Signatures for the public https URL verify behind nginx.
out=$(timeout 30 "$UH_CTL" -c "$UH_CONF" send --url "$PUB$UH_PATH" \
    --ca-file "$T/tls.crt" IdempotencyToken=ngx-send 2>>"$T/ctl.err")
like "$out" '^200 ' "usagehookctl send --url $PUB$UH_PATH (TLS verified): 200"
is "$(ngx_post ngx-curl "$PUB$UH_PATH")" 200 \
    "curl with usagehookctl sign's signature for the https URL: 200"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token IN ('ngx-send', 'ngx-curl')")" 2 \
    "both are in the database"
uh_params ngx-get
q=$(uh_query)
is "$(ngx "$UH_PATH?$q" -H "X-Twilio-Signature: $(uh_sign "$PUB$UH_PATH?$q" --method GET)")" 200 \
    "a GET callback through nginx: 200"
is "$(ngx_post ngx-http "http://127.0.0.1:$NGX_PORT$UH_PATH")" 403 \
    "signed for http:// instead of the https URL Twilio used: 403"

# -- Through nginx, a client's own X-Forwarded-* are overwritten.
is "$(ngx_post ngx-spoof "https://evil.example$UH_PATH" \
    -H 'X-Forwarded-Host: evil.example' -H 'X-Forwarded-Proto: https')" 403 \
    "X-Forwarded-Host sent to nginx by a client is replaced: 403"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'ngx-spoof'")" 0 \
    "nothing stored"

# -- Request smuggling through nginx's keepalive upstream connections: a
# HEAD whose body is a request (evhttp reads no HEAD body) is refused and
# its connection closed, so nothing in it is taken for another client's
# request, nor another client's request for part of it. Attempts alternate
# with real signed callbacks from other clients: each gets its own answer
# ("OK", not /healthz's "ok" nor a 403) and is stored.
uh_params ngx-smuggled
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/smuggle.1"
printf 'POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1500\r\n\r\n' \
    "$UH_PATH" >"$T/smuggle.2"
printf 'POST %s HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s' \
    "$UH_PATH" "$(uh_sign "$PUB$UH_PATH" "${PARAMS[@]}")" "$(uh_query | wc -c)" \
    "$(uh_query)" >"$T/smuggle.3"
attacks= victims= bad=
for i in $(seq 1 12); do
	k=$((i % 3 + 1))
	attacks+=" $(ngx "$UH_PATH" -X HEAD --data-binary "@$T/smuggle.$k" \
	    -H 'Content-Type: text/plain' --max-time 5)"
	code=$(ngx_post "ngx-victim-$i" "$PUB$UH_PATH")
	victims+=" $code"
	[ "$code" = 200 ] && [ "$(cat "$T/ngx.body")" = OK ] ||
	    bad+=" ngx-victim-$i:$code:$(head -c 40 "$T/ngx.body" | tr -d '\r\n')"
done
is "$bad" "" "12 signed callbacks, each after a smuggling attempt: each answered its own 200 OK" ||
    diag "answers:$victims"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token LIKE 'ngx-victim-%'")" 12 \
    "all 12 stored"
is "$(tr ' ' '\n' <<<"$attacks" | grep -c '^400$')" 12 \
    "each smuggling attempt (a HEAD with a request for body) answered 400" ||
    diag "attempts:$attacks"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'ngx-smuggled'")" 0 \
    "the smuggled signed callback is not stored"
is "$(grep -c 'a HEAD request with a body' "$UH_LOG")" 12 \
    "the daemon logged each refusal"

# -- Body sizes: the sample limits agree.
# body_of BYTES TOKEN: $T/body.TOKEN, a valid callback padded to BYTES bytes,
# and SIG, its signature for the public URL.
body_of() {
	local want=$1 tok=$2 base pad
	uh_params "$tok"
	base="$(uh_query)&Pad="
	pad=$((want - ${#base}))
	PAD=$(head -c "$pad" /dev/zero | tr '\0' x)
	printf '%s%s' "$base" "$PAD" >"$T/body.$tok"
	SIG=$(uh_sign "$PUB$UH_PATH" "${PARAMS[@]}" "Pad=$PAD")
}
ngx_body() {
	ngx "$UH_PATH" -H "X-Twilio-Signature: $SIG" \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    --data-binary "@$T/body.$1"
}
body_of "$LIMIT" ngx-at-limit
is "$(stat -c %s "$T/body.ngx-at-limit")" "$LIMIT" "a body of exactly $LIMIT bytes made"
is "$(ngx_body ngx-at-limit)" 200 "a $LIMIT-byte body (both limits): 200 through nginx"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'ngx-at-limit'")" 1 \
    "and stored"
body_of $((LIMIT + 1)) ngx-over
is "$(ngx_body ngx-over)" 413 "$((LIMIT + 1)) bytes: 413"
ok "that 413 is nginx's; the daemon never saw the request" \
    grep -q nginx "$T/ngx.body"
is "$(grep -c 'IdempotencyToken=ngx-over' "$UH_LOG")" 0 "not in the daemon's log"

# Limits that differ: a body between them is refused with a 413 either way.
# The daemon's lowered by SIGHUP (nginx's upstream connections stay open).
sed -i "s|^limits: .*|limits: { max_body: $((LIMIT / 2)) }|" "$UH_CONF"
kill -HUP "$UH_PID"
wait_until 5 grep -q "reloaded $UH_CONF" "$UH_LOG"
body_of $((LIMIT * 3 / 4)) ngx-between
is "$(ngx_body ngx-between)" 413 \
    "daemon max_body $((LIMIT / 2)) < body $((LIMIT * 3 / 4)) < nginx $LIMIT: 413"
ok "that 413 is the daemon's, passed through nginx" \
    eval '! grep -q nginx "$T/ngx.body"'
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'ngx-between'")" 0 \
    "nothing stored"
is "$(ngx_post ngx-after "$PUB$UH_PATH")" 200 "a small callback still passes: 200"

# nginx's lowered instead (nginx reloaded), the daemon's back to the sample's.
sed -i "s|^limits: .*|limits: { max_body: $uh_limit }|" "$UH_CONF"
kill -HUP "$UH_PID"
sed -i "s|client_max_body_size .*;|client_max_body_size $((LIMIT / 4));|" "$N/site.conf"
old_workers=$(ps -o pid= --ppid "$NGX_PID" | tr -d ' ')
kill -HUP "$NGX_PID"
# The old workers take new connections until they are gone.
old_gone() {
	local p
	for p in $old_workers; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	[ -n "$(ps -o pid= --ppid "$NGX_PID")" ]
}
wait_until 10 old_gone || diag "nginx's old workers still there after 10 s"
body_of $((LIMIT / 2)) ngx-between2
is "$(ngx_body ngx-between2)" 413 \
    "nginx $((LIMIT / 4)) < body $((LIMIT / 2)) < daemon $LIMIT: 413"
ok "that 413 is nginx's" grep -q nginx "$T/ngx.body"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'ngx-between2'")" 0 \
    "nothing stored"

# -- Straight to the daemon over TCP: 127.0.0.1 is not a trusted proxy.
uh_stop
mk_config --tcp --no-public-url --trusted '[unix]'
uh_start
uh_params ngx-direct-spoof
is "$(uh_post "$UH_PATH" "$(uh_sign "$PUB$UH_PATH" "${PARAMS[@]}")" \
    -H 'X-Forwarded-Proto: https' -H "X-Forwarded-Host: 127.0.0.1:$NGX_PORT")" 403 \
    "direct TCP client sending nginx's X-Forwarded-* for the public URL: 403"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'ngx-direct-spoof'")" 0 \
    "nothing stored"
uh_params ngx-direct
is "$(uh_post "$UH_PATH" "$(uh_sign "http://127.0.0.1:$UH_PORT$UH_PATH" "${PARAMS[@]}")" \
    -H 'X-Forwarded-Proto: https' -H "X-Forwarded-Host: 127.0.0.1:$NGX_PORT")" 200 \
    "it is checked against the URL it really used (http:// + Host): 200"
uh_stop

kill -TERM "$NGX_PID" 2>/dev/null
wait "$NGX_PID" 2>/dev/null
ok "no [emerg] or [crit] in nginx's error log" \
    eval '! grep -E "\[(emerg|crit|alert)\]" "$N/error.log"'
done_testing
