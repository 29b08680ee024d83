# shellcheck shell=bash
# lib.sh: TAP helpers and a real usagehookd in a temp dir, for the
# integration tests. Each test re-executes itself under bash, then sources this.
#
# By hand, from a built tree:  bash tests/integration/methods.sh
# Keep the temp dir for a look:  UH_KEEP=1 bash tests/integration/methods.sh

# UH_STATUS and friends are read by the tests that source this file.
# shellcheck disable=SC2034

set -u
set -o pipefail

_uh_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$_uh_here/../.." && pwd)}
top_builddir=${top_builddir:-$(cd "$_uh_here/../.." && pwd)}
export top_srcdir top_builddir
UH_D=${USAGEHOOKD:-$top_builddir/usagehookd}
UH_CTL=${USAGEHOOKCTL:-$top_builddir/usagehookctl}

# ---- TAP -------------------------------------------------------------------

_tap_n=0
_tap_failed=0
_tap_planned=

# plan N: announce N tests up front (or call done_testing at the end instead).
plan() {
	_tap_planned=$1
	echo "1..$1"
}

# diag LINE...: TAP comments; multi-line arguments become several comments.
diag() {
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/# /'
	done
}

# pass NAME
pass() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

# fail NAME [DIAG...]: returns 1 so callers can add diagnostics with ||.
fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
	return 1
}

# ok NAME [CMD ARG...]: passes when CMD succeeds (or with no CMD).
ok() {
	local name=$1
	shift
	if [ $# -eq 0 ] || "$@"; then
		pass "$name"
	else
		fail "$name" "command failed: $*"
	fi
}

# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3" "     got: '$1'" "expected: '$2'"
	fi
}

# isnt GOT UNWANTED NAME
isnt() {
	if [ "$1" != "$2" ]; then
		pass "$3"
	else
		fail "$3" "     got: '$1'" "expected anything else"
	fi
}

# like GOT ERE NAME: GOT matches the extended regular expression.
like() {
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3" "     got: '$1'" "expected to match: $2"
	fi
}

# unlike GOT ERE NAME
unlike() {
	if [[ $1 =~ $2 ]]; then
		fail "$3" "     got: '$1'" "expected not to match: $2"
	else
		pass "$3"
	fi
}

# skip NAME REASON: a test that did not run.
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

# skip_all REASON: the whole script does not apply here.
skip_all() {
	echo "1..0 # SKIP $1"
	_tap_planned=0
	exit 0
}

# bail REASON: stop everything; the harness reports an error.
bail() {
	echo "Bail out! $1"
	_tap_bailed=1
	exit 1
}

# done_testing: print the plan at the end when none was given up front.
done_testing() {
	if [ -z "$_tap_planned" ]; then
		echo "1..$_tap_n"
		_tap_planned=$_tap_n
	fi
	exit 0
}

# ---- preconditions ---------------------------------------------------------

command -v curl >/dev/null 2>&1 ||
	skip_all "curl not installed (apt-get install curl)"
command -v sqlite3 >/dev/null 2>&1 ||
	skip_all "sqlite3 not installed (apt-get install sqlite3)"
[ -x "$UH_D" ] || bail "usagehookd is not built: $UH_D (run make first)"
[ -x "$UH_CTL" ] || bail "usagehookctl is not built: $UH_CTL (run make first)"

# ---- temp dir and cleanup --------------------------------------------------

# Unix socket paths are limited to 108 bytes: keep $T short.
T=$(mktemp -d "${TMPDIR:-/tmp}/uh-it.XXXXXX") || bail "mktemp -d failed"
if [ "${#T}" -gt 70 ]; then
	rmdir "$T"
	T=$(mktemp -d /tmp/uh-it.XXXXXX) || bail "mktemp -d failed"
fi
UH_CONF=$T/usagehookd.yaml
UH_DB=$T/usagehookd.db
UH_LOG=$T/daemon.log
UH_PID=
UH_PORT=
UH_SOCK=
UH_LISTEN=
_uh_pids=()
_tap_bailed=0

# uh_track PID: kill PID at exit if it is still running.
uh_track() {
	_uh_pids+=("$1")
}

_uh_cleanup() {
	local rc=$? p
	for p in "${_uh_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if { [ "$_tap_failed" -gt 0 ] || [ "$_tap_bailed" -eq 1 ]; } &&
	    [ -s "$UH_LOG" ]; then
		diag "---- daemon log (last 40 lines of $UH_LOG)"
		diag "$(tail -n 40 "$UH_LOG")"
	fi
	if [ "$_tap_failed" -gt 0 ] && [ -s "$T/ctl.err" ]; then
		diag "---- usagehookctl stderr (last 20 lines)"
		diag "$(tail -n 20 "$T/ctl.err")"
	fi
	if [ -n "${UH_KEEP:-}" ]; then
		diag "kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _uh_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- configuration ---------------------------------------------------------

UH_SID=AC0123456789abcdef0123456789abcdef
UH_UTSID=UT0123456789abcdef0123456789abcdef
UH_TOKEN=f00dfacef00dfacef00dfacef00dface
UH_TOKEN2=5ec0d5ec0d5ec0d5ec0d5ec0d5ec0d5e
UH_BADTOKEN=baadbaadbaadbaadbaadbaadbaadbaad
UH_PATH=/twilio/usage
UH_PUBLIC_URL=

# A random port in 20000-60000 that nothing answers on right now.
uh_free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# mk_config [--tcp] [--public-url URL | --no-public-url] [--trusted YAML-LIST]
#           [--secondary] [EXTRA-YAML-LINE...]
# Writes $T/usagehookd.yaml (and the token files) for one account.
mk_config() {
	local tcp=0 public_url=http://hooks.test trusted='[127.0.0.1, unix]'
	local secondary=0 l
	while [ $# -gt 0 ]; do
		case $1 in
		--tcp) tcp=1 ;;
		--public-url) public_url=$2; shift ;;
		--no-public-url) public_url= ;;
		--trusted) trusted=$2; shift ;;
		--secondary) secondary=1 ;;
		--) shift; break ;;
		*) break ;;
		esac
		shift
	done
	(umask 077 && printf '%s' "$UH_TOKEN" >"$T/token" &&
	    printf '%s' "$UH_TOKEN2" >"$T/token2" &&
	    printf '%s' "$UH_BADTOKEN" >"$T/badtoken")
	if [ "$tcp" -eq 1 ]; then
		UH_PORT=$(uh_free_port) || bail "no free TCP port found"
		UH_SOCK=
		UH_LISTEN=127.0.0.1:$UH_PORT
	else
		UH_PORT=
		UH_SOCK=$T/http.sock
		UH_LISTEN=unix:$UH_SOCK
	fi
	UH_PUBLIC_URL=$public_url
	{
		echo "listen: \"$UH_LISTEN\""
		if [ -n "$public_url" ]; then
			echo "public_url: $public_url"
		fi
		echo "path: $UH_PATH"
		echo "database: $UH_DB"
		echo "trusted_proxies: $trusted"
		echo "accounts:"
		echo "  - sid: $UH_SID"
		echo "    auth_token_file: $T/token"
		if [ "$secondary" -eq 1 ]; then
			echo "    secondary_token_file: $T/token2"
		fi
		for l in "$@"; do
			echo "$l"
		done
	} >"$UH_CONF"
}

# The URL Twilio would have signed for the callback path under public_url.
uh_public() {
	echo "$UH_PUBLIC_URL$UH_PATH"
}

# ---- the daemon ------------------------------------------------------------

# uh_curl PATH [CURL-ARG...]: curl to the daemon's socket or port.
uh_curl() {
	local path=$1
	shift
	if [ -n "$UH_SOCK" ]; then
		curl -sS --max-time "${UH_CURL_TIMEOUT:-20}" --unix-socket "$UH_SOCK" \
		    "$@" "http://localhost$path"
	else
		curl -sS --max-time "${UH_CURL_TIMEOUT:-20}" \
		    "$@" "http://127.0.0.1:$UH_PORT$path"
	fi
}

# uh_status PATH [CURL-ARG...]: print only the status code (000: no answer);
# headers land in $T/resp.headers and the body in $T/resp.body.
uh_status() {
	local path=$1
	shift
	uh_curl "$path" -o "$T/resp.body" -D "$T/resp.headers" \
	    -w '%{http_code}' "$@" 2>"$T/resp.err" || true
}

# uh_header NAME: a header of the last uh_status answer (empty if absent).
uh_header() {
	tr -d '\r' <"$T/resp.headers" |
	    awk -v n="$1" 'BEGIN { n = tolower(n) }
	    { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
	    v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

# Wait (10 s at most) for /healthz to answer 200 while the daemon runs.
_uh_wait_ready() {
	local code end=$((SECONDS + 10))
	while [ "$SECONDS" -le "$end" ]; do
		kill -0 "$UH_PID" 2>/dev/null || return 1
		code=$(UH_CURL_TIMEOUT=1 uh_curl /healthz -o /dev/null \
		    -w '%{http_code}' 2>/dev/null) || true
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# uh_start [DAEMON-ARG...]: start usagehookd on $UH_CONF and wait until
# /healthz answers 200; bail with the daemon's log after ~10 s.
uh_start() {
	local attempt
	for attempt in 1 2 3 4 5; do
		echo "---- uh_start $attempt: $UH_D $* -c $UH_CONF" >>"$UH_LOG"
		"$UH_D" "$@" -c "$UH_CONF" >>"$T/daemon.out" 2>>"$UH_LOG" &
		UH_PID=$!
		uh_track "$UH_PID"
		if _uh_wait_ready; then
			return 0
		fi
		# Someone took our random port between the check and the bind.
		if [ -n "$UH_PORT" ] && ! kill -0 "$UH_PID" 2>/dev/null &&
		    grep -qiE 'in use|bind' <<<"$(tail -n 5 "$UH_LOG")"; then
			wait "$UH_PID" 2>/dev/null
			UH_PORT=$(uh_free_port) || break
			UH_LISTEN=127.0.0.1:$UH_PORT
			sed -i "s|^listen: .*|listen: \"$UH_LISTEN\"|" "$UH_CONF"
			continue
		fi
		break
	done
	diag "usagehookd did not answer 200 on /healthz within 10 s; config:"
	diag "$(cat "$UH_CONF")"
	bail "usagehookd did not start (see the daemon log below)"
}

# uh_stop: SIGTERM, wait up to 10 s, then SIGKILL. Sets UH_STATUS to the
# daemon's exit status (137 when it had to be killed).
uh_stop() {
	local i
	UH_STATUS=
	[ -n "$UH_PID" ] || return 0
	kill -TERM "$UH_PID" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$UH_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$UH_PID" 2>/dev/null; then
		diag "usagehookd ignored SIGTERM for 10 s: SIGKILL"
		kill -KILL "$UH_PID" 2>/dev/null
	fi
	wait "$UH_PID" 2>/dev/null
	UH_STATUS=$?
	UH_PID=
}

# uh_kill: SIGKILL at once, no draining (a crash).
uh_kill() {
	[ -n "$UH_PID" ] || return 0
	kill -KILL "$UH_PID" 2>/dev/null
	wait "$UH_PID" 2>/dev/null
	UH_PID=
}

# uh_alive: the daemon process still runs.
uh_alive() {
	[ -n "$UH_PID" ] && kill -0 "$UH_PID" 2>/dev/null
}

# ctl ARG...: usagehookctl on our config, bounded in time.
ctl() {
	timeout 30 "$UH_CTL" -c "$UH_CONF" "$@"
}

# uh_send ARG...: usagehookctl send; its stdout (the status line) only, its
# stderr goes to $T/ctl.err (shown when a test fails).
uh_send() {
	ctl send "$@" 2>>"$T/ctl.err"
}

# uh_wait SECONDS CMD...: run CMD until it succeeds, at most SECONDS long.
uh_wait() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# uh_certs NAME:SAN...: a test CA ($T/ca.pem) and for each NAME a
# certificate $T/NAME.pem and key $T/NAME.key for the subjectAltName SAN
# ("DNS:hooks.test", "IP:127.0.0.1"), signed by it. Bails when openssl fails.
uh_certs() {
	(
		cd "$T" || exit 1
		[ -f ca.pem ] || openssl req -x509 -newkey rsa:2048 -nodes \
		    -keyout ca.key -out ca.pem -days 2 -subj /CN=usagehookd-test-ca
		for n in "$@"; do
			openssl req -newkey rsa:2048 -nodes -keyout "${n%%:*}.key" \
			    -out "${n%%:*}.csr" -subj "/CN=${n##*:}" &&
			printf 'subjectAltName=%s\n' "${n#*:}" >"${n%%:*}.ext" &&
			openssl x509 -req -in "${n%%:*}.csr" -CA ca.pem \
			    -CAkey ca.key -CAcreateserial -out "${n%%:*}.pem" \
			    -days 2 -extfile "${n%%:*}.ext" || exit 1
		done
	) >>"$T/openssl.log" 2>&1 || bail "openssl could not make test certificates"
}

# sql QUERY: run a query on the daemon's database.
sql() {
	sqlite3 -batch -cmd '.timeout 5000' "$UH_DB" "$@"
}

# sql_eventually QUERY WANT: poll (up to 5 s) until QUERY prints WANT; print
# the last result. For rows the daemon writes after it has answered.
sql_eventually() {
	local got i
	for i in $(seq 1 50); do
		got=$(sql "$1" 2>&1)
		[ "$got" = "$2" ] && break
		sleep 0.1
	done
	printf '%s\n' "$got"
}

# ---- callbacks -------------------------------------------------------------

# uh_params TOKEN [NAME=VALUE | -NAME ...]: set the array PARAMS to a
# plausible UsageTrigger callback; NAME=VALUE replaces or adds, -NAME drops.
uh_params() {
	local tok=$1 o p name found
	shift
	PARAMS=("AccountSid=$UH_SID" "UsageTriggerSid=$UH_UTSID"
	    "IdempotencyToken=$tok" "DateFired=Mon, 24 Nov 2025 03:00:00 +0000"
	    "Recurring=daily" "UsageCategory=sms" "TriggerBy=count"
	    "TriggerValue=100" "CurrentValue=101"
	    "UsageRecordUri=/2010-04-01/Accounts/$UH_SID/Usage/Records/Today.json?Category=sms")
	for o in "$@"; do
		local next=()
		if [ "${o#-}" != "$o" ]; then
			for p in "${PARAMS[@]}"; do
				[ "${p%%=*}" = "${o#-}" ] || next+=("$p")
			done
		else
			name=${o%%=*}
			found=0
			for p in "${PARAMS[@]}"; do
				if [ "${p%%=*}" = "$name" ]; then
					next+=("$o")
					found=1
				else
					next+=("$p")
				fi
			done
			[ "$found" -eq 1 ] || next+=("$o")
		fi
		PARAMS=("${next[@]}")
	done
}

# urlencode STRING: percent-encode every byte but RFC 3986 unreserved ones.
urlencode() {
	local LC_ALL=C s=$1 i c out=
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[a-zA-Z0-9.~_-]) out+=$c ;;
		*) printf -v c '%%%02X' "'$c"; out+=$c ;;
		esac
	done
	printf '%s' "$out"
}

# uh_query: PARAMS as a query string (or a form body), without a leading '?'.
uh_query() {
	local p out=
	for p in "${PARAMS[@]}"; do
		out+="${out:+&}$(urlencode "${p%%=*}")=$(urlencode "${p#*=}")"
	done
	printf '%s' "$out"
}

# uh_sign URL [SIGN-ARG...] [NAME=VALUE...]: usagehookctl's signature.
uh_sign() {
	local url=$1
	shift
	ctl sign --url "$url" "$@"
}

# uh_post PATH SIGNATURE [CURL-ARG...]: POST PARAMS form-encoded with that
# X-Twilio-Signature (none when empty); prints the status code.
uh_post() {
	local path=$1 sig=$2 p args=()
	shift 2
	for p in "${PARAMS[@]}"; do
		args+=(--data-urlencode "$p")
	done
	if [ -n "$sig" ]; then
		args+=(-H "X-Twilio-Signature: $sig")
	fi
	uh_status "$path" "${args[@]}" "$@"
}

# uh_post_signed [CURL-ARG...]: POST PARAMS to the callback path, signed for
# the public URL with the account's token; prints the status code.
uh_post_signed() {
	local sig
	sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}") || {
		echo "sign-failed"
		return 0
	}
	uh_post "$UH_PATH" "$sig" "$@"
}

# metric NAME: a counter's value from the last $T/metrics fetch (sum over
# label sets when NAME has none); 0 when absent.
metric() {
	awk -v n="$1" '
	    /^#/ { next }
	    { k = $1; b = index(k, "{"); base = b ? substr(k, 1, b - 1) : k }
	    k == n || (index(n, "{") == 0 && base == n) { s += $2; seen = 1 }
	    END { printf "%d\n", seen ? s : 0 }' "$T/metrics"
}

# fetch_metrics: GET /metrics into $T/metrics; prints the status code.
fetch_metrics() {
	uh_curl /metrics -o "$T/metrics" -w '%{http_code}' 2>/dev/null || true
}
