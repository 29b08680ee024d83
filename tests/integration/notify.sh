#!/usr/bin/env bash
# shellcheck disable=SC2119
# notify.sh: the systemd protocols without systemd. A fake NOTIFY_SOCKET sees
# READY=1 once the socket answers, RELOADING=1 then READY=1 on SIGHUP (also a
# refused reload), WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM,
# in order and from the daemon's own pid; an @abstract NOTIFY_SOCKET works.
# Socket activation (sd_listen_fds): a TCP and a Unix socket passed together
# are served instead of `listen`, only the Unix one counts as "unix" for
# trusted_proxies, and the socket file is left to systemd.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

NL=$top_builddir/tests/fixtures/notify-listen
[ -x "$NL" ] || bail "not built: $NL (make check builds it)"

# wait_line ERE FILE [SECONDS]: until a line of FILE matches (default 10 s).
wait_line() {
	local end=$((SECONDS + ${3:-10}))
	while [ "$SECONDS" -le "$end" ]; do
		grep -qE "$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# listen_notify ADDRESS: a fake systemd notification socket; its lines ("PID
# ASSIGNMENT") go to $T/notify.out.
listen_notify() {
	: >"$T/notify.out"
	"$NL" -t 60 -x STOPPING=1 "$1" >"$T/notify.out" 2>>"$UH_LOG" &
	NL_PID=$!
	uh_track "$NL_PID"
	wait_line '^# listening' "$T/notify.out" ||
	    bail "notify-listen did not bind $1"
}

# start_env VAR=VALUE...: usagehookd on $UH_CONF with these in its environment.
start_env() {
	echo "---- start_env $*" >>"$UH_LOG"
	env "$@" "$UH_D" -c "$UH_CONF" >>"$T/daemon.out" 2>>"$UH_LOG" &
	UH_PID=$!
	uh_track "$UH_PID"
}

# states: the READY/RELOADING/STOPPING assignments received, in order.
states() {
	awk '$2 ~ /^(READY|RELOADING|STOPPING)=1$/ { printf "%s%s", sep, $2; sep = " " }' \
	    "$T/notify.out"
}

# count_watchdog: WATCHDOG=1 pings received so far.
count_watchdog() {
	grep -c ' WATCHDOG=1$' "$T/notify.out"
}

# -- The whole life: READY, RELOADING + READY (twice), WATCHDOG, STOPPING.
mk_config
listen_notify "$T/notify.sock"
start_env NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000
main_pid=$UH_PID
ok "READY=1 sent after start-up" wait_line ' READY=1$' "$T/notify.out"
# No retry here: once READY=1 is out, the socket must answer at once.
is "$(UH_CURL_TIMEOUT=2 uh_status /healthz)" 200 \
    "once READY=1 is sent, /healthz answers 200 at the first try"
like "$(cat "$T/notify.out")" " STATUS=listening on unix:$T/http.sock" \
    "STATUS= says where it listens"

sleep 1.6
n=$(count_watchdog)
ok "WATCHDOG=1 every half WATCHDOG_USEC (1 s): $n pings in ~1.6 s" \
    [ "$n" -ge 2 ] && [ "$n" -le 6 ]

kill -HUP "$UH_PID"
ok "SIGHUP: RELOADING=1 then READY=1" wait_line ' STATUS=reloaded ' "$T/notify.out"
like "$(cat "$T/notify.out")" " MONOTONIC_USEC=[0-9]+" \
    "RELOADING=1 carries MONOTONIC_USEC"

cp "$UH_CONF" "$T/good.yaml"
echo "limits: { max_body: nonsense }" >>"$UH_CONF"
kill -HUP "$UH_PID"
ok "refused reload: still READY=1 afterwards, STATUS says refused" \
    wait_line ' STATUS=reload of .* refused' "$T/notify.out"
cp "$T/good.yaml" "$UH_CONF"
is "$(uh_status /healthz)" 200 "the running configuration still serves"

uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
wait_line ' STOPPING=1$' "$T/notify.out" 2
is "$(states)" "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1" \
    "the states arrived in order"
is "$(awk '$1 != "#" { print $1 }' "$T/notify.out" | sort -u)" "$main_pid" \
    "every message came from the daemon's own pid"
ok "after STOPPING=1 nothing but watchdog pings" [ -z "$(awk '
    $2 == "STOPPING=1" { s = 1; next } s && $2 !~ /^(WATCHDOG=1|STATUS=)/' \
    "$T/notify.out")" ]
wait "$NL_PID" 2>/dev/null

# -- Without WATCHDOG_USEC there is nothing to ping.
listen_notify "$T/notify.sock"
start_env NOTIFY_SOCKET="$T/notify.sock"
wait_line ' READY=1$' "$T/notify.out"
sleep 0.8
is "$(count_watchdog)" 0 "no WATCHDOG_USEC: no pings"
uh_stop
is "$UH_STATUS" 0 "exit 0"
wait "$NL_PID" 2>/dev/null

# -- WATCHDOG_PID naming another process: the pings are not ours to send.
listen_notify "$T/notify.sock"
start_env NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 WATCHDOG_PID=1
wait_line ' READY=1$' "$T/notify.out"
sleep 0.8
is "$(count_watchdog)" 0 "WATCHDOG_PID of another process: no pings"
uh_stop
wait "$NL_PID" 2>/dev/null

# -- An abstract NOTIFY_SOCKET ("@name"), as systemd may hand out.
abstract="@uh-notify-$$-$RANDOM"
listen_notify "$abstract"
start_env NOTIFY_SOCKET="$abstract"
ok "abstract NOTIFY_SOCKET: READY=1 received" wait_line ' READY=1$' "$T/notify.out"
uh_stop
ok "abstract NOTIFY_SOCKET: STOPPING=1 received" \
    wait_line ' STOPPING=1$' "$T/notify.out" 2
is "$UH_STATUS" 0 "exit 0"
wait "$NL_PID" 2>/dev/null

# -- No NOTIFY_SOCKET, or a nonsense one: runs as before.
start_env NOTIFY_SOCKET=not-a-socket-address
ok "a malformed NOTIFY_SOCKET is survived" _uh_wait_ready
like "$(cat "$UH_LOG")" "NOTIFY_SOCKET=not-a-socket-address: neither" \
    "and named in the log"
uh_stop
is "$UH_STATUS" 0 "exit 0"

# -- LISTEN_FDS meant for another process: the listen key applies.
start_env LISTEN_FDS=1 LISTEN_PID=1
ok "LISTEN_PID of another process: serves the listen key" _uh_wait_ready
uh_stop

# -- Socket activation: systemd-socket-activate passes a TCP and a Unix socket.
if ! command -v systemd-socket-activate >/dev/null 2>&1; then
	skip "socket activation" \
	    "systemd-socket-activate not installed (apt-get install systemd)"
	done_testing
fi
mk_config --no-public-url --trusted '[unix]'
sed -i "s|^listen: .*|listen: \"unix:$T/unused.sock\"|" "$UH_CONF"
act_port=$(uh_free_port) || bail "no free TCP port found"
act_sock=$T/act.sock
listen_notify "$T/notify.sock"
echo "---- systemd-socket-activate" >>"$UH_LOG"
# It binds, waits for the first connection, then execs the daemon in its pid.
systemd-socket-activate -l "127.0.0.1:$act_port" -l "$act_sock" \
    --fdname=web:proxy -E NOTIFY_SOCKET="$T/notify.sock" \
    "$UH_D" -c "$UH_CONF" >>"$T/daemon.out" 2>>"$UH_LOG" &
UH_PID=$!
uh_track "$UH_PID"
wait_line "Listening on $act_sock" "$UH_LOG" || bail "systemd-socket-activate did not listen"
UH_SOCK=$act_sock
UH_PORT=''
is "$(uh_status /healthz)" 200 "activated Unix socket: the first connection is served"
ok "READY=1 after activation" wait_line ' READY=1$' "$T/notify.out"
like "$(cat "$T/notify.out")" " STATUS=listening on sockets passed by systemd" \
    "STATUS= says the sockets came from systemd"
UH_SOCK=''
UH_PORT=$act_port
is "$(uh_status /healthz)" 200 "activated TCP socket: served too"
ok "the listen key was not used" [ ! -e "$T/unused.sock" ]
like "$(cat "$UH_LOG")" "socket 3 \\(web\\) passed by systemd" \
    "the log names the passed sockets (LISTEN_FDNAMES)"

PUB=https://hooks.example.com
FWD=(-H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Host: hooks.example.com')
uh_params act-unix
UH_SOCK=$act_sock
UH_PORT=''
is "$(uh_post "$UH_PATH" "$(uh_sign "$PUB$UH_PATH" "${PARAMS[@]}")" "${FWD[@]}")" 200 \
    "over the activated Unix socket forwarded headers are trusted ('unix')"
uh_params act-tcp
UH_SOCK=''
UH_PORT=$act_port
is "$(uh_post "$UH_PATH" "$(uh_sign "$PUB$UH_PATH" "${PARAMS[@]}")" "${FWD[@]}")" 403 \
    "over the activated TCP socket they are not, though a Unix one is served too"

uh_stop
is "$UH_STATUS" 0 "SIGTERM under activation: exit 0"
ok "the activated socket file is left for systemd" [ -S "$act_sock" ]
is "$(states)" "READY=1 STOPPING=1" "READY=1 then STOPPING=1"

done_testing
