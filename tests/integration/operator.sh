#!/usr/bin/env bash
# operator.sh: what an operator types first: --version on both programs,
# USAGEHOOKD_CONFIG as the default configuration file.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config

# --version: ours and the libraries' versions, exit 0.
for prog in "$UH_D" "$UH_CTL"; do
	name=${prog##*/}
	out=$("$prog" --version 2>&1)
	is "$?" 0 "$name --version: exit 0"
	like "$out" "^$name [0-9]+\\.[0-9]+" "$name --version names its version"
	like "$out" "libevent [0-9].*SQLite [0-9].*OpenSSL [0-9].*libyaml [0-9]" \
	    "$name --version names the libraries' versions"
	is "$("$prog" -V 2>&1)" "$out" "$name -V is --version"
done

# USAGEHOOKD_CONFIG: the default for both programs; -c still wins.
out=$(USAGEHOOKD_CONFIG=$UH_CONF timeout 30 "$UH_D" --check-config 2>&1)
is "$?:$out" "0:configuration OK" "usagehookd --check-config reads \$USAGEHOOKD_CONFIG"
out=$(USAGEHOOKD_CONFIG=$UH_CONF timeout 30 "$UH_CTL" check-config 2>&1)
is "$?" 0 "usagehookctl check-config reads \$USAGEHOOKD_CONFIG"
out=$(USAGEHOOKD_CONFIG=$T/missing.yaml timeout 30 "$UH_CTL" check-config 2>&1)
is "$?" 1 "usagehookctl: a missing \$USAGEHOOKD_CONFIG fails"
like "$out" "$T/missing.yaml" "... naming the file it tried"
out=$(USAGEHOOKD_CONFIG=$T/missing.yaml timeout 30 "$UH_D" -c "$UH_CONF" -n 2>&1)
is "$?:$out" "0:configuration OK" "usagehookd: -c wins over \$USAGEHOOKD_CONFIG"
like "$(USAGEHOOKD_CONFIG=$T/x.yaml "$UH_D" --help)" "default $T/x.yaml" \
    "usagehookd --help shows the default in use"
like "$(USAGEHOOKD_CONFIG=$T/x.yaml "$UH_CTL" --help)" "default $T/x.yaml" \
    "usagehookctl --help shows the default in use"

done_testing
