#!/usr/bin/env bash
# docs.sh: the man pages are lint-clean (mandoc -Tlint, else man --warnings)
# and document every usagehookctl command and option and every
# configuration key; the bash completion offers them; make install puts
# both in place.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

DOC=$top_srcdir/doc
PAGES=("$DOC/usagehookd.8" "$DOC/usagehookctl.8" "$DOC/usagehookd.yaml.5")
COMPLETION=$top_srcdir/contrib/bash-completion/usagehookctl

# ---- lint ------------------------------------------------------------------
for page in "${PAGES[@]}"; do
	name=${page##*/}
	if command -v mandoc >/dev/null 2>&1; then
		out=$(mandoc -Tlint -W warning "$page" 2>&1)
		is "$?:$out" "0:" "$name: mandoc -Tlint is clean"
	elif command -v man >/dev/null 2>&1; then
		out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		is "$out" "" "$name: man --warnings is clean"
	else
		skip "$name: lint" "neither mandoc nor man is installed (apt-get install mandoc)"
	fi
done

# ---- every command and option of usagehookctl is documented ----------------
usage=$("$UH_CTL" -h)
commands=$(printf '%s\n' "$usage" | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p')
isnt "$commands" "" "usagehookctl -h lists commands"
for cmd in $commands; do
	grep -qE "^\\.(It )?Cm $cmd( |\$)" "$DOC/usagehookctl.8"
	is "$?" 0 "usagehookctl.8 documents $cmd"
	opts=$(printf '%s\n' "$usage" | grep -E "^  $cmd( |\$)" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
	missing=
	for o in $opts; do
		grep -qE -- "Fl -${o#--}( |\$)" "$DOC/usagehookctl.8" || missing+=" $o"
	done
	is "$missing" "" "usagehookctl.8 documents every option of $cmd"
done

# ---- every configuration key is documented -----------------------------------
keys=$(grep -oE '^[[:space:]]*\{ "[A-Za-z_]+",[[:space:]]+kw_' "$top_srcdir/src/config.c" |
    sed 's/.*"\(.*\)".*/\1/' | sort -u)
isnt "$keys" "" "config.c has keyword tables"
missing=
for k in $keys; do
	grep -qE "^\\..*\\<Ic\\>.*\\<$k\\>" "$DOC/usagehookd.yaml.5" || missing+=" $k"
done
is "$missing" "" "usagehookd.yaml.5 documents every key of config.c"

# ---- bash completion -----------------------------------------------------------
ok "the completion is valid bash" bash -n "$COMPLETION"
# complete WORD...: what the completion offers for the last word.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
	    _usagehookctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@"
}
is "$(complete_words usagehookctl "" | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "$commands" | sort | tr '\n' ' ')" "completion: every command"
is "$(complete_words usagehookctl -c x.yaml te)" test-rules "completion: a command after -c FILE"
for cmd in $commands; do
	want=$(printf '%s\n' "$usage" | grep -E "^  $cmd( |\$)" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
	got=$(complete_words usagehookctl "$cmd" --)
	missing=
	for o in $want; do
		grep -qx -- "$o" <<<"$got" || missing+=" $o"
	done
	is "$missing" "" "completion: every option of $cmd"
done
is "$(complete_words usagehookctl jobs --state d | sort | tr '\n' ' ')" "dead done " \
    "completion: job states"
is "$(PATH=$top_builddir:$PATH complete_words usagehookctl list --category sms-out |
    tr '\n' ' ')" "sms-outbound sms-outbound-content-inspection sms-outbound-longcode sms-outbound-shortcode " \
    "completion: usage categories after --category"
is "$("$UH_CTL" categories | wc -l)" "$(wc -l <"$top_srcdir/src/categories.txt")" \
    "usagehookctl categories prints every category"

# ---- the built pages name the default configuration --help names ------------
for prog in usagehookd usagehookctl; do
	bin=$UH_CTL
	[ "$prog" = usagehookd ] && bin=$UH_D
	def=$(env -u USAGEHOOKD_CONFIG "$bin" --help | sed -n 's/.*(default \([^;)]*\)[;)].*/\1/p' | head -n 1)
	isnt "$def" "" "$prog --help names its default configuration file"
	if [ -f "$top_builddir/man/$prog.8" ]; then
		ok "man/$prog.8 names the same default ($def)" \
		    grep -q "^\\.Pa $def" "$top_builddir/man/$prog.8"
	else
		skip "man/$prog.8 names the default" "no built man pages in $top_builddir/man"
	fi
done

# ---- make install --------------------------------------------------------------
if [ -f "$top_builddir/Makefile" ] && command -v make >/dev/null 2>&1; then
	make -s -C "$top_builddir" DESTDIR="$T/inst" install-man \
	    install-dist_bashcompletionDATA >"$T/install.log" 2>&1
	is "$?" 0 "make install-man install-dist_bashcompletionDATA"
	for f in man8/usagehookd.8 man8/usagehookctl.8 man5/usagehookd.yaml.5; do
		n=$(find "$T/inst" -path "*/man/$f" | wc -l)
		is "$n" 1 "make install puts $f in place"
	done
	is "$(find "$T/inst" -path '*/bash-completion/completions/usagehookctl' | wc -l)" 1 \
	    "make install puts the bash completion in place"
else
	skip "make install" "no Makefile in $top_builddir"
fi
done_testing
