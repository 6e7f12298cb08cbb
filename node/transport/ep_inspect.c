/* ep_inspect.c - a read-only view of a session's reliability state (see ep_inspect.h). */
#include "node/transport/ep_inspect.h"

#include "node/transport/ep_internal.h"

const konce_conn *konce_ep_conn_inspect(const konce_ep *ep, uint32_t conn)
{
	/* the lookup only reads the table; it takes a mutable endpoint for its other callers */
	const konce_sess *s = konce_ep_sess_by_conn((konce_ep *)ep, conn);
	return s ? s->rel : NULL;
}
