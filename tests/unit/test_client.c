/* test_client.c: the blocking HTTP client against a one-shot loopback peer. */
#include "config-sys.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "callback.h"
#include "client.h"

/* A peer that answers one connection with a canned reply. */
struct peer {
	int		 fd;
	int		 port;
	const char	*reply;		/* NULL: read the request, then hang */
	int		 hang_ms;
	char		 request[8192];	/* what the client sent */
	pthread_t	 thread;
};

/* Read the head and Content-Length body of one request into p->request. */
static void
peer_read(struct peer *p, int c)
{
	size_t		 len = 0;
	ssize_t		 n;
	char		*end, *cl;
	size_t		 want = 0;

	for (;;) {
		n = read(c, p->request + len, sizeof p->request - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		p->request[len] = '\0';
		if ((end = strstr(p->request, "\r\n\r\n")) == NULL)
			continue;
		if ((cl = strcasestr(p->request, "Content-Length: ")) != NULL)
			want = strtoul(cl + 16, NULL, 10);
		if (len >= (size_t)(end + 4 - p->request) + want)
			break;
	}
}

static void *
peer_main(void *arg)
{
	struct peer	*p = arg;
	int		 c;

	if ((c = accept(p->fd, NULL, NULL)) == -1)
		return NULL;
	peer_read(p, c);
	if (p->reply != NULL)
		(void)!write(c, p->reply, strlen(p->reply));
	else
		usleep((useconds_t)p->hang_ms * 1000);
	close(c);
	return NULL;
}

static void
peer_start(struct peer *p, const char *reply)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;

	memset(p, 0, sizeof *p);
	p->reply = reply;
	p->hang_ms = 1500;
	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(p->fd, 1), 0);
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&sin, &len), 0);
	p->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void
peer_stop(struct peer *p)
{
	pthread_join(p->thread, NULL);
	close(p->fd);
}

/* One request to the peer at url's path, in plain HTTP to 127.0.0.1:port. */
static int
do_request(struct peer *p, const char *method, const char *url,
    const char *body, int timeout_ms, struct client_response *resp,
    char **err)
{
	struct client_request	 req;
	char			 connect[32];
	const char		*hdrs[] = { "User-Agent: test", NULL };

	snprintf(connect, sizeof connect, "http://127.0.0.1:%d", p->port);
	memset(&req, 0, sizeof req);
	req.method = method;
	req.url = url;
	req.connect = connect;
	req.headers = hdrs;
	req.body = body;
	req.bodylen = body ? strlen(body) : 0;
	req.timeout_ms = timeout_ms;
	return client_do(&req, resp, err);
}

static void
test_url_parts_with_ipv6_port_and_query(void **state)
{
	struct client_url	 u;
	char			*err = NULL;

	assert_int_equal(client_url_parse("HTTPS://[::1]:8443/a/b?x=1#frag",
	    &u, &err), 0);
	assert_string_equal(u.scheme, "https");
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.authority, "[::1]:8443");
	assert_string_equal(u.target, "/a/b?x=1");
	assert_int_equal(u.tls, 1);
	client_url_free(&u);

	assert_int_equal(client_url_parse("http://example.com?q", &u, &err), 0);
	assert_string_equal(u.port, "80");
	assert_string_equal(u.target, "/?q");
	client_url_free(&u);
}

static void
test_url_refuses_what_cannot_be_requested(void **state)
{
	static const char *const	 bad[] = {
		"ftp://x/", "example.com/x", "http:///x", "http://[::1/",
		"http://::1/", "http://x:0/", "http://x:65536/",
		"http://u@x/", "http://a b/",
	};
	struct client_url		 u;
	char				*err;
	size_t				 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err = NULL;
		assert_int_equal(client_url_parse(bad[i], &u, &err), -1);
		assert_non_null(err);
		free(err);
	}
}

static void
test_form_encoding_keeps_only_unreserved(void **state)
{
	struct params	 p = { NULL, 0, 0, NULL };
	char		*s;

	assert_int_equal(params_add(&p, "A b", 3, "x+y&z=~é", 9), 0);
	assert_int_equal(params_add(&p, "Empty", 5, "", 0), 0);
	s = client_form_encode(&p);
	assert_string_equal(s, "A%20b=x%2By%26z%3D~%C3%A9&Empty=");
	free(s);
	params_free(&p);
}

static void
test_post_sends_host_length_and_close(void **state)
{
	struct peer		 p;
	struct client_response	 r;
	char			*err = NULL;

	peer_start(&p, "HTTP/1.1 200 OK\r\nX-Usagehook-Duplicate: 1\r\n"
	    "Content-Length: 5\r\n\r\nhello");
	assert_int_equal(do_request(&p, "POST",
	    "https://hooks.example.com/twilio/usage?a=1", "x=1", 2000, &r,
	    &err), 0);
	peer_stop(&p);
	assert_non_null(strstr(p.request, "POST /twilio/usage?a=1 HTTP/1.1\r\n"
	    "Host: hooks.example.com\r\n"));
	assert_non_null(strstr(p.request, "Content-Length: 3\r\n"));
	assert_non_null(strstr(p.request, "Connection: close\r\n"));
	assert_non_null(strstr(p.request, "\r\n\r\nx=1"));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.reason, "OK");
	assert_string_equal(client_header(&r, "x-usagehook-duplicate"), "1");
	assert_int_equal(r.bodylen, 5);
	assert_string_equal(r.body, "hello");
	client_response_free(&r);
}

static void
test_chunked_body_is_decoded(void **state)
{
	struct peer		 p;
	struct client_response	 r;
	char			*err = NULL;

	peer_start(&p, "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4;ext=1\r\nbad-\r\n9\r\nsignature\r\n0\r\nX-T: 1\r\n\r\n");
	assert_int_equal(do_request(&p, "GET", "http://h/x", NULL, 2000, &r,
	    &err), 0);
	peer_stop(&p);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.body, "bad-signature");
	client_response_free(&r);
}

static void
test_body_until_eof_without_length(void **state)
{
	struct peer		 p;
	struct client_response	 r;
	char			*err = NULL;

	peer_start(&p, "HTTP/1.0 503 Service Unavailable\r\n\r\ndown\n");
	assert_int_equal(do_request(&p, "DELETE", "http://h/x", NULL, 2000,
	    &r, &err), 0);
	peer_stop(&p);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "down\n");
	client_response_free(&r);
}

static void
test_head_response_has_no_body(void **state)
{
	struct peer		 p;
	struct client_response	 r;
	char			*err = NULL;

	peer_start(&p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
	assert_int_equal(do_request(&p, "HEAD", "http://h/x", NULL, 2000, &r,
	    &err), 0);
	peer_stop(&p);
	assert_int_equal(r.bodylen, 0);
	client_response_free(&r);
}

static void
test_truncated_body_is_an_error(void **state)
{
	struct peer		 p;
	struct client_response	 r;
	char			*err = NULL;

	peer_start(&p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
	assert_int_equal(do_request(&p, "GET", "http://h/x", NULL, 2000, &r,
	    &err), -1);
	peer_stop(&p);
	assert_non_null(strstr(err, "connection closed"));
	free(err);
}

static void
test_silent_peer_times_out(void **state)
{
	struct peer		 p;
	struct client_response	 r;
	char			*err = NULL;

	peer_start(&p, NULL);
	assert_int_equal(do_request(&p, "GET", "http://h/x", NULL, 300, &r,
	    &err), -1);
	peer_stop(&p);
	assert_non_null(strstr(err, "timed out after 300 ms"));
	free(err);
}

static void
test_refused_connect_names_the_address(void **state)
{
	struct peer		 p;
	struct client_response	 r;
	char			*err = NULL, want[64];

	/* A port that was just free: bound, then closed without listening. */
	peer_start(&p, "HTTP/1.1 200 OK\r\n\r\n");
	assert_int_equal(do_request(&p, "GET", "http://h/x", NULL, 2000, &r,
	    &err), 0);
	peer_stop(&p);
	client_response_free(&r);
	assert_int_equal(do_request(&p, "GET", "http://h/x", NULL, 2000, &r,
	    &err), -1);
	snprintf(want, sizeof want, "connect 127.0.0.1:%d: Connection refused",
	    p.port);
	assert_string_equal(err, want);
	free(err);
}

static void
test_connect_without_scheme_keeps_the_urls(void **state)
{
	struct peer		 p;
	struct client_request	 req;
	struct client_response	 r;
	char			*err = NULL, connect[32];

	/* An https URL sent to host:port is TLS there: a ClientHello. */
	peer_start(&p, NULL);
	p.hang_ms = 0;
	snprintf(connect, sizeof connect, "127.0.0.1:%d", p.port);
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = "https://hooks.example.com/twilio/usage";
	req.connect = connect;
	req.body = "x=1";
	req.bodylen = 3;
	req.timeout_ms = 500;
	assert_int_equal(client_do(&req, &r, &err), -1);
	free(err);
	peer_stop(&p);
	assert_int_equal((unsigned char)p.request[0], 0x16);
	assert_null(strstr(p.request, "POST /"));
}

static void
test_header_injection_is_refused(void **state)
{
	struct client_request	 req;
	struct client_response	 r;
	const char		*hdrs[] = { "X-A: 1\r\nX-B: 2", NULL };
	char			*err = NULL;

	memset(&req, 0, sizeof req);
	req.url = "http://127.0.0.1:1/";
	req.headers = hdrs;
	assert_int_equal(client_do(&req, &r, &err), -1);
	assert_non_null(strstr(err, "bad request header"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_url_parts_with_ipv6_port_and_query),
		cmocka_unit_test(test_url_refuses_what_cannot_be_requested),
		cmocka_unit_test(test_form_encoding_keeps_only_unreserved),
		cmocka_unit_test(test_post_sends_host_length_and_close),
		cmocka_unit_test(test_chunked_body_is_decoded),
		cmocka_unit_test(test_body_until_eof_without_length),
		cmocka_unit_test(test_head_response_has_no_body),
		cmocka_unit_test(test_truncated_body_is_an_error),
		cmocka_unit_test(test_silent_peer_times_out),
		cmocka_unit_test(test_refused_connect_names_the_address),
		cmocka_unit_test(test_header_injection_is_refused),
		cmocka_unit_test(test_connect_without_scheme_keeps_the_urls),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
