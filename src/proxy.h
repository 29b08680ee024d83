/* proxy.h: HTTPS_PROXY / NO_PROXY, for outgoing HTTPS through a CONNECT tunnel. */
#ifndef PROXY_H
#define PROXY_H

/* Where a tunnel goes through; strings allocated, free with proxy_free. */
struct proxy {
	char	*host;		/* brackets removed */
	char	*port;		/* as given; 80 when none is */
	char	*auth;		/* "Basic ..." from user:password@, or NULL */
	char	*shown;		/* "http://proxy:3128", without the password */
};

/*
 * The proxy for an HTTPS request to host, from $HTTPS_PROXY (or
 * $https_proxy), unless $NO_PROXY (or $no_proxy) names the host: "*", a
 * host, a domain ("example.com" or ".example.com" covers its subdomains),
 * or an IP address, comma-separated, a ":port" after each ignored.
 * 1 with *px filled, 0 for a direct connection, -1 with an allocated *err
 * for a proxy setting that cannot be used.
 */
int	proxy_for(const char *host, struct proxy *px, char **err);
void	proxy_free(struct proxy *);

#endif
