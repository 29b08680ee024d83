/* accounts.h: Twilio's Accounts and Calls REST API, for the circuit breaker. */
#ifndef ACCOUNTS_H
#define ACCOUNTS_H

#include <stddef.h>

struct twilio;

/* An Account as Twilio gives it: strings as received, NULL for null. */
struct tw_account {
	char	*sid;
	char	*friendly_name;
	char	*status;		/* active, suspended or closed */
	char	*owner_account_sid;
	char	*type;			/* Trial or Full */
};

/*
 * Each call returns 0, or -1 with an allocated one-line *err (Twilio's
 * message and code when it gave them) and *permanent set to 1 when no
 * retry can cure it: Twilio answered 4xx other than 429 (the credentials
 * are refused, the account is not the parent's, the SID is unknown).
 */

/* GET /2010-04-01/Accounts/{sid}.json into out. */
int		 account_fetch(struct twilio *, const char *sid,
		    struct tw_account *out, int *permanent, char **err);
/*
 * POST Status=status ("suspended", "active") to the account; success only
 * when Twilio answers 200 with that status. Setting the status an account
 * already has succeeds (suspend is idempotent).
 */
int		 account_set_status(struct twilio *, const char *sid,
		    const char *status, struct tw_account *out,
		    int *permanent, char **err);
/*
 * List the account's calls with Status=in-progress (every page) and set
 * each to completed; *ended counts them. A call that ended meanwhile
 * (Twilio's 4xx on that one call) is not an error. When cancel is set and
 * becomes non-zero (read atomically), it stops between two requests.
 */
int		 account_end_calls(struct twilio *, const char *sid,
		    size_t *ended, const int *cancel, int *permanent,
		    char **err);
/* Free what a owns and zero it; safe on a zeroed struct. */
void		 tw_account_free(struct tw_account *a);

#endif
