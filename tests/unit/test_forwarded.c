/* test_forwarded.c: the client behind trusted proxies (X-Forwarded-For). */
#include "config-sys.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "forwarded.h"
#include "usagehook.h"

static const char *const trusted[] = { "unix", "10.0.0.0/8", "192.0.2.1",
    "2001:db8::/32", "172.16.0.0/12" };
#define NTRUSTED	(sizeof trusted / sizeof trusted[0])

static struct netblock	blocks[NTRUSTED];
static struct config	conf = { .trusted_proxies = blocks,
    .ntrusted_proxies = NTRUSTED };

static int
parse_trusted(void **state)
{
	size_t	i;

	for (i = 0; i < NTRUSTED; i++)
		if (forwarded_parse_block(trusted[i], &blocks[i]) == -1)
			return -1;
	return 0;
}

/* headers("Name", "value", ..., NULL): a header list, in that order. */
static struct evkeyvalq *
headers(const char *name, ...)
{
	struct evkeyvalq	*h;
	va_list			 ap;
	const char		*n, *v;

	h = malloc(sizeof *h);
	assert_non_null(h);
	TAILQ_INIT(h);
	va_start(ap, name);
	for (n = name; n != NULL; n = va_arg(ap, const char *)) {
		v = va_arg(ap, const char *);
		assert_int_equal(evhttp_add_header(h, n, v), 0);
	}
	va_end(ap);
	return h;
}

static void
drop(struct evkeyvalq *h)
{
	evhttp_clear_headers(h);
	free(h);
}

/* forwarded_client's answer ("-" for none); the headers are freed. */
static const char *
client(struct evkeyvalq *h, const char *peer)
{
	static char	 buf[FORWARDED_ADDR_MAX];

	if (forwarded_client(&conf, h, peer, buf) == -1)
		strcpy(buf, "-");
	drop(h);
	return buf;
}

static void
test_blocks_parse_as_check_config_accepts_them(void **state)
{
	struct netblock	b;

	assert_int_equal(forwarded_parse_block("unix", &b), 0);
	assert_int_equal(b.family, 0);
	assert_int_equal(forwarded_parse_block("10.1.2.3", &b), 0);
	assert_int_equal(b.family, AF_INET);
	assert_int_equal(b.bits, 32);
	assert_int_equal(forwarded_parse_block("10.0.0.0/0", &b), 0);
	assert_int_equal(b.bits, 0);
	assert_int_equal(forwarded_parse_block("fd00::/128", &b), 0);
	assert_int_equal(b.bits, 128);
	assert_int_equal(forwarded_parse_block("10.0.0.0/33", &b), -1);
	assert_int_equal(forwarded_parse_block("::1/129", &b), -1);
	assert_int_equal(forwarded_parse_block("10.0.0.0/", &b), -1);
	assert_int_equal(forwarded_parse_block("10.0.0.0/8x", &b), -1);
	assert_int_equal(forwarded_parse_block("10.0.0.0/0008", &b), -1);
	assert_int_equal(forwarded_parse_block("10.0.0.0/-8", &b), -1);
	assert_int_equal(forwarded_parse_block("/8", &b), -1);
	assert_int_equal(forwarded_parse_block("10.0.0.300", &b), -1);
	assert_int_equal(forwarded_parse_block("proxy.example.com", &b), -1);
	assert_int_equal(forwarded_parse_block("", &b), -1);
	assert_int_equal(forwarded_parse_block("Unix", &b), -1);
}

static void
test_trusted_peers_are_those_listed(void **state)
{
	assert_true(forwarded_trusted(&conf, "unix"));
	assert_true(forwarded_trusted(&conf, "10.200.3.4"));
	assert_true(forwarded_trusted(&conf, "192.0.2.1"));
	assert_false(forwarded_trusted(&conf, "192.0.2.2"));
	assert_true(forwarded_trusted(&conf, "172.31.255.255"));
	assert_false(forwarded_trusted(&conf, "172.32.0.0"));
	assert_true(forwarded_trusted(&conf, "2001:db8:1::5"));
	assert_false(forwarded_trusted(&conf, "2001:db9::5"));
	assert_false(forwarded_trusted(&conf, "127.0.0.1"));
	assert_false(forwarded_trusted(&conf, "not an address"));
	assert_false(forwarded_trusted(&conf, NULL));
	/* A /0 trusts every address of its family, and only those. */
	assert_int_equal(forwarded_parse_block("0.0.0.0/0", &blocks[1]), 0);
	assert_true(forwarded_trusted(&conf, "127.0.0.1"));
	assert_false(forwarded_trusted(&conf, "::1"));
	assert_int_equal(forwarded_parse_block(trusted[1], &blocks[1]), 0);
}

static void
test_the_rightmost_untrusted_address_is_the_client(void **state)
{
	assert_string_equal(client(headers("X-Forwarded-For",
	    "198.51.100.7, 203.0.113.9, 10.0.0.2", NULL), "unix"),
	    "203.0.113.9");
	/* Several headers are one list, in order; the name in any case. */
	assert_string_equal(client(headers("x-forwarded-for", "203.0.113.9",
	    "X-Forwarded-For", "10.1.1.1,  10.0.0.2 ", NULL), "unix"),
	    "203.0.113.9");
	assert_string_equal(client(headers("X-Forwarded-For",
	    "2001:db8::1, 2001:db9::7", NULL), "10.0.0.1"), "2001:db9::7");
	/* Every hop trusted: the leftmost. */
	assert_string_equal(client(headers("X-Forwarded-For",
	    "10.0.0.9, 10.0.0.2", NULL), "unix"), "10.0.0.9");
}

static void
test_the_remote_recorded_names_client_and_peer(void **state)
{
	struct evkeyvalq	*h;
	char			*via = NULL;

	h = headers("X-Forwarded-For", "203.0.113.9", NULL);
	assert_int_equal(forwarded_via(&conf, h, "unix", &via), 1);
	assert_string_equal(via, "203.0.113.9 via unix");
	free(via);
	via = NULL;
	assert_int_equal(forwarded_via(&conf, h, "127.0.0.1", &via), 0);
	assert_null(via);
	drop(h);
}

static void
test_forwarded_headers_count_only_from_trusted_peers(void **state)
{
	assert_string_equal(client(headers("X-Forwarded-For", "203.0.113.9",
	    NULL), "127.0.0.1"), "-");
	assert_string_equal(client(headers("X-Real-IP", "203.0.113.9", NULL),
	    "unix"), "-");
}

static void
test_what_is_no_address_gives_no_client(void **state)
{
	/* A forged hop to the right of the proxy's: no client, not a guess. */
	assert_string_equal(client(headers("X-Forwarded-For",
	    "203.0.113.9, <script>", NULL), "unix"), "-");
	assert_string_equal(client(headers("X-Forwarded-For",
	    "203.0.113.9,,", NULL), "unix"), "-");
	assert_string_equal(client(headers("X-Forwarded-For", "", NULL),
	    "unix"), "-");
	assert_string_equal(client(headers("X-Forwarded-For",
	    "2001:db8:0:0:0:0:0:0:1:2:3:4:5:6:7:8:9", NULL), "unix"), "-");
}

static void
test_a_long_chain_is_bounded(void **state)
{
	char	*v, *p, want[32];
	size_t	 i;

	/* 10,000 hops: only the nearest 32 are looked at. */
	v = malloc(10000 * 12 + 1);
	assert_non_null(v);
	p = v;
	p += sprintf(p, "203.0.113.9");
	for (i = 1; i < 10000; i++)
		p += sprintf(p, ",10.%zu.%zu.1", i / 250 % 250, i % 250);
	/* All 32 trusted: the leftmost of them, hop 10000 - 32. */
	i = 10000 - 32;
	snprintf(want, sizeof want, "10.%zu.%zu.1", i / 250 % 250, i % 250);
	assert_string_equal(client(headers("X-Forwarded-For", v, NULL), "unix"),
	    want);
	/* The client just inside the 32: found. */
	p = v + strlen("203.0.113.9");
	for (i = 1; i < 10000 - 31; i++)
		p = strchr(p + 1, ',');
	memcpy(p + 1, "20", 2);	/* 10.x.y.1 becomes 20.x.y.1 */
	snprintf(want, sizeof want, "20.%zu.%zu.1", i / 250 % 250, i % 250);
	assert_string_equal(client(headers("X-Forwarded-For", v, NULL), "unix"),
	    want);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks_parse_as_check_config_accepts_them),
		cmocka_unit_test(test_trusted_peers_are_those_listed),
		cmocka_unit_test(test_the_rightmost_untrusted_address_is_the_client),
		cmocka_unit_test(test_the_remote_recorded_names_client_and_peer),
		cmocka_unit_test(test_forwarded_headers_count_only_from_trusted_peers),
		cmocka_unit_test(test_what_is_no_address_gives_no_client),
		cmocka_unit_test(test_a_long_chain_is_bounded),
	};

	return cmocka_run_group_tests(tests, parse_trusted, NULL);
}
