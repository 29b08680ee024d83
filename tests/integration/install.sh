#!/usr/bin/env bash
# install.sh: `make install DESTDIR=...` puts usagehookd in sbindir,
# usagehookctl in bindir, the sample config in sysconfdir/usagehookd, the
# README and the nginx and config samples under docdir, the systemd units
# (their paths filled in) in systemdsystemunitdir; a second install keeps an
# edited config; `make uninstall` removes the rest and leaves the edit.
# uh_sbindir, uh_bindir, uh_sysconfdir, uh_docdir come from make check.
# shellcheck disable=SC2154
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v make >/dev/null 2>&1 || skip_all "make not installed (apt-get install make)"
[ -f "$top_builddir/Makefile" ] || skip_all "no Makefile in $top_builddir (run configure)"
for v in uh_sbindir uh_bindir uh_sysconfdir uh_docdir; do
	[ -n "${!v:-}" ] || skip_all "$v not set: run through make check"
done
R=$T/root
UNITDIR=${systemdsystemunitdir:-}

# inst TARGET: make TARGET DESTDIR=$R in the build tree, output in $T/make.out.
inst() {
	# Not the parent make's jobserver: this is a make of its own.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    timeout 300 make -C "$top_builddir" "$1" DESTDIR="$R" \
	    >>"$T/make.out" 2>&1
}

ok "make install DESTDIR=$R" inst install || diag "$(tail -n 20 "$T/make.out")"
ok "usagehookd in sbindir ($uh_sbindir)" test -x "$R$uh_sbindir/usagehookd"
ok "usagehookctl in bindir ($uh_bindir)" test -x "$R$uh_bindir/usagehookctl"
is "$("$R$uh_sbindir/usagehookd" --help 2>&1 | head -n 1 | cut -c1-17)" "usage: usagehookd" \
    "the installed usagehookd runs"
CONF=$R$uh_sysconfdir/usagehookd/usagehookd.yaml
ok "the sample config as $uh_sysconfdir/usagehookd/usagehookd.yaml" \
    cmp -s "$CONF" "$top_srcdir/etc/usagehookd.yaml"
ok "the nginx sample under docdir ($uh_docdir/examples)" \
    cmp -s "$R$uh_docdir/examples/usagehookd.conf" "$top_srcdir/etc/nginx/usagehookd.conf"
ok "the config sample under docdir too" test -f "$R$uh_docdir/examples/usagehookd.yaml"
ok "README.md in docdir (the units' Documentation=)" test -f "$R$uh_docdir/README.md"

if [ -n "$UNITDIR" ]; then
	SVC=$R$UNITDIR/usagehookd.service
	SOCK=$R$UNITDIR/usagehookd.socket
	ok "usagehookd.service in systemdsystemunitdir ($UNITDIR)" test -f "$SVC"
	ok "usagehookd.socket there too" test -f "$SOCK"
	is "$(grep -hoE '@[a-z_]+@' "$SVC" "$SOCK" | sort -u | tr '\n' ' ')" "" \
	    "no @placeholder@ left in the units"
	is "$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$SVC")" "$uh_sbindir/usagehookd" \
	    "ExecStart= is the installed usagehookd"
	like "$(cat "$SVC")" "-c $uh_sysconfdir/usagehookd/usagehookd.yaml" \
	    "and reads the installed config"
	like "$(cat "$SVC")" "LoadCredential=twilio-auth-token:$uh_sysconfdir/usagehookd/twilio-auth-token" \
	    "the credential comes from sysconfdir/usagehookd/twilio-auth-token"
else
	skip "units installed" "configured with --with-systemdsystemunitdir=no"
fi

# The sample as README's deployment section checks it, on a fresh host: only
# the token file added, before the service has ever started (nothing under
# /var/lib/usagehookd or /var/log/usagehookd is needed).
(umask 077 && printf '%s\n' "$UH_TOKEN" >"$R$uh_sysconfdir/usagehookd/twilio-auth-token")
out=$(cd / && CREDENTIALS_DIRECTORY=$R$uh_sysconfdir/usagehookd \
    "$R$uh_sbindir/usagehookd" --check-config -c "$CONF" 2>&1)
is "$?" 0 "the installed sample passes README's check-config with only the token added" ||
	diag "$out"
rm -f "$R$uh_sysconfdir/usagehookd/twilio-auth-token"

# An operator's edit survives the next install.
echo "# local edit" >>"$CONF"
ok "a second make install" inst install
like "$(tail -n 1 "$CONF")" "^# local edit$" "keeps the edited config"
like "$(cat "$T/make.out")" "keeping .*usagehookd.yaml" "and says so"

ok "make uninstall DESTDIR=$R" inst uninstall
ok "usagehookd removed" test ! -e "$R$uh_sbindir/usagehookd"
ok "usagehookctl removed" test ! -e "$R$uh_bindir/usagehookctl"
if [ -n "$UNITDIR" ]; then
	ok "units removed" test ! -e "$R$UNITDIR/usagehookd.service" -a \
	    ! -e "$R$UNITDIR/usagehookd.socket"
fi
ok "the edited config stays" test -f "$CONF"
cp "$top_srcdir/etc/usagehookd.yaml" "$CONF"
inst uninstall
ok "an unchanged sample config is removed" test ! -e "$CONF"
is "$(find "$R" -type f | sed "s|^$R||" | tr '\n' ' ')" "" "nothing else left behind"

done_testing
