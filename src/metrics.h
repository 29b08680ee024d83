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

/* Touched only on the event loop thread. */
struct metrics {
	uint64_t	received;
	uint64_t	accepted;
	uint64_t	duplicates;
	uint64_t	unavailable;		/* 503: database not writable */
	uint64_t	header_too_large;	/* 431 */
	uint64_t	body_too_large;		/* 413 we answered (evhttp's own are not seen) */
	uint64_t	not_found;
	uint64_t	timed_out;		/* request not whole in request_timeout */
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
};

const char	*reject_reason_name(enum reject_reason);
/* Record one group commit of n requests that took seconds. */
void		 metrics_commit(struct metrics *, size_t n, double seconds);
/* Append the Prometheus text exposition to buf; -1 when out of memory. */
int		 metrics_write(const struct metrics *, struct evbuffer *buf);

#endif
