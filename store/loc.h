/* store/loc.h - location table: AOR -> contact set (RCU hash table) */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/base/slice.h"

/**
 * How a binding's REGISTER arrived, to reach the UA over the same flow
 * (RFC 5626) or the same NAT binding. proto uses enum peer_proto's values
 * (0 UDP, 1 TCP); store/ sits below proxy/ and does not include it.
 */
struct loc_flow {
	int proto;
	struct sockaddr_storage addr; /**< source address and port */
	uint64_t conn_id;	      /**< TCP connection, 0 for UDP */
	unsigned listen_idx;	      /**< the listen entry it came in on */
};

enum {
	LOC_OB = 1 << 0,  /**< the Contact had ;ob (RFC 5626 outbound) */
	LOC_NAT = 1 << 1, /**< the UA is behind NAT (proxy/nat.h): reach it
			       at flow.addr, not at the URI's host:port */
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
	int64_t stamp_ms; /**< when the binding last changed (CLOCK_REALTIME
			       ms): the version a shared store compares.
			       0 in a set being built: loc_publish() stamps
			       it (store/loc.h "Stamps") */
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
 *
 * Stamps: a contact whose stamp_ms is 0 (new or changed by this write)
 * is stamped max(now, highest stamp in the current set + 1), so that a
 * change is always newer than what it replaces even when another node's
 * clock ran ahead; other contacts keep theirs.
 *
 * After the swap, outside any read section, the observer (if one is
 * set) sees the old and the new set.
 *
 * Unconditional: it replaces whatever the table holds. Writers that read
 * the set, change it and write it back use loc_publish_cas().
 *
 * Errors: -ENOMEM, -EINVAL (empty aor).
 * Thread: the control thread at start-up, or the store thread (loading
 * a snapshot; the redis backend applying a change another node made,
 * "Second writer" below).
 */
int loc_publish(struct slice aor, const struct loc_contact *c, unsigned n);

/**
 * Compare-and-swap publish: replace the bindings of @p aor with copies
 * of @p c[0..n) (n == 0 removes the AOR) only if the table still holds
 * @p expect, the set the caller read (loc_lookup_rcu() and a reference
 * from obj_tryget(), kept across the call), or with @p expect NULL only
 * if it still holds no set for @p aor. cds_lfht_replace() on the node
 * read, cds_lfht_add_unique() when none was read, cds_lfht_del() of the
 * node read when the new list is empty: each fails when another writer
 * (a shard, the sweep, the store thread) changed the AOR in between.
 *
 * Stamps: as loc_publish(), above every stamp of @p expect and above
 * the change that published it; with @p expect NULL above the last
 * removal of a whole AOR in the same bucket of 1,024. So along the
 * chain of sets one AOR goes through, each change's stamp is above the
 * one before, whichever thread made it.
 *
 * The observer is called as by loc_publish() with the stamp of this
 * change. n == 0 with @p expect NULL changes nothing and returns 0.
 *
 * Errors: -EAGAIN (the table no longer holds @p expect: read again,
 * apply the change again, retry: at most LOC_CAS_TRIES times), -ENOMEM,
 * -EINVAL. Thread: any registered RCU thread outside a read section;
 * any number of them for one AOR at once (registrar/reg.c: every shard
 * writes the AORs whose REGISTERs it receives).
 */
int loc_publish_cas(struct slice aor, const struct loc_set *expect,
		    const struct loc_contact *c, unsigned n);

/** How often a writer re-reads and retries after -EAGAIN. */
#define LOC_CAS_TRIES 16

/**
 * Second writer. With the redis backend, the store thread applies the
 * sets other nodes publish (store/redis.h) while the shards may publish
 * the same AOR. The store thread replaces unconditionally; a shard's
 * compare-and-swap that meets its set re-reads and applies its change
 * on top. Either order may leave a set that lacks the other's change for
 * a moment, and neither is wrong for long: a shard writes its change to
 * Redis as per-contact updates, never as a whole set, and Redis
 * publishes the merged set of the AOR after every change, to every node
 * including the writer, in the order it applied them. The last set a
 * node applies for an AOR is therefore Redis's set after the last
 * change, whatever raced before it.
 */

/**
 * Called by loc_publish() and loc_publish_cas() after a successful
 * swap: @p old is the set replaced (NULL when the AOR was new), @p cur
 * the set published (NULL when the AOR was removed), @p stamp_ms the
 * stamp of the change (above every stamp in @p old; the stamp of every
 * contact it added or changed). Both sets are valid during the call
 * only. Runs on the publishing thread, outside any read section.
 *
 * Several shards may publish one AOR, so the calls for two changes of
 * one AOR may run at the same time or in either order: an observer must
 * not depend on their order. It may order them by @p stamp_ms, which
 * grows along the chain of changes (the redis backend writes each
 * binding with its stamp and Redis keeps the newest).
 */
typedef void loc_observer_fn(struct slice aor, const struct loc_set *old,
			     const struct loc_set *cur, int64_t stamp_ms);

/**
 * Set (or with NULL clear) the observer. Thread: control, while no
 * shard runs.
 */
void loc_set_observer(loc_observer_fn *fn);

/** Number of AORs in the table (approximate while writers run). */
unsigned long loc_count(void);

/** Contacts in the table, all AORs (approximate while writers run). */
unsigned long loc_contacts(void);

/**
 * Expiry sweep: drop every contact whose expires_s is <= @p now_s, and
 * every AOR left without one. Returns the number of contacts dropped.
 *
 * The sweep is not the writer of any AOR, yet it runs while the
 * shards publish. It never overwrites their work: it builds the pruned
 * set from the one it found and swaps it in with cds_lfht_replace() (or
 * removes it with cds_lfht_del()) on that very node. Both fail with
 * -ENOENT when a shard replaced the node in between; the sweep then
 * leaves the shard's newer set alone (the shard prunes expired contacts
 * itself when it builds one, and the next sweep catches the rest). So the
 * replace is a compare-and-swap on the node, like loc_publish_cas(): a
 * shard whose compare-and-swap meets the sweep's set retries on it. The
 * pruned set keeps the stamps of the one it replaces.
 * Thread: any registered RCU thread that is not inside a read section
 * (the store thread, the control thread, tests).
 */
unsigned long loc_sweep(int64_t now_s);

/**
 * References to every set in the table, in table order, for readers
 * that work outside a read section (the snapshot writer): a malloc'd
 * array in *setsp, its length in *np. Sets published meanwhile may or
 * may not be in it. Errors: -ENOMEM.
 * Thread: any registered RCU thread outside a read section.
 * Ownership: release with loc_put_all().
 */
int loc_get_all(const struct loc_set ***setsp, size_t *np);

/** Drop the references loc_get_all() took and free the array. */
void loc_put_all(const struct loc_set **sets, size_t n);

/** The most sets one loc_get_page() returns. */
#define LOC_PAGE_MAX 1000

/** The most table entries one loc_get_page() looks at (domain filter). */
#define LOC_PAGE_VISIT_MAX 100000

/**
 * Where a paged walk (loc_get_page()) goes on. Value type; all zero is
 * the start of the table.
 */
struct loc_cursor {
	bool started;	    /**< false: from the first entry */
	unsigned long hash; /**< the last hash a page returned */
};

/**
 * One page of a walk over the table in its own order (the split-ordered
 * list of cds_lfht: bit-reversed hash order, which a resize does not
 * change). References to at most @p limit (1 .. LOC_PAGE_MAX) sets that
 * come after @p from, in a malloc'd array in *setsp (length *np), and in
 * *nextp the cursor to give for the next page; *morep is false when the
 * walk reached the end of the table. With @p domain not empty only sets
 * of that domain (without regard to case) are taken; at most
 * LOC_PAGE_VISIT_MAX entries are looked at, so a page may hold fewer
 * than @p limit sets (even none) while *morep is true.
 *
 * A page never ends between two AORs of one hash (it takes them all, so
 * it may exceed @p limit by the rare collisions). Hence a walk from the
 * start, page after page, returns every AOR that stays in the table
 * during the walk exactly once, whatever else is added or removed
 * meanwhile; an AOR added or removed during the walk may or may not
 * appear. A page starts with one lookup when the cursor's last AOR is
 * still in the table, else with a walk from the start of the table.
 *
 * Errors: -ENOMEM, -EINVAL (@p limit out of range).
 * Thread: any registered RCU thread outside a read section.
 * Ownership: release the array with loc_put_all().
 */
int loc_get_page(struct loc_cursor from, struct slice domain, unsigned limit,
		 const struct loc_set ***setsp, size_t *np,
		 struct loc_cursor *nextp, bool *morep);
