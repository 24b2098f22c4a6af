/* proxy/sip/dialog.h - UA dialog state (RFC 3261 §12) and in-dialog requests */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proxy/base/slice.h"
#include "proxy/sip/msg.h"
#include "proxy/sip/request.h"

struct arena;

/** Most Record-Route entries a dialog keeps (more: -E2BIG). */
#define DIALOG_MAX_ROUTES 16

enum dialog_state {
	DIALOG_EARLY,	  /**< from a 1xx with a To tag (or a UAS's 1xx) */
	DIALOG_CONFIRMED, /**< from a 2xx */
};

enum dialog_role {
	DIALOG_UAC, /**< we sent the request that made it */
	DIALOG_UAS, /**< we received it */
};

/**
 * The state of one dialog as one UA holds it (RFC 3261 §12): a
 * read-only view. Exception to "opaque by default": the fields are
 * public to read; change them only through dialog_* functions. Every
 * slice points into one block the dialog owns (dialog_free() frees it;
 * a function that changes the dialog may move the block, so slices
 * taken from it are valid until the next dialog_* call that changes it).
 * Single owner (the thread that made it); no locks.
 */
struct dialog {
	enum dialog_role role;
	enum dialog_state state;
	bool secure; /**< sips Request-URI over TLS (§12.1.1, §12.1.2) */
	struct slice call_id;
	struct slice local_tag, remote_tag; /**< remote may be empty (2543) */
	struct slice local_uri, remote_uri; /**< From / To URIs, no < > */
	struct slice remote_target;	    /**< Contact URI, no < > */
	/** The route set: name-addrs as "<sip:p1;lr>", the next hop first. */
	struct slice route[DIALOG_MAX_ROUTES];
	unsigned nroute;
	uint32_t local_cseq;  /**< the last CSeq we sent */
	bool local_cseq_set;  /**< false: empty (a UAS that sent nothing) */
	uint32_t remote_cseq; /**< the last CSeq the peer sent */
	bool remote_cseq_set; /**< false: empty (a UAC, nothing received) */
	/** CSeq of the last INVITE we sent: what its ACK and CANCEL take. */
	uint32_t invite_cseq;
	bool invite_cseq_set; /**< false: we sent no INVITE in it */
	/* private */
	char *block;
};

/**
 * A UAC's dialog from response @p rsp (RFC 3261 §12.1.2) to the
 * request we sent: a 101-199 with a To tag makes it early, a 2xx
 * confirmed. Call-ID, local URI and tag (From), remote URI and tag (To)
 * from @p rsp (they echo the request); local CSeq the request's (and
 * invite_cseq when it is an INVITE); remote CSeq empty; route set the
 * Record-Route entries in reverse order; remote target the Contact URI
 * (a 1xx without Contact leaves it empty until dialog_confirm());
 * @p secure as the caller knows it (the request was sips over TLS).
 * Errors: -EINVAL (not a 101-299 response), -EBADMSG (no To tag, no
 * From tag, no Call-ID, a 2xx without a usable Contact, a Record-Route
 * or Contact that does not parse), -E2BIG (more than DIALOG_MAX_ROUTES
 * routes), -ENOMEM.
 * Thread: any; the dialog then belongs to the caller's thread.
 * Ownership: *dp is the caller's, dialog_free(); nothing points into
 * @p rsp.
 */
int dialog_new_uac(const struct sipmsg *rsp, bool secure, struct dialog **dp);

/**
 * A UAS's dialog from request @p req (RFC 3261 §12.1.1), for the
 * response we send with To tag @p local_tag: early when that response
 * is a 1xx, confirmed when a 2xx (@p state). Remote URI and tag from
 * From (the tag may be empty: RFC 2543 peers), local URI from To;
 * remote CSeq the request's, local CSeq empty; route set the
 * Record-Route entries in order; remote target the Contact URI.
 * Errors: -EINVAL (@p req not a request, @p local_tag not a token),
 * -EBADMSG (no Call-ID, From or To, no usable Contact, a Record-Route
 * that does not parse), -E2BIG, -ENOMEM.
 * Thread: any. Ownership: as dialog_new_uac().
 */
int dialog_new_uas(const struct sipmsg *req, struct slice local_tag,
		   enum dialog_state state, bool secure, struct dialog **dp);

/**
 * A confirmed dialog from its fields @p f, as another UA that held it
 * wrote them down (park's node takeover, issue #13): every slice of
 * @p f is copied; role, secure, the CSeqs and their _set flags are
 * taken as they are, state becomes confirmed. Errors: -EINVAL (no
 * Call-ID or one that is not line safe, a local tag that is not a
 * token, a remote tag that is given and is not one, a local or remote
 * URI or remote target that is not a SIP/SIPS URI, a route that is not
 * an angle-bracketed name-addr with a URI that parses, more than
 * DIALOG_MAX_ROUTES routes), -ENOMEM.
 * Thread: any; the dialog then belongs to the caller's thread.
 * Ownership: *dp is the caller's, dialog_free(); nothing points into
 * @p f.
 */
int dialog_restore(const struct dialog *f, struct dialog **dp);

/** Free @p d and its strings. NULL is allowed. Thread: the owner. */
void dialog_free(struct dialog *d);

/**
 * Confirm an early dialog. UAC: @p rsp is the 2xx (its To tag must be
 * the dialog's); the route set and the remote target are recomputed
 * from it (RFC 3261 §13.2.2.4). UAS: @p rsp is NULL (we sent the 2xx).
 * A confirmed dialog: nothing changes, 0.
 * Errors: -EINVAL (UAC without a 2xx of this dialog, UAS with @p rsp),
 * -EBADMSG, -E2BIG, -ENOMEM (the dialog is unchanged then).
 * Thread: the owner.
 */
int dialog_confirm(struct dialog *d, const struct sipmsg *rsp);

/**
 * True when @p m belongs to @p d: same Call-ID, and for a request its
 * To tag is our local tag and its From tag the remote one; for a
 * response its From tag is ours and its To tag the remote one (an
 * early UAC dialog with a different To tag is another dialog of a
 * forked INVITE). Thread: the owner.
 */
bool dialog_is_match(const struct dialog *d, const struct sipmsg *m);

/**
 * Check request @p req's CSeq against the remote CSeq (RFC 3261
 * §12.2.2): when empty it is set; lower is out of order; higher (or
 * equal: a retransmission the transaction layer would have absorbed)
 * becomes the new remote CSeq. ACK and CANCEL carry their INVITE's
 * number and are not checked (0, nothing changes).
 * Returns 0, or -ERANGE (lower: answer 500, RFC 3261 §12.2.2),
 * -EINVAL (@p req is a response). Thread: the owner.
 */
int dialog_check_cseq(struct dialog *d, const struct sipmsg *req);

/**
 * Target refresh (RFC 3261 §12.2.1.2, §12.2.2; RFC 3311 UPDATE):
 * @p m is a target refresh request we received (INVITE, UPDATE,
 * SUBSCRIBE, NOTIFY, REFER) or a 2xx to one we sent; its Contact, when
 * present, becomes the remote target. For a re-INVITE the UAS calls it
 * when it accepts the request (its 2xx).
 * Returns 1 (target changed), 0 (no Contact, the same target, or not a
 * target refresh), or -EBADMSG (a Contact that does not parse; the
 * dialog is unchanged), -ENOMEM. Thread: the owner.
 */
int dialog_refresh(struct dialog *d, const struct sipmsg *m);

/** What dialog_request() adds to the dialog's own fields. */
struct dialog_req {
	enum sip_method method;	    /**< not SIP_METHOD_OTHER */
	struct slice via_transport; /**< as struct request_opts */
	struct slice via_host;
	uint16_t via_port;
	struct slice branch;  /**< new, except a CANCEL: its INVITE's */
	struct slice contact; /**< our Contact URI; required for INVITE,
				 UPDATE, SUBSCRIBE, NOTIFY, REFER */
	const struct request_hdr *hdrs; /**< extra headers */
	unsigned nhdrs;
	struct slice content_type, body;
};

/**
 * Build a request inside @p d (RFC 3261 §12.2.1.1) into @p a:
 * From = local URI and tag, To = remote URI and tag, Call-ID; CSeq the
 * local one + 1 (chosen as 1 when empty), and the dialog's local CSeq
 * (and invite_cseq for an INVITE) becomes it; ACK (of a 2xx) and CANCEL
 * take invite_cseq and leave the dialog's numbers as they are.
 * Routing: with an empty route set, Request-URI = remote target, no
 * Route; when the first route is a loose router (";lr"), Request-URI =
 * remote target and Route = the route set in order; otherwise (strict
 * router) Request-URI = the first route's URI without URI headers, and
 * Route = the other routes followed by "<remote target>".
 * The next hop is then the first Route's URI or, without Route, the
 * Request-URI (dialog_next_hop()).
 * Errors: -EINVAL (as request_print(), SIP_METHOD_OTHER, a method that
 * needs a Contact without one, no INVITE sent for ACK or CANCEL),
 * -ENOENT (no remote target yet: an early dialog from a 1xx without
 * Contact), -ERANGE (the local CSeq would reach 2^31, RFC 3261
 * §8.1.1.5), -ENOMEM. On error the dialog is unchanged.
 * Thread: the owner, and of @p a. Ownership: *outp lives in @p a.
 */
int dialog_request(struct dialog *d, const struct dialog_req *r,
		   struct arena *a, struct slice *outp);

/**
 * The URI a request of @p d goes to (RFC 3261 §8.1.2, §12.2.1.1): the
 * first route's URI (loose or strict), else the remote target.
 * Returns 0 with *urip (into the dialog's block), or -ENOENT (no
 * route set and no remote target yet). Thread: the owner.
 */
int dialog_next_hop(const struct dialog *d, struct slice *urip);
