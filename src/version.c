/* version.c: what --version prints, and the default configuration file. */
#include "config-sys.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <yaml.h>

#include "config.h"
#include "version.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0"
#endif

/* Ours and the libraries' versions as run, not as built against. */
void
version_print(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\n", prog, PACKAGE_VERSION);
	fprintf(f, "libevent %s, SQLite %s, %s, libyaml %s\n",
	    event_get_version(), sqlite3_libversion(),
	    OpenSSL_version(OPENSSL_VERSION), yaml_get_version_string());
}

/* $USAGEHOOKD_CONFIG when set and not empty, else the build's default. */
const char *
config_default_file(void)
{
	const char	*env;

	if ((env = getenv("USAGEHOOKD_CONFIG")) != NULL && *env != '\0')
		return env;
	return DEFAULT_CONFIG;
}
