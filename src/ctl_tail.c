/* ctl_tail.c: usagehookctl tail: new callbacks and job outcomes as they come. */
#include "config-sys.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "store.h"
#include "xmalloc.h"

#define TAIL_POLL_MS	500
/* Rows a poll looks at: a burst larger than this between polls is cut. */
#define TAIL_BATCH	500
/* Callbacks committed late by another instance are still found this long. */
#define TAIL_MARGIN_MS	60000
#define TAIL_JOBS	500	/* the newest jobs whose state we follow */

/* A job we have seen, and how it was then. */
struct seen_job {
	int64_t	 id;
	char	 state[12];
	int	 attempts;
};

/* What tail has printed so far; all bounded. */
struct tail {
	int64_t		*ids;		/* callbacks printed, in the margin */
	int64_t		*at;		/* their received_at */
	size_t		 nids, cap;
	struct seen_job	 jobs[TAIL_JOBS];
	size_t		 njobs;
	int		 json;
	int		 primed;	/* after the first poll */
	int64_t		 start;		/* --since: changes after it are news */
};

static volatile sig_atomic_t	tail_stop;

static void
on_stop(int sig)
{
	(void)sig;
	tail_stop = 1;
}

/* 1 if callback id was printed already. */
static int
printed(const struct tail *t, int64_t id)
{
	size_t	i;

	for (i = 0; i < t->nids; i++)
		if (t->ids[i] == id)
			return 1;
	return 0;
}

/* Remember callback id; forget those older than the margin. */
static void
remember(struct tail *t, int64_t id, int64_t at, int64_t horizon)
{
	size_t	i, k;

	for (i = k = 0; i < t->nids; i++)
		if (t->at[i] >= horizon) {
			t->ids[k] = t->ids[i];
			t->at[k++] = t->at[i];
		}
	t->nids = k;
	if (t->nids == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->ids = xreallocarray(t->ids, t->cap, sizeof *t->ids);
		t->at = xreallocarray(t->at, t->cap, sizeof *t->at);
	}
	t->ids[t->nids] = id;
	t->at[t->nids++] = at;
}

/* Start one compact JSON object of this type on stdout. */
static void
json_line(struct json *j, const char *type, int64_t id)
{
	json_init(j, stdout);
	j->compact = 1;
	json_open(j, NULL, 0);
	json_str(j, "type", type);
	json_int(j, "id", id);
}

static void
print_callback_line(const struct tail *t, const struct callback_row *r)
{
	struct json	j;
	char		tb[32];

	if (t->json) {
		json_line(&j, "callback", r->id);
		json_time(&j, "received_at", r->received_at);
		json_str(&j, "idempotency_token", r->token);
		json_str(&j, "account_sid", r->account_sid);
		json_str(&j, "usage_trigger_sid", r->usage_trigger_sid);
		json_str(&j, "usage_category", r->usage_category);
		json_str(&j, "trigger_by", r->trigger_by);
		json_str(&j, "trigger_value", r->trigger_value);
		json_str(&j, "current_value", r->current_value);
		json_close(&j, 0);
		json_end(&j);
	} else
		printf("%s callback %" PRId64 " %s %s %s=%s (trigger %s) "
		    "IdempotencyToken=%s\n", fmt_time(r->received_at, 0, tb),
		    r->id, r->account_sid ? r->account_sid : "-",
		    r->usage_category ? r->usage_category : "-",
		    r->trigger_by ? r->trigger_by : "value",
		    r->current_value ? r->current_value : "-",
		    r->trigger_value ? r->trigger_value : "-",
		    r->token ? r->token : "-");
}

static void
print_job_line(const struct tail *t, const struct job_listing *l)
{
	struct json	j;
	char		tb[32];

	if (t->json) {
		json_line(&j, "job", l->id);
		json_int(&j, "callback_id", l->callback_id);
		json_str(&j, "idempotency_token", l->token);
		json_str(&j, "rule", l->rule);
		json_str(&j, "kind", l->kind);
		json_str(&j, "state", l->state);
		json_int(&j, "attempts", l->attempts);
		json_time(&j, "updated_at", l->updated_at);
		json_str(&j, "last_error", l->last_error);
		json_close(&j, 0);
		json_end(&j);
	} else
		printf("%s job %" PRId64 " rule %s %s: %s%s (attempt %d of %d)"
		    "%s%s\n", fmt_time(l->updated_at, 0, tb), l->id, l->rule,
		    l->kind ? l->kind : "-", l->state,
		    strcmp(l->state, "queued") == 0 && l->attempts > 0 ?
		    ", to be retried" : "", l->attempts, l->max_attempts,
		    l->last_error && strcmp(l->state, "done") != 0 ? ": " : "",
		    l->last_error && strcmp(l->state, "done") != 0 ?
		    l->last_error : "");
}

/*
 * Callbacks not printed yet, oldest first: at the first poll those received
 * since *since, later any in the margin before it (an instance may commit
 * a callback after a later one). -1 on a database error.
 */
static int
poll_callbacks(struct tail *t, struct store *s, int64_t *since, int first)
{
	struct callback_filter	 f;
	struct callback_row	*rows = NULL;
	size_t			 n = 0, i;
	int64_t			 newest = *since, horizon;

	horizon = *since - TAIL_MARGIN_MS;
	memset(&f, 0, sizeof f);
	f.since = horizon;
	f.limit = TAIL_BATCH;
	if (store_callbacks_list(s, &f, &rows, &n) == -1)
		return -1;
	for (i = n; i-- > 0; ) {
		if (printed(t, rows[i].id))
			continue;
		if (!first || rows[i].received_at >= *since)
			print_callback_line(t, &rows[i]);
		remember(t, rows[i].id, rows[i].received_at, horizon);
		if (rows[i].received_at > newest)
			newest = rows[i].received_at;
	}
	store_callback_rows_free(rows, n);
	*since = newest;
	return 0;
}

/*
 * Jobs that are new or changed state or attempts; at the first poll those
 * changed since --since (a job may have run before tail looked). -1 on error.
 */
static int
poll_jobs(struct tail *t, struct store *s)
{
	struct job_filter	 f;
	struct job_listing	*rows = NULL;
	struct seen_job		 next[TAIL_JOBS];
	size_t			 n = 0, i, k, nnext = 0;

	memset(&f, 0, sizeof f);
	f.limit = TAIL_JOBS;
	if (store_jobs_list(s, &f, &rows, &n) == -1)
		return -1;
	for (i = n; i-- > 0; ) {
		for (k = 0; k < t->njobs; k++)
			if (t->jobs[k].id == rows[i].id)
				break;
		if (t->primed ? (k == t->njobs ||
		    strcmp(t->jobs[k].state, rows[i].state) != 0 ||
		    t->jobs[k].attempts != rows[i].attempts) :
		    rows[i].updated_at >= t->start)
			print_job_line(t, &rows[i]);
		if (nnext < TAIL_JOBS) {
			next[nnext].id = rows[i].id;
			snprintf(next[nnext].state, sizeof next[nnext].state,
			    "%s", rows[i].state);
			next[nnext++].attempts = rows[i].attempts;
		}
	}
	memcpy(t->jobs, next, nnext * sizeof next[0]);
	t->njobs = nnext;
	store_job_listings_free(rows, n);
	return 0;
}

/* tail: print new callbacks and job outcomes until interrupted. */
int
cmd_tail(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tail		 t;
	struct store		*s;
	struct sigaction	 sa;
	struct timespec		 ts;
	int64_t			 since;
	int			 ch, rc = EXIT_OK;

	memset(&t, 0, sizeof t);
	since = ctl_now_ms();
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if ((rc = ctl_time_arg(cmd, "--since", optarg,
			    &since)) != EXIT_OK)
				return rc;
			break;
		case 'j':
			t.json = 1;
			break;
		case 'h':
			return cmd_help(cmd);
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc)
		return cmd_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if ((s = ctl_store(ctl, cmd, 1)) == NULL)
		return EXIT_FAIL;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Callbacks and job changes since --since are news. */
	t.start = since;
	while (!tail_stop) {
		if (poll_callbacks(&t, s, &since, !t.primed) == -1 ||
		    poll_jobs(&t, s) == -1) {
			rc = cmd_fail(cmd, "%s", store_errmsg(s));
			break;
		}
		t.primed = 1;
		if (fflush(stdout) == EOF || ferror(stdout))
			break;	/* the reader went away */
		ts.tv_sec = TAIL_POLL_MS / 1000;
		ts.tv_nsec = (TAIL_POLL_MS % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR &&
		    !tail_stop)
			;
	}
	free(t.ids);
	free(t.at);
	return rc;
}
