/* store/dlg.h - dialog table: Call-ID + tags -> dialog state (RCU hash table)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "proxy/base/slice.h"
#include "proxy/sip/peer.h"

enum dlg_state {
	DLG_EARLY = 1,	/**< a provisional response with a To tag */
	DLG_CONFIRMED,	/**< a 2xx to the INVITE */
	DLG_TERMINATED, /**< a BYE went through; removed soon after */
};

/** The two user agents of a dialog, as indexes of struct dlg.ua. */
enum dlg_side {
	DLG_CALLER, /**< sent the INVITE (From tag = caller_tag) */
	DLG_CALLEE, /**< answered it (To tag = callee_tag) */
	DLG__SIDES,
};

/**
 * Where a user agent is reached: a struct peer (proxy/sip/peer.h) in
 * 40 bytes instead of 160 (a dialog has two). Value type.
 */
struct dlg_hop {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} addr;		     /**< AF_INET or AF_INET6; AF_UNSPEC: none */
	uint64_t conn_id;    /**< TCP connection, 0 for UDP */
	uint16_t listen_idx; /**< the listen entry it came in on */
	uint8_t proto;	     /**< enum peer_proto */
};

/**
 * @p p as a hop (another address family than IPv4 or IPv6: AF_UNSPEC).
 * Thread: any.
 */
struct dlg_hop dlg_hop_of(const struct peer *p);

/** @p h as a peer, to send to. Thread: any. */
struct peer dlg_hop_peer(const struct dlg_hop *h);

/**
 * What the proxy must know of one user agent to send it a request from
 * the middle of the dialog (dialog.end: a BYE each way, RFC 3261 §12.2.1).
 */
struct dlg_ua {
	struct slice contact; /**< remote target: the URI of its Contact
				   (empty: none seen) */
	struct slice route;   /**< route set from this proxy to it, a Route
				   header value ("<sip:a;lr>, <sip:b;lr>"),
				   empty when it is the next hop */
	struct dlg_hop hop;   /**< the hop it is reached by (the source of
				   the INVITE; the callee's branch target) */
	uint32_t cseq;	      /**< highest CSeq of a request it sent in the
				   dialog (0: none yet) */
};

/**
 * One record-routed INVITE dialog. Inside the table an entry is
 * immutable: a change of state publishes a new entry in its place and
 * the old one is freed after an RCU grace period. Every slice of a
 * published entry points into the entry's own memory.
 * Exception to "opaque by default": read-only view, fields are public.
 */
struct dlg {
	struct slice call_id;
	struct slice caller_tag; /**< From tag of the INVITE */
	struct slice callee_tag; /**< To tag of the response */
	struct slice caller;	 /**< From URI of the INVITE (may be empty) */
	struct slice callee;	 /**< To URI of the INVITE (may be empty) */
	struct dlg_ua ua[DLG__SIDES];
	enum dlg_state state;
	unsigned owner;	    /**< the shard that owns the Call-ID */
	int64_t created_ms; /**< CLOCK_MONOTONIC, first published */
	int64_t changed_ms; /**< CLOCK_MONOTONIC, this state since */
};

/**
 * Create the table. Errors: -ENOMEM, -EALREADY (already made).
 * Thread: control, before any shard runs.
 */
int dlg_init(void);

/**
 * Remove and free every entry (after a grace period) and the table.
 * Thread: control, after the shards stopped; a registered RCU thread
 * outside any read section. Safe when dlg_init() was not called.
 */
void dlg_fini(void);

/**
 * Publish a copy of @p d (every slice is copied; changed_ms 0 is now,
 * created_ms 0 is changed_ms: a writer changing a state passes the
 * created_ms it had). The key is Call-ID + caller tag + callee tag; an
 * entry with the same key is replaced.
 * Errors: -EINVAL (empty Call-ID or tag, no table), -ENOMEM.
 * Thread: the shard that owns the Call-ID (its one writer); a
 * registered RCU thread, outside a read section.
 */
int dlg_publish(const struct dlg *d);

/**
 * Remove the dialog @p call_id with tags @p tag_a and @p tag_b, in
 * either order (a request from the callee has the tags swapped).
 * Returns 0, or -ENOENT. Thread: as dlg_publish().
 */
int dlg_remove(struct slice call_id, struct slice tag_a, struct slice tag_b);

/**
 * Remove every early dialog of @p call_id whose caller tag is
 * @p caller_tag (the INVITE ended without them being confirmed).
 * Returns how many. Thread: as dlg_publish().
 */
int dlg_remove_early(struct slice call_id, struct slice caller_tag);

/**
 * The dialog @p call_id with tags @p tag_a and @p tag_b in either
 * order, or NULL. Borrowed until rcu_read_unlock().
 * Thread: any registered RCU thread, inside urcu_memb_read_lock().
 */
const struct dlg *dlg_lookup_rcu(struct slice call_id, struct slice tag_a,
				 struct slice tag_b);

/**
 * A request of the dialog @p call_id (tags @p from_tag, @p to_tag as in
 * the request) went through: the side whose tag is @p from_tag gets its
 * CSeq raised to @p cseq (never lowered: a retransmission or a request
 * that overtook another changes nothing) and, when @p contact is not
 * empty (a target refresh: re-INVITE, UPDATE), its remote target
 * replaced. A change publishes a new entry (dlg_publish()).
 * Returns 1 when the entry changed, 0 when nothing had to, -ENOENT (no
 * such dialog), -ENOMEM. Thread: as dlg_publish().
 */
int dlg_note_request(struct slice call_id, struct slice from_tag,
		     struct slice to_tag, uint32_t cseq, struct slice contact);

/**
 * Move the dialog @p call_id with tags @p tag_a and @p tag_b (either
 * order) to @p state (its changed_ms is now; nothing else changes).
 * Returns 0, -ENOENT or -ENOMEM. Thread: as dlg_publish().
 */
int dlg_set_state(struct slice call_id, struct slice tag_a, struct slice tag_b,
		  enum dlg_state state);

/** Entries in the table (approximate while writers run). Thread: any. */
unsigned long dlg_count(void);

/** Called for each entry by dlg_foreach_rcu(). */
typedef void dlg_visit_fn(const struct dlg *d, void *arg);

/**
 * Call @p fn for every entry; the entries are borrowed for the call.
 * Returns the number visited. Thread: any registered RCU thread,
 * inside urcu_memb_read_lock(); @p fn must not block.
 */
unsigned long dlg_foreach_rcu(dlg_visit_fn *fn, void *arg);

/**
 * Call @p fn for every entry of Call-ID @p call_id (several when the
 * INVITE forked). Returns the number visited. Thread: as
 * dlg_foreach_rcu().
 */
unsigned long dlg_foreach_call_rcu(struct slice call_id, dlg_visit_fn *fn,
				   void *arg);

/** Where a page of dialogs starts: the key of the last one before it. */
struct dlg_key {
	struct slice call_id, caller_tag, callee_tag;
};

/** The key of @p d (slices borrowed from it). */
struct dlg_key dlg_key_of(const struct dlg *d);

/**
 * Order of keys: Call-ID, then caller tag, then callee tag, bytewise
 * (a shorter prefix first). Returns <0, 0 or >0. Thread: any.
 */
int dlg_key_cmp(const struct dlg_key *a, const struct dlg_key *b);

/**
 * One page of the table in key order: the first @p max (> 0) entries
 * whose key is greater than @p after (NULL: from the first), sorted,
 * into @p out (@p max slots; borrowed like dlg_lookup_rcu()'s). Keeps
 * only @p max while it scans: O(entries * log max) time, no memory.
 * Returns how many were written; *@p morep says whether more follow.
 * Thread: any registered RCU thread, inside urcu_memb_read_lock().
 */
size_t dlg_page_rcu(const struct dlg_key *after, const struct dlg **out,
		    size_t max, bool *morep);

/** "early", "confirmed", "terminated" (for logs and the API). */
const char *dlg_state_name(enum dlg_state state);

/**
 * Remove the entries of shard @p owner that have been early for more
 * than @p early_ms, confirmed for more than @p confirmed_ms or
 * terminated for more than @p terminated_ms at time @p now_ms
 * (CLOCK_MONOTONIC): UAs that vanished leave no dialog behind.
 * Returns how many. Thread: the shard @p owner, outside a read section.
 */
unsigned dlg_sweep(unsigned owner, int64_t now_ms, int64_t early_ms,
		   int64_t confirmed_ms, int64_t terminated_ms);

/** CLOCK_MONOTONIC in milliseconds, the clock of struct dlg. */
int64_t dlg_now_ms(void);
