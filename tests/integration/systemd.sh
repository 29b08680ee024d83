#!/usr/bin/env bash
# systemd.sh: the installed units as systemd sees them, with no systemd
# running: `systemd-analyze verify` prints nothing on them (in a root made of
# this install, the host's unit files and kill), `systemd-analyze security
# --offline=true` scores usagehookd.service 2.0 or lower, the unit says what
# DESIGN.md promises, and the unit, the socket, the sample config and the
# sample nginx site name the same socket and credential.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null 2>&1 ||
	skip_all "systemd-analyze not installed (apt-get install systemd)"
command -v make >/dev/null 2>&1 || skip_all "make not installed (apt-get install make)"
[ -n "${systemdsystemunitdir:-}" ] ||
	skip_all "configured without units (--with-systemdsystemunitdir=no)"
[ -n "${uh_sbindir:-}" ] || skip_all "uh_sbindir not set: run through make check"
HOST_UNITS=
for d in /lib/systemd/system /usr/lib/systemd/system; do
	[ -f "$d/multi-user.target" ] && HOST_UNITS=$d && break
done
[ -n "$HOST_UNITS" ] || skip_all "no systemd unit files on this host (apt-get install systemd)"
KILL=$(type -P kill) || skip_all "no kill binary (apt-get install procps)"
ENV=$(type -P env) || skip_all "no env binary (apt-get install coreutils)"

R=$T/root
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout 300 \
    make -C "$top_builddir" install DESTDIR="$R" >"$T/make.out" 2>&1 ||
	bail "make install DESTDIR=$R failed: $(tail -n 20 "$T/make.out")"
UNITDIR=$systemdsystemunitdir
SVC=$UNITDIR/usagehookd.service
SOCK=$UNITDIR/usagehookd.socket
[ -f "$R$SVC" ] || bail "make install put no $SVC under $R"

# The root verify needs: our install, the host's targets (sysinit.target,
# sockets.target, ...) in the unit path, and ExecReload's /usr/bin/env and
# /bin/kill.
mkdir -p "$R/lib/systemd/system" "$R/usr/bin"
cp -an "$HOST_UNITS/." "$R/lib/systemd/system/"
cp "$KILL" "$R/usr/bin/kill"
cp "$ENV" "$R/usr/bin/env"
[ -e "$R/bin" ] || ln -s usr/bin "$R/bin"
if [ "$UNITDIR" != /lib/systemd/system ]; then
	cp "$R$SVC" "$R$SOCK" "$R/lib/systemd/system/"
fi

out=$(systemd-analyze verify --root="$R" /lib/systemd/system/usagehookd.socket \
    /lib/systemd/system/usagehookd.service 2>&1)
rc=$?
is "$rc" 0 "systemd-analyze verify: exit 0"
is "$out" "" "systemd-analyze verify: no warning on either unit"

# verify does look: a typo and a missing binary are both reported.
sed 's/^UMask=/UMaks=/' "$R$SVC" >"$R/lib/systemd/system/usagehookd-typo.service"
like "$(systemd-analyze verify --root="$R" /lib/systemd/system/usagehookd-typo.service 2>&1)" \
    "Unknown key" "(verify reports an unknown key: the check is real)"
rm -f "$R/lib/systemd/system/usagehookd-typo.service"

out=$(systemd-analyze security --offline=true --root="$R" \
    /lib/systemd/system/usagehookd.service 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for usagehookd.service: \([0-9.]*\).*/\1/p')
diag "systemd-analyze security --offline=true: ${score:-?}" \
    "$(printf '%s\n' "$out" | grep '✗' | sed 's/  */ /g')"
ok "exposure $score is 2.0 or lower" awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'
systemd-analyze security --offline=true --threshold=20 --root="$R" \
    /lib/systemd/system/usagehookd.service >/dev/null 2>&1
is "$?" 0 "systemd-analyze security --threshold=20 (2.0): exit 0"

# What DESIGN.md and the issue promise, read from the installed unit.
# key KEY: the value of KEY in the installed service unit (last one wins).
key() {
	sed -n "s/^$1=//p" "$R$SVC" | tail -n 1
}
is "$(key Type)" notify "Type=notify"
is "$(key NotifyAccess)" main "NotifyAccess=main"
like "$(key WatchdogSec)" '^[0-9]+s?$' "WatchdogSec= set"
is "$(key DynamicUser)" yes "DynamicUser=yes"
is "$(key StateDirectory)" usagehookd "StateDirectory=usagehookd"
is "$(key ConfigurationDirectory)" usagehookd "ConfigurationDirectory=usagehookd"
is "$(key RuntimeDirectory)" usagehookd "RuntimeDirectory=usagehookd"
is "$(key RuntimeDirectoryMode)" 0755 "RuntimeDirectoryMode=0755: nginx can reach the socket"
is "$(key RuntimeDirectoryPreserve)" yes "RuntimeDirectoryPreserve=yes: a socket unit's file survives restarts"
is "$(key LogsDirectory)" usagehookd "LogsDirectory=usagehookd (for append actions)"
like "$(key LoadCredential)" '^twilio-auth-token:/' "LoadCredential=twilio-auth-token:..."
like "$(key ExecReload)" 'kill -HUP \$MAINPID' "ExecReload sends SIGHUP"

# One socket path and one credential path across the shipped files.
sock_path=$(sed -n 's/^ListenStream=\(\/.*\)/\1/p' "$R$SOCK" | head -n 1)
is "$sock_path" /run/usagehookd/http.sock "usagehookd.socket listens on /run/usagehookd/http.sock"
is "$(sed -n 's/^SocketMode=//p' "$R$SOCK")" 0666 "with mode 0666, as the daemon makes its own"
like "$(cat "$top_srcdir/etc/nginx/usagehookd.conf")" "server unix:$sock_path;" \
    "the nginx sample's upstream is that socket"
like "$(cat "$top_srcdir/etc/usagehookd.yaml")" "(^|
)listen: unix:$sock_path" "the sample config listens there"
cred=$(sed -n 's/^LoadCredential=\([^:]*\):.*/\1/p' "$R$SVC")
like "$(cat "$top_srcdir/etc/usagehookd.yaml")" \
    "auth_token_file: (\\\$CREDENTIALS_DIRECTORY|\\\$\\{CREDENTIALS_DIRECTORY\\}|/run/credentials/usagehookd.service)/$cred" \
    "the sample config reads the credential LoadCredential= provides ($cred)"

# Every credential the sample's active lines name is one the unit loads, and
# every append file is in a directory the unit lets the service write.
active=$(sed -e 's/#.*//' "$top_srcdir/etc/usagehookd.yaml")
loaded=" $(sed -n 's/^LoadCredential=\([^:]*\):.*/\1/p' "$R$SVC" | tr '\n' ' ')"
named=$(printf '%s\n' "$active" |
    grep -oE '(\$CREDENTIALS_DIRECTORY|\$\{CREDENTIALS_DIRECTORY\}|/run/credentials/usagehookd\.service)/[A-Za-z0-9_.-]+' |
    sed 's|.*/||' | sort -u | tr '\n' ' ')
missing=
for c in $named; do
	case $loaded in *" $c "*) ;; *) missing="$missing $c" ;; esac
done
is "$missing" "" "the sample names no credential the unit does not load (${named% })"
for f in $(printf '%s\n' "$active" | sed -n 's/^ *- *append: *//p'); do
	like "$f" "^/var/(log|lib)/usagehookd/" "the sample's append $f is under LogsDirectory= or StateDirectory="
done
like "$(grep -E '^ *#?- *append:' "$top_srcdir/etc/usagehookd.yaml")" '/var/log/usagehookd/' \
    "the sample's append example writes under /var/log/usagehookd (LogsDirectory=), as README says"

done_testing
