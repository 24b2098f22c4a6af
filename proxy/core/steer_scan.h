/* proxy/core/steer_scan.h - the owner hash and the datagram scanner that
 * both the shards and the kernel steering program (steer.bpf.c) run */
#pragma once

/*
 * This header is compiled twice: into sipedge, and with clang -target bpf
 * into the SO_ATTACH_REUSEPORT_EBPF program. So: static inline only, no
 * libc, types from <linux/types.h>, every loop bounded by a constant, no
 * 128-bit multiply (the hash is FNV-1a, one byte per step, with a final
 * mix). Both sides must compute the same shard for the same bytes, or the
 * kernel delivers to one shard and the userspace hand-off moves the
 * message again (correct, only slower): tests/unit/proxy/core/
 * test_steer.c runs this scanner over messages and compares.
 */

#include <linux/types.h>

/** Bytes of a key (Call-ID, AOR) the owner hash reads; the rest of a
 * longer key is ignored, on both sides. */
#define STEER_KEY_MAX 256u

/** Start value of the owner hash for per-process seed @p seed. */
static inline __u64 steer_hash_init(__u64 seed)
{
	return seed ^ 0xcbf29ce484222325ULL;
}

/** One byte into the owner hash (FNV-1a 64). */
static inline __u64 steer_hash_step(__u64 h, __u8 c)
{
	return (h ^ c) * 0x100000001b3ULL;
}

/** The final mix (FNV's low bits are weak for a modulus). */
static inline __u64 steer_hash_final(__u64 h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* Scanner states (struct steer_scan st). */
enum {
	STEER_ST_START,	 /* in the start line */
	STEER_ST_BOL,	 /* at the first byte of a header line */
	STEER_ST_BOL_CR, /* after a CR at the start of a line */
	STEER_ST_NAME,	 /* in a header name that may be the one */
	STEER_ST_COLON,	 /* after the name, before the colon */
	STEER_ST_LWS,	 /* after the Call-ID colon */
	STEER_ST_VALUE,	 /* in the Call-ID value */
	STEER_ST_VIA,	 /* in the top Via, looking for our branch */
	STEER_ST_HEX,	 /* in the shard digits of our branch */
	STEER_ST_SKIP,	 /* in a header line of no interest */
	STEER_ST_DONE,	 /* decided (result) or given up (result -1) */
};

/* Our branch's prefix and the shard digits after it (proxy/sip/txn.c). */
#define STEER_BRANCH	 ";branch=z9hG4bKsE"
#define STEER_BRANCH_LEN 17u

/**
 * One scan of one datagram. Value type: the caller zeroes it and calls
 * steer_scan_init(), then steer_scan_byte() per byte until st is
 * STEER_ST_DONE or the bytes end, then steer_scan_end().
 */
struct steer_scan {
	__u64 seed; /**< the owner hash seed */
	__u64 h;    /**< the Call-ID hash so far */
	__u32 nshards;
	__u32 count;  /**< Call-ID bytes hashed */
	__s32 result; /**< the owner, or -1: let the kernel choose */
	__u32 shard;  /**< branch digits read so far */
	__u32 cid;    /**< the Call-ID's shard, seen before the top Via */
	__u8 st;
	__u8 k;	      /**< bytes matched (name, branch, digits) */
	__u8 via;     /**< 1: looking for the top Via (a response) */
	__u8 how;     /**< STEER_BY_* when result >= 0 */
	__u8 name;    /**< the header being matched: 1 Via, 0 Call-ID */
	__u8 has_cid; /**< 1: cid is set */
};

enum { STEER_BY_NONE, STEER_BY_BRANCH, STEER_BY_CALL_ID };

/**
 * Start a scan: @p is_response when the datagram starts with "SIP/"
 * (its top Via's branch decides first, then the Call-ID).
 */
static inline void steer_scan_init(struct steer_scan *s, __u64 seed,
				   __u32 nshards, int is_response)
{
	s->seed = seed;
	s->h = 0;
	s->nshards = nshards;
	s->count = 0;
	s->result = -1;
	s->shard = 0;
	s->st = STEER_ST_START;
	s->k = 0;
	s->via = is_response ? 1 : 0;
	s->how = STEER_BY_NONE;
	s->cid = 0;
	s->name = 0;
	s->has_cid = 0;
}

static inline __u8 steer_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? (__u8)(c | 0x20) : c;
}

static inline int steer_is_lws(__u8 c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The long name being looked for, byte @p k (0 past its end). */
static inline __u8 steer_name_at(const struct steer_scan *s, __u32 k)
{
	if (s->name)
		return k == 0 ? 'v' : k == 1 ? 'i' : k == 2 ? 'a' : 0;
	switch (k) {
	case 0:
		return 'c';
	case 1:
		return 'a';
	case 2:
	case 3:
		return 'l';
	case 4:
		return '-';
	case 5:
		return 'i';
	case 6:
		return 'd';
	default:
		return 0;
	}
}

static inline __u8 steer_branch_at(__u32 k)
{
	switch (k) {
	case 0:
		return ';';
	case 1:
		return 'b';
	case 2:
		return 'r';
	case 3:
		return 'a';
	case 4:
		return 'n';
	case 5:
		return 'c';
	case 6:
		return 'h';
	case 7:
		return '=';
	case 8:
		return 'z';
	case 9:
		return '9';
	case 10:
		return 'h';
	case 11:
		return 'G';
	case 12:
		return '4';
	case 13:
		return 'b';
	case 14:
		return 'K';
	case 15:
		return 's';
	case 16:
		return 'E';
	default:
		return 0;
	}
}

static inline void steer_scan_decide(struct steer_scan *s, __u32 shard,
				     __u8 how)
{
	s->result = (__s32)shard;
	s->how = how;
	s->st = STEER_ST_DONE;
}

/* The end of the headers, or something the scanner does not follow: a
 * Call-ID seen before (a response without Via) decides, else nobody. */
static inline void steer_scan_give_up(struct steer_scan *s)
{
	if (s->has_cid) {
		steer_scan_decide(s, s->cid, STEER_BY_CALL_ID);
		return;
	}
	s->result = -1;
	s->st = STEER_ST_DONE;
}

/* The top Via carries no branch of ours: the Call-ID decides, the one
 * seen already or the next. */
static inline void steer_scan_no_branch(struct steer_scan *s, __u8 c)
{
	s->via = 0;
	if (s->has_cid)
		steer_scan_decide(s, s->cid, STEER_BY_CALL_ID);
	else
		s->st = c == '\n' ? STEER_ST_BOL : STEER_ST_SKIP;
}

/* The Call-ID's shard is known at @p c: decide, or for a response whose
 * top Via is still to come, keep it for later. */
static inline void steer_scan_cid(struct steer_scan *s, __u8 c)
{
	__u32 owner = (__u32)(steer_hash_final(s->h) % s->nshards);

	if (!s->via) {
		steer_scan_decide(s, owner, STEER_BY_CALL_ID);
		return;
	}
	s->cid = owner;
	s->has_cid = 1;
	s->st = c == '\n' ? STEER_ST_BOL : STEER_ST_SKIP;
}

/* A header name is complete at @p c: expect the colon. */
static inline void steer_scan_colon(struct steer_scan *s, __u8 c)
{
	if (c == ' ' || c == '\t') {
		s->st = STEER_ST_COLON;
	} else if (c == ':') {
		if (s->name)
			s->st = s->via ? STEER_ST_VIA : STEER_ST_SKIP;
		else
			s->st = s->has_cid ? STEER_ST_SKIP : STEER_ST_LWS;
		s->k = 0;
	} else {
		s->st = c == '\n' ? STEER_ST_BOL : STEER_ST_SKIP;
	}
}

/* The first byte of a header line. */
static inline void steer_scan_bol(struct steer_scan *s, __u8 c)
{
	__u8 l = steer_lower(c);

	if (c == '\n') {
		steer_scan_give_up(s); /* the end of the headers */
	} else if (c == '\r') {
		s->st = STEER_ST_BOL_CR;
	} else if (l == 'v' && s->via) {
		s->name = 1;
		s->st = STEER_ST_NAME;
		s->k = 1;
	} else if (l == 'c' && !s->has_cid) {
		s->name = 0;
		s->st = STEER_ST_NAME;
		s->k = 1;
	} else if (l == 'i' && !s->has_cid) {
		s->name = 0;
		s->st = STEER_ST_COLON; /* compact Call-ID */
	} else {
		s->st = STEER_ST_SKIP;
	}
}

/**
 * Feed byte @p c. Mirrors sipmsg_peek_call_id() and
 * txn_peek_branch_shard(): the header names in any case, long or
 * compact, SP/HTAB before the colon; the Call-ID is the value up to the
 * first LWS, of which the first STEER_KEY_MAX bytes are hashed; a folded
 * Call-ID is given up (the shard hands it off).
 */
static inline void steer_scan_byte(struct steer_scan *s, __u8 c)
{
	__u8 want;

	switch (s->st) {
	case STEER_ST_START:
	case STEER_ST_SKIP:
		if (c == '\n')
			s->st = STEER_ST_BOL;
		break;
	case STEER_ST_BOL:
		steer_scan_bol(s, c);
		break;
	case STEER_ST_BOL_CR:
		if (c == '\n')
			steer_scan_give_up(s);
		else
			s->st = STEER_ST_SKIP;
		break;
	case STEER_ST_NAME:
		want = steer_name_at(s, s->k);
		if (want && steer_lower(c) == want)
			s->k++;
		else if (!want || (s->name && s->k == 1))
			steer_scan_colon(s, c); /* long, or compact "v" */
		else
			s->st = c == '\n' ? STEER_ST_BOL : STEER_ST_SKIP;
		break;
	case STEER_ST_COLON:
		steer_scan_colon(s, c);
		break;
	case STEER_ST_LWS:
		if (c == ' ' || c == '\t')
			break;
		if (c == '\r' || c == '\n') {
			steer_scan_give_up(s);
			break;
		}
		s->h = steer_hash_init(s->seed);
		s->count = 0;
		s->st = STEER_ST_VALUE;
		/* fall through: c is the value's first byte */
		__attribute__((fallthrough));
	case STEER_ST_VALUE:
		if (steer_is_lws(c)) {
			steer_scan_cid(s, c);
			break;
		}
		s->h = steer_hash_step(s->h, c);
		if (++s->count == STEER_KEY_MAX)
			steer_scan_cid(s, ' ');
		break;
	case STEER_ST_VIA:
		if (c == '\n') {
			steer_scan_no_branch(s, c);
		} else if (c == steer_branch_at(s->k)) {
			if (++s->k == STEER_BRANCH_LEN) {
				s->st = STEER_ST_HEX;
				s->k = 0;
				s->shard = 0;
			}
		} else {
			s->k = c == ';' ? 1 : 0;
		}
		break;
	case STEER_ST_HEX:
		if (s->k == 2) {
			if (c == '.' && s->shard < s->nshards)
				steer_scan_decide(s, s->shard, STEER_BY_BRANCH);
			else
				steer_scan_no_branch(s, c);
		} else if (c >= '0' && c <= '9') {
			s->shard = s->shard << 4 | (__u32)(c - '0');
			s->k++;
		} else if (c >= 'a' && c <= 'f') {
			s->shard = s->shard << 4 | (__u32)(c - 'a' + 10);
			s->k++;
		} else {
			steer_scan_no_branch(s, c);
		}
		break;
	default:
		break;
	}
}

/**
 * The bytes ended (@p whole: they were the whole datagram, not a cut).
 * A Call-ID that runs to the end of the datagram is complete only then.
 * Returns the owner, or -1: no opinion (the kernel's choice stands).
 */
static inline __s32 steer_scan_end(struct steer_scan *s, int whole)
{
	if (s->st == STEER_ST_VALUE && whole && s->count)
		steer_scan_cid(s, '\n');
	if (s->st != STEER_ST_DONE && !whole)
		s->has_cid = 0; /* the top Via may be in the cut part */
	if (s->st != STEER_ST_DONE)
		steer_scan_give_up(s);
	return s->result;
}
