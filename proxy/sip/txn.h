/* proxy/sip/txn.h - RFC 3261 §17 transactions, owned by one shard */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/peer.h"

struct timer_wheel;
struct stats_hist;

/**
 * The latencies a layer records, per server transaction, from the
 * request's arrival (txn_srv_new()) to a response sent upstream.
 */
enum txn_hist {
	TXN_HIST_INVITE_PROVISIONAL, /**< INVITE to first 101-199 */
	TXN_HIST_INVITE_FINAL,	     /**< INVITE to its final response */
	TXN_HIST_REGISTER,	     /**< REGISTER to its final response */
	TXN_HIST__COUNT,
};

/**
 * The transactions of one shard: a server and a client table, timers on
 * the shard's wheel, nothing shared. Every message of a dialog reaches
 * the shard that owns hash(Call-ID) (CANCEL and ACK carry the INVITE's
 * Call-ID; responses too), and the branches this layer makes carry the
 * shard id, so a transaction is only ever touched by its owner: no
 * locks. Sending and time are injected (txn_cfg, the wheel), so tests
 * drive it with a fake clock and capture what is sent.
 */
struct txn_layer;

/**
 * One transaction (an obj, proxy/base/obj.h). A server transaction
 * holds a copy of the request and of the last response it sent (to
 * answer retransmissions; dropped in Confirmed and Accepted, where
 * nothing resends it); a client transaction holds the request it sent
 * (to retransmit it, and to build its ACK or CANCEL) until a final
 * response comes, then only the ACK of a 300-699 (for retransmitted
 * finals). A completed transaction thus keeps its match keys and what
 * it may still have to send, no more.
 */
struct txn;

enum txn_state {
	TXN_CALLING,	/**< client INVITE, nothing received */
	TXN_TRYING,	/**< non-INVITE, nothing sent / received */
	TXN_PROCEEDING, /**< a provisional response */
	TXN_COMPLETED,	/**< a final 300-699 (non-INVITE: any final) */
	TXN_CONFIRMED,	/**< server INVITE: the ACK came */
	TXN_ACCEPTED,	/**< INVITE 2xx (RFC 6026 §7.1, §8.4) */
	TXN_TERMINATED,
};

/** Longest branch this layer makes, with its NUL. */
#define TXN_BRANCH_MAX 48

/**
 * What a client transaction reports to whoever started it
 * (txn_cli_new()), with its parent server transaction or without one:
 * a response @p m (status == m->status): each provisional one, every
 * 2xx of an INVITE (RFC 6026), the first final 300-699; or, with @p m
 * NULL, its failure without a final response: @p status 408 (Timer B
 * or F, or no final within 64*T1 of a CANCEL) or 503 (a retransmission
 * could not be sent: a transport failure, RFC 3261 §17.1.4; a full send
 * queue is not one). A send error of the request itself is not reported
 * here: txn_cli_new() returns it.
 * @p arg is what txn_cli_new() was given. @p ct is alive during the
 * call (the user may drop its own references meanwhile). Thread: the
 * layer's owner.
 */
typedef void txn_cli_fn(struct txn *ct, const struct sipmsg *m, unsigned status,
			void *arg);

/** What the transaction user (the proxy core) is told of every txn. */
struct txn_user {
	/**
	 * @p t left the table (a server transaction, or a client one with
	 * a parent): no more callbacks come for it.
	 */
	void (*gone)(struct txn *t);
	/**
	 * The memory of server transaction @p st is about to be freed:
	 * the user area must hold no scheduled timer after this.
	 */
	void (*release)(struct txn *st);
};

/** What a layer is made with. */
struct txn_cfg {
	unsigned t1_ms, t2_ms, t4_ms; /**< RFC 3261 timers */
	unsigned shard;		      /**< encoded in every branch, < 256 */
	unsigned max_headers;	      /**< for parsing its own copies */
	/** Send @p len bytes to @p to; 0 or a negative error. */
	int (*send)(void *ctx, const struct peer *to, const void *buf,
		    size_t len);
	void *send_ctx;
	const struct txn_user *user; /**< may be NULL */
	/**
	 * NULL, or TXN_HIST__COUNT histograms (enum txn_hist) the layer
	 * writes; they belong to the layer's owner thread.
	 */
	struct stats_hist *hist;
	/**
	 * Server transactions made with no user area (user_size 0: the
	 * transaction user answers them itself and keeps no state) drop
	 * their request copy at their final response, keeping only the
	 * match keys: txn_srv_request() is empty then. For a user that
	 * never reads such a request after answering it.
	 */
	bool compact_local;
};

/**
 * A new layer on wheel @p w (which must outlive it).
 * Errors: -EINVAL (no send function, shard >= 256), -ENOMEM.
 * Thread: the owner. Ownership: txn_layer_free().
 */
int txn_layer_new(const struct txn_cfg *cfg, struct timer_wheel *w,
		  struct txn_layer **lp);

/**
 * The request being handled arrived at @p us (stats_now_us()), or 0
 * when none is: server transactions made meanwhile time their
 * histograms (txn_cfg.hist) from then, else from their making.
 * Thread: the owner.
 */
void txn_set_rx_us(struct txn_layer *l, uint64_t us);

/**
 * Terminate every transaction (txn_user.gone is called, nothing is
 * sent) and free the layer. NULL is allowed.
 */
void txn_layer_free(struct txn_layer *l);

/**
 * Transactions in the tables, server and client: live ones and
 * completed ones (txn_count_completed()).
 */
size_t txn_count(const struct txn_layer *l);

/**
 * Live transactions: those without a final response yet (Trying,
 * Calling, Proceeding), server and client. This is the load a shard
 * carries (overload.max_transactions).
 */
size_t txn_count_live(const struct txn_layer *l);

/**
 * Completed transactions: a final response went or came, and they only
 * absorb retransmissions until Timer D, H, I, J, K, L or M ends them
 * (Completed, Confirmed, Accepted), server and client.
 */
size_t txn_count_completed(const struct txn_layer *l);

/**
 * End the oldest completed transactions until at most @p max are left,
 * as if their last timer had fired (txn_user.gone is called; nothing is
 * sent). It bounds the memory they hold: a busy shard keeps each for
 * less than 64*T1 (RFC 3261 allows a shorter wait at the cost of
 * absorbing fewer late retransmissions). Call it where no transaction
 * is being worked on (before a new request is handled). Returns how
 * many ended. Thread: the owner.
 */
size_t txn_trim(struct txn_layer *l, size_t max);

/** Transactions made since the layer was, server and client. */
uint64_t txn_created(const struct txn_layer *l);

/* Server transactions. */

/**
 * The server transaction request @p m belongs to, as method @p method
 * (m's own method; SIP_INVITE to find what an ACK or a CANCEL is for):
 * RFC 3261 §17.2.3 by branch, sent-by and method, or the RFC 2543 rule
 * (Request-URI, tags, Call-ID, CSeq, top Via) when the branch lacks the
 * magic cookie. NULL when none.
 */
struct txn *txn_srv_find(struct txn_layer *l, const struct sipmsg *m,
			 enum sip_method method);

/**
 * Request @p m matched @p st: a retransmission (the last response is
 * sent again, if any; RFC 3261 §17.2.1, §17.2.2) or the ACK of an
 * INVITE (Completed -> Confirmed). Returns 1 when absorbed, 0 for an
 * ACK that the transaction user must handle (the ACK of a 2xx, which
 * RFC 6026 §8.7 passes up).
 */
int txn_srv_absorb(struct txn *st, const struct sipmsg *m);

/**
 * A new server transaction for request @p m (not ACK) from @p from,
 * with @p user_size zeroed bytes for the transaction user
 * (txn_user_data()). Responses go where RFC 3261 §18.2.2 and RFC 3581
 * say (reply_dest()). The request is copied.
 * Errors: -EINVAL (ACK, no Via, not a request), -ENOMEM.
 * Ownership: the layer holds it until it terminates; take obj_get() to
 * keep it longer.
 */
int txn_srv_new(struct txn_layer *l, const struct sipmsg *m,
		const struct peer *from, size_t user_size, struct txn **stp);

/**
 * Send response @p buf (status @p status) upstream through @p st and
 * move its state machine (RFC 3261 §17.2.1, §17.2.2; RFC 6026 for
 * INVITE 2xx: Accepted, and later 2xx still pass). Provisional and
 * final 300-699 responses are kept for retransmission; a final one is
 * retransmitted on UDP by Timer G until the ACK.
 * Errors: -EALREADY (a final was sent: nothing sent; every 2xx of an
 * INVITE still passes), -ENOMEM, send errors.
 */
int txn_srv_respond(struct txn *st, unsigned status, const void *buf,
		    size_t len);

/**
 * The request a server transaction holds (its own copy); empty once a
 * final response went on a layer with txn_cfg.compact_local and no user
 * area.
 */
struct slice txn_srv_request(const struct txn *st);

/* Client transactions. */

/**
 * Write a new branch into @p buf (at least TXN_BRANCH_MAX bytes):
 * "z9hG4bKsE" + shard (2 hex) + "." + @p loop_hash (8 hex) + "." + 16
 * hex unique to this layer. Returns its length.
 */
size_t txn_branch_make(struct txn_layer *l, uint32_t loop_hash, char *buf);

/**
 * The same shape, deterministic: the third part is a hash of @p seed
 * (for stateless forwarding, RFC 3261 §16.11: a retransmission gets
 * the same branch). Returns its length.
 */
size_t txn_branch_stateless(struct txn_layer *l, uint32_t loop_hash,
			    struct slice seed, char *buf);

/**
 * When @p branch is one this layer's kind makes: 0 with the shard and
 * loop hash it carries; else -ENOENT. Thread: any.
 */
int txn_branch_parse(struct slice branch, unsigned *shardp,
		     uint32_t *loop_hashp);

/**
 * The shard named by the top Via branch of the message at @p buf (a
 * response, typically), found without a full parse; -ENOENT when the
 * branch is not one of ours. Thread: any.
 */
int txn_peek_branch_shard(const char *buf, size_t len);

/**
 * Send request @p buf (method @p method, @p len bytes, whose top Via
 * carries @p branch) to @p to and start a client transaction for it
 * (RFC 3261 §17.1): on UDP it is retransmitted (Timer A or E), and it
 * times out (Timer B or F). @p fn (may be NULL: outcomes are dropped)
 * is told its responses and its failure with @p arg (txn_cli_fn).
 * @p parent is the server transaction it works for (a reference is
 * held; txn_user_data() of the client is the parent's), or NULL for
 * one that stands alone (a B2BUA's leg, ...). @p tag is the user's own
 * number for it (txn_tag()). The request is copied.
 * Errors (@p fn is never called then): -EINVAL (empty branch or longer
 * than TXN_BRANCH_MAX - 1, ACK), -ENOMEM, the send error (nothing is
 * kept then).
 * Ownership: the layer holds it until it terminates; take obj_get() to
 * keep it longer. @p arg must stay valid while the transaction lives.
 */
int txn_cli_new(struct txn_layer *l, struct txn *parent, enum sip_method method,
		const struct peer *to, struct slice branch, const char *buf,
		size_t len, unsigned tag, txn_cli_fn *fn, void *arg,
		struct txn **ctp);

/**
 * The client transaction response @p m belongs to (top Via branch and
 * CSeq method, RFC 3261 §17.1.3), or NULL.
 */
struct txn *txn_cli_find(struct txn_layer *l, const struct sipmsg *m);

/**
 * Run response @p m through @p ct (RFC 3261 §17.1.1, §17.1.2, RFC 6026):
 * passes it to the transaction's txn_cli_fn as that says, ACKs a final 300-699
 * of an INVITE itself, sends a pending CANCEL on the first provisional.
 */
void txn_cli_receive(struct txn *ct, const struct sipmsg *m);

/**
 * Cancel INVITE client transaction @p ct (RFC 3261 §9.1): a CANCEL
 * with the same branch goes now if a provisional came, else when the
 * first one comes. If no final comes within 64*T1 after it, @p ct fails
 * with 408 (txn_cli_fn). Nothing happens when it has a final, or was cancelled.
 * Returns 0, or -ENOMEM / a send error for the CANCEL.
 */
int txn_cli_cancel(struct txn *ct);

/**
 * A TCP connection to @p to (its address and port; the connection id
 * is not compared) could not be made: every client transaction sent
 * there over TCP that has no response yet fails at once with 503, as
 * a transport failure (RFC 3261 §17.1.4), instead of waiting for
 * Timer B or F; its user fails over (RFC 3261 §16.7 step 8).
 * Returns how many failed. Thread: the layer's owner.
 */
size_t txn_cli_fail_peer(struct txn_layer *l, const struct peer *to);

/* Either kind. */

/** The state. */
enum txn_state txn_state(const struct txn *t);

/** The method (a server transaction's request, a client's request). */
enum sip_method txn_method(const struct txn *t);

/** The last status sent (server) or received (client); 0 when none. */
unsigned txn_status(const struct txn *t);

/** Server: the user area (txn_srv_new()); client: its parent's. */
void *txn_user_data(struct txn *t);

/** Client: its parent server transaction, or NULL. */
struct txn *txn_parent(const struct txn *ct);

/** Client: the tag given to txn_cli_new(). */
unsigned txn_tag(const struct txn *ct);

/** Server: where responses go; client: where the request went. */
const struct peer *txn_peer(const struct txn *t);

/**
 * The bytes @p t holds outside its struct and user area, or in them for
 * a server's request copy: the request copy (a client's only until its
 * final response) and the kept response or ACK. For tests and
 * measurements.
 */
size_t txn_held_bytes(const struct txn *t);

/** The layer @p t belongs to. */
struct txn_layer *txn_layer(const struct txn *t);

/**
 * Write the access line of a request answered with final @p status
 * (`log.requests`): "access <proto> <source> <method> <R-URI> <status>
 * call-id=<Call-ID>", network values escaped (log_escape()). The server
 * transactions write it themselves when they send their first final
 * response; the caller writes it for stateless answers. Check
 * log_requests() first. Thread: any.
 */
void txn_log_access(const struct peer *from, struct slice method,
		    struct slice ruri, struct slice call_id, unsigned status);
