/* metrics.c: counters and histograms, written as Prometheus text. */
#include "config-sys.h"

#include <stdio.h>

#include <event2/buffer.h>

#include "metrics.h"

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

	for (i = 0; i < METRICS_LATENCY_BUCKETS - 1; i++)
		if (seconds <= latency_le[i])
			break;
	m->latency[i]++;
	m->latency_count++;
	m->latency_sum += seconds;
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

	err |= evbuffer_add_printf(b, "# HELP usagehookd_commit_seconds "
	    "Time from BEGIN to a durable COMMIT of one batch.\n"
	    "# TYPE usagehookd_commit_seconds histogram\n") < 0;
	for (cum = 0, i = 0; i < METRICS_LATENCY_BUCKETS - 1; i++) {
		cum += m->latency[i];
		err |= evbuffer_add_printf(b,
		    "usagehookd_commit_seconds_bucket{le=\"%g\"} %llu\n",
		    latency_le[i], (unsigned long long)cum) < 0;
	}
	err |= evbuffer_add_printf(b,
	    "usagehookd_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "usagehookd_commit_seconds_sum %.6f\n"
	    "usagehookd_commit_seconds_count %llu\n",
	    (unsigned long long)m->latency_count, m->latency_sum,
	    (unsigned long long)m->latency_count) < 0;
	return err ? -1 : 0;
}
