#!/usr/bin/env bash
# systemd-pid1.sh: the installed units under a real systemd, booted as PID 1
# of private PID, mount, UTS, IPC, network and cgroup namespaces (issue 17).
#
# The boot: `unshare` the namespaces, then (as the namespace's PID 1, this
# script with --pid1) private tmpfs on /run, /tmp, /var/tmp, /var/lib and
# /var/log, a private /dev, /sys and /proc/sys read-only, cgroup2 on
# /sys/fs/cgroup (a cgroup of our own, below ours), /etc the host's seen
# through an overlay whose writes stay in a tmpfs, the generators and the
# boot units that write to the machine masked, `container=` in the
# environment, and `exec systemd --system`. Nothing of it reaches the host:
# the test looks for its mounts on the host afterwards, and removes its
# cgroup; its own directory ($T) is bound at /run/uhtest there.
#
# Why LoadCredential= "did not work" in such a namespace: systemd builds a
# service's credentials on a ramfs in a helper's mount namespace and moves it
# to /run/credentials/UNIT, which reaches the manager's namespace only by
# mount propagation. On a host, systemd as PID 1 makes / shared at boot; with
# container= set it leaves propagation to the container manager, and
# `unshare --propagation private` had left everything private. The service
# then saw the bare 0700 root-owned directory: EACCES. Fixed here by
# `mount --make-rshared /` after the namespace is private (new peer groups,
# none shared with the host); the unit and the daemon were not at fault.
#
# Then, on the units as `make install` writes them (paths moved to where the
# namespace sees them) and the sample config as shipped:
#  - the sample passes `usagehookd --check-config` the way README's
#    deployment section runs it, before the first start;
#  - `systemctl start` returns after READY=1 (/healthz 200 at once);
#  - a callback signed with the token is accepted, the daemon having read it
#    from LoadCredential='s directory, by a dynamic user;
#  - an exec action (a /bin/sh script) and an append action write under
#    LogsDirectory=, with the full hardening of the shipped unit;
#  - without the token file the start fails with status=243/CREDENTIALS;
#  - `systemctl reload` with a good file succeeds, with a bad one fails and
#    the service keeps running on the old file (this found that systemd 252
#    gives ExecReload= no credentials in a sandbox: the unit's check now runs
#    as root with CREDENTIALS_DIRECTORY=/etc/usagehookd);
#  - WatchdogSec= (a drop-in) plus `kill -STOP`: systemd restarts it;
#  - `systemctl stop`: Result=success;
#  - usagehookd.socket: a request to the socket starts the stopped service;
#  - `systemd-analyze security` on the running unit: 2.0 or lower;
#  - `journalctl -p warning -u usagehookd` shows the refused request.
#
# UH_DEB=FILE: the same on the .deb, as on a fresh Debian 12 host: apt-get
# install in the namespace (/usr, /var/lib, /var/cache overlays too), enable
# --now, and apt-get purge at the end.
#
# Needs root, unshare/nsenter (util-linux), systemd, and a cgroup2 hierarchy
# this process may create a cgroup in; else it skips, saying which. On this
# machine (Debian 12, systemd 252) every check runs; none needs a real host,
# but README lists what an operator should still look at on one.
# uh_sbindir, uh_bindir, uh_sysconfdir, systemdsystemunitdir come from make
# check; _tap_* and top_builddir from lib.sh.
# shellcheck disable=SC2154
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

# ---- the namespace's PID 1: set up, then become systemd --------------------
# Run by unshare (below) as: bash systemd-pid1.sh --pid1 HOSTDIR. Everything
# here happens in the new mount namespace, made private by unshare first.
if [ "${1:-}" = --pid1 ]; then
	set -eu
	H=$2
	MODE=$3
	# /sys read-only: "remount,bind" changes this mount only, not sysfs.
	mount --bind /sys /sys
	mount -o remount,bind,ro,nosuid,nodev,noexec /sys
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
	mount --bind /proc/sys /proc/sys
	mount -o remount,bind,ro /proc/sys
	if [ -e /proc/sysrq-trigger ]; then
		mount --bind /proc/sysrq-trigger /proc/sysrq-trigger
		mount -o remount,bind,ro /proc/sysrq-trigger
	fi
	# A /dev of our own: journald's /dev/log symlink, devpts, /dev/shm
	# (where systemd builds credentials) must not be the host's.
	mount -t tmpfs -o mode=755,nosuid,size=4m tmpfs /dev
	for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" \
	    "tty 5 0"; do
		read -r name major minor <<<"$n"
		mknod -m 666 "/dev/$name" c "$major" "$minor"
	done
	mkdir -m 755 /dev/pts /dev/shm /dev/mqueue
	mount -t devpts -o newinstance,ptmxmode=0666,mode=620,nosuid,noexec \
	    devpts /dev/pts
	ln -s pts/ptmx /dev/ptmx
	mount -t tmpfs -o mode=1777,nosuid,nodev,size=16m tmpfs /dev/shm
	ln -s /proc/self/fd /dev/fd
	ln -s fd/0 /dev/stdin
	ln -s fd/1 /dev/stdout
	ln -s fd/2 /dev/stderr
	touch /dev/console
	mount --bind "$H/console" /dev/console
	# /run, and the test's directory in it (before /tmp is covered).
	mount -t tmpfs -o mode=755,nosuid,nodev,size=64m tmpfs /run
	mkdir -m 700 /run/uhtest /run/uhroot
	mount --bind "$H" /run/uhtest
	# The installed tree, where the dynamic user can reach it.
	mount --bind "$H/root" /run/uhroot
	for d in /tmp /var/tmp; do
		mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$d"
	done
	mount -t tmpfs -o mode=755,nosuid,nodev,size=64m tmpfs /var/log
	# /etc: the host's; what is written there stays in the namespace. With a
	# .deb to install, /usr, /var/lib (dpkg's database) and /var/cache too.
	ovl="etc"
	if [ "$MODE" = deb ]; then
		ovl="etc usr var/lib var/cache"
	else
		mount -t tmpfs -o mode=755,nosuid,nodev,size=64m tmpfs /var/lib
	fi
	# The overlays' upper layers on a tmpfs of the namespace: nothing is
	# written to the host's disks, and this works where /tmp is an overlay.
	mkdir -m 700 /run/uhovl
	mount -t tmpfs -o mode=700,size=1g tmpfs /run/uhovl
	for d in $ovl; do
		u=/run/uhovl/${d//\//-}
		mkdir -p "$u/upper" "$u/work"
		mount -t overlay -o "lowerdir=/$d,upperdir=$u/upper,workdir=$u/work" \
		    overlay "/$d"
	done
	# None of the host's enabled units, no generators (fstab, sysv, getty).
	mount -t tmpfs -o mode=755,size=4m tmpfs /etc/systemd/system
	for d in /usr/lib/systemd/system-generators /lib/systemd/system-generators; do
		if [ -d "$d" ] && ! mountpoint -q "$d"; then
			mount -t tmpfs -o mode=755,size=1m,ro tmpfs "$d"
		fi
	done
	mkdir -p /run/systemd/system
	while read -r u; do
		ln -s /dev/null "/run/systemd/system/$u"
	done </run/uhtest/masks
	cp /run/uhtest/units/* /run/systemd/system/
	# systemd makes / shared when the kernel starts it, not in a container:
	# without this, services never see their /run/credentials mount.
	mount --make-rshared /
	exec env -i container=usagehookd-test \
	    PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    /lib/systemd/systemd --system --unit=uh-test.target \
	    --log-target=journal-or-kmsg --show-status=no
fi

. "$(dirname "$0")/lib.sh"

# ---- what it needs ---------------------------------------------------------

[ "$(id -u)" = 0 ] || skip_all "needs root (it mounts and boots systemd in namespaces)"
for c in unshare nsenter mountpoint findmnt systemd-analyze make; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed (apt-get install util-linux systemd make)"
done
[ -x /lib/systemd/systemd ] || skip_all "no /lib/systemd/systemd (apt-get install systemd)"
# UH_DEB=FILE: the .deb instead of this build (apt-get install, enable --now).
MODE=build
if [ -n "${UH_DEB:-}" ]; then
	[ -f "$UH_DEB" ] || bail "UH_DEB=$UH_DEB: no such file"
	command -v apt-get >/dev/null 2>&1 || skip_all "UH_DEB given but no apt-get here"
	UH_DEB=$(cd "$(dirname "$UH_DEB")" && pwd)/$(basename "$UH_DEB")
	MODE=deb
else
	[ -n "${systemdsystemunitdir:-}" ] ||
		skip_all "configured without units (--with-systemdsystemunitdir=no)"
	for v in uh_sbindir uh_bindir uh_sysconfdir; do
		[ -n "${!v:-}" ] || skip_all "$v not set: run through make check"
	done
fi
cg2=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
[ -n "$cg2" ] || skip_all "no cgroup2 hierarchy mounted (systemd needs one)"
mycg=$(sed -n 's/^0:://p' /proc/self/cgroup)
CG=$cg2${mycg%/}/usagehookd-pid1.$$
mkdir "$CG" 2>/dev/null ||
	skip_all "cannot create a cgroup under $cg2${mycg%/} (not delegated to us?)"
NSPID=
UNSHARE_PID=

# teardown: kill the namespace's PID 1 (the kernel then kills every process
# in it, and the mounts go with the namespace), bounded; remove our cgroup.
teardown() {
	local _
	if [ -n "$NSPID" ] && kill -0 "$NSPID" 2>/dev/null; then
		kill -KILL "$NSPID" 2>/dev/null
	fi
	NSPID=
	if [ -n "$UNSHARE_PID" ]; then
		for _ in $(seq 1 100); do
			kill -0 "$UNSHARE_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$UNSHARE_PID" 2>/dev/null
		wait "$UNSHARE_PID" 2>/dev/null
		UNSHARE_PID=
	fi
	if [ -d "$CG" ]; then
		for _ in $(seq 1 50); do
			find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$CG" ] || break
			sleep 0.1
		done
	fi
}
_pid1_exit() {
	local rc=$?
	if { [ "$_tap_failed" -gt 0 ] || [ "$_tap_bailed" -eq 1 ]; } &&
	    [ -n "$NSPID" ]; then
		diag "---- journal of the namespace (last 60 lines)"
		diag "$(ns journalctl --no-pager -n 60 2>&1)"
	fi
	teardown
	[ -d "$CG" ] && diag "could not remove the cgroup $CG"
	(exit "$rc")
	_uh_cleanup
}
trap _pid1_exit EXIT

# ns CMD...: CMD inside the namespaces (systemctl talks to our systemd),
# with a clean environment, 60 s at most.
ns() {
	timeout "${NS_TIMEOUT:-60}" nsenter -t "$NSPID" -m -u -i -n -p -- \
	    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_PAGER= \
	    SYSTEMD_COLORS=0 LC_ALL=C "$@"
}
# sctl ARG...: systemctl in the namespace.
sctl() {
	ns systemctl --no-pager --no-ask-password "$@"
}
# prop UNIT PROPERTY
prop() {
	sctl show -p "$2" --value "$1" 2>/dev/null
}

# ---- the install, the units, the boot --------------------------------------

R=$T/root
mkdir -p "$T/units" "$R"
: >"$T/console"
if [ "$MODE" = deb ]; then
	# apt-get installs it in the namespace: /usr, /etc, /var/lib and
	# /var/cache are overlays there, their writes kept in a tmpfs.
	cp "$UH_DEB" "$T/pkg.deb"
	SBIN=/usr/sbin
	BIN=/usr/bin
else
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout 300 \
	    make -C "$top_builddir" install DESTDIR="$R" >"$T/make.out" 2>&1 ||
		bail "make install DESTDIR=$R failed: $(tail -n 20 "$T/make.out")"
	chmod 755 "$R"
	SVC_IN=$R$systemdsystemunitdir/usagehookd.service
	SOCK_IN=$R$systemdsystemunitdir/usagehookd.socket
	if [ ! -f "$SVC_IN" ] || [ ! -f "$SOCK_IN" ]; then
		bail "make install put no units in $R$systemdsystemunitdir"
	fi
	SAMPLE=$R$uh_sysconfdir/usagehookd/usagehookd.yaml
	[ -f "$SAMPLE" ] || bail "make install put no sample config at $SAMPLE"
	# The installed units as runtime units: the programs where the
	# namespace sees the install (/run/uhroot), the config and credential
	# in /etc/usagehookd (ConfigurationDirectory=) whatever sysconfdir is.
	for u in "$SVC_IN" "$SOCK_IN"; do
		sed -e "s|$uh_sbindir/|/run/uhroot$uh_sbindir/|g" \
		    -e "s|$uh_sysconfdir/usagehookd\([/ ]\)|/etc/usagehookd\1|g" \
		    "$u" >"$T/units/${u##*/}"
	done
	SBIN=/run/uhroot$uh_sbindir
	BIN=/run/uhroot$uh_bindir
fi
cat >"$T/units/uh-test.target" <<'EOF'
[Unit]
Description=usagehookd test boot (tests/integration/systemd-pid1.sh)
Requires=sysinit.target
After=sysinit.target
Wants=systemd-journald.socket
EOF
# Boot units that would write to the machine (clock, sysctl, modules, udev,
# tmpfiles, swap, the journal's catalog, ...): masked.
cat >"$T/masks" <<'EOF'
systemd-tmpfiles-setup.service
systemd-tmpfiles-setup-dev.service
systemd-tmpfiles-clean.service
systemd-tmpfiles-clean.timer
systemd-sysusers.service
ldconfig.service
systemd-machine-id-commit.service
systemd-random-seed.service
systemd-update-utmp.service
systemd-update-utmp-runlevel.service
systemd-sysctl.service
systemd-modules-load.service
systemd-binfmt.service
proc-sys-fs-binfmt_misc.automount
proc-sys-fs-binfmt_misc.mount
systemd-firstboot.service
systemd-repart.service
systemd-pcrphase.service
systemd-pcrphase-sysinit.service
systemd-remount-fs.service
systemd-timesyncd.service
systemd-pstore.service
kmod-static-nodes.service
systemd-udevd.service
systemd-udev-trigger.service
systemd-udev-settle.service
systemd-udevd-control.socket
systemd-udevd-kernel.socket
systemd-hwdb-update.service
systemd-journal-catalog-update.service
systemd-update-done.service
systemd-fsck-root.service
systemd-quotacheck.service
systemd-boot-system-token.service
sys-kernel-config.mount
sys-kernel-debug.mount
sys-kernel-tracing.mount
sys-fs-fuse-connections.mount
dev-hugepages.mount
cryptsetup.target
integritysetup.target
veritysetup.target
swap.target
systemd-ask-password-console.path
systemd-ask-password-wall.path
EOF

mounts_before=$(findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS)
# Into our own cgroup first: the namespace's cgroup root is that one.
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
    unshare --pid --fork --mount --uts --ipc --net --cgroup --mount-proc \
    --propagation private bash "$0" --pid1 "$T" "$MODE" >"$T/boot.out" 2>&1 &
UNSHARE_PID=$!
for _ in $(seq 1 100); do
	NSPID=$(awk '{ print $1 }' "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null)
	[ -n "$NSPID" ] && break
	kill -0 "$UNSHARE_PID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$NSPID" ] || {
	msg=$(cat "$T/boot.out")
	case $msg in
	*"Operation not permitted"* | *"Permission denied"*)
		skip_all "unshare cannot make the namespaces here: $msg" ;;
	esac
	bail "unshare did not start: $msg"
}
state=
for _ in $(seq 1 300); do
	state=$(NS_TIMEOUT=5 sctl is-system-running 2>/dev/null) || true
	case $state in running | degraded) break ;; esac
	kill -0 "$NSPID" 2>/dev/null || break
	sleep 0.1
done
like "$state" '^(running|degraded)$' "systemd boots as PID 1 of the namespaces ($state)" ||
	bail "systemd did not boot: $(tail -n 20 "$T/boot.out" "$T/console")"
[ "$state" = running ] || diag "failed units: $(sctl --failed --plain --no-legend)"
is "$(ns cat /proc/1/comm)" systemd "PID 1 there is systemd"
# What LoadCredential= needs (see the top): systemd as a host's PID 1 does it.
is "$(ns findmnt -n -o PROPAGATION /)" shared "/ is shared there, as on a host"

# ---- the sample, checked as README says, before the first start -------------

if [ "$MODE" = deb ]; then
	# The namespace has no network: what it depends on must be installed.
	out=$(NS_TIMEOUT=300 ns apt-get install -y --no-install-recommends \
	    /run/uhtest/pkg.deb 2>&1)
	is "$?" 0 "apt-get install ./${UH_DEB##*/}" ||
		bail "apt-get install failed: $(printf '%s\n' "$out" | tail -n 20)"
	is "$(sctl is-enabled usagehookd.service 2>&1)" disabled "installed disabled"
	is "$(prop usagehookd ActiveState)" inactive "and not started"
	ns cat /etc/usagehookd/usagehookd.yaml >"$T/sample.yaml"
	SAMPLE=$T/sample.yaml
	ok "it installed the sample config" cmp -s "$SAMPLE" "$top_srcdir/etc/usagehookd.yaml"
else
	ns mkdir -p /etc/usagehookd
	ns sh -c 'cat >/etc/usagehookd/usagehookd.yaml' <"$SAMPLE"
fi
printf '%s\n' "$UH_TOKEN" | ns sh -c 'umask 077 && cat >/etc/usagehookd/twilio-auth-token'
out=$(ns sh -c "test ! -e /var/log/usagehookd && test ! -e /var/lib/usagehookd &&
    cd / && CREDENTIALS_DIRECTORY=/etc/usagehookd $SBIN/usagehookd --check-config \
    -c /etc/usagehookd/usagehookd.yaml" 2>&1)
is "$?" 0 "the shipped sample passes README's check before the first start" ||
	diag "$out"

# A sanitized build (./dev test --sanitize): LeakSanitizer stops the
# threads with ptrace at exit, which the unit's SystemCallFilter refuses,
# so it would fail every stop; leaks are checked outside the sandbox.
if [ "$MODE" != deb ] && grep -qa __asan_init "$R$uh_sbindir/usagehookd"; then
	ns mkdir -p /etc/systemd/system/usagehookd.service.d
	ns sh -c 'printf "[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n" \
	    >/etc/systemd/system/usagehookd.service.d/sanitizer.conf'
	sctl daemon-reload
fi

# Without the token file (the start then creates the directories, hence
# after the check above): the start fails, and says it was the credential.
ns mv /etc/usagehookd/twilio-auth-token /etc/usagehookd/token.away
sctl start usagehookd.service >"$T/start.out" 2>&1
isnt "$?" 0 "no token file: systemctl start fails"
like "$(sctl status usagehookd.service 2>&1)" 'status=243/CREDENTIALS' \
    "and systemctl status says status=243/CREDENTIALS (README: the token file)"
sctl reset-failed usagehookd.service >/dev/null 2>&1
ns mv /etc/usagehookd/token.away /etc/usagehookd/twilio-auth-token

# The test's config: the sample, with our SID, a loopback TCP listener, an
# exec (a /bin/sh script) and the sample's append uncommented, both writing
# under LogsDirectory=.
ns sh -c 'cat >/etc/usagehookd/hook.sh && chmod 755 /etc/usagehookd/hook.sh' <<'EOF'
#!/bin/sh
# Runs as the service's user, in its sandbox: write where it may.
printf '%s %s %s\n' "$(id -u)" "$USAGEHOOK_USAGE_CATEGORY" "$1" >>/var/log/usagehookd/exec.log
EOF
sed -e "s|^  - sid: AC00000000000000000000000000000000|  - sid: $UH_SID|" \
    -e 's|^listen: .*|listen: 127.0.0.1:8080|' \
    -e 's|^      #- append: /var/log/usagehookd/usage.jsonl|      - append: /var/log/usagehookd/usage.jsonl|' \
    -e 's|^rules:$|rules:\
  - name: pid1-exec\
    actions:\
      - exec: [/bin/sh, /etc/usagehookd/hook.sh, "{IdempotencyToken}"]\
    continue: true|' \
    "$SAMPLE" >"$T/test.yaml"
grep -q "^      - append: /var/log/usagehookd/usage.jsonl" "$T/test.yaml" ||
	bail "the sample has no '#- append: /var/log/usagehookd/usage.jsonl' line to uncomment"
ns sh -c 'cat >/etc/usagehookd/usagehookd.yaml' <"$T/test.yaml"

# ---- start: READY=1, /healthz, the dynamic user, the credential --------------

# hz: the status code of /healthz on the loopback listener.
hz() {
	ns curl -s -o /dev/null --max-time 5 -w '%{http_code}' http://127.0.0.1:8080/healthz
}
NS_TIMEOUT=90 sctl enable --now usagehookd.service >"$T/enable.out" 2>&1
is "$?" 0 "systemctl enable --now usagehookd returns 0" ||
	diag "$(sctl status usagehookd 2>&1 | tail -n 20)"
is "$(prop usagehookd ActiveState)/$(prop usagehookd SubState)" active/running \
    "and the service is active (running) when it returns"
# Type=notify: start returned after READY=1, so no waiting here.
is "$(hz)" 200 "/healthz answers 200 at once (start waited for READY=1)"
like "$(prop usagehookd StatusText)" 'listening' "STATUS= from the daemon: $(prop usagehookd StatusText)"
pid=$(prop usagehookd MainPID)
uid=$(ns awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
ok "it runs as a dynamic user (uid $uid in 61184-65519)" \
    awk -v u="$uid" 'BEGIN { exit !(u >= 61184 && u <= 65519) }'
is "$(ns ps -o user= -p "$pid" | tr -d ' ')" usagehookd "named usagehookd (nss-systemd)"
is "$(prop usagehookd DynamicUser)" yes "DynamicUser=yes"
cred=$(ns stat -c '%U %a' "/proc/$pid/root/run/credentials/usagehookd.service/twilio-auth-token" 2>&1)
is "$cred" "usagehookd 400" "the service sees its credential, owned by it, mode 0400"

out=$(NS_TIMEOUT=20 ns systemd-analyze security usagehookd.service 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for usagehookd.service: \([0-9.]*\).*/\1/p')
ok "systemd-analyze security on the running unit: ${score:-?} (2.0 or lower)" \
    awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' ||
	diag "$(printf '%s\n' "$out" | tail -n 5)"

# ---- callbacks: signed with the credential's token, and a forged one --------

send() {
	ns sh -c "cd / && CREDENTIALS_DIRECTORY=/etc/usagehookd $BIN/usagehookctl \
	    -c /etc/usagehookd/usagehookd.yaml send $*" 2>&1
}
tok1=pid1-$$-1
out=$(send "UsageCategory=sms TriggerBy=price CurrentValue=150 TriggerValue=100 IdempotencyToken=$tok1")
like "$out" '(^|[[:space:]])200([[:space:]]|$)' "a callback signed with the token (README: usagehookctl send) gets 200" ||
	diag "$out"
printf '%s' "$UH_BADTOKEN" >"$T/bad.token"
ns sh -c 'cat >/run/bad.token' <"$T/bad.token"
out=$(send "--token-file /run/bad.token IdempotencyToken=pid1-$$-forged")
like "$out" '(^|[[:space:]])403([[:space:]]|$)' "one signed with another token gets 403" || diag "$out"

# wait_for SECONDS CMD...: until CMD succeeds; 1 if it never did.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
has_line() {
	ns grep -q -- "$2" "$1"
}
journal_warn() {
	ns journalctl --no-pager -q -p warning -u usagehookd.service | grep -q -- "$1"
}
ok "the refusal is in journalctl -p warning -u usagehookd" \
    wait_for 10 journal_warn 403 ||
	diag "$(ns journalctl --no-pager -q -u usagehookd.service | tail -n 10)"
diag "$(ns journalctl --no-pager -q -p warning -u usagehookd.service | grep 403 | tail -n 1)"

# ---- actions under the full hardening -------------------------------------

ok "the exec action (/bin/sh script) wrote under LogsDirectory=" \
    wait_for 20 has_line /var/log/usagehookd/exec.log "$tok1"
is "$(ns cat /var/log/usagehookd/exec.log 2>&1 | grep -- "$tok1")" "$uid sms $tok1" \
    "as the service's user, with the callback in its environment"
ok "the sample's append action wrote /var/log/usagehookd/usage.jsonl" \
    wait_for 20 has_line /var/log/usagehookd/usage.jsonl "\"$tok1\""
is "$(ns readlink /var/log/usagehookd)" private/usagehookd \
    "/var/log/usagehookd is DynamicUser='s private/usagehookd"
logger_seen() {
	ns journalctl --no-pager -q -t usagehook-page | grep -q 'sms spend 150 passed 100'
}
ok "the sample's exec (logger -t usagehook-page) reached the journal" wait_for 20 logger_seen

# ---- reload: a good file, then a bad one ------------------------------------

sed 's|^  max_body: 64KiB |  max_body: 32KiB |' "$T/test.yaml" >"$T/test2.yaml"
ns sh -c 'cat >/etc/usagehookd/usagehookd.yaml' <"$T/test2.yaml"
sctl reload usagehookd >"$T/reload.out" 2>&1
is "$?" 0 "systemctl reload with a good file: 0" ||
	diag "$(cat "$T/reload.out")" \
	    "$(ns journalctl --no-pager -q -u usagehookd.service | tail -n 15)"
is "$(prop usagehookd MainPID)" "$pid" "same process"
reloaded() {
	ns journalctl --no-pager -q -u usagehookd.service |
	    grep -q 'reloaded /etc/usagehookd/usagehookd.yaml'
}
ok "the daemon got SIGHUP and reloaded" wait_for 10 reloaded
out=$(send "IdempotencyToken=pid1-$$-2")
like "$out" '(^|[[:space:]])200([[:space:]]|$)' \
    "after the reload (token read again from its credential): 200" || diag "$out"
printf 'listen: [unterminated\n' | ns sh -c 'cat >/etc/usagehookd/usagehookd.yaml'
sctl reload usagehookd >"$T/reload.out" 2>&1
isnt "$?" 0 "systemctl reload with a bad file fails"
refused() {
	ns journalctl --no-pager -q -u usagehookd.service |
	    grep -qE 'usagehookd.yaml:[12]:[0-9]+: '
}
ok "the journal says why" wait_for 10 refused
is "$(prop usagehookd ActiveState)/$(prop usagehookd MainPID)" "active/$pid" \
    "the service stays active, same process"
is "$(hz)" 200 "and still answers"
ns sh -c 'cat >/etc/usagehookd/usagehookd.yaml' <"$T/test2.yaml"

# ---- the watchdog ----------------------------------------------------------

ns mkdir -p /run/systemd/system/usagehookd.service.d
# systemd sends SIGABRT (and SIGCONT); TimeoutAbortSec bounds the wait for it.
ns sh -c 'cat >/run/systemd/system/usagehookd.service.d/watchdog.conf' <<'EOF'
[Service]
WatchdogSec=2s
TimeoutAbortSec=2s
RestartSec=1s
LimitCORE=0
EOF
sctl daemon-reload
NS_TIMEOUT=90 sctl restart usagehookd
is "$(prop usagehookd WatchdogUSec)" 2s "WatchdogSec=2s from a drop-in"
pid=$(prop usagehookd MainPID)
restarts=$(prop usagehookd NRestarts)
ns kill -STOP "$pid"
restarted() {
	local p
	p=$(prop usagehookd MainPID)
	[ "$p" != 0 ] && [ "$p" != "$pid" ] &&
	    [ "$(prop usagehookd ActiveState)" = active ]
}
ok "kill -STOP: systemd restarts it (watchdog)" wait_for 60 restarted
isnt "$(prop usagehookd NRestarts)" "$restarts" "NRestarts went up"
wd_logged() {
	ns journalctl --no-pager -q -u usagehookd.service | grep -q 'Watchdog timeout'
}
ok "the journal says why (Watchdog timeout)" wait_for 10 wd_logged ||
	diag "$(ns journalctl --no-pager -q -u usagehookd.service | tail -n 15)"
is "$(hz)" 200 "the new process answers"
ns rm -rf /run/systemd/system/usagehookd.service.d
sctl daemon-reload

# ---- stop ------------------------------------------------------------------

NS_TIMEOUT=60 sctl stop usagehookd
is "$?" 0 "systemctl stop: 0"
is "$(prop usagehookd Result)" success "Result=success"
is "$(prop usagehookd ExecMainStatus)" 0 "the daemon exited 0"

# ---- socket activation -----------------------------------------------------

is "$(prop usagehookd ActiveState)" inactive "the service is stopped"
NS_TIMEOUT=60 sctl start usagehookd.socket
is "$?" 0 "systemctl start usagehookd.socket"
code=$(ns curl -s -o /dev/null --max-time 30 -w '%{http_code}' \
    --unix-socket /run/usagehookd/http.sock http://localhost/healthz)
is "$code" 200 "a request to /run/usagehookd/http.sock starts it and gets 200"
is "$(prop usagehookd ActiveState)" active "the service is now active"
out=$(send "--connect unix:/run/usagehookd/http.sock IdempotencyToken=pid1-$$-sock")
like "$out" '(^|[[:space:]])200([[:space:]]|$)' "a signed callback through the socket: 200" || diag "$out"
NS_TIMEOUT=60 sctl stop usagehookd.socket usagehookd.service
is "$(prop usagehookd Result)" success "stopped again: Result=success"

if [ "$MODE" = deb ]; then
	out=$(NS_TIMEOUT=300 ns apt-get purge -y usagehookd 2>&1)
	is "$?" 0 "apt-get purge usagehookd" || diag "$(printf '%s\n' "$out" | tail -n 20)"
	left=$(ns sh -c 'ls -d /var/lib/private/usagehookd /var/log/private/usagehookd \
	    /var/lib/usagehookd /var/log/usagehookd /lib/systemd/system/usagehookd.service \
	    /usr/sbin/usagehookd 2>/dev/null')
	is "$left" "" "purge leaves no database, logs, unit or program"
fi

# ---- nothing left on the host ----------------------------------------------

teardown
# Other tests may mount things meanwhile: look for ours among what is new.
new=$(comm -13 <(printf '%s\n' "$mounts_before" | sort) \
    <(findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | sort))
ours=$(printf '%s\n' "$new" | grep -E "$T|uhtest|uhroot|/run/credentials|^(/run|/tmp|/var/(tmp|lib|log|cache)|/usr|/dev(/pts|/shm|/console|/mqueue)?|/etc(/systemd/system)?|/sys(/fs/cgroup)?|/proc(/sys|/sysrq-trigger)?|(/usr)?/lib/systemd/system-generators) ")
is "$ours" "" "none of the namespace's mounts is left on the host" ||
	diag "new on the host since the boot: $new"
ok "our cgroup is gone" test ! -d "$CG"

done_testing
