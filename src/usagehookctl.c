/* usagehookctl.c: the operator's tool: parse arguments, run one command. */
#include "config-sys.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "version.h"

static const struct command commands[] = {
	{ "check-config", cmd_check_config, "check-config" },
	{ "categories", cmd_categories, "categories [--json]" },
	{ "list", cmd_list, "list [--since T] [--until T] [--category C|GLOB] "
	    "[--account AC...] [--trigger UT...] [--unmatched] [--source S] "
	    "[--limit N] [--wide] [--json]" },
	{ "show", cmd_show, "show TOKEN|ID [--raw] [--json]" },
	{ "rejected", cmd_rejected, "rejected [--limit N] [--json]" },
	{ "replay", cmd_replay, "replay TOKEN|ID [--to URL] "
	    "[--connect [http[s]://]ADDR] [--resign] [--keep-auth] "
	    "[--dry-run] [--token-file F] [--secondary] "
	    "[--ca-file F] [--timeout SEC] [-v] [--json]" },
	{ "rerun", cmd_rerun, "rerun TOKEN|ID [--rule NAME [--force]] "
	    "[--json]" },
	{ "test-rules", cmd_test_rules, "test-rules [TOKEN|ID] "
	    "[--param K=V ...] [--json]" },
	{ "jobs", cmd_jobs, "jobs [--dead | --state STATE] [--limit N] "
	    "[--wide] [--json]" },
	{ "retry", cmd_retry, "retry JOB... | --all-dead [--rule R] "
	    "[--json]" },
	{ "tail", cmd_tail, "tail [--since T] [--json]" },
	{ "stats", cmd_stats, "stats [--days N] [--json]" },
	{ "purge", cmd_purge, "purge --older-than DURATION [--dry-run] "
	    "[--force] [--json]" },
	{ "copy-db", cmd_copy_db, "copy-db FILE postgresql://... [--quiet] "
	    "[--json]" },
	{ "sign", cmd_sign, "sign --url URL [--method M] [--token-file F] "
	    "[--secondary] [-v] [K=V ...]" },
	{ "send", cmd_send, "send [--url URL] [--connect [http[s]://]ADDR] "
	    "[--method M] "
	    "[--token-file F] [--secondary] [--ca-file F] [-H 'Name: value'] "
	    "[--timeout SEC] [--bare] [-v] [K=V ...]" },
	{ "accounts", cmd_accounts, "accounts list|suspend|activate [AC...] "
	    "[--end-calls] [--api-base URL] [--json]" },
	{ "triggers", cmd_triggers, "triggers list|fetch|create|update|delete|"
	    "plan|apply [UT...] [--category C] [--value V] [--trigger-by B] "
	    "[--recurring R] [--name N] [--method M] [--url URL] [--prune-all] "
	    "[--yes] "
	    "[--account AC...] [--api-base URL] [--json]" },
	{ "reconcile", cmd_reconcile, "reconcile [--dry-run] [--account AC...] "
	    "[--api-base URL] [--json]" },
	{ "usage", cmd_usage_records, "usage [today|yesterday|this-month|"
	    "last-month|daily|monthly|yearly|all-time] [--category C] "
	    "[--start-date D] [--end-date D] [--account AC...] "
	    "[--api-base URL] [--json]" },
};

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: usagehookctl [-c CONFIG] [-d DATABASE] COMMAND "
	    "[ARGS]\n  -c, --config FILE     configuration file (default %s)\n"
	    "                        ($USAGEHOOKD_CONFIG overrides the default)\n"
	    "  -d, --database FILE   database (default: the config's)\n"
	    "  -V, --version         print the versions and exit\n"
	    "commands:\n", config_default_file());
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %s\n", commands[i].usage);
}

int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl	 ctl;
	size_t		 i;
	int		 ch, rc;

	memset(&ctl, 0, sizeof ctl);
	ctl.config_file = config_default_file();
	log_init("usagehookctl", 0);
	/* A peer that closes under TLS must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:d:hV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			ctl.config_file = optarg;
			ctl.config_given = 1;
			break;
		case 'd':
			ctl.database = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			version_print(stdout, "usagehookctl");
			return EXIT_OK;
		case ':':
			fprintf(stderr, "usagehookctl: option %s needs a "
			    "value\n", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "usagehookctl: unknown option %s\n",
			    argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usagehookctl: no command\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == sizeof commands / sizeof commands[0]) {
		fprintf(stderr, "usagehookctl: unknown command %s\n",
		    argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = commands[i].handler(&ctl, &commands[i], argc - optind,
	    argv + optind);
	ctl_free(&ctl);
	if (fflush(stdout) == EOF && rc == EXIT_OK)
		rc = EXIT_FAIL;
	return rc;
}
