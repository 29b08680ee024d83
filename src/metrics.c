/* metrics.c: counters and histograms, written as Prometheus text. */
#include "config-sys.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0"
#endif

static const char *reason_names[REJECT_MAX] = {
	[REJECT_MISSING_SIGNATURE] =	"missing-signature",
	[REJECT_BAD_SIGNATURE] =	"bad-signature",
	[REJECT_MALFORMED] =		"malformed",
	[REJECT_INVALID] =		"invalid-callback",
	[REJECT_CONTENT_TYPE] =		"content-type",
};

/* Upper bounds of the commit latency buckets, in seconds; last is +Inf. */
static const double latency_le[METRICS_LATENCY_BUCKETS - 1] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0
};

const char *
reject_reason_name(enum reject_reason r)
{
	if (r < 0 || r >= REJECT_MAX)
		return "unknown";
	return reason_names[r];
}

/* Count seconds into a histogram over latency_le's buckets. */
static void
latency_add(uint64_t *bucket, uint64_t *count, double *sum, double seconds)
{
	size_t	i;

	for (i = 0; i < METRICS_LATENCY_BUCKETS - 1; i++)
		if (seconds <= latency_le[i])
			break;
	bucket[i]++;
	(*count)++;
	*sum += seconds;
}

void
metrics_commit(struct metrics *m, size_t n, double seconds)
{
	size_t	i;

	/* Batch buckets are powers of two: 1, 2, 4 ... 1024, then +Inf. */
	for (i = 0; i < METRICS_BATCH_BUCKETS - 1; i++)
		if (n <= ((size_t)1 << i))
			break;
	m->batch[i]++;
	m->batch_count++;
	m->batch_sum += n;
	latency_add(m->latency, &m->latency_count, &m->latency_sum, seconds);
}

/* Set by the housekeeping thread, read when /metrics is written. */
static pthread_mutex_t	jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t		jobs_by_state[METRICS_JOB_STATES];
static int		jobs_counted;

void
metrics_set_jobs(const int64_t n[METRICS_JOB_STATES])
{
	pthread_mutex_lock(&jobs_lock);
	memcpy(jobs_by_state, n, sizeof jobs_by_state);
	jobs_counted = 1;
	pthread_mutex_unlock(&jobs_lock);
}

/* The gauges of jobs by state; nothing until the first count. */
static int
jobs_gauges(struct evbuffer *b)
{
	static const char *const names[METRICS_JOB_STATES] = { "queued",
	    "running", "done", "dead" };
	int64_t	n[METRICS_JOB_STATES];
	int	i, known, err;

	pthread_mutex_lock(&jobs_lock);
	memcpy(n, jobs_by_state, sizeof n);
	known = jobs_counted;
	pthread_mutex_unlock(&jobs_lock);
	err = evbuffer_add_printf(b, "# HELP usagehookd_jobs Jobs in the "
	    "database by state (counted every few seconds; dead ones wait "
	    "for usagehookctl retry).\n# TYPE usagehookd_jobs gauge\n") < 0;
	for (i = 0; i < METRICS_JOB_STATES && known; i++)
		err |= evbuffer_add_printf(b, "usagehookd_jobs{state=\"%s\"} "
		    "%lld\n", names[i], (long long)n[i]) < 0;
	return err;
}

void
metrics_request(struct metrics *m, double seconds)
{
	latency_add(m->request, &m->request_count, &m->request_sum, seconds);
}

/* FNV-1a over both label values. */
static size_t
series_hash(const char *a, const char *b)
{
	uint32_t	h = 2166136261u;

	for (; *a != '\0'; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (; *b != '\0'; b++)
		h = (h ^ (unsigned char)*b) * 16777619u;
	return h % METRICS_SERIES_SLOTS;
}

/* The slot of (a, b), or the empty one where it goes; NULL when full. */
static struct metrics_series *
series_find(struct metrics_labelled *l, const char *a, const char *b)
{
	struct metrics_series	*s;
	size_t			 i, h = series_hash(a, b);

	for (i = 0; i < METRICS_SERIES_SLOTS; i++) {
		s = &l->slot[(h + i) % METRICS_SERIES_SLOTS];
		if (s->a[0] == '\0' || (strcmp(s->a, a) == 0 &&
		    strcmp(s->b, b) == 0))
			return s;
	}
	return NULL;
}

/*
 * A label value as the key of its series: cut as stored, so a long value
 * always finds its series; "-" for none. (Not snprintf: once a callback.)
 */
static void
label_key(char *k, const char *v)
{
	size_t	n;

	if (v == NULL || *v == '\0')
		v = "-";
	n = strnlen(v, METRICS_LABEL_MAX - 1);
	memcpy(k, v, n);
	k[n] = '\0';
}

void
metrics_count(struct metrics_labelled *l, const char *a, const char *b)
{
	struct metrics_series	*s;
	char			 ka[METRICS_LABEL_MAX], kb[METRICS_LABEL_MAX];

	if (l->slot == NULL && (l->slot = calloc(METRICS_SERIES_SLOTS,
	    sizeof *l->slot)) == NULL)
		return;
	label_key(ka, a);
	label_key(kb, b);
	if ((s = series_find(l, ka, kb)) == NULL)
		return;
	if (s->a[0] == '\0') {
		if (l->n >= METRICS_SERIES_MAX) {
			if ((s = series_find(l, "other", "other")) == NULL)
				return;
			if (s->a[0] == '\0') {
				memcpy(s->a, "other", 6);
				memcpy(s->b, "other", 6);
				l->n++;
			}
		} else {
			memcpy(s->a, ka, sizeof ka);
			memcpy(s->b, kb, sizeof kb);
			l->n++;
		}
	}
	s->n++;
}

void
metrics_free(struct metrics *m)
{
	free(m->callbacks.slot);
	free(m->jobs.slot);
	m->callbacks.slot = m->jobs.slot = NULL;
	m->callbacks.n = m->jobs.n = 0;
}

/* A label value with \\, " and newlines escaped, as the text format wants. */
static int
label_value(struct evbuffer *b, const char *v)
{
	int	err = 0;

	for (; *v != '\0' && !err; v++) {
		if (*v == '\\' || *v == '"')
			err = evbuffer_add_printf(b, "\\%c", *v) < 0;
		else if (*v == '\n')
			err = evbuffer_add(b, "\\n", 2) == -1;
		else
			err = evbuffer_add(b, v, 1) == -1;
	}
	return err;
}

/* A counter with two labels: every series it has. */
static int
labelled(struct evbuffer *b, const char *name, const char *help,
    const char *la, const char *lb, const struct metrics_labelled *l)
{
	size_t	i;
	int	err;

	err = evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s counter\n",
	    name, help, name) < 0;
	for (i = 0; l->slot != NULL && i < METRICS_SERIES_SLOTS && !err; i++) {
		if (l->slot[i].a[0] == '\0')
			continue;
		err |= evbuffer_add_printf(b, "%s{%s=\"", name, la) < 0;
		err |= label_value(b, l->slot[i].a);
		err |= evbuffer_add_printf(b, "\",%s=\"", lb) < 0;
		err |= label_value(b, l->slot[i].b);
		err |= evbuffer_add_printf(b, "\"} %llu\n",
		    (unsigned long long)l->slot[i].n) < 0;
	}
	return err;
}

/* A histogram over latency_le's buckets. */
static int
latency_histogram(struct evbuffer *b, const char *name, const char *help,
    const uint64_t *bucket, uint64_t count, double sum)
{
	uint64_t	cum;
	int		i, err;

	err = evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s histogram\n",
	    name, help, name) < 0;
	for (cum = 0, i = 0; i < METRICS_LATENCY_BUCKETS - 1; i++) {
		cum += bucket[i];
		err |= evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %llu\n",
		    name, latency_le[i], (unsigned long long)cum) < 0;
	}
	err |= evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n"
	    "%s_sum %.6f\n%s_count %llu\n", name, (unsigned long long)count,
	    name, sum, name, (unsigned long long)count) < 0;
	return err;
}

/* One counter with its HELP and TYPE lines. */
static int
counter(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	return evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s counter\n"
	    "%s %llu\n", name, help, name, name, (unsigned long long)v) < 0;
}

int
metrics_write(const struct metrics *m, struct evbuffer *b)
{
	uint64_t	cum;
	int		i, err = 0;

	err |= counter(b, "usagehookd_received_total",
	    "Callback requests received on the callback path.", m->received);
	err |= counter(b, "usagehookd_accepted_total",
	    "Callbacks stored for the first time.", m->accepted);
	err |= counter(b, "usagehookd_duplicates_total",
	    "Deliveries of an IdempotencyToken already stored.", m->duplicates);
	err |= counter(b, "usagehookd_unavailable_total",
	    "Requests answered 503 because the database refused the write.",
	    m->unavailable);
	err |= counter(b, "usagehookd_header_too_large_total",
	    "Requests answered 431.", m->header_too_large);
	err |= counter(b, "usagehookd_body_too_large_total",
	    "Requests answered 413 (bodies over 4x max_body are refused by "
	    "libevent unseen).", m->body_too_large);
	err |= counter(b, "usagehookd_not_found_total",
	    "Requests for paths we do not serve.", m->not_found);
	err |= counter(b, "usagehookd_bad_framing_total",
	    "Requests refused 400 with their connection closed because their "
	    "length could be read two ways (request smuggling).",
	    m->bad_framing);
	err |= counter(b, "usagehookd_timed_out_total",
	    "Connections closed because a request did not arrive whole "
	    "within request_timeout.", m->timed_out);
	err |= evbuffer_add_printf(b, "# HELP usagehookd_connections "
	    "Client connections open.\n# TYPE usagehookd_connections gauge\n"
	    "usagehookd_connections %llu\n",
	    (unsigned long long)m->connections) < 0;
	err |= counter(b, "usagehookd_unmatched_total",
	    "New callbacks stored that matched no rule.", m->unmatched);
	err |= counter(b, "usagehookd_jobs_done_total",
	    "Jobs whose action succeeded.", m->jobs_done);
	err |= counter(b, "usagehookd_jobs_failed_total",
	    "Failed attempts that will be retried.", m->jobs_failed);
	err |= counter(b, "usagehookd_jobs_dead_total",
	    "Jobs that ran out of attempts (dead letters).", m->jobs_dead);

	err |= evbuffer_add_printf(b, "# HELP usagehookd_rejected_total "
	    "Requests refused and kept in the rejected table, by reason.\n"
	    "# TYPE usagehookd_rejected_total counter\n") < 0;
	for (i = 0; i < REJECT_MAX; i++)
		err |= evbuffer_add_printf(b,
		    "usagehookd_rejected_total{reason=\"%s\"} %llu\n",
		    reason_names[i], (unsigned long long)m->rejected[i]) < 0;

	err |= evbuffer_add_printf(b, "# HELP usagehookd_commit_batch_size "
	    "Requests committed together in one transaction.\n"
	    "# TYPE usagehookd_commit_batch_size histogram\n") < 0;
	for (cum = 0, i = 0; i < METRICS_BATCH_BUCKETS - 1; i++) {
		cum += m->batch[i];
		err |= evbuffer_add_printf(b,
		    "usagehookd_commit_batch_size_bucket{le=\"%d\"} %llu\n",
		    1 << i, (unsigned long long)cum) < 0;
	}
	err |= evbuffer_add_printf(b,
	    "usagehookd_commit_batch_size_bucket{le=\"+Inf\"} %llu\n"
	    "usagehookd_commit_batch_size_sum %llu\n"
	    "usagehookd_commit_batch_size_count %llu\n",
	    (unsigned long long)m->batch_count,
	    (unsigned long long)m->batch_sum,
	    (unsigned long long)m->batch_count) < 0;

	err |= latency_histogram(b, "usagehookd_commit_seconds",
	    "Time from BEGIN to a durable COMMIT of one batch.", m->latency,
	    m->latency_count, m->latency_sum);
	err |= latency_histogram(b, "usagehookd_request_seconds",
	    "Time from a callback read whole to its answer (200 or 503 "
	    "after the commit).", m->request, m->request_count,
	    m->request_sum);

	err |= evbuffer_add_printf(b, "# HELP usagehookd_build_info "
	    "The running version.\n# TYPE usagehookd_build_info gauge\n"
	    "usagehookd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION) < 0;
	err |= evbuffer_add_printf(b, "# HELP "
	    "usagehookd_last_accepted_timestamp_seconds When the last new "
	    "callback was stored (Unix time; 0: none since start).\n"
	    "# TYPE usagehookd_last_accepted_timestamp_seconds gauge\n"
	    "usagehookd_last_accepted_timestamp_seconds %lld\n",
	    (long long)m->last_accepted) < 0;
	err |= evbuffer_add_printf(b, "# HELP usagehookd_start_time_seconds "
	    "When the daemon started (Unix time).\n"
	    "# TYPE usagehookd_start_time_seconds gauge\n"
	    "usagehookd_start_time_seconds %lld\n"
	    "# HELP usagehookd_triggers_declared UsageTriggers declared in the "
	    "configuration (triggers:), which should fire callbacks.\n"
	    "# TYPE usagehookd_triggers_declared gauge\n"
	    "usagehookd_triggers_declared %llu\n", (long long)m->started,
	    (unsigned long long)m->triggers) < 0;
	err |= evbuffer_add_printf(b, "# HELP usagehookd_verified_total "
	    "Signatures verified, by the account token that matched (when "
	    "secondary stays 0 after a rotation, the old token can go).\n"
	    "# TYPE usagehookd_verified_total counter\n"
	    "usagehookd_verified_total{token=\"primary\"} %llu\n"
	    "usagehookd_verified_total{token=\"secondary\"} %llu\n",
	    (unsigned long long)m->verified[0],
	    (unsigned long long)m->verified[1]) < 0;
	/* Always exported, reconcile on or off: alerts name them. */
	err |= counter(b, "usagehookd_recovered_total",
	    "Missed firings recovered from Twilio's REST API (stored with "
	    "source api, their rules run).",
	    __atomic_load_n(&m->recovered, __ATOMIC_RELAXED));
	err |= counter(b, "usagehookd_reconcile_failures_total",
	    "Reconciliation failures: an account whose triggers could not "
	    "be listed, a firing that could not be stored.",
	    __atomic_load_n(&m->reconcile_failures, __ATOMIC_RELAXED));
	err |= evbuffer_add_printf(b, "# HELP "
	    "usagehookd_reconcile_last_success_timestamp_seconds When a "
	    "reconciliation pass last succeeded for every account (Unix "
	    "time; 0: none since start, or reconcile is off).\n"
	    "# TYPE usagehookd_reconcile_last_success_timestamp_seconds "
	    "gauge\n"
	    "usagehookd_reconcile_last_success_timestamp_seconds %lld\n",
	    (long long)__atomic_load_n(&m->reconcile_last_success,
	    __ATOMIC_RELAXED)) < 0;
	err |= labelled(b, "usagehookd_callbacks_total",
	    "New callbacks stored, by AccountSid and UsageCategory (a "
	    "category Twilio does not list counts as other).", "account",
	    "category", &m->callbacks);
	err |= jobs_gauges(b);
	err |= labelled(b, "usagehookd_jobs_total",
	    "Job attempts that ended, by rule and outcome (done; failed: "
	    "retried later; dead).", "rule", "outcome", &m->jobs);
	return err ? -1 : 0;
}
