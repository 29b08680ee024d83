/*
 * fuzz_config.c: config_load (YAML -> struct config, validation) on hostile
 * files. The input is written to a temporary usagehookd.yaml beside a valid
 * token file named "token", so inputs that pass validation also exercise
 * config_free; every message goes to /dev/null.
 */
#include "config-sys.h"

#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 conf_dir[PATH_MAX], conf_path[PATH_MAX], token_path[PATH_MAX];
static FILE	*devnull;

/* The temporary directory goes when libFuzzer exits normally. */
static void
remove_dir(void)
{
	unlink(conf_path);
	unlink(token_path);
	rmdir(conf_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 dir[] = "/tmp/fuzz_config.XXXXXX";
	FILE	*f;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(conf_dir, sizeof conf_dir, "%s", dir);
	snprintf(token_path, sizeof token_path, "%s/token", dir);
	if ((f = fopen(token_path, "w")) == NULL)
		abort();
	fputs("0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	/* Token files readable by others are refused. */
	if (chmod(token_path, 0600) == -1)
		abort();
	snprintf(conf_path, sizeof conf_path, "%s/usagehookd.yaml", dir);
	setenv("TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdef", 1);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	atexit(remove_dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*conf;
	FILE		*f;

	if ((f = fopen(conf_path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	if ((conf = config_load(conf_path, devnull)) != NULL) {
		/* A config that loaded is whole: what the daemon dereferences. */
		if (conf->listen == NULL || conf->path == NULL ||
		    conf->database == NULL || conf->naccounts == 0 ||
		    conf->accounts[0].token == NULL)
			abort();
		(void)config_account(conf, conf->accounts[0].sid);
		config_free(conf);
	}
	return 0;
}
