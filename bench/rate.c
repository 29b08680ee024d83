/*
 * rate.c: a fixed-rate HTTP/1.1 load generator (Debian has no wrk2).
 *
 * Sends R requests a second, spread evenly (request k is due at t0 + k/R),
 * over C keep-alive connections, for D seconds. Each request is one line of
 * a gen-callbacks file, POSTed form-encoded with its X-Twilio-Signature.
 * Latency is measured from the moment a request was due, not from when a
 * free connection sent it, so a stalled server cannot hide its queue
 * (no coordinated omission). Prints p50/p90/p99/p99.9/max and the errors.
 *
 *   rate -p PORT -f FILE [-a ADDR] [-u PATH] [-r RATE] [-d SECONDS]
 *        [-c CONNS] [-o OFFSET]
 *   rate -p PORT -I N [-a ADDR] [-H SECONDS]     idle mode: open N
 *        connections, send nothing, print "IDLE open=N", hold, report.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE	8192
#define GRACE_SECONDS	5.0	/* for answers still due after the run */

enum conn_state { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };

struct conn {
	int		 fd;
	enum conn_state	 state;
	long		 k;		/* request in flight */
	double		 due;		/* when request k was due */
	double		 sent;		/* when its first byte went out */
	size_t		 woff;		/* bytes of it written */
	char		 rbuf[RBUF_SIZE];
	size_t		 rlen;
	int		 want_out;	/* EPOLLOUT registered */
};

/* The requests, raw, back to back. */
struct reqs {
	char		*buf;
	size_t		 len, cap;
	size_t		*off;		/* n + 1 offsets */
	size_t		 n;
};

static struct sockaddr_in	 peer;
static int			 ep;
static struct conn		*conns;
static int			 nconns;
static int			*idle;		/* stack of idle conn indices */
static int			 nidle;		/* may hold stale entries */
static struct reqs		 reqs;
static long			 offset;
static double			*lat;		/* ms from due to answered */
static double			*svc;		/* ms from sent to answered */
static long			 nlat;
static long			 s200, sdup, snon200, nerrors, nreconnect;
static long			 nstatus[6];

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "rate: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
reqs_put(const char *s, size_t n)
{
	if (reqs.len + n > reqs.cap) {
		reqs.cap = (reqs.len + n) * 2;
		if ((reqs.buf = realloc(reqs.buf, reqs.cap)) == NULL)
			die("realloc");
	}
	memcpy(reqs.buf + reqs.len, s, n);
	reqs.len += n;
}

/* Turn each "SIG<TAB>BODY" line of path into a raw POST request. */
static void
load_requests(const char *path, const char *host, int port, const char *upath)
{
	FILE	*f;
	char	*line = NULL, *tab, head[1024];
	size_t	 cap = 0, ocap = 0;
	ssize_t	 len;
	int	 hn;

	if ((f = fopen(path, "r")) == NULL)
		die(path);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		if (reqs.n + 1 >= ocap) {
			ocap = ocap ? ocap * 2 : 4096;
			if ((reqs.off = realloc(reqs.off, ocap *
			    sizeof *reqs.off)) == NULL)
				die("realloc");
		}
		reqs.off[reqs.n++] = reqs.len;
		hn = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\n"
		    "Host: %s:%d\r\n"
		    "Content-Type: application/x-www-form-urlencoded\r\n"
		    "X-Twilio-Signature: %s\r\n"
		    "Content-Length: %zu\r\n\r\n", upath, host, port, line,
		    strlen(tab + 1));
		reqs_put(head, hn);
		reqs_put(tab + 1, strlen(tab + 1));
	}
	free(line);
	fclose(f);
	if (reqs.n == 0) {
		fprintf(stderr, "rate: %s: no requests\n", path);
		exit(1);
	}
	reqs.off[reqs.n] = reqs.len;
}

static void
watch(struct conn *c, int out)
{
	struct epoll_event	ev;

	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	ev.data.u32 = (uint32_t)(c - conns);
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		die("epoll_ctl");
	c->want_out = out;
}

/* c is free for a request; a full stack is rebuilt from the states. */
static void
push_idle(struct conn *c)
{
	int	i;

	if (nidle == nconns * 2) {
		for (nidle = 0, i = 0; i < nconns; i++)
			if (conns[i].state == C_IDLE && &conns[i] != c)
				idle[nidle++] = i;
	}
	idle[nidle++] = (int)(c - conns);
}

static void
conn_open(struct conn *c)
{
	struct epoll_event	ev;
	int			one = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&peer, sizeof peer) == -1 &&
	    errno != EINPROGRESS)
		die("connect");
	c->state = C_CONNECTING;
	c->rlen = 0;
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.u32 = (uint32_t)(c - conns);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		die("epoll_ctl");
	c->want_out = 1;
}

static void
conn_close(struct conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = C_CLOSED;
}

/* A connection failed: a request in flight is an error; connect again. */
static void
conn_fail(struct conn *c)
{
	if (c->state == C_BUSY)
		nerrors++;
	conn_close(c);
	nreconnect++;
	conn_open(c);
}

static void
write_some(struct conn *c)
{
	size_t	 start = reqs.off[c->k % reqs.n], end = reqs.off[c->k %
		    reqs.n + 1];
	ssize_t	 w;

	while (c->woff < end - start) {
		w = write(c->fd, reqs.buf + start + c->woff,
		    end - start - c->woff);
		if (w == -1 && errno == EAGAIN) {
			if (!c->want_out)
				watch(c, 1);
			return;
		}
		if (w <= 0) {
			conn_fail(c);
			return;
		}
		c->woff += w;
	}
	if (c->want_out)
		watch(c, 0);
}

static void
send_request(struct conn *c, long k, double due)
{
	c->state = C_BUSY;
	c->k = k + offset;
	c->due = due;
	c->sent = now();
	c->woff = 0;
	c->rlen = 0;
	write_some(c);
}

/* A whole response in rbuf? 1 yes (status, close set), 0 not yet, -1 bad. */
static int
parse_response(struct conn *c, int *status, int *dup, int *close_after)
{
	char	*end, *p, *line;
	size_t	 hlen;
	long	 clen = 0;

	c->rbuf[c->rlen] = '\0';
	if ((end = strstr(c->rbuf, "\r\n\r\n")) == NULL)
		return c->rlen >= RBUF_SIZE - 1 ? -1 : 0;
	hlen = end + 4 - c->rbuf;
	if (sscanf(c->rbuf, "HTTP/1.%*d %d", status) != 1)
		return -1;
	*dup = 0;
	*close_after = 0;
	for (line = strstr(c->rbuf, "\r\n"); line != NULL && line < end;
	    line = strstr(line + 2, "\r\n")) {
		p = line + 2;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			clen = strtol(p + 15, NULL, 10);
		else if (strncasecmp(p, "Connection:", 11) == 0 &&
		    strncasecmp(p + 11 + strspn(p + 11, " "), "close", 5) == 0)
			*close_after = 1;
		else if (strncasecmp(p, "X-Usagehook-Duplicate:", 22) == 0)
			*dup = 1;
	}
	if (c->rlen < hlen + clen)
		return 0;
	return 1;
}

static void
read_some(struct conn *c)
{
	ssize_t	r;
	double	t;
	int	status, dup, close_after, rv;

	for (;;) {
		r = read(c->fd, c->rbuf + c->rlen, RBUF_SIZE - 1 - c->rlen);
		if (r == -1 && errno == EAGAIN)
			return;
		if (r <= 0 || c->state != C_BUSY) {
			conn_fail(c);
			return;
		}
		c->rlen += r;
		if ((rv = parse_response(c, &status, &dup, &close_after)) == 0)
			continue;
		if (rv == -1) {
			conn_fail(c);
			return;
		}
		t = now();
		lat[nlat] = (t - c->due) * 1e3;
		svc[nlat] = (t - c->sent) * 1e3;
		nlat++;
		if (status == 200) {
			s200++;
			sdup += dup;
		} else
			snon200++;
		if (status >= 100 && status < 600)
			nstatus[status / 100]++;
		if (close_after) {
			conn_close(c);
			nreconnect++;
			conn_open(c);
			return;
		}
		c->state = C_IDLE;
		push_idle(c);
		return;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, long n, double p)
{
	long	i;

	if (n == 0)
		return 0;
	i = (long)(p / 100.0 * n + 0.5) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

static void
arm(int tfd, double at)
{
	struct itimerspec	its;

	/* "at" is on now()'s clock: CLOCK_MONOTONIC, absolute. */
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = (time_t)at;
	its.it_value.tv_nsec = (long)((at - (double)(time_t)at) * 1e9);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		die("timerfd_settime");
}

/* Idle mode: N connections that send nothing; report who hung up. */
static int
idle_mode(int n, double hold)
{
	struct pollfd	*pfd;
	double		 end, t, start, slowest = 0;
	int		 i, open = 0, closed = 0, fd, rv;
	char		 b;

	if ((pfd = calloc(n, sizeof *pfd)) == NULL)
		die("calloc");
	start = now();
	for (i = 0; i < n; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			die("socket");
		/* Pace: a burst past the listen backlog costs 1 s SYN retries. */
		if (i > 0 && i % 50 == 0)
			usleep(10000);
		t = now();
		rv = connect(fd, (struct sockaddr *)&peer, sizeof peer);
		if (now() - t > slowest)
			slowest = now() - t;
		if (rv == -1) {
			fprintf(stderr, "rate: connect %d: %s\n", i,
			    strerror(errno));
			close(fd);
			pfd[i].fd = -1;
			continue;
		}
		pfd[i].fd = fd;
		pfd[i].events = POLLIN;
		open++;
	}
	printf("IDLE open=%d in %.3fs (slowest connect %.3fs)\n", open,
	    now() - start, slowest);
	fflush(stdout);
	end = now() + hold;
	while (now() < end) {
		rv = poll(pfd, n, (int)((end - now()) * 1000) + 1);
		if (rv <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			/* We sent nothing: any event is the server hanging up. */
			(void)read(pfd[i].fd, &b, 1);
			close(pfd[i].fd);
			pfd[i].fd = -1;
			closed++;
		}
	}
	printf("IDLE held=%.0fs still_open=%d closed_by_server=%d\n", hold,
	    open - closed, closed);
	for (i = 0; i < n; i++)
		if (pfd[i].fd != -1)
			close(pfd[i].fd);
	free(pfd);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: rate -p PORT -f FILE [-a ADDR] [-u PATH] "
	    "[-r RATE] [-d SECONDS] [-c CONNS] [-o OFFSET]\n"
	    "       rate -p PORT -I N [-a ADDR] [-H SECONDS]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[256];
	const char		*addr = "127.0.0.1", *file = NULL;
	const char		*upath = "/twilio/usage";
	double			 rate = 2000, dur = 15, hold = 5, t0, tend, t;
	double			 late_max = 0;
	long			 total, due, assigned = 0, k;
	int			 ch, port = 0, nidle_conns = 0, i, n, tfd;
	int			 connected = 0;
	uint64_t		 ticks;
	struct conn		*c;

	nconns = 32;
	while ((ch = getopt(argc, argv, "a:p:f:u:r:d:c:o:I:H:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'u': upath = optarg; break;
		case 'r': rate = atof(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'c': nconns = atoi(optarg); break;
		case 'o': offset = atol(optarg); break;
		case 'I': nidle_conns = atoi(optarg); break;
		case 'H': hold = atof(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || optind != argc || rate <= 0 || dur <= 0 ||
	    nconns <= 0 || (file == NULL && nidle_conns == 0))
		usage();
	raise_nofile();
	memset(&peer, 0, sizeof peer);
	peer.sin_family = AF_INET;
	peer.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &peer.sin_addr) != 1)
		usage();
	if (nidle_conns > 0)
		return idle_mode(nidle_conns, hold);

	load_requests(file, addr, port, upath);
	total = (long)(rate * dur);
	if ((lat = calloc(total, sizeof *lat)) == NULL ||
	    (svc = calloc(total, sizeof *svc)) == NULL ||
	    (conns = calloc(nconns, sizeof *conns)) == NULL ||
	    (idle = calloc(nconns * 2, sizeof *idle)) == NULL)
		die("calloc");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	for (i = 0; i < nconns; i++)
		conn_open(&conns[i]);

	/* Connect everything first: set-up is not part of the measure. */
	t = now() + 5;
	while (connected < nconns && now() < t) {
		n = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < n; i++) {
			c = &conns[evs[i].data.u32];
			if (c->state != C_CONNECTING)
				continue;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				die("connect");
			c->state = C_IDLE;
			watch(c, 0);
			push_idle(c);
			connected++;
		}
	}
	if (connected < nconns) {
		fprintf(stderr, "rate: only %d of %d connections up\n",
		    connected, nconns);
		return 1;
	}

	if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1)
		die("timerfd_create");
	{
		struct epoll_event ev = { .events = EPOLLIN,
		    .data.u32 = UINT32_MAX };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == -1)
			die("epoll_ctl");
	}
	t0 = now() + 0.01;
	tend = t0 + dur;
	arm(tfd, t0);
	for (;;) {
		t = now();
		due = (long)((t - t0) * rate) + 1;
		if (t < t0)
			due = 0;
		if (due > total)
			due = total;
		/* Hand what is due to free connections, oldest first. */
		while (assigned < due && nidle > 0) {
			c = &conns[idle[--nidle]];
			if (c->state != C_IDLE)
				continue;
			if (t - (t0 + assigned / rate) > late_max)
				late_max = t - (t0 + assigned / rate);
			send_request(c, assigned, t0 + assigned / rate);
			assigned++;
		}
		if (assigned == total) {
			for (i = 0, k = 0; i < nconns; i++)
				k += conns[i].state == C_BUSY;
			if (k == 0 || t > tend + GRACE_SECONDS)
				break;
		}
		if (due < total)
			arm(tfd, t0 + due / rate);
		n = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < n; i++) {
			if (evs[i].data.u32 == UINT32_MAX) {
				if (read(tfd, &ticks, sizeof ticks) == -1 &&
				    errno != EAGAIN)
					die("read timerfd");
				continue;
			}
			c = &conns[evs[i].data.u32];
			if (c->state == C_CONNECTING) {
				if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
					conn_fail(c);
					continue;
				}
				c->state = C_IDLE;
				watch(c, 0);
				push_idle(c);
				continue;
			}
			if (evs[i].events & EPOLLIN)
				read_some(c);
			else if (evs[i].events & (EPOLLERR | EPOLLHUP))
				conn_fail(c);
			if (c->state == C_BUSY && (evs[i].events & EPOLLOUT))
				write_some(c);
		}
	}
	k = 0;
	for (i = 0; i < nconns; i++)
		k += conns[i].state == C_BUSY;

	t = now() - t0;
	qsort(lat, nlat, sizeof *lat, cmp_double);
	qsort(svc, nlat, sizeof *svc, cmp_double);
	printf("RATE target=%.0f achieved=%.1f conns=%d sent=%ld answered=%ld "
	    "s200=%ld dup=%ld non200=%ld (4xx=%ld 5xx=%ld) errors=%ld "
	    "timeouts=%ld reconnects=%ld max_send_lag_ms=%.2f\n",
	    rate, nlat / (t < dur ? dur : t), nconns, assigned, nlat, s200,
	    sdup, snon200, nstatus[4], nstatus[5], nerrors, k, nreconnect,
	    late_max * 1e3);
	printf("RATE latency_ms p50=%.3f p90=%.3f p99=%.3f p99.9=%.3f "
	    "max=%.3f\n", pct(lat, nlat, 50), pct(lat, nlat, 90),
	    pct(lat, nlat, 99), pct(lat, nlat, 99.9), nlat ? lat[nlat - 1] : 0);
	printf("RATE service_ms p50=%.3f p90=%.3f p99=%.3f p99.9=%.3f "
	    "max=%.3f\n", pct(svc, nlat, 50), pct(svc, nlat, 90),
	    pct(svc, nlat, 99), pct(svc, nlat, 99.9), nlat ? svc[nlat - 1] : 0);
	return (nerrors > 0 || k > 0 || snon200 > 0) ? 1 : 0;
}
