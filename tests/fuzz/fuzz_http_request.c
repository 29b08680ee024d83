/*
 * fuzz_http_request.c: the daemon's request path in-process. The input is
 * sent as raw bytes on a Unix socket to a real server (http.c on evhttp,
 * the committer thread, the outbox dispatcher, an in-memory SQLite store,
 * wired as usagehookd.c wires them), then the client
 * half-closes and reads until the server closes: parsing, routing, limits,
 * the public URL from Host / X-Forwarded-*, signature checks, the claim,
 * and a client that goes away while its claim is being committed: each
 * input is sent twice, first by a client that closes the connection right
 * after writing (nothing read), then by one that waits for the answer.
 * The config has no public_url, so the URL signed is http://HOST + target.
 */
#include "config-sys.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "actions.h"
#include "commit.h"
#include "config.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#define TOKEN		"0123456789abcdef0123456789abcdef"
#define SID		"AC0123456789abcdef0123456789abcdef"
#define REBUILD_EVERY	20000	/* runs; bounds the in-memory database */

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct event_base	*base;
static struct config		*conf;		/* owned by the dispatcher */
static struct store		*store;
static struct committer		*committer;
static struct actions		*actions;
static struct dispatcher	*dispatcher;
static struct server		*server;
static char			 conf_path[PATH_MAX];
static char			 tmp_dir[PATH_MAX];
static struct metrics		 metrics;
static char			 sock_path[PATH_MAX];
static unsigned long		 runs;

/* One exchange: what is left to write, and whether the server hung up. */
struct exchange {
	const uint8_t	*data;
	size_t		 left;
	int		 fd;
	int		 done;
	struct event	*ev;
};

static void
commit_stats(size_t n, double seconds, void *arg)
{
	metrics_commit(arg, n, seconds);
}

/* The daemon's parts, wired as usagehookd.c does, on an in-memory store. */
static void
world_new(void)
{
	char	*err;

	memset(&metrics, 0, sizeof metrics);
	if ((conf = config_load(conf_path, stderr)) == NULL ||
	    config_key_accounts(conf) == -1)
		abort();
	if ((store = store_open(":memory:", 0, &err)) == NULL) {
		fprintf(stderr, "fuzz_http_request: %s\n", err);
		abort();
	}
	committer = committer_new(base, store, commit_stats, &metrics);
	if ((actions = actions_new(base)) == NULL)
		abort();
	dispatcher = dispatcher_new(base, committer, actions, &metrics, conf);
	server = server_new(base, conf, committer, dispatcher, &metrics);
	if (server_listen(server, conf->listen) == -1)
		abort();
}

/* In usagehookd.c's order; the dispatcher frees the config. */
static void
world_free(void)
{
	dispatcher_stop(dispatcher);
	actions_free(actions);
	committer_free(committer);
	server_free(server);
	dispatcher_free(dispatcher);
	store_close(store);
	metrics_free(&metrics);
}

/* The temporary directory goes when libFuzzer exits normally. */
static void
remove_dir(void)
{
	char	path[PATH_MAX];

	unlink(conf_path);
	unlink(sock_path);
	snprintf(path, sizeof path, "%s/token", tmp_dir);
	unlink(path);
	rmdir(tmp_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 dir[] = "/tmp/fuzz_http.XXXXXX", path[PATH_MAX];
	FILE	*f;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(tmp_dir, sizeof tmp_dir, "%s", dir);
	atexit(remove_dir);
	snprintf(path, sizeof path, "%s/token", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(TOKEN "\n", f);
	fclose(f);
	/* Token files readable by others are refused. */
	if (chmod(path, 0600) == -1)
		abort();
	snprintf(sock_path, sizeof sock_path, "%s/h.sock", dir);
	snprintf(conf_path, sizeof conf_path, "%s/usagehookd.yaml", dir);
	if ((f = fopen(conf_path, "w")) == NULL)
		abort();
	fprintf(f, "listen: \"unix:%s\"\n"
	    "path: /twilio/usage\n"
	    "database: %s/unused.db\n"
	    "trusted_proxies: [127.0.0.1, unix]\n"
	    "accounts:\n"
	    "  - sid: " SID "\n"
	    "    auth_token_file: %s/token\n"
	    "limits: { max_body: 64KiB, max_header: 8KiB, request_timeout: 2s }\n",
	    sock_path, dir, dir);
	fclose(f);
	log_init("fuzz_http_request", 0);
	if (evthread_use_pthreads() == -1 || (base = event_base_new()) == NULL)
		abort();
	world_new();
	return 0;
}

static void
client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exchange	*x = arg;
	char		 buf[4096];
	ssize_t		 n;

	if (what & EV_TIMEOUT) {
		/* The server neither answered nor hung up: give up on it. */
		x->done = 1;
		return;
	}
	if ((what & EV_WRITE) && x->left > 0) {
		n = write(fd, x->data, x->left);
		if (n > 0) {
			x->data += n;
			x->left -= n;
		} else if (n == -1 && errno != EAGAIN) {
			x->left = 0;
		}
		if (x->left == 0) {
			shutdown(fd, SHUT_WR);
			event_del(x->ev);
			event_assign(x->ev, base, fd, EV_READ | EV_PERSIST,
			    client_cb, x);
			event_add(x->ev, &(struct timeval){ 3, 0 });
		}
	}
	if (what & EV_READ) {
		while ((n = read(fd, buf, sizeof buf)) > 0)
			;
		if (n == 0 || (n == -1 && errno != EAGAIN))
			x->done = 1;
	}
}

/* Send data and close at once; run until the server has nothing pending. */
static void
abandon(const struct sockaddr_un *sun, const uint8_t *data, size_t size)
{
	struct timeval	tick = { 0, 1000 };
	ssize_t		n;
	int		fd, i;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		abort();
	if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == -1)
		abort();
	/* What fits in the socket buffer now; the rest is never sent. */
	if (size > 0 && (n = write(fd, data, size)) < 0 && errno != EAGAIN)
		abort();
	/* Let the server read it and start the claim, then vanish. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	close(fd);
	for (i = 0; i < 2000 && (server_inflight(server) > 0 ||
	    committer_pending(committer) > 0); i++) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un	 sun;
	struct exchange		 x;

	if (++runs % REBUILD_EVERY == 0) {
		world_free();
		world_new();
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	abandon(&sun, data, size);
	memset(&x, 0, sizeof x);
	x.data = data;
	x.left = size;
	if ((x.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		abort();
	if (connect(x.fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		abort();
	if ((x.ev = event_new(base, x.fd, EV_READ | EV_WRITE | EV_PERSIST,
	    client_cb, &x)) == NULL)
		abort();
	event_add(x.ev, &(struct timeval){ 3, 0 });
	if (size == 0) {
		shutdown(x.fd, SHUT_WR);
		x.left = 0;
	}
	while (!x.done)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(x.ev);
	close(x.fd);
	/* Let the server see the close and free the connection. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
