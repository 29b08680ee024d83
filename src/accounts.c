/* accounts.c: Twilio's Accounts and Calls REST API, for the circuit breaker. */
#include "config-sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "callback.h"
#include "client.h"
#include "json_read.h"
#include "log.h"
#include "triggers.h"
#include "xmalloc.h"

#define API_ROOT	"/2010-04-01/Accounts/"
/* Calls asked for per page; Twilio allows up to 1000. */
#define CALLS_PAGE_SIZE	"1000"
/* Calls one run completes at most; the rest wait for the next attempt. */
#define CALLS_MAX	100000

/* 1 when a failed answer is one no retry can cure. */
static int
is_permanent(int status)
{
	return status >= 400 && status <= 499 && status != 429;
}

/* An Account object into a; -1 if v is not one. */
static int
account_from_json(const struct jv *v, struct tw_account *a)
{
	const char	*s;

	memset(a, 0, sizeof *a);
	if (v == NULL || v->type != JV_OBJECT || jv_str(v, "sid") == NULL)
		return -1;
	a->sid = xstrdup(jv_str(v, "sid"));
	if ((s = jv_str(v, "friendly_name")) != NULL)
		a->friendly_name = xstrdup(s);
	if ((s = jv_str(v, "status")) != NULL)
		a->status = xstrdup(s);
	if ((s = jv_str(v, "owner_account_sid")) != NULL)
		a->owner_account_sid = xstrdup(s);
	if ((s = jv_str(v, "type")) != NULL)
		a->type = xstrdup(s);
	return 0;
}

void
tw_account_free(struct tw_account *a)
{
	free(a->sid);
	free(a->friendly_name);
	free(a->status);
	free(a->owner_account_sid);
	free(a->type);
	memset(a, 0, sizeof *a);
}

/* One call whose answer is an Account. */
static int
account_call(struct twilio *tw, const char *method, const char *sid,
    const char *form, struct tw_account *out, int *permanent, char **err)
{
	struct jv	*doc;
	char		*target;
	int		 status, rc = -1;

	*permanent = 0;
	memset(out, 0, sizeof *out);
	xasprintf(&target, API_ROOT "%s.json", sid);
	if (twilio_call(tw, method, target, form, &status, &doc, err) == -1) {
		*permanent = is_permanent(status);
		free(target);
		return -1;
	}
	/* Twilio answers an Account with 200; anything else is not it. */
	if (status != 200)
		xasprintf(err, "HTTP %d to %s %s, not Twilio's 200", status,
		    method, target);
	else if (account_from_json(doc, out) == 0)
		rc = 0;
	else
		xasprintf(err, "HTTP %d but the answer to %s %s is not an "
		    "Account", status, method, target);
	jv_free(doc);
	free(target);
	return rc;
}

int
account_fetch(struct twilio *tw, const char *sid, struct tw_account *out,
    int *permanent, char **err)
{
	return account_call(tw, "GET", sid, NULL, out, permanent, err);
}

int
account_set_status(struct twilio *tw, const char *sid, const char *status,
    struct tw_account *out, int *permanent, char **err)
{
	char	*form;

	xasprintf(&form, "Status=%s", status);
	if (account_call(tw, "POST", sid, form, out, permanent, err) == -1) {
		free(form);
		return -1;
	}
	free(form);
	if (out->status == NULL || strcmp(out->status, status) != 0) {
		xasprintf(err, "Twilio answered 200 but account %s is %s, not "
		    "%s", sid, out->status != NULL ? out->status : "(no status)",
		    status);
		tw_account_free(out);
		return -1;
	}
	return 0;
}

/* A next_page_uri we follow: this account's calls, printable. */
static int
calls_page_ok(const char *sid, const char *uri)
{
	char		*prefix;
	const char	*c;
	int		 ok;

	xasprintf(&prefix, API_ROOT "%s/Calls", sid);
	ok = strncmp(uri, prefix, strlen(prefix)) == 0;
	free(prefix);
	for (c = uri; ok && *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '#')
			ok = 0;
	return ok;
}

/* Call SIDs: "CA" and 32 hex digits, so that a path cannot be smuggled. */
static int
call_sid_ok(const char *s)
{
	return strlen(s) == 34 && strncmp(s, "CA", 2) == 0 &&
	    strspn(s + 2, "0123456789abcdefABCDEF") == 32;
}

/* Every page of the account's calls in progress: their SIDs, allocated. */
static int
list_in_progress(struct twilio *tw, const char *sid, char ***out,
    size_t *nout, int *permanent, char **err)
{
	struct jv	*doc = NULL;
	const struct jv	*items;
	const char	*next, *csid;
	struct pages	 pg = { NULL, 0 };
	char		*target;
	size_t		 i;
	int		 status, rc = -1;

	xasprintf(&target, API_ROOT "%s/Calls.json?Status=in-progress"
	    "&PageSize=" CALLS_PAGE_SIZE, sid);
	for (;;) {
		pages_add(&pg, target);
		if (twilio_call(tw, "GET", target, NULL, &status, &doc,
		    err) == -1) {
			*permanent = is_permanent(status);
			goto done;
		}
		if ((items = jv_get(doc, "calls")) == NULL ||
		    items->type != JV_ARRAY) {
			xasprintf(err, "the answer to GET %s has no calls list",
			    target);
			goto done;
		}
		for (i = 0; i < items->nkids && *nout < CALLS_MAX; i++) {
			if ((csid = jv_str(&items->kids[i], "sid")) == NULL ||
			    !call_sid_ok(csid))
				continue;
			*out = xreallocarray(*out, *nout + 1, sizeof **out);
			(*out)[(*nout)++] = xstrdup(csid);
		}
		if ((next = jv_str(doc, "next_page_uri")) == NULL ||
		    *next == '\0' || *nout >= CALLS_MAX)
			break;
		if (!calls_page_ok(sid, next)) {
			xasprintf(err, "next_page_uri is not a page of this "
			    "account's calls: %.200s", next);
			goto done;
		}
		if (pages_next_ok(&pg, next, err) == -1)
			goto done;
		target = xstrdup(next);
		jv_free(doc);
		doc = NULL;
	}
	rc = 0;
done:
	jv_free(doc);
	pages_free(&pg);
	return rc;
}

int
account_end_calls(struct twilio *tw, const char *sid, size_t *ended,
    const int *cancel, int *permanent, char **err)
{
	struct jv	*upd;
	char		*ctarget, *cerr, **csids = NULL;
	size_t		 ncsids = 0, i;
	int		 status, rc = -1;

	*permanent = 0;
	*ended = 0;
	/*
	 * Every page first: completing calls while paging would shrink the
	 * list under the pages still to come, and skip calls.
	 */
	if (list_in_progress(tw, sid, &csids, &ncsids, permanent, err) == -1)
		goto done;
	for (i = 0; i < ncsids; i++) {
		if (cancel != NULL && __atomic_load_n(cancel, __ATOMIC_RELAXED)) {
			xasprintf(err, "stopped after %zu of %zu calls: the "
			    "daemon is stopping", *ended, ncsids);
			goto done;
		}
		xasprintf(&ctarget, API_ROOT "%s/Calls/%s.json", sid,
		    csids[i]);
		cerr = NULL;
		upd = NULL;
		if (twilio_call(tw, "POST", ctarget, "Status=completed",
		    &status, &upd, &cerr) == 0)
			(*ended)++;
		else if (!is_permanent(status) || status == 401 ||
		    status == 403) {
			/* Unanswered or 5xx: later; refused: never. */
			*permanent = is_permanent(status);
			xasprintf(err, "call %s: %s", csids[i], cerr);
			free(cerr);
			free(ctarget);
			goto done;
		} else
			log_info("call %s of %s: not completed: %s (it ended "
			    "meanwhile?)", csids[i], sid, cerr);
		jv_free(upd);
		free(cerr);
		free(ctarget);
	}
	rc = 0;
done:
	for (i = 0; i < ncsids; i++)
		free(csids[i]);
	free(csids);
	return rc;
}
