#!/usr/bin/env bash
# shellcheck disable=SC2119
# oversize.sh: hostile sizes. A 10 MB body (with Content-Length, or chunked
# with none) is refused with 413 before it is read whole: the client is
# cut off early and the daemon's peak memory does not grow by anything like
# 10 MB. A header flood on the callback path gets 431 up to 4 x max_header
# and 400 from libevent beyond; the daemon serves on, and counts them.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config --tcp	# bash's /dev/tcp is the raw client here
uh_start

BIG=$((10 * 1024 * 1024))
CHUNK=65536
# kib FIELD: VmHWM (peak) or VmRSS of the daemon, in KiB.
kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$UH_PID/status"; }

# big_post SIZE [chunked]: POST SIZE bytes of form body on a raw connection,
# the body written in 64 KiB blocks by a separate writer; prints the status
# line the daemon answered and how many bytes the writer got out.
big_post() {
	local size=$1 mode=${2:-length} status w
	rm -f "$T/written"
	exec 5<>"/dev/tcp/127.0.0.1/$UH_PORT" || { echo "connect-failed 0"; return; }
	if [ "$mode" = chunked ]; then
		printf 'POST %s HTTP/1.1\r\nHost: hooks.test\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n' \
		    "$UH_PATH" application/x-www-form-urlencoded >&5
	else
		printf 'POST %s HTTP/1.1\r\nHost: hooks.test\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n' \
		    "$UH_PATH" application/x-www-form-urlencoded "$size" >&5
	fi
	(
		trap '' PIPE
		block=$(head -c "$CHUNK" /dev/zero | tr '\0' a)
		n=0
		while [ "$n" -lt "$size" ]; do
			if [ "$mode" = chunked ]; then
				printf '%x\r\n%s\r\n' "$CHUNK" "$block" || break
			else
				printf '%s' "$block" || break
			fi
			n=$((n + CHUNK))
			echo "$n" >"$T/written"
		done
		[ "$mode" != chunked ] || printf '0\r\n\r\n'
	) >&5 2>/dev/null &
	w=$!
	status=$(timeout 20 head -n 1 <&5 | tr -d '\r')
	# The writer ends when the daemon closes (or when it sent everything).
	timeout 20 tail --pid="$w" -f /dev/null
	kill "$w" 2>/dev/null
	wait "$w" 2>/dev/null
	exec 5>&-
	echo "${status:-no-answer} $(cat "$T/written" 2>/dev/null || echo 0)"
}

hwm0=$(kib VmHWM)
rss0=$(kib VmRSS)

got=$(big_post "$BIG")
like "$got" '^HTTP/1\.1 413 ' "10 MB body with Content-Length: 413"
sent=${got##* }
ok "the daemon closed before the body was sent ($sent of $BIG bytes got out)" \
    [ "$sent" -lt $((BIG / 2)) ]

got=$(big_post "$BIG" chunked)
like "$got" '^HTTP/1\.1 413 ' "10 MB chunked body (no Content-Length): 413"
sent=${got##* }
ok "the daemon closed before the chunked body was sent ($sent of $BIG bytes got out)" \
    [ "$sent" -lt $((BIG / 2)) ]

# Between max_body (64 KiB) and libevent's cap (4 x): the daemon's own 413.
got=$(big_post $((3 * 65536)))
like "$got" '^HTTP/1\.1 413 ' "192 KiB body (over max_body, under 4 x): 413"

hwm1=$(kib VmHWM)
rss1=$(kib VmRSS)
diag "VmHWM ${hwm0} -> ${hwm1} KiB, VmRSS ${rss0} -> ${rss1} KiB after the 10 MB bodies"
ok "peak memory grew by less than 4 MiB for two 10 MB bodies ($((hwm1 - hwm0)) KiB)" \
    [ $((hwm1 - hwm0)) -lt 4096 ]
is "$(sql 'SELECT count(*) FROM callbacks')" 0 "nothing stored from them"
is "$(uh_status /healthz)" 200 "still healthy after the big bodies"

# Header floods on the callback path, properly signed.
uh_params flood-ok
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
# flood N: N headers "X-Flood-i: v" as curl arguments in FLOOD.
flood() {
	local i
	FLOOD=()
	for ((i = 1; i <= $1; i++)); do
		FLOOD+=(-H "X-Flood-$i: v")
	done
}
flood 1000	# about 16 KiB: over max_header (8 KiB), under 4 x
is "$(uh_post "$UH_PATH" "$sig" "${FLOOD[@]}")" 431 "1000 headers (16 KiB): 431"
# curl takes its arguments from a file here: 4000 of them are too many for argv.
flood_config() {
	local i
	for ((i = 1; i <= $1; i++)); do
		printf 'header = "X-Flood-%d: v"\n' "$i"
	done
}
flood_config 4000 >"$T/flood.curlrc"	# about 64 KiB: over 4 x max_header
is "$(uh_post "$UH_PATH" "$sig" -K "$T/flood.curlrc")" 400 \
    "4000 headers (64 KiB, over libevent's cap of 4 x max_header): 400"
# One 1 MiB header on a raw connection (curl cannot take it): libevent
# stops reading at its cap, answers 400 and closes.
exec 5<>"/dev/tcp/127.0.0.1/$UH_PORT"
(
	trap '' PIPE
	printf 'POST %s HTTP/1.1\r\nHost: hooks.test\r\nX-Twilio-Signature: %s\r\nX-Huge: ' \
	    "$UH_PATH" "$sig"
	head -c $((1024 * 1024)) /dev/zero | tr '\0' h
	printf '\r\nContent-Length: 0\r\n\r\n'
) >&5 2>/dev/null &
w=$!
is "$(timeout 20 head -n 1 <&5 | tr -d '\r' | cut -d' ' -f2)" 400 "one 1 MiB header: 400"
timeout 20 tail --pid="$w" -f /dev/null
kill "$w" 2>/dev/null
wait "$w" 2>/dev/null
exec 5>&-
printf 'header = "X-Big: %s"\n' "$(head -c 12000 /dev/zero | tr '\0' h)" >"$T/big.curlrc"
is "$(uh_post "$UH_PATH" "$sig" -K "$T/big.curlrc")" 431 "one 12 KB header: 431"
is "$(sql "SELECT count(*) FROM callbacks")" 0 "nothing stored from the floods"
# The same limit on every path, not only the callback's.
is "$(uh_status /healthz "${FLOOD[@]}")" 431 "/healthz with 1000 headers: 431"
is "$(uh_status /metrics "${FLOOD[@]}")" 431 "/metrics with 1000 headers: 431"
is "$(uh_status /elsewhere "${FLOOD[@]}")" 431 "an unknown path with 1000 headers: 431"

hwm2=$(kib VmHWM)
diag "VmHWM ${hwm1} -> ${hwm2} KiB after the header floods"
ok "peak memory grew by less than 4 MiB for the header floods ($((hwm2 - hwm1)) KiB)" \
    [ $((hwm2 - hwm1)) -lt 4096 ]

# And the same callback, without the flood, is taken.
is "$(uh_post "$UH_PATH" "$sig")" 200 "the same callback without the flood: 200"
is "$(uh_status /healthz)" 200 "healthy"
fetch_metrics >/dev/null
# libevent's own 413s and 400s never reach the daemon: it may not count them.
like "$(metric usagehookd_body_too_large_total)" '^[1-3]$' \
    "/metrics counts the 413 the daemon answered itself"
like "$(metric usagehookd_header_too_large_total)" '^[5-7]$' "/metrics counts the five 431s"
ok "daemon still running" uh_alive
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
