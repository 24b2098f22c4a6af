/* proxy/core/steer.bpf.c - SK_REUSEPORT program: each UDP datagram to the
 * shard that owns it (built with clang -target bpf, embedded by steer.c) */
#include <linux/bpf.h>
#include <linux/types.h>

#include <bpf/bpf_helpers.h>

#include "proxy/core/steer_scan.h"
#include "proxy/core/steer_stats.h"

/* Bytes of a datagram scanned; the Call-ID of a SIP message sits in its
 * first few hundred. A multiple of 8 (the callback reads 8 at a time). */
#define SCAN_MAX 1536u
#define UDP_HDR	 8u
/* The copy's room: a power of two above SCAN_MAX, so that a masked
 * offset is in bounds for the verifier whatever the compiler reorders. */
#define BUF_SIZE 2048u

/* Set by the loader before the program is loaded. */
const volatile __u32 nshards = 0;
const volatile __u64 seed = 0;

/* This CPU's copy of the datagram and the scan over it. In a map, not on
 * the 512-byte stack; and a scan state read from memory is unknown to
 * the verifier, which checks the loop callback once, not per state. */
struct scratch {
	struct steer_scan s;
	__u32 n;
	__u8 b[BUF_SIZE + 8] __attribute__((aligned(8)));
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Index: the shard id. Value: its socket (filled by the loader). */
struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, STEER_MAX_SHARDS);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

/* Per CPU: STEER_STAT_* counters, then one per shard (steer_stats.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_STAT__COUNT + STEER_MAX_SHARDS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &what);

	if (v)
		(*v)++;
}

/* Eight bytes of the datagram per call; 1 stops the loop. */
static long scan_cb(__u32 i, void *arg)
{
	struct scratch *x;
	__u32 z = 0, base = (i * 8) & (BUF_SIZE - 1);

	(void)arg;
	x = bpf_map_lookup_elem(&scratch, &z);
	if (!x || base >= SCAN_MAX)
		return 1;
	/* Most bytes are in lines of no interest, where only an LF counts:
	 * 8 without one leave the state as it is (a zero-byte test on the
	 * word XOR "\n\n\n..."), at the cost of one step, not eight. */
	if ((x->s.st == STEER_ST_SKIP || x->s.st == STEER_ST_START) &&
	    base + 8 <= x->n) {
		__u64 t = *(__u64 *)&x->b[base] ^ 0x0a0a0a0a0a0a0a0aULL;

		if (!((t - 0x0101010101010101ULL) & ~t & 0x8080808080808080ULL))
			return 0;
	}
#pragma clang loop unroll(full)
	for (__u32 j = 0; j < 8; j++) {
		if (base + j >= x->n)
			return 1;
		steer_scan_byte(&x->s, x->b[base + j]);
		if (x->s.st == STEER_ST_DONE)
			return 1;
	}
	return 0;
}

SEC("sk_reuseport")
int steer(struct sk_reuseport_md *md)
{
	struct scratch *x;
	/* 64-bit: clang 14 checks a zero-extended copy of a 32-bit value
	 * and passes the original, which the verifier then sees unbounded. */
	__u64 len, n;
	__u32 z = 0, key;
	__s32 r;
	int whole;

	if (nshards < 2)
		return SK_PASS;
	x = bpf_map_lookup_elem(&scratch, &z);
	if (!x)
		return SK_PASS;
	len = md->len;
	if (len < UDP_HDR + 12) {
		count(STEER_STAT_PASS);
		return SK_PASS;
	}
	len -= UDP_HDR;
	whole = len <= SCAN_MAX;
	n = whole ? len : SCAN_MAX;
	/* For the verifier: 1 .. SCAN_MAX, checked on the register passed
	 * (the barrier keeps the compiler from checking a copy). */
	asm volatile("" : "+r"(n));
	if (n < 1 || n > SCAN_MAX)
		return SK_PASS;
	if (bpf_skb_load_bytes(md, UDP_HDR, x->b, n)) {
		count(STEER_STAT_PASS);
		return SK_PASS;
	}
	/* A REGISTER is handled by the shard that receives it (any shard
	 * writes any AOR: store/loc.h loc_publish_cas()): the kernel's
	 * choice, a hash of the source, so that one UA's REGISTERs, its
	 * retransmissions and refreshes alike, meet one shard and its
	 * transaction and keep-alive state (docs/architecture.md). */
	if (x->b[0] == 'R' && x->b[1] == 'E' && x->b[2] == 'G' &&
	    x->b[3] == 'I' && x->b[4] == 'S' && x->b[5] == 'T' &&
	    x->b[6] == 'E' && x->b[7] == 'R' && x->b[8] == ' ') {
		count(STEER_STAT_PASS);
		return SK_PASS;
	}
	steer_scan_init(&x->s, seed, nshards,
			x->b[0] == 'S' && x->b[1] == 'I' && x->b[2] == 'P' &&
			    x->b[3] == '/');
	x->n = (__u32)n;
	bpf_loop((__u32)(n + 7) / 8, scan_cb, NULL, 0);
	r = steer_scan_end(&x->s, whole);
	if (r < 0) {
		count(STEER_STAT_PASS);
		return SK_PASS;
	}
	key = (__u32)r;
	if (bpf_sk_select_reuseport(md, &socks, &key, 0)) {
		count(STEER_STAT_FAILED);
		return SK_PASS;
	}
	count(x->s.how == STEER_BY_BRANCH ? STEER_STAT_BRANCH
					  : STEER_STAT_CALL_ID);
	count(STEER_STAT__COUNT + key);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
