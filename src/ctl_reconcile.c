/* ctl_reconcile.c: usagehookctl reconcile: one pass now, and what it found. */
#include "config-sys.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "callback.h"
#include "ctl.h"
#include "reconcile.h"
#include "store.h"
#include "xmalloc.h"

#define ACCOUNTS_MAX	64

/* Split --account values on commas; lower-case hex as the config has it. */
static int
add_accounts(const struct command *cmd, char *arg, const char ***v,
    size_t *n)
{
	char	*s, *c;

	while ((s = strsep(&arg, ",")) != NULL) {
		if (*s == '\0')
			continue;
		if (!sid_valid(s, "AC"))
			return cmd_usage(cmd, "--account %s is not an "
			    "AccountSid (AC followed by 32 hex digits)", s);
		if (*n >= ACCOUNTS_MAX)
			return cmd_usage(cmd, "--account: at most %d",
			    ACCOUNTS_MAX);
		for (c = s + 2; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
		*v = xreallocarray(*v, *n + 1, sizeof **v);
		(*v)[(*n)++] = s;
	}
	return EXIT_OK;
}

static void
print_json(const struct rc_report *r, int dry_run)
{
	const struct rc_item	*it;
	struct json		 j;
	size_t			 i;

	json_init(&j, stdout);
	json_open(&j, NULL, 0);
	json_bool(&j, "dry_run", dry_run);
	json_bool(&j, "busy", r->busy);
	json_int(&j, "recovered", (int64_t)r->recovered);
	json_int(&j, "failures", (int64_t)r->failures);
	json_str(&j, "error", r->error);
	json_open(&j, "accounts", 1);
	for (i = 0; i < r->naccounts; i++) {
		json_open(&j, NULL, 0);
		json_str(&j, "sid", r->accounts[i].sid);
		json_int(&j, "listed", (int64_t)r->accounts[i].listed);
		json_int(&j, "calling_this_daemon",
		    (int64_t)r->accounts[i].ours);
		json_str(&j, "error", r->accounts[i].error);
		json_close(&j, 0);
	}
	json_close(&j, 1);
	json_open(&j, "firings", 1);
	for (i = 0; i < r->nitems; i++) {
		it = &r->items[i];
		json_open(&j, NULL, 0);
		json_str(&j, "account_sid", it->account);
		json_str(&j, "usage_trigger_sid", it->sid);
		json_str(&j, "friendly_name", it->name);
		json_str(&j, "recurring", it->recurring);
		json_str(&j, "date_fired", it->date_fired);
		json_time(&j, "fired_at", it->fired_at);
		json_str(&j, "outcome", rc_outcome_names[it->outcome]);
		json_str(&j, "idempotency_token", it->token);
		json_str(&j, "detail", it->detail);
		json_close(&j, 0);
	}
	json_close(&j, 1);
	json_close(&j, 0);
	json_end(&j);
}

static void
print_table(const struct rc_report *r, int dry_run)
{
	static const char *const heads[] = { "TRIGGER", "NAME", "FIRED",
	    "OUTCOME", "TOKEN OR WHY" };
	const struct rc_item	*it;
	struct table		*t;
	char			 name[24], fired[32], why[48];
	char			 tok[TOKEN_SHORT + 1];
	size_t			 i;

	for (i = 0; i < r->naccounts; i++) {
		if (r->accounts[i].error != NULL)
			fprintf(stderr, "usagehookctl: reconcile: account %s: "
			    "%s\n", r->accounts[i].sid, r->accounts[i].error);
		else
			fprintf(stderr, "usagehookctl: reconcile: account %s: "
			    "%zu trigger(s), %zu calling this daemon\n",
			    r->accounts[i].sid, r->accounts[i].listed,
			    r->accounts[i].ours);
	}
	if (r->nitems > 0) {
		t = table_new(5, heads);
		for (i = 0; i < r->nitems; i++) {
			it = &r->items[i];
			/* The token's end says the interval. */
			const char *cells[5] = { it->sid, fmt_cut(it->name, 12,
			    name, sizeof name), it->fired_at > 0 ?
			    fmt_time(it->fired_at, 0, fired) : it->date_fired,
			    rc_outcome_names[it->outcome], it->detail != NULL ?
			    fmt_cut(it->detail, 36, why, sizeof why) :
			    fmt_token(it->token, tok) };
			table_add(t, cells);
		}
		table_print(t, stdout);
		table_free(t);
	}
	fprintf(stderr, "usagehookctl: reconcile: %zu firing(s) %s\n",
	    r->recovered, dry_run ? "to recover (dry run: nothing stored)" :
	    "recovered");
}

/* reconcile: one pass now, as the daemon runs every reconcile.interval. */
int
cmd_reconcile(struct ctl *ctl, const struct command *cmd, int argc,
    char **argv)
{
	static const struct option	 longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "account", required_argument, NULL, 'A' },
		{ "api-base", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct config		*conf;
	struct store		*s;
	struct rc_opts		 o;
	struct rc_report	 r;
	char			 owner[128], host[64] = "";
	size_t			 i, k;
	int			 ch, json = 0, rc = EXIT_OK, pass;

	memset(&o, 0, sizeof o);
	memset(&r, 0, sizeof r);
	optind = 0;
	while (rc == EXIT_OK &&
	    (ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o.dry_run = 1;
			break;
		case 'A':
			rc = add_accounts(cmd, optarg, &o.accounts,
			    &o.naccounts);
			break;
		case 'a':
			if (strncasecmp(optarg, "https://", 8) != 0)
				rc = cmd_usage(cmd, "--api-base %s: want "
				    "https://host[:port]", optarg);
			o.api_base = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			free(o.accounts);
			return cmd_help(cmd);
		default:
			rc = bad_option(cmd, ch, argv);
			break;
		}
	}
	if (rc == EXIT_OK && optind < argc)
		rc = cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (rc != EXIT_OK)
		goto out;
	if ((conf = ctl_config(ctl)) == NULL) {
		rc = EXIT_FAIL;
		goto out;
	}
	for (i = 0; i < o.naccounts; i++) {
		for (k = 0; k < conf->naccounts; k++)
			if (strcmp(conf->accounts[k].sid, o.accounts[i]) == 0)
				break;
		if (k == conf->naccounts) {
			rc = cmd_fail(cmd, "--account %s is not one of the "
			    "accounts in %s", o.accounts[i], conf->file);
			goto out;
		}
	}
	if (conf->public_url == NULL)
		cmd_warn(cmd, "%s has no public_url: only triggers whose "
		    "callback_url the config declares count as this daemon's",
		    conf->file);
	if ((s = ctl_store(ctl, cmd, 0)) == NULL) {
		rc = EXIT_FAIL;
		goto out;
	}
	(void)gethostname(host, sizeof host - 1);
	snprintf(owner, sizeof owner, "usagehookctl %s pid %ld", host,
	    (long)getpid());
	o.owner = owner;
	pass = reconcile_pass(conf, s, &o, &r);
	if (json)
		print_json(&r, o.dry_run);
	else
		print_table(&r, o.dry_run);
	if (r.busy)
		rc = cmd_fail(cmd, "another process is reconciling now (the "
		    "lease in %s); try again in a while, or --dry-run",
		    store_path(s));
	else if (r.error != NULL)
		rc = cmd_fail(cmd, "%s", r.error);
	else if (pass == -1)
		rc = cmd_fail(cmd, "%zu failure(s); see above", r.failures);
out:
	rc_report_free(&r);
	free(o.accounts);
	return rc;
}
