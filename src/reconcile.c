/* reconcile.c: recover firings whose callback never came, from Twilio's record. */
#include "config-sys.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "callback.h"
#include "client.h"
#include "config.h"
#include "dispatch.h"
#include "firing.h"
#include "log.h"
#include "metrics.h"
#include "reconcile.h"
#include "rules.h"
#include "store.h"
#include "triggers.h"
#include "xmalloc.h"

#define FIELD_MAX	1024	/* bytes of one field taken from Twilio */
#define SHOW_MAX	200	/* bytes of hostile text in a message */
#define MATCHED_MAX	64
#define FIRST_PASS	5	/* seconds after start, at most */
#define DAY_MS		(86400 * 1000LL)

const char *const rc_outcome_names[] = {
	[RC_RECOVERED] = "recovered",
	[RC_WOULD_RECOVER] = "would-recover",
	[RC_STORED] = "stored",
	[RC_IN_GRACE] = "in-grace",
	[RC_TOO_OLD] = "too-old",
	[RC_INVALID] = "invalid",
	[RC_FAILED] = "failed",
};

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Hostile text as one short printable line; allocated; NULL stays NULL. */
static char *
printable(const char *s)
{
	char	*p, *c;

	if (s == NULL)
		return NULL;
	p = xstrndup(s, SHOW_MAX);
	for (c = p; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return p;
}

static struct rc_item *
item_add(struct rc_report *r, const char *account, const struct ut *u,
    enum rc_outcome outcome)
{
	struct rc_item	*it;

	r->items = xreallocarray(r->items, r->nitems + 1, sizeof *r->items);
	it = &r->items[r->nitems++];
	memset(it, 0, sizeof *it);
	snprintf(it->account, sizeof it->account, "%s", account);
	it->sid = printable(u->sid);
	it->name = printable(u->friendly_name);
	it->recurring = printable(u->recurring != NULL ? u->recurring : "");
	it->date_fired = printable(u->date_fired);
	it->outcome = outcome;
	return it;
}

static void __attribute__((format(printf, 2, 3)))
item_detail(struct rc_item *it, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (vasprintf(&it->detail, fmt, ap) == -1)
		it->detail = NULL;
	va_end(ap);
}

/* The jobs of the rules cb matches, as http.c makes them; allocated. */
static struct job_spec *
match_jobs(const struct config *conf, const struct params *p, size_t *njobs)
{
	const struct rule	*matched[MATCHED_MAX];
	struct job_spec		*jobs = NULL;
	size_t			 n, i, k;

	*njobs = 0;
	n = rules_match(conf, p, matched, MATCHED_MAX);
	for (i = 0; i < n; i++)
		for (k = 0; k < matched[i]->nactions; k++) {
			const struct action *a = &matched[i]->actions[k];

			jobs = xreallocarray(jobs, *njobs + 1, sizeof *jobs);
			jobs[*njobs].rule = matched[i]->name;
			jobs[*njobs].action = (int)k;
			jobs[*njobs].kind = action_kind_name(a->kind);
			jobs[*njobs].max_attempts = a->max_attempts > 0 ?
			    a->max_attempts : conf->dispatch.max_attempts;
			(*njobs)++;
		}
	return jobs;
}

/*
 * The callback Twilio would have sent for this firing: the ten parameters
 * taken from the trigger resource, form-encoded as the body (the
 * dispatcher reads a job's parameters from it), checked exactly as a
 * delivery is. NULL with a message in why.
 */
static struct callback *
firing_callback(const struct config *conf, const struct ut *u,
    const char *token, char *why, size_t len)
{
	const char	*names[] = { "AccountSid", "UsageTriggerSid",
	    "DateFired", "Recurring", "UsageCategory", "TriggerBy",
	    "TriggerValue", "CurrentValue", "UsageRecordUri",
	    "IdempotencyToken" };
	const char	*values[] = { u->account_sid, u->sid, u->date_fired,
	    u->recurring != NULL ? u->recurring : "", u->usage_category,
	    u->trigger_by, u->trigger_value, u->current_value,
	    u->usage_record_uri, token };
	struct callback	*cb;
	const char	*err;
	size_t		 i;

	cb = xcalloc(1, sizeof *cb);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (values[i] == NULL) {
			snprintf(why, len, "Twilio's record has no %s",
			    names[i]);
			goto bad;
		}
		if (strlen(values[i]) > FIELD_MAX) {
			snprintf(why, len, "%s is longer than %d bytes",
			    names[i], FIELD_MAX);
			goto bad;
		}
		if (params_add(&cb->params, names[i], strlen(names[i]),
		    values[i], strlen(values[i])) == -1)
			fatalx("out of memory");
	}
	if ((err = callback_validate(cb)) != NULL) {
		snprintf(why, len, "%s", err);
		goto bad;
	}
	cb->method = xstrdup("POST");
	cb->uri = xstrdup(conf->path);
	cb->url = u->callback_url != NULL ? printable(u->callback_url) :
	    xstrdup("");
	cb->body = client_form_encode(&cb->params);
	cb->bodylen = strlen(cb->body);
	/* Where the data came from, in place of a peer address. */
	cb->remote = xstrdup("twilio-rest-api");
	cb->received_at = now_ms();
	cb->source = "api";
	return cb;
 bad:
	callback_free(cb);
	return NULL;
}

/* Store one missed firing with its jobs in one transaction. */
static enum claim
recover(const struct config *conf, struct store *st, struct callback *cb)
{
	struct job_spec	*jobs;
	size_t		 njobs;
	enum claim	 c;

	jobs = match_jobs(conf, &cb->params, &njobs);
	if (store_begin(st) == -1) {
		free(jobs);
		return CLAIM_ERROR;
	}
	if ((c = store_claim(st, cb, jobs, njobs)) == CLAIM_ERROR ||
	    store_commit(st) == -1) {
		(void)store_rollback(st);
		c = CLAIM_ERROR;
	}
	free(jobs);
	return c;
}

static void	judge_one(const struct config *, struct store *,
		    const struct rc_opts *, const char *, const struct ut *,
		    int64_t, struct rc_report *, struct rc_item *);

/* What to do with one trigger of account acct at now; adds an item. */
static void
judge(const struct config *conf, struct store *st, const struct rc_opts *o,
    const char *acct, const struct ut *u, int64_t now, struct rc_report *r)
{
	struct rc_item	*it;

	it = item_add(r, acct, u, RC_INVALID);
	judge_one(conf, st, o, acct, u, now, r, it);
	/* Reported, counted (the pass failed), never guessed at. */
	if (it->outcome == RC_INVALID) {
		r->failures++;
		log_warnx("reconcile: account %s: trigger %s: %s", acct,
		    it->sid ? it->sid : "(no sid)", it->detail ? it->detail :
		    "invalid");
	}
}

/* judge's work: sets the item's outcome and detail. */
static void
judge_one(const struct config *conf, struct store *st,
    const struct rc_opts *o, const char *acct, const struct ut *u,
    int64_t now, struct rc_report *r, struct rc_item *it)
{
	const struct reconcile *rc = &conf->reconcile;
	struct callback	*cb;
	char		 token[TOKEN_MAX + 1], why[512];
	int64_t		 t, latest;
	enum claim	 c;

	if (u->sid == NULL || !sid_valid(u->sid, "UT")) {
		item_detail(it, "sid is not a UsageTriggerSid");
		return;
	}
	if (u->account_sid == NULL || strcmp(u->account_sid, acct) != 0) {
		item_detail(it, "account_sid %s is not the account listed",
		    it->account);
		return;
	}
	if (firing_parse_date(u->date_fired, &t) == -1) {
		item_detail(it, "date_fired '%s' is not an RFC 2822 date; not "
		    "recovered", it->date_fired);
		return;
	}
	it->fired_at = t * 1000;
	if (it->fired_at > now - rc->grace * 1000) {
		it->outcome = RC_IN_GRACE;
		return;
	}
	if (it->fired_at < now - rc->max_age * 1000) {
		it->outcome = RC_TOO_OLD;
		return;
	}
	if (store_trigger_latest(st, u->sid, it->fired_at - DAY_MS, &latest)
	    == -1) {
		it->outcome = RC_FAILED;
		item_detail(it, "%s", store_errmsg(st));
		r->failures++;
		return;
	}
	if (latest >= it->fired_at) {
		it->outcome = RC_STORED;
		return;
	}
	if (firing_token(acct, u->sid, u->recurring, t, token,
	    sizeof token) == -1) {
		item_detail(it, "recurring '%s' is not daily, monthly, yearly, "
		    "alltime or empty", it->recurring);
		return;
	}
	it->token = xstrdup(token);
	if ((cb = firing_callback(conf, u, token, why, sizeof why)) == NULL) {
		item_detail(it, "%s", why);
		return;
	}
	if (o->dry_run) {
		it->outcome = RC_WOULD_RECOVER;
		r->recovered++;
		callback_free(cb);
		return;
	}
	c = recover(conf, st, cb);
	callback_free(cb);
	if (c == CLAIM_ERROR) {
		it->outcome = RC_FAILED;
		item_detail(it, "%s", store_errmsg(st));
		r->failures++;
		log_warnx("reconcile: trigger %s (%s) fired at %s: not stored: "
		    "%s; tried again at the next pass", it->sid, it->name ?
		    it->name : "", it->date_fired, store_errmsg(st));
		return;
	}
	if (c == CLAIM_DUPLICATE) {
		it->outcome = RC_STORED;
		return;
	}
	it->outcome = RC_RECOVERED;
	r->recovered++;
	log_warnx("reconcile: recovered a missed firing: trigger %s (%s) of "
	    "account %s fired at %s (%s %s %s, current %s); no callback "
	    "arrived; stored as %s with source api, its rules run", it->sid,
	    it->name ? it->name : "", acct, it->date_fired,
	    u->usage_category, u->trigger_by, u->trigger_value,
	    u->current_value, token);
}

/* 1 if the pass should look at account sid. */
static int
in_scope(const struct rc_opts *o, const char *sid)
{
	size_t	i;

	if (o->accounts == NULL)
		return 1;
	for (i = 0; i < o->naccounts; i++)
		if (strcmp(o->accounts[i], sid) == 0)
			return 1;
	return 0;
}

/* List one account's triggers and judge those that call this daemon. */
static void
reconcile_account(const struct config *conf, struct store *st,
    const struct rc_opts *o, const struct account *a, struct rc_report *r)
{
	struct rc_account	*ra;
	struct twilio		*tw;
	struct ut_list		 l = { NULL, 0 };
	char			*err = NULL;
	size_t			 i;
	int64_t			 now;

	r->accounts = xreallocarray(r->accounts, r->naccounts + 1,
	    sizeof *r->accounts);
	ra = &r->accounts[r->naccounts++];
	memset(ra, 0, sizeof *ra);
	memcpy(ra->sid, a->sid, sizeof ra->sid);
	if ((tw = twilio_open(o->api_base ? o->api_base : conf->twilio_api,
	    conf->twilio_ca_file, a, &err)) == NULL ||
	    twilio_list(tw, NULL, NULL, NULL, &l, &err) == -1) {
		ra->error = err;
		r->failures++;
		log_warnx("reconcile: account %s: cannot list its "
		    "UsageTriggers: %s; nothing stored, tried again at the "
		    "next pass", a->sid, err);
		twilio_close(tw);
		return;
	}
	twilio_close(tw);
	ra->listed = l.n;
	now = now_ms();
	for (i = 0; i < l.n && i < RC_TRIGGERS_MAX; i++) {
		if (o->stop != NULL && *o->stop)
			break;
		if (!triggers_url_ours(conf, l.v[i].callback_url))
			continue;
		ra->ours++;
		if (l.v[i].date_fired == NULL || *l.v[i].date_fired == '\0')
			continue;
		judge(conf, st, o, a->sid, &l.v[i], now, r);
	}
	ut_list_free(&l);
}

int
reconcile_pass(const struct config *conf, struct store *st,
    const struct rc_opts *o, struct rc_report *r)
{
	size_t	i;
	int	lease = 0, got;

	memset(r, 0, sizeof *r);
	if (!o->dry_run) {
		got = store_reconcile_lock(st, o->owner, now_ms(),
		    now_ms() + RC_LEASE_MS);
		if (got == -1) {
			xasprintf(&r->error, "the reconcile lease: %s",
			    store_errmsg(st));
			r->failures++;
			return -1;
		}
		if (got == 0) {
			r->busy = 1;
			return 0;
		}
		lease = 1;
	}
	for (i = 0; i < conf->naccounts; i++) {
		if (o->stop != NULL && *o->stop)
			break;
		if (in_scope(o, conf->accounts[i].sid))
			reconcile_account(conf, st, o, &conf->accounts[i], r);
	}
	if (lease && store_reconcile_lock(st, o->owner, 0, 0) == -1)
		log_warnx("reconcile: releasing the lease: %s",
		    store_errmsg(st));
	return r->failures > 0 ? -1 : 0;
}

void
rc_report_free(struct rc_report *r)
{
	size_t	i;

	for (i = 0; i < r->nitems; i++) {
		free(r->items[i].sid);
		free(r->items[i].name);
		free(r->items[i].recurring);
		free(r->items[i].date_fired);
		free(r->items[i].token);
		free(r->items[i].detail);
	}
	free(r->items);
	for (i = 0; i < r->naccounts; i++)
		free(r->accounts[i].error);
	free(r->accounts);
	free(r->error);
	memset(r, 0, sizeof *r);
}

/* the daemon's thread */

struct reconciler {
	char		*config_file;
	char		*database;
	struct metrics	*metrics;
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	volatile int	 stopping;
	int		 reload;	/* under lock */
	int		 done;		/* under lock: the thread has ended */
};

/* The configuration again; NULL after logging why (the old one stays). */
static struct config *
load_config(const char *file)
{
	struct config	*conf;
	char		*errs = NULL;
	size_t		 len = 0;
	FILE		*f;

	if ((f = open_memstream(&errs, &len)) == NULL)
		return NULL;
	conf = config_load(file, f);
	fclose(f);
	if (conf == NULL)
		log_warnx("reconcile: %s refused; keeping the configuration "
		    "it had", file);
	free(errs);
	return conf;
}

/* One pass on the thread, logged and counted. */
static void
run_pass(struct reconciler *rc, const struct config *conf, struct store *st,
    const char *owner)
{
	struct rc_opts		 o;
	struct rc_report	 r;
	size_t			 i, ours = 0;

	memset(&o, 0, sizeof o);
	o.owner = owner;
	o.stop = &rc->stopping;
	if (reconcile_pass(conf, st, &o, &r) == 0 && !r.busy) {
		__atomic_store_n(&rc->metrics->reconcile_last_success,
		    (int64_t)time(NULL), __ATOMIC_RELAXED);
		for (i = 0; i < r.naccounts; i++)
			ours += r.accounts[i].ours;
		log_debug("reconcile: %zu account(s), %zu trigger(s) calling "
		    "this daemon, %zu firing(s) recovered", r.naccounts,
		    ours, r.recovered);
	} else if (r.busy)
		log_debug("reconcile: another process holds the lease; "
		    "skipping this pass");
	if (r.error != NULL)
		log_warnx("reconcile: %s", r.error);
	__atomic_add_fetch(&rc->metrics->recovered, (uint64_t)r.recovered,
	    __ATOMIC_RELAXED);
	__atomic_add_fetch(&rc->metrics->reconcile_failures,
	    (uint64_t)r.failures, __ATOMIC_RELAXED);
	rc_report_free(&r);
}

static void *
runner(void *arg)
{
	struct reconciler	*rc = arg;
	struct config		*conf, *next;
	struct store		*st = NULL;
	struct timespec		 at;
	char			 owner[128], host[64] = "";
	char			*err = NULL;
	int64_t			 wait;

	(void)gethostname(host, sizeof host - 1);
	snprintf(owner, sizeof owner, "usagehookd %s pid %ld", host,
	    (long)getpid());
	conf = load_config(rc->config_file);
	pthread_mutex_lock(&rc->lock);
	wait = conf != NULL && conf->reconcile.interval < FIRST_PASS ?
	    conf->reconcile.interval : FIRST_PASS;
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += conf != NULL && conf->reconcile.interval > 0 ?
		    wait : 3600;
		while (!rc->stopping && !rc->reload &&
		    pthread_cond_timedwait(&rc->cond, &rc->lock, &at) !=
		    ETIMEDOUT)
			;
		if (rc->stopping)
			break;
		if (rc->reload) {
			rc->reload = 0;
			pthread_mutex_unlock(&rc->lock);
			if ((next = load_config(rc->config_file)) != NULL) {
				config_free(conf);
				conf = next;
			}
			pthread_mutex_lock(&rc->lock);
			wait = conf != NULL ? conf->reconcile.interval : 0;
			continue;
		}
		pthread_mutex_unlock(&rc->lock);
		if (conf != NULL && conf->reconcile.interval > 0) {
			if (st == NULL && (st = store_open_auth(rc->database,
			    conf->database_password_file, 0, &err)) == NULL) {
				log_warnx("reconcile: %s", err);
				free(err);
				err = NULL;
				__atomic_add_fetch(
				    &rc->metrics->reconcile_failures, 1,
				    __ATOMIC_RELAXED);
			}
			if (st != NULL)
				run_pass(rc, conf, st, owner);
			wait = conf->reconcile.interval;
		}
		pthread_mutex_lock(&rc->lock);
	}
	pthread_mutex_unlock(&rc->lock);
	store_close(st);
	config_free(conf);
	pthread_mutex_lock(&rc->lock);
	rc->done = 1;
	pthread_cond_broadcast(&rc->cond);
	pthread_mutex_unlock(&rc->lock);
	return NULL;
}

struct reconciler *
reconciler_start(const char *config_file, const char *database,
    struct metrics *m)
{
	struct reconciler	*rc;
	int			 error;

	rc = xcalloc(1, sizeof *rc);
	rc->config_file = xstrdup(config_file);
	rc->database = xstrdup(database);
	rc->metrics = m;
	pthread_mutex_init(&rc->lock, NULL);
	pthread_cond_init(&rc->cond, NULL);
	if ((error = pthread_create(&rc->thread, NULL, runner, rc)) != 0)
		fatalx("cannot start the reconcile thread: error %d", error);
	return rc;
}

void
reconciler_reload(struct reconciler *rc)
{
	pthread_mutex_lock(&rc->lock);
	rc->reload = 1;
	pthread_cond_broadcast(&rc->cond);
	pthread_mutex_unlock(&rc->lock);
}

void
reconciler_stop(struct reconciler *rc)
{
	struct timespec	at;
	int		done;

	if (rc == NULL)
		return;
	pthread_mutex_lock(&rc->lock);
	rc->stopping = 1;
	pthread_cond_broadcast(&rc->cond);
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_sec += 3;
	while (!rc->done && pthread_cond_timedwait(&rc->cond, &rc->lock,
	    &at) != ETIMEDOUT)
		;
	done = rc->done;
	pthread_mutex_unlock(&rc->lock);
	if (!done) {
		/* A REST request in flight: it ends with the process. */
		log_info("reconcile: a pass is still waiting on the REST API; "
		    "not waiting for it");
		pthread_detach(rc->thread);
		return;
	}
	pthread_join(rc->thread, NULL);
	pthread_mutex_destroy(&rc->lock);
	pthread_cond_destroy(&rc->cond);
	free(rc->config_file);
	free(rc->database);
	free(rc);
}
