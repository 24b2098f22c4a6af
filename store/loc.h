/* store/loc.h - location table: AOR -> contact set (RCU hash table) */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"

/**
 * How a binding's REGISTER arrived, to reach the UA over the same flow
 * (RFC 5626) or the same NAT binding. proto uses enum tp_proto's values
 * (0 UDP, 1 TCP); store/ sits below proxy/ and does not include it.
 */
struct loc_flow {
	int proto;
	struct sockaddr_storage addr; /**< source address and port */
	uint64_t conn_id;	      /**< TCP connection, 0 for UDP */
	unsigned listen_idx;	      /**< the listen entry it came in on */
};

enum {
	LOC_OB = 1 << 0, /**< the Contact had ;ob (RFC 5626 outbound) */
};

/**
 * One binding. Inside a published set every slice points into the set's
 * own memory: immutable, valid while the set is (RCU read section or a
 * reference from obj_tryget()).
 */
struct loc_contact {
	struct slice uri;	 /**< Contact URI, without < > */
	struct slice path;	 /**< Path values in order, comma-joined:
				      the pre-loaded Route set; may be empty */
	struct slice instance;	 /**< +sip.instance without quotes, or empty */
	uint32_t reg_id;	 /**< reg-id, 0 when absent */
	struct slice call_id;	 /**< of the REGISTER that made it */
	uint32_t cseq;		 /**< of that REGISTER */
	struct slice user_agent; /**< User-Agent of that REGISTER */
	int64_t expires_s;	 /**< absolute, CLOCK_REALTIME seconds */
	uint16_t q;		 /**< q-value x 1000 (default 1000) */
	unsigned flags;		 /**< LOC_* */
	struct loc_flow flow;
};

/**
 * The bindings of one AOR. Immutable once published; replaced whole and
 * freed after an RCU grace period. An obj (proxy/base/obj.h).
 */
struct loc_set {
	struct slice aor; /**< "user@domain", domain lower-case */
	unsigned n;
	const struct loc_contact *c;
};

/**
 * Create the table. Thread: control, before any shard runs. Errors:
 * -ENOMEM.
 */
int loc_init(void);

/** Free the table and every set. Thread: control, after shards stop. */
void loc_fini(void);

/**
 * The set of @p aor ("user@domain"; the domain is compared
 * case-insensitively, the user exactly), or NULL. Expired contacts may
 * still be present until the sweep: callers skip contacts whose
 * expires_s is past. Borrowed until rcu_read_unlock().
 * Thread: any registered RCU thread, inside rcu_read_lock().
 */
const struct loc_set *loc_lookup_rcu(struct slice aor);

/**
 * Replace the bindings of @p aor with copies of @p c[0..n) (n == 0
 * removes the AOR). Every slice is copied: the caller keeps @p c.
 * Errors: -ENOMEM, -EINVAL (empty aor).
 * Thread: the one writer of @p aor (the shard owning hash(AOR)), or the
 * control thread at start-up.
 */
int loc_publish(struct slice aor, const struct loc_contact *c, unsigned n);

/** Number of AORs in the table (approximate while writers run). */
unsigned long loc_count(void);
