/* dispatch.c: the outbox dispatcher: runs due jobs, retries, dead letters. */
#include "config-sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "actions.h"
#include "callback.h"
#include "commit.h"
#include "config.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "xmalloc.h"

/* Look for due jobs at least this often, and when kicked. */
#define POLL_MS		1000

/* A configuration and the running jobs that still use its actions. */
struct gen {
	struct config	*conf;
	int		 refs;
	struct gen	*next;
};

/* How many jobs of one rule run now, for dispatch.per_rule. */
struct rule_count {
	char			*rule;
	int			 running;
	struct rule_count	*next;
};

struct job {
	struct dispatcher	*d;
	struct gen		*gen;
	struct rule_count	*rc;
	int64_t			 id;
	int			 attempt;
	int			 max_attempts;
	const struct action	*act;
	struct params		 params;
	struct job		*next;
};

struct dispatcher {
	struct event_base	*base;
	struct committer	*committer;
	struct actions		*actions;
	struct metrics		*metrics;
	struct gen		*gens;		/* current first */
	struct rule_count	*counts;
	struct job		*running;
	size_t			 nrunning;
	struct event		*timer;
	struct commit_req	*retrying;	/* state updates that failed */
	struct event		*retry_timer;
	int			 fetching;	/* a fetch is queued */
	int			 again;		/* kicked during a fetch */
	int			 stopped;
	/* This instance, as jobs' owner: host, process, start. */
	char			 owner[128];
};

static const char *const kind_names[] = {
	[ACTION_EXEC] = "exec",
	[ACTION_HTTP] = "http",
	[ACTION_APPEND] = "append",
	[ACTION_LOG] = "log",
	[ACTION_TWILIO] = "twilio",
};

static void	fetch(struct dispatcher *);

const char *
action_kind_name(enum action_kind k)
{
	if (k < ACTION_EXEC || k > ACTION_TWILIO)
		return "unknown";
	return kind_names[k];
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
dispatch_backoff_ms(const struct dispatch *dp, int attempt)
{
	int64_t	delay = dp->backoff_ms;
	int	i;

	for (i = 1; i < attempt && delay < dp->max_backoff_ms; i++)
		delay *= 2;
	if (delay > dp->max_backoff_ms)
		delay = dp->max_backoff_ms;
	/* Equal jitter: half fixed, half random, so retries spread out. */
	if (delay >= 2)
		delay = delay / 2 + arc4random_uniform(delay / 2 + 1);
	return delay;
}

/*
 * A state change that did not commit (a full disk, say) is kept and tried
 * again each second: dropped, a done job would stay 'running', or a started
 * one 'queued' and be fetched and run again and again.
 */
static void
update_done(struct commit_req *creq, void *arg)
{
	struct dispatcher	*d = arg;
	struct timeval		 tv = { 1, 0 };

	if (creq->result == 0 || d->stopped) {
		if (creq->result != 0)
			log_warnx("job %lld: could not record its state; it may "
			    "run again after a restart", (long long)creq->update.id);
		free(creq);
		return;
	}
	if (d->retrying == NULL)
		log_warnx("job %lld: could not record its state; no job starts "
		    "until the database takes writes again",
		    (long long)creq->update.id);
	creq->next = d->retrying;
	d->retrying = creq;
	evtimer_add(d->retry_timer, &tv);
}

static void
retry_updates(evutil_socket_t fd, short events, void *arg)
{
	struct dispatcher	*d = arg;
	struct commit_req	*creq, *next;

	creq = d->retrying;
	d->retrying = NULL;
	for (; creq != NULL; creq = next) {
		next = creq->next;
		committer_submit(d->committer, creq);
	}
	dispatcher_kick(d);
}

static void
submit_update(struct dispatcher *d, int64_t id, enum job_state st,
    int64_t next_run_at, const char *error)
{
	struct commit_req	*creq;
	char			*copy = NULL;

	if ((creq = calloc(1, sizeof *creq + (error ? strlen(error) + 1 : 0)))
	    == NULL) {
		log_warnx("job %lld: out of memory recording its state",
		    (long long)id);
		return;
	}
	if (error != NULL) {
		copy = (char *)(creq + 1);
		strcpy(copy, error);
	}
	creq->kind = COMMIT_JOB_UPDATE;
	creq->update.id = id;
	creq->update.state = st;
	creq->update.next_run_at = next_run_at;
	creq->update.error = copy;
	creq->update.owner = d->owner;
	/* Taken but not started: queued again, the attempt not counted. */
	creq->update.release = st == JOB_QUEUED && next_run_at == 0;
	if (creq->update.release)
		creq->update.next_run_at = now_ms();
	creq->done = update_done;
	creq->arg = d;
	committer_submit(d->committer, creq);
}

static void
gen_release(struct dispatcher *d, struct gen *g)
{
	struct gen	**pp;

	if (--g->refs > 0)
		return;
	for (pp = &d->gens; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	config_free(g->conf);
	free(g);
}

static struct rule_count *
rule_count(struct dispatcher *d, const char *rule)
{
	struct rule_count	*rc;

	for (rc = d->counts; rc != NULL; rc = rc->next)
		if (strcmp(rc->rule, rule) == 0)
			return rc;
	if ((rc = calloc(1, sizeof *rc)) == NULL ||
	    (rc->rule = strdup(rule)) == NULL) {
		free(rc);
		return NULL;
	}
	rc->next = d->counts;
	d->counts = rc;
	return rc;
}

static int
job_is_running(const struct dispatcher *d, int64_t id)
{
	const struct job	*j;

	for (j = d->running; j != NULL; j = j->next)
		if (j->id == id)
			return 1;
	return 0;
}

/* The action a job row names in the current configuration, or NULL. */
static const struct action *
find_action(const struct config *conf, const char *rule, int index)
{
	size_t	i;

	for (i = 0; i < conf->nrules; i++) {
		if (strcmp(conf->rules[i].name, rule) != 0)
			continue;
		if (index < 0 || (size_t)index >= conf->rules[i].nactions)
			return NULL;
		return &conf->rules[i].actions[index];
	}
	return NULL;
}

/* A job's attempt ended: record done, retry later, or dead. */
static void
job_finished(struct job *j, int ok, const char *error)
{
	struct dispatcher	*d = j->d;
	const struct dispatch	*dp = &d->gens->conf->dispatch;
	struct job		**pp;
	const char		*kind = action_kind_name(j->act->kind);
	int64_t			 delay;

	metrics_count(&d->metrics->jobs, j->rc->rule, ok > 0 ? "done" :
	    ok < 0 || j->attempt >= j->max_attempts ? "dead" : "failed");
	if (ok > 0) {
		d->metrics->jobs_done++;
		log_info("job %lld (rule %s, %s): done on attempt %d",
		    (long long)j->id, j->rc->rule, kind, j->attempt);
		submit_update(d, j->id, JOB_DONE, 0, NULL);
	} else if (ok < 0) {
		/* Retries cannot fix it: say so now, not after all attempts. */
		d->metrics->jobs_dead++;
		log_warnx("job %lld (rule %s, %s): dead on attempt %d (no retry "
		    "can fix this): %s; `usagehookctl retry %lld` runs it again "
		    "once it is fixed", (long long)j->id, j->rc->rule, kind,
		    j->attempt, error, (long long)j->id);
		submit_update(d, j->id, JOB_DEAD, 0, error);
	} else if (j->attempt >= j->max_attempts) {
		d->metrics->jobs_dead++;
		log_warnx("job %lld (rule %s, %s): dead after %d attempts: %s; "
		    "`usagehookctl retry %lld` runs it again", (long long)j->id,
		    j->rc->rule, kind, j->attempt, error, (long long)j->id);
		submit_update(d, j->id, JOB_DEAD, 0, error);
	} else {
		d->metrics->jobs_failed++;
		delay = dispatch_backoff_ms(dp, j->attempt);
		log_warnx("job %lld (rule %s, %s): attempt %d of %d failed: %s;"
		    " next in %.1fs", (long long)j->id, j->rc->rule, kind,
		    j->attempt, j->max_attempts, error, delay / 1000.0);
		submit_update(d, j->id, JOB_QUEUED, now_ms() + delay, error);
	}

	for (pp = &d->running; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	d->nrunning--;
	j->rc->running--;
	gen_release(d, j->gen);
	params_free(&j->params);
	free(j);
	dispatcher_kick(d);
}

static void
action_done(int ok, const char *error, void *arg)
{
	job_finished(arg, ok, error);
}

/* Start one taken job; 0 if started or settled, -1 to give it back. */
static int
start(struct dispatcher *d, const struct job_row *row)
{
	struct gen		*g = d->gens;
	struct rule_count	*rc;
	const struct action	*act;
	struct job		*j;
	struct job_info		 info;
	const char		*err;
	char			 why[256];
	int			 started;

	if ((act = find_action(g->conf, row->rule, row->action)) == NULL) {
		snprintf(why, sizeof why, "rule %s has no action %d in the "
		    "configuration any more", row->rule, row->action + 1);
		log_warnx("job %lld: %s; marked dead", (long long)row->id, why);
		d->metrics->jobs_dead++;
		submit_update(d, row->id, JOB_DEAD, 0, why);
		return 0;
	}
	if ((rc = rule_count(d, row->rule)) == NULL)
		return -1;
	if (rc->running >= g->conf->dispatch.per_rule)
		return -1;
	if ((j = calloc(1, sizeof *j)) == NULL)
		return -1;
	j->d = d;
	j->gen = g;
	j->rc = rc;
	j->id = row->id;
	j->attempt = row->attempts + 1;
	j->max_attempts = row->max_attempts;
	j->act = act;
	if (request_params(row->method, row->uri, row->body, row->bodylen,
	    &j->params, &err) == -1) {
		/* It was decoded once to be accepted; this cannot heal. */
		log_warnx("job %lld: stored request no longer decodes: %s; "
		    "marked dead", (long long)row->id, err);
		submit_update(d, row->id, JOB_DEAD, 0, err);
		params_free(&j->params);
		free(j);
		return 0;
	}

	/* Taking it made it running, counted the attempt and leased it. */
	g->refs++;
	rc->running++;
	d->nrunning++;
	j->next = d->running;
	d->running = j;
	info.id = j->id;
	info.rule = rc->rule;
	info.attempt = j->attempt;
	info.conf = g->conf;
	info.callback_id = row->callback_id;
	info.received_at = row->received_at;
	info.source = row->from_api ? "api" : "callback";
	if ((started = actions_run(d->actions, act, &j->params, &info,
	    action_done, j, &err)) < 0)
		job_finished(j, started == -2 ? -1 : 0, err);
	return 0;
}

/* Due jobs arrived from the writer: start what the limits allow. */
static void
fetched(struct commit_req *creq, void *arg)
{
	struct dispatcher	*d = arg;
	struct timeval		 tv;
	int64_t			 wait = POLL_MS, now;
	size_t			 i;

	d->fetching = 0;
	/*
	 * While a state change waits to be written, start nothing new; what
	 * was taken and cannot start is given back at once, not left to its
	 * lease.
	 */
	if (creq->result == 0) {
		for (i = 0; i < creq->nrows; i++) {
			/* Ours already: its lease ran out while it runs. */
			if (job_is_running(d, creq->rows[i].id))
				continue;
			if (d->stopped || d->retrying != NULL || d->nrunning >=
			    (size_t)d->gens->conf->dispatch.concurrency ||
			    start(d, &creq->rows[i]) == -1)
				submit_update(d, creq->rows[i].id, JOB_QUEUED,
				    0, NULL);
		}
	}
	if (creq->result == 0 && !d->stopped && d->retrying == NULL) {
		now = now_ms();
		if (creq->next_due >= 0 && creq->next_due - now < wait)
			wait = creq->next_due > now ? creq->next_due - now : 0;
	}
	store_job_rows_free(creq->rows, creq->nrows);
	free(creq->skip_rules);
	free(creq);
	if (d->stopped)
		return;
	if (d->again) {
		d->again = 0;
		fetch(d);
		return;
	}
	/* Jobs due now but left for want of a slot start when one frees. */
	if (wait == 0 && d->nrunning > 0)
		wait = POLL_MS;
	tv.tv_sec = wait / 1000;
	tv.tv_usec = (wait % 1000) * 1000;
	evtimer_add(d->timer, &tv);
}

static void
fetch(struct dispatcher *d)
{
	struct commit_req	*creq;
	struct rule_count	*rc;
	char			*skip = NULL, *more;
	size_t			 slots;

	if (d->stopped)
		return;
	if (d->fetching) {
		d->again = 1;
		return;
	}
	if ((creq = calloc(1, sizeof *creq)) == NULL) {
		struct timeval tv = { 1, 0 };

		evtimer_add(d->timer, &tv);
		return;
	}
	slots = d->gens->conf->dispatch.concurrency;
	/* Take only what can start: the rest stays for other instances. */
	slots = slots > d->nrunning ? slots - d->nrunning : 0;
	if (slots == 0 || d->retrying != NULL) {
		struct timeval tv = { POLL_MS / 1000, 0 };

		free(creq);
		evtimer_add(d->timer, &tv);
		return;
	}
	/* Rules at their per_rule limit: their jobs stay queued. */
	for (rc = d->counts; rc != NULL; rc = rc->next) {
		if (rc->running < d->gens->conf->dispatch.per_rule)
			continue;
		if (skip == NULL)
			skip = strdup(rc->rule);
		else if (asprintf(&more, "%s\n%s", skip, rc->rule) == -1)
			more = NULL;
		else {
			free(skip);
			skip = more;
		}
	}
	creq->kind = COMMIT_JOBS_DUE;
	creq->due_now = now_ms();
	creq->due_limit = slots;
	creq->skip_rules = skip;
	creq->owner = d->owner;
	creq->lease_ms = d->gens->conf->dispatch.lease_ms;
	creq->done = fetched;
	creq->arg = d;
	d->fetching = 1;
	evtimer_del(d->timer);
	committer_submit(d->committer, creq);
}

static void
timer_cb(evutil_socket_t fd, short events, void *arg)
{
	fetch(arg);
}

/* host:pid:start-ms, unique among the instances sharing a database. */
static void
make_owner(char *buf, size_t size)
{
	char	host[64];

	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	snprintf(buf, size, "%s:%ld:%lld", host, (long)getpid(),
	    (long long)now_ms());
}

struct dispatcher *
dispatcher_new(struct event_base *base, struct committer *committer,
    struct actions *actions, struct metrics *metrics, struct config *conf)
{
	struct dispatcher	*d;

	d = xcalloc(1, sizeof *d);
	d->base = base;
	d->committer = committer;
	d->actions = actions;
	d->metrics = metrics;
	d->gens = xcalloc(1, sizeof *d->gens);
	d->gens->conf = conf;
	d->gens->refs = 1;
	make_owner(d->owner, sizeof d->owner);
	if ((d->timer = evtimer_new(base, timer_cb, d)) == NULL ||
	    (d->retry_timer = evtimer_new(base, retry_updates, d)) == NULL)
		fatalx("evtimer_new failed");
	dispatcher_kick(d);
	return d;
}

void
dispatcher_set_config(struct dispatcher *d, struct config *conf)
{
	struct gen	*g, *old = d->gens;

	g = xcalloc(1, sizeof *g);
	g->conf = conf;
	g->refs = 1;
	g->next = d->gens;
	d->gens = g;
	gen_release(d, old);
	dispatcher_kick(d);
}

void
dispatcher_kick(struct dispatcher *d)
{
	struct timeval	now = { 0, 0 };

	if (d->stopped)
		return;
	if (d->fetching) {
		d->again = 1;
		return;
	}
	evtimer_add(d->timer, &now);
}

void
dispatcher_stop(struct dispatcher *d)
{
	d->stopped = 1;
	evtimer_del(d->timer);
	evtimer_del(d->retry_timer);
}

size_t
dispatcher_running(const struct dispatcher *d)
{
	return d->nrunning;
}

void
dispatcher_free(struct dispatcher *d)
{
	struct rule_count	*rc, *rcnext;
	struct commit_req	*creq, *cnext;
	struct job		*j, *jnext;
	struct gen		*g, *gnext;

	if (d == NULL)
		return;
	/* Jobs still running were killed; they stay 'running' and rerun. */
	for (j = d->running; j != NULL; j = jnext) {
		jnext = j->next;
		params_free(&j->params);
		free(j);
	}
	for (rc = d->counts; rc != NULL; rc = rcnext) {
		rcnext = rc->next;
		free(rc->rule);
		free(rc);
	}
	for (g = d->gens; g != NULL; g = gnext) {
		gnext = g->next;
		config_free(g->conf);
		free(g);
	}
	for (creq = d->retrying; creq != NULL; creq = cnext) {
		cnext = creq->next;
		free(creq);
	}
	event_free(d->retry_timer);
	event_free(d->timer);
	free(d);
}
