/* proxy/sip/sdp.h - SDP (RFC 4566) view and offer/answer helpers (RFC 3264) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/base/slice.h"

struct arena;

/** Most m= lines sdp_parse() takes (more: -E2BIG). */
#define SDP_MAX_MEDIA 16
/** Longest SDP body sdp_parse() takes, in bytes (more: -EMSGSIZE). */
#define SDP_MAX_LEN 65535
/** Most digits of the o= session id and version. */
#define SDP_MAX_DIGITS 64

/** The direction attributes (RFC 4566 §6, RFC 3264 §5.1). */
enum sdp_dir {
	SDP_SENDRECV = 0, /**< the default */
	SDP_SENDONLY,
	SDP_RECVONLY,
	SDP_INACTIVE,
};

/** A c= line, split: "IN IP4 192.0.2.1". */
struct sdp_conn {
	struct slice nettype, addrtype;
	struct slice addr; /**< as written, with any "/ttl" */
};

/** One m= section. */
struct sdp_media {
	struct slice line;  /**< the m= value, after "m=", without line end */
	struct slice media; /**< "audio", "video", ... */
	uint16_t port;	    /**< 0: the stream is rejected or disabled */
	unsigned nports;    /**< after '/', 1 when absent */
	struct slice proto; /**< "RTP/AVP", ... */
	struct slice fmts;  /**< the format list, as written */
	struct sdp_conn conn;
	bool has_conn;
	enum sdp_dir dir; /**< as written at media level, when has_dir */
	bool has_dir;
	/** The section's lines, from "m=" to the next m= or the end. */
	struct slice block;
};

/**
 * A parsed SDP body: a read-only view into the caller's buffer (every
 * slice points into it). Exception to "opaque by default": read-only
 * view, fields public. The caller provides the storage; sdp_parse()
 * never allocates.
 */
struct sdp {
	struct slice text; /**< the whole body */
	/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <addr> */
	struct slice o_user, o_sess_id, o_version;
	struct slice o_nettype, o_addrtype, o_addr;
	struct sdp_conn conn; /**< session-level c=, when has_conn */
	bool has_conn;
	enum sdp_dir dir; /**< session-level direction, when has_dir */
	bool has_dir;
	/** The session-level lines, from "v=" to the first m= line. */
	struct slice session;
	unsigned nmedia;
	struct sdp_media media[SDP_MAX_MEDIA];
	/** NULL, or why the body is malformed ("Missing v="); static. */
	const char *fault;
};

/**
 * Parse the SDP body @p buf (@p len bytes) into @p s (RFC 4566 §5):
 * "v=0" first, then o= (six fields, sess-id and sess-version digits),
 * s= and t= present; every line "<letter>=<value>" ending in CRLF or
 * LF (the last line may lack it; blank lines only at the end);
 * c= three fields, in the session or in every m= section whose port is
 * not 0; m= "<media> <port>[/<n>] <proto> <fmt>..." with a port up to
 * 65535; at most one direction attribute per level.
 * Returns 0, or -EBADMSG (s->fault says why: a NUL byte, a line that is
 * not type=value, a missing or malformed mandatory line, a value out of
 * range), -E2BIG (more than SDP_MAX_MEDIA m= lines), -EMSGSIZE (@p len
 * over SDP_MAX_LEN). Never reads outside buf[0, len); on error *s holds
 * what was parsed up to the fault.
 * Thread: any. Ownership: *s points into @p buf, valid while it is.
 */
int sdp_parse(struct sdp *s, const char *buf, size_t len);

/** "sendrecv", "sendonly", "recvonly" or "inactive". Thread: any. */
const char *sdp_dir_name(enum sdp_dir d);

/**
 * The direction of m= section @p i in effect: its own attribute, else
 * the session's, else sendrecv (RFC 3264 §5.1). @p i must be below
 * s->nmedia. Thread: any.
 */
enum sdp_dir sdp_media_dir(const struct sdp *s, unsigned i);

/**
 * Take the next a= line of @p *restp (a section: s->session or a
 * media's block; other lines are skipped): *namep is the attribute
 * name, *valp what follows its ':' (empty for a flag such as
 * "a=sendonly"). Returns 1, or 0 when no a= line is left.
 * Thread: any.
 */
int sdp_attr_next(struct slice *restp, struct slice *namep, struct slice *valp);

/**
 * The value of the first a=@p name (case-sensitive, RFC 4566 §5.13)
 * in @p section into *valp. Returns 1, or 0 when absent. Thread: any.
 */
int sdp_attr_find(struct slice section, const char *name, struct slice *valp);

/** Flags for sdp_print(). */
enum {
	/** Write direction @p dir in every m= section (and none at the
	 * session level) instead of the directions as they are. */
	SDP_SET_DIR = 1 << 0,
	/** Add one to the o= sess-version (RFC 3264 §8: a changed
	 * offer in an existing session). Decimal, any length. */
	SDP_BUMP_VERSION = 1 << 1,
};

/**
 * Print @p s again into @p a, changed as @p flags say; every other line
 * is copied byte for byte (the m= lines in particular). With
 * SDP_SET_DIR, every direction attribute is dropped and "a=<dir>"
 * added at the end of each m= section (at the session level when there
 * is none). A hold offer or answer (RFC 3264 §8.4, RFC 3725 §5) is
 * SDP_SET_DIR with SDP_INACTIVE.
 * Returns 0 with *outp in @p a, or -EINVAL (@p s not parsed, @p dir
 * out of range), -ENOMEM.
 * Thread: the owner of @p a. Ownership: *outp lives in @p a.
 */
int sdp_print(const struct sdp *s, unsigned flags, enum sdp_dir dir,
	      struct arena *a, struct slice *outp);

/**
 * True when @p x and @p y have as many m= lines and each is the same
 * byte for byte (what a 3PCC controller relays must not change).
 * Thread: any.
 */
bool sdp_media_eq(const struct sdp *x, const struct sdp *y);

/**
 * Check that @p answer answers @p offer (RFC 3264 §6): as many m=
 * lines, in the same order, of the same media type; a stream the offer
 * disabled (port 0) stays at port 0; an accepted stream (port not 0)
 * keeps the transport protocol, and its direction fits the offer's
 * (§6.1: sendonly -> recvonly or inactive, recvonly -> sendonly or
 * inactive, inactive -> inactive).
 * Returns 0, or -EPROTO with *faultp (may be NULL) saying what differs.
 * Thread: any.
 */
int sdp_answer_check(const struct sdp *offer, const struct sdp *answer,
		     const char **faultp);
