/*
 * hotpath.c: nanoseconds per call of the work the hostile-input and operator
 * issues (11, 15) added to each callback: field validation, the callbacks
 * counter by account and category, the request latency histogram, the
 * category check, and the client behind a trusted proxy (X-Forwarded-For
 * of a request as nginx passes it on; the bench's own requests come
 * without one, so this is the cost behind a proxy). Each is timed with
 * clock_gettime around CALLS calls; the median of REPS repetitions is
 * printed, then their total. For scale, the
 * work every callback already did (decoding the form, verifying the
 * signature, reading the clock) is timed too but left out of the total.
 *
 * usage: hotpath [-n CALLS] [-r REPS]
 *
 * Output, one line per function ("name ns/call median min max"), then
 * "total NS ns" (what bench/run reads).
 */
#include "config-sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "callback.h"
#include "metrics.h"
#include "rules.h"
#include "signature.h"
#include "usagehook.h"

/* The baseline's tree may predate forwarded.c: then it is not timed. */
#if __has_include("forwarded.h")
#include <sys/queue.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "forwarded.h"
#define HAVE_FORWARDED	1
#endif

#define SID	"ACed70abd024d3f57a4027b5dc2ca88d5b"
#define UTSID	"UTc142bed7b38c4f8186ef41a30981b2e1"
#define TOKEN	"0123456789abcdef0123456789abcdef"
#define URL	"https://usage.example.com/twilio/usage"
#define REPS_MAX	25
#define NCATEGORIES	(sizeof categories / sizeof categories[0])

static const char *const categories[] = { "sms", "calls", "totalprice",
    "sms-outbound", "calls-inbound" };

/* Keeps results alive so that no call is optimised away. */
static volatile uintptr_t	sink;

static struct callback	 cb;
static struct metrics	 metrics;
static struct account	 account;
static char		 body[2048], sig[SIGNATURE_LEN + 1];
static size_t		 bodylen;
static double		 latencies[64];

static void
die(const char *what)
{
	fprintf(stderr, "hotpath: %s\n", what);
	exit(1);
}

static double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void
run_validate(unsigned long n)
{
	unsigned long	i;

	for (i = 0; i < n; i++)
		sink += (uintptr_t)callback_validate(&cb);
}

static void
run_count(unsigned long n)
{
	unsigned long	i;
	size_t		k = 0;

	for (i = 0; i < n; i++) {
		metrics_count(&metrics.callbacks, SID, categories[k]);
		if (++k == NCATEGORIES)
			k = 0;
	}
}

static void
run_request(unsigned long n)
{
	unsigned long	i;

	for (i = 0; i < n; i++)
		metrics_request(&metrics, latencies[i & 63]);
}

static void
run_category(unsigned long n)
{
	unsigned long	i;
	size_t		k = 0;

	for (i = 0; i < n; i++) {
		sink += category_known(categories[k]);
		if (++k == NCATEGORIES)
			k = 0;
	}
}

#ifdef HAVE_FORWARDED
/* Behind nginx on a Unix socket: the headers it passes on for Twilio. */
static struct netblock	 trusted[2];
static struct config	 proxyconf = { .trusted_proxies = trusted,
    .ntrusted_proxies = 2 };
static struct evkeyvalq	 proxied;

static void
make_proxied(void)
{
	static const char *const h[][2] = {
		{ "Host", "usage.example.com" },
		{ "X-Real-IP", "54.172.60.3" },
		{ "X-Forwarded-For", "54.172.60.3" },
		{ "X-Forwarded-Proto", "https" },
		{ "Connection", "close" },
		{ "Content-Length", "435" },
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "X-Twilio-Signature", "Xe7a7xgF7iW0u5CnsrXZ3Da1nCo=" },
		{ "I-Twilio-Idempotency-Token", "2c5ab2b5-e5f2-4bd4-8b8e" },
		{ "User-Agent", "TwilioProxy/1.1" },
		{ "Accept", "*/*" },
	};
	size_t	i;

	if (forwarded_parse_block("unix", &trusted[0]) == -1 ||
	    forwarded_parse_block("10.0.0.0/8", &trusted[1]) == -1)
		die("forwarded_parse_block failed");
	TAILQ_INIT(&proxied);
	for (i = 0; i < sizeof h / sizeof h[0]; i++)
		if (evhttp_add_header(&proxied, h[i][0], h[i][1]) != 0)
			die("evhttp_add_header failed");
}

/* What http.c does with it: "CLIENT via PEER". */
static void
run_forwarded(unsigned long n)
{
	unsigned long	 i;
	char		*via;

	for (i = 0; i < n; i++) {
		if (forwarded_via(&proxyconf, &proxied, "unix", &via) != 1)
			die("no client behind the proxy");
		sink += (uintptr_t)via[0];
		free(via);
	}
}
#endif

/* The reference: what each callback did before issues 11 and 15. */
static void
run_decode(unsigned long n)
{
	struct params	p;
	const char	*err;
	unsigned long	i;

	for (i = 0; i < n; i++) {
		memset(&p, 0, sizeof p);
		if (form_decode(body, bodylen, &p, &err) == -1)
			die(err);
		sink += p.n;
		params_free(&p);
	}
}

static void
run_verify(unsigned long n)
{
	unsigned long	i;

	for (i = 0; i < n; i++)
		sink += signature_verify(&account, URL, &cb.params, sig);
}

static void
run_clock(unsigned long n)
{
	struct timespec	ts;
	unsigned long	i;

	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sink += ts.tv_nsec;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Time fn over n calls reps times; print and return the median ns/call. */
static double
measure(const char *name, void (*fn)(unsigned long), unsigned long n,
    int reps)
{
	double	ns[REPS_MAX], t0;
	int	r;

	fn(n / 10 + 1);		/* warm the caches and the tables */
	for (r = 0; r < reps; r++) {
		t0 = now_ns();
		fn(n);
		ns[r] = (now_ns() - t0) / n;
	}
	qsort(ns, reps, sizeof ns[0], cmp_double);
	printf("  %-28s %9.1f ns/call   (min %.1f, max %.1f; %d x %lu calls)\n",
	    name, ns[reps / 2], ns[0], ns[reps - 1], reps, n);
	return ns[reps / 2];
}

/* Append s percent-encoded (RFC 3986 unreserved kept) to body. */
static void
put_encoded(const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (bodylen + 4 >= sizeof body)
			die("body too long");
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~')
			body[bodylen++] = c;
		else {
			body[bodylen++] = '%';
			body[bodylen++] = hex[c >> 4];
			body[bodylen++] = hex[c & 15];
		}
	}
	body[bodylen] = '\0';
}

static void
put_raw(char c)
{
	if (bodylen + 2 >= sizeof body)
		die("body too long");
	body[bodylen++] = c;
	body[bodylen] = '\0';
}

static void
add(struct params *p, const char *name, const char *value)
{
	if (params_add(p, name, strlen(name), value, strlen(value)) == -1)
		die("out of memory");
}

/*
 * One callback as Twilio sends it (and as gen-callbacks makes them, but
 * with the token in Twilio's AC...-FIRES-UT...-... shape, which is
 * validated further): signed, form-encoded, then decoded into cb.params
 * as the daemon does.
 */
static void
make_callback(void)
{
	struct params	p;
	const char	*err;
	size_t		k;

	memset(&p, 0, sizeof p);
	add(&p, "AccountSid", SID);
	add(&p, "UsageTriggerSid", UTSID);
	add(&p, "DateFired", "Mon, 24 Nov 2025 03:00:00 +0000");
	add(&p, "Recurring", "daily");
	add(&p, "UsageCategory", "sms");
	add(&p, "TriggerBy", "price");
	add(&p, "TriggerValue", "100");
	add(&p, "CurrentValue", "123.45");
	add(&p, "UsageRecordUri", "/2010-04-01/Accounts/" SID
	    "/Usage/Records/Today.json?Category=sms");
	add(&p, "IdempotencyToken", SID "-FIRES-" UTSID "-2025-11-24");
	if (signature_compute(TOKEN, URL, &p, sig) == -1)
		die("signature_compute failed");
	for (k = 0; k < p.n; k++) {
		if (k > 0)
			put_raw('&');
		put_encoded(p.v[k].name);
		put_raw('=');
		put_encoded(p.v[k].value);
	}
	params_free(&p);
	if (form_decode(body, bodylen, &cb.params, &err) == -1)
		die(err);
	if ((err = callback_validate(&cb)) != NULL)
		die(err);

	memcpy(account.sid, SID, sizeof SID);
	if ((account.token = strdup(TOKEN)) == NULL)
		die("out of memory");
	if (signature_key(&account) == -1)
		die("signature_key failed");
	if (signature_verify(&account, URL, &cb.params, sig) != 1)
		die("the signature does not verify");
}

int
main(int argc, char *argv[])
{
	unsigned long	n = 1000000;
	int		ch, reps = 5, i;
	double		total;

	while ((ch = getopt(argc, argv, "n:r:")) != -1) {
		switch (ch) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'r': reps = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: hotpath [-n CALLS] [-r REPS]\n");
			return 2;
		}
	}
	if (n < 10 || reps < 1 || reps > REPS_MAX) {
		fprintf(stderr, "hotpath: -n at least 10, -r 1 to %d\n",
		    REPS_MAX);
		return 2;
	}
	/* Request latencies spread over the histogram's buckets. */
	for (i = 0; i < 64; i++)
		latencies[i] = 0.0002 * (1 + i % 16) * (1 + i / 16);
	make_callback();

	printf("hotpath: the per-callback work of issues 11 and 15, one "
	    "signed callback of %zu bytes\n", bodylen);
	total = measure("callback_validate", run_validate, n, reps);
	total += measure("metrics_count", run_count, n, reps);
	total += measure("metrics_request", run_request, n, reps);
	total += measure("category_known", run_category, n, reps);
#ifdef HAVE_FORWARDED
	make_proxied();
	total += measure("X-Forwarded-For (proxied)", run_forwarded, n, reps);
	evhttp_clear_headers(&proxied);
#else
	printf("  %-28s %9s   (not measured: no src/forwarded.h in this "
	    "tree)\n", "X-Forwarded-For", "-");
#endif
	printf("total %.1f ns per callback\n", total);
	printf("for scale, per callback before those issues (not in the "
	    "total):\n");
	measure("form_decode + params_free", run_decode, n / 10, reps);
	measure("signature_verify (keyed)", run_verify, n / 10, reps);
	measure("clock_gettime(MONOTONIC)", run_clock, n, reps);

	params_free(&cb.params);
	metrics_free(&metrics);
	signature_unkey(&account);
	explicit_bzero(account.token, strlen(account.token));
	free(account.token);
	return 0;
}
