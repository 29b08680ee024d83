/* ctl_copy.c: usagehookctl copy-db: an SQLite file into PostgreSQL. */
#include "config-sys.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "store.h"

struct copy_view {
	int	quiet;
	int	tty;
};

/* A line per page on stderr; one line rewritten in place on a terminal. */
static void
show_progress(const struct copy_progress *p, void *arg)
{
	struct copy_view	*v = arg;

	if (v->quiet)
		return;
	fprintf(stderr, "%scopy-db: callbacks %lld/%lld (%lld new), jobs "
	    "%lld, rejected %lld/%lld new%s", v->tty ? "\r" : "",
	    (long long)p->callbacks_seen, (long long)p->callbacks_total,
	    (long long)p->callbacks_copied, (long long)p->jobs_copied,
	    (long long)p->rejected_copied, (long long)p->rejected_seen,
	    v->tty ? "" : "\n");
	fflush(stderr);
}

int
cmd_copy_db(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct copy_view	 v = { 0, 0 };
	struct copy_progress	 p;
	struct config		*conf;
	struct store		*from = NULL, *to = NULL;
	struct stat		 sb;
	const char		*src, *dst, *err;
	char			*oerr = NULL;
	int			 ch, json = 0, failed, rv = EXIT_FAIL;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			v.quiet = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (argc - optind != 2)
		return cmd_usage(cmd, "want the SQLite file and the PostgreSQL "
		    "URI");
	src = argv[optind];
	dst = argv[optind + 1];
	if (store_is_remote(src) || !store_is_remote(dst))
		return cmd_usage(cmd, "copies an SQLite file into PostgreSQL: "
		    "copy-db FILE postgresql://...");
	if (stat(src, &sb) == -1)
		return cmd_fail(cmd, "%s: %s", src, strerror(errno));
	/* The config's password file, when a config is at hand. */
	conf = ctl_config_optional(ctl, &failed);
	if ((from = store_open(src, 1, &oerr)) == NULL) {
		cmd_fail(cmd, "%s", oerr);
		goto out;
	}
	if ((to = store_open_auth(dst, conf != NULL ?
	    conf->database_password_file : NULL, 0, &oerr)) == NULL) {
		cmd_fail(cmd, "%s", oerr);
		goto out;
	}
	v.tty = isatty(STDERR_FILENO);
	if (store_copy(from, to, show_progress, &v, &p, &err) == -1) {
		if (v.tty && !v.quiet)
			fputc('\n', stderr);
		cmd_fail(cmd, "%s (what was committed stays; running copy-db "
		    "again goes on from there)", err);
		goto out;
	}
	if (v.tty && !v.quiet)
		fputc('\n', stderr);
	if (json)
		printf("{\"callbacks\": %lld, \"callbacks_copied\": %lld, "
		    "\"jobs_copied\": %lld, \"rejected\": %lld, "
		    "\"rejected_copied\": %lld}\n", (long long)p.callbacks_seen,
		    (long long)p.callbacks_copied, (long long)p.jobs_copied,
		    (long long)p.rejected_seen, (long long)p.rejected_copied);
	else
		printf("copied %lld of %lld callbacks (%lld jobs), %lld of %lld "
		    "rejected; the rest were there already\n",
		    (long long)p.callbacks_copied, (long long)p.callbacks_seen,
		    (long long)p.jobs_copied, (long long)p.rejected_copied,
		    (long long)p.rejected_seen);
	rv = EXIT_OK;
out:
	free(oerr);
	store_close(from);
	store_close(to);
	return rv;
}
