/* forwarded.h: who is behind a trusted proxy (X-Forwarded-For). */
#ifndef FORWARDED_H
#define FORWARDED_H

struct config;
struct evkeyvalq;

/* A trusted proxy: "unix", an address, or an address block. */
struct netblock {
	int		family;		/* AF_INET, AF_INET6; 0 for "unix" */
	int		bits;		/* the prefix's length */
	unsigned char	bytes[16];
};

/* "unix", "a.b.c.d", a v6 address, or either with "/bits"; 0 or -1. */
int	 forwarded_parse_block(const char *, struct netblock *);

/* 1 if peer ("unix" or an address) is one of trusted_proxies. */
int	 forwarded_trusted(const struct config *, const char *peer);

/* The longest address written by forwarded_client(), with its NUL. */
#define FORWARDED_ADDR_MAX	46	/* INET6_ADDRSTRLEN */

/*
 * The client behind trusted proxies, from the X-Forwarded-For headers of a
 * request that came from peer, into client: 0, or -1 if none counts.
 */
int	 forwarded_client(const struct config *, const struct evkeyvalq *,
	    const char *peer, char client[FORWARDED_ADDR_MAX]);

/*
 * The remote to record for such a request, "CLIENT via PEER", in *via
 * (allocated): 1, 0 when no forwarded client counts, -1 out of memory.
 */
int	 forwarded_via(const struct config *, const struct evkeyvalq *,
	    const char *peer, char **via);

#endif
