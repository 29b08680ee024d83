/* metrics.h: counters and histograms, written as Prometheus text. */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* Why a request was refused: the reason column and the metric label. */
enum reject_reason {
	REJECT_MISSING_SIGNATURE,
	REJECT_BAD_SIGNATURE,
	REJECT_MALFORMED,
	REJECT_INVALID,
	REJECT_CONTENT_TYPE,
	REJECT_MAX
};

#define METRICS_BATCH_BUCKETS	12	/* 1, 2, 4 ... 1024, +Inf */
#define METRICS_LATENCY_BUCKETS	12
#define METRICS_LABEL_MAX	64	/* bytes of a label value kept */
#define METRICS_SERIES_SLOTS	2048	/* a labelled counter's table */
#define METRICS_SERIES_MAX	1536	/* series; later ones count as "other" */

/* One series of a counter with two labels. */
struct metrics_series {
	char		a[METRICS_LABEL_MAX];
	char		b[METRICS_LABEL_MAX];
	uint64_t	n;
};

/*
 * A counter with two labels whose values come from bounded sets (the
 * configured accounts and Twilio's categories; the rules and the outcomes).
 * Open addressing; allocated at the first count; a series past
 * METRICS_SERIES_MAX is counted under "other", "other".
 */
struct metrics_labelled {
	struct metrics_series	*slot;
	size_t			 n;
};

/* Touched only on the event loop thread, but for the reconcile members. */
struct metrics {
	uint64_t	received;
	uint64_t	accepted;
	uint64_t	duplicates;
	uint64_t	unavailable;		/* 503: database not writable */
	uint64_t	header_too_large;	/* 431 */
	uint64_t	body_too_large;		/* 413 we answered (evhttp's own are not seen) */
	uint64_t	not_found;
	uint64_t	timed_out;		/* request not whole in request_timeout */
	uint64_t	bad_framing;		/* 400: a length read otherwise */
	uint64_t	connections;		/* open, set when written */
	uint64_t	unmatched;		/* stored, no rule matched */
	uint64_t	jobs_done;
	uint64_t	jobs_failed;		/* attempts that will be retried */
	uint64_t	jobs_dead;
	uint64_t	rejected[REJECT_MAX];
	uint64_t	batch[METRICS_BATCH_BUCKETS];
	uint64_t	batch_count;
	uint64_t	batch_sum;
	uint64_t	latency[METRICS_LATENCY_BUCKETS];
	uint64_t	latency_count;
	double		latency_sum;
	uint64_t	request[METRICS_LATENCY_BUCKETS];	/* claims */
	uint64_t	request_count;
	double		request_sum;
	uint64_t	verified[2];		/* by the primary, secondary token */
	int64_t		last_accepted;		/* Unix time, 0: none yet */
	int64_t		started;		/* Unix time the daemon started */
	uint64_t	triggers;		/* declared in the configuration */
	struct metrics_labelled callbacks;	/* account, category */
	struct metrics_labelled jobs;		/* rule, outcome */
	/* Written by the reconcile thread: read and written atomically. */
	uint64_t	recovered;		/* firings stored from the API */
	uint64_t	reconcile_failures;	/* accounts or claims that failed */
	int64_t		reconcile_last_success;	/* Unix time, 0: none yet */
};

const char	*reject_reason_name(enum reject_reason);
/* Record one group commit of n requests that took seconds. */
void		 metrics_commit(struct metrics *, size_t n, double seconds);
/* A claim answered after seconds (request read to answer written). */
void		 metrics_request(struct metrics *, double seconds);
/* Count one in the series (a, b); a failed allocation loses the count. */
void		 metrics_count(struct metrics_labelled *, const char *a,
		    const char *b);
#define METRICS_JOB_STATES	4	/* queued, running, done, dead */
/* The jobs by state as counted in the database (any thread). */
void		 metrics_set_jobs(const int64_t n[METRICS_JOB_STATES]);
/* Free the labelled counters' tables. */
void		 metrics_free(struct metrics *);
/* Append the Prometheus text exposition to buf; -1 when out of memory. */
int		 metrics_write(const struct metrics *, struct evbuffer *buf);

#endif
