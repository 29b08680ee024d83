/* forwarded.c: the client behind trusted proxies (X-Forwarded-For). */
#include "config-sys.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "forwarded.h"
#include "usagehook.h"

/* An address in binary. */
struct addr {
	int		family;
	unsigned char	bytes[sizeof(struct in6_addr)];
};

/* s, an IPv4 or IPv6 address, in a; 0 or -1. */
static int
addr_parse(const char *s, struct addr *a)
{
	a->family = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;
	return inet_pton(a->family, s, a->bytes) == 1 ? 0 : -1;
}

int
forwarded_parse_block(const char *s, struct netblock *b)
{
	char		 buf[FORWARDED_ADDR_MAX];
	const char	*slash;
	size_t		 len, digits;
	int		 bits;
	struct addr	 a;

	memset(b, 0, sizeof *b);
	if (strcmp(s, "unix") == 0)
		return 0;
	slash = strchr(s, '/');
	len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (addr_parse(buf, &a) == -1)
		return -1;
	b->family = a.family;
	memcpy(b->bytes, a.bytes, sizeof b->bytes);
	b->bits = a.family == AF_INET ? 32 : 128;
	if (slash == NULL)
		return 0;
	digits = strspn(slash + 1, "0123456789");
	if (digits == 0 || digits > 3 || slash[1 + digits] != '\0' ||
	    (bits = atoi(slash + 1)) > b->bits)
		return -1;
	b->bits = bits;
	return 0;
}

/* 1 if block b has address a. */
static int
block_contains(const struct netblock *b, const struct addr *a)
{
	int	full, i;

	if (b->family != a->family)
		return 0;		/* the other family, or "unix" */
	full = b->bits / 8;
	for (i = 0; i < full; i++)
		if (a->bytes[i] != b->bytes[i])
			return 0;
	if (b->bits % 8 != 0) {
		unsigned char mask = 0xff << (8 - b->bits % 8);
		if ((a->bytes[full] & mask) != (b->bytes[full] & mask))
			return 0;
	}
	return 1;
}

static int
addr_trusted(const struct config *conf, const struct addr *a)
{
	size_t	i;

	for (i = 0; i < conf->ntrusted_proxies; i++)
		if (block_contains(&conf->trusted_proxies[i], a))
			return 1;
	return 0;
}

/* Forwarded headers count only from the peers the operator trusts. */
int
forwarded_trusted(const struct config *conf, const char *peer)
{
	struct addr	a;
	size_t		i;

	if (peer == NULL)
		return 0;
	if (strcmp(peer, "unix") == 0) {
		for (i = 0; i < conf->ntrusted_proxies; i++)
			if (conf->trusted_proxies[i].family == 0)
				return 1;
		return 0;
	}
	return addr_parse(peer, &a) == 0 && addr_trusted(conf, &a);
}

#define XFF		"X-Forwarded-For"
#define XFF_MAX_HOPS	32	/* addresses of X-Forwarded-For looked at */

/*
 * The client behind trusted proxies: X-Forwarded-For (all such headers, in
 * order, as one list) read from the right, the first address that is not
 * a trusted proxy; the leftmost when all are. 0 with it in client, or -1
 * when the peer is not trusted, there is no such header, or the address
 * found is no address.
 */
int
forwarded_client(const struct config *conf, const struct evkeyvalq *hdrs,
    const char *peer, char client[FORWARDED_ADDR_MAX])
{
	const struct evkeyval	*kv;
	const char		*hop[XFF_MAX_HOPS], *p;
	size_t			 len[XFF_MAX_HOPS], n = 0, i, l;
	struct addr		 a;

	for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		/* First letter and length first: most headers differ there. */
		if ((kv->key[0] | 0x20) != 'x' ||
		    strlen(kv->key) != sizeof XFF - 1 ||
		    evutil_ascii_strcasecmp(kv->key, XFF) != 0)
			continue;
		for (p = kv->value; *p != '\0'; p += *p == ',') {
			p += strspn(p, " \t");
			l = strcspn(p, ",");
			/* Too many hops: the nearest ones are what counts. */
			if (n == XFF_MAX_HOPS) {
				memmove(hop, hop + 1, sizeof hop[0] * (n - 1));
				memmove(len, len + 1, sizeof len[0] * (n - 1));
				n--;
			}
			hop[n] = p;
			len[n++] = l;
			p += l;
		}
	}
	if (n == 0 || !forwarded_trusted(conf, peer))
		return -1;
	for (i = n; i-- > 0; ) {
		l = len[i];
		while (l > 0 && (hop[i][l - 1] == ' ' || hop[i][l - 1] == '\t'))
			l--;
		if (l == 0 || l >= FORWARDED_ADDR_MAX)
			return -1;
		memcpy(client, hop[i], l);
		client[l] = '\0';
		if (addr_parse(client, &a) == -1)
			return -1;
		if (i == 0 || !addr_trusted(conf, &a))
			return 0;
	}
	return -1;
}

int
forwarded_via(const struct config *conf, const struct evkeyvalq *hdrs,
    const char *peer, char **via)
{
	char	client[FORWARDED_ADDR_MAX];
	size_t	n;

	if (forwarded_client(conf, hdrs, peer, client) == -1)
		return 0;
	n = strlen(client);
	if ((*via = malloc(n + sizeof " via " + strlen(peer))) == NULL)
		return -1;
	memcpy(*via, client, n);
	stpcpy(stpcpy(*via + n, " via "), peer);
	return 1;
}
