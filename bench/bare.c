/*
 * bare.c: the ceiling. A libevent evhttp server, one thread like usagehookd,
 * that answers 200 "OK" to every request and does nothing else: what
 * usagehookd costs is measured against this.
 *
 * usage: bare [-a ADDRESS] -p PORT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

/* The same reply usagehookd sends for a stored callback. */
static void
answer(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*buf = arg;

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	evbuffer_add(buf, "OK\n", 3);
	evhttp_send_reply(req, 200, "OK", buf);
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char *argv[])
{
	struct event_base	*base;
	struct evhttp		*http;
	struct evbuffer		*buf;
	struct event		*sigterm, *sigint;
	const char		*addr = "127.0.0.1";
	int			 ch, port = 0;

	while ((ch = getopt(argc, argv, "a:p:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bare [-a ADDRESS] -p PORT\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: bare [-a ADDRESS] -p PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL ||
	    (http = evhttp_new(base)) == NULL ||
	    (buf = evbuffer_new()) == NULL) {
		fprintf(stderr, "bare: libevent set-up failed\n");
		return 1;
	}
	/* The methods Twilio may use, as usagehookd allows them. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_HEAD);
	evhttp_set_gencb(http, answer, buf);
	if (evhttp_bind_socket(http, addr, (ev_uint16_t)port) == -1) {
		fprintf(stderr, "bare: cannot bind %s:%d\n", addr, port);
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_base_dispatch(base);
	event_free(sigterm);
	event_free(sigint);
	evhttp_free(http);
	evbuffer_free(buf);
	event_base_free(base);
	return 0;
}
