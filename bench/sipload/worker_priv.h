/* bench/sipload/worker_priv.h - worker internals shared by worker.c,
 * worker_uac.c and worker_uas.c */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/sipload/wbuf.h"
#include "bench/sipload/wheel.h"
#include "bench/sipload/worker.h"
#include "proxy/sip/msg.h"

#define PKT_MAX	  4096	/* largest message sipload builds */
#define RX_MAX	  16384 /* largest datagram sipload reads */
#define RX_BATCH  32	/* recvmmsg batch */
#define TX_BATCH  64	/* sendmmsg batch */
#define MAX_HDRS  64	/* headers parsed per message */
#define CONN_MAX  64	/* accepted TCP connections per thread */
#define CONN_UAC  0	/* index of the UAC's own TCP connection */
#define CONN_RBUF (256 * 1024)
#define CONN_WBUF (4 * 1024 * 1024)

#define UAC_REQ_MAX  1536 /* the request being (re)sent */
#define UAC_DLG_MAX  1536 /* To, remote target and route set */
#define UAS_RESP_MAX 4096 /* the reliable 18x and the 2xx */
#define TOKEN_LEN    24	  /* run (8) thread (2) slot (6) gen (8), hex */
#define MAX_THREADS  255
#define MAX_SLOTS    (1u << 24)

/** Where a message goes: a UDP address on one of our sockets, or a TCP
 * connection. */
struct peer {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} a;
	socklen_t len;
	int8_t sock;	   /* SOCK_UAC or SOCK_UAS: UDP socket; -1 TCP */
	bool connected;	   /* UDP: the socket is connected to it */
	int16_t conn;	   /* TCP: connection index */
	uint32_t conn_gen; /* TCP: connection generation */
};

enum { SOCK_UAC = 0, SOCK_UAS = 1, SOCK__COUNT };

struct conn {
	int fd; /* -1 when free */
	uint32_t gen;
	size_t rlen;
	size_t wlen;
	char *rbuf;
	char *wbuf;
};

struct txq {
	unsigned n;
	struct mmsghdr m[TX_BATCH];
	struct iovec iov[TX_BATCH];
	struct sockaddr_in6 addr[TX_BATCH];
	char buf[TX_BATCH][PKT_MAX];
};

enum uac_state {
	UAC_FREE = 0,
	UAC_TRYING,	/* OPTIONS or REGISTER sent */
	UAC_CALLING,	/* INVITE sent, nothing back yet */
	UAC_PROCEEDING, /* a 1xx came */
	UAC_PRACKING,	/* PRACK sent, INVITE still proceeding */
	UAC_HOLD,	/* confirmed: waiting to send BYE */
	UAC_BYE,	/* BYE sent */
};

/** One UAC operation (call, registration, OPTIONS). */
struct uac_call {
	uint32_t gen;
	uint8_t state;
	uint8_t auth_tries;
	bool got_1xx;
	bool prack_failed;
	bool bad_offer; /* call-3pcc: the 2xx had no usable offer */
	uint16_t req_len;
	uint16_t to_len; /* dlg: To value, then target URI, then Route */
	uint16_t target_len;
	uint16_t route_len;
	uint16_t fail_code;
	uint32_t user;
	uint32_t callee;
	uint32_t cseq;	       /* of the request in req */
	uint32_t invite_cseq;  /* of the INVITE */
	uint32_t rseq;	       /* last RSeq acknowledged */
	uint32_t interval_ms;  /* current retransmission interval */
	int64_t t_op_us;       /* operation start */
	int64_t t_tx_ms;       /* current transaction start */
	char token[TOKEN_LEN]; /* run, thread, slot, gen in hex */
	char req[UAC_REQ_MAX];
	char dlg[UAC_DLG_MAX];
};

enum uas_state {
	UAS_FREE = 0,
	UAS_RELIABLE, /* reliable 18x sent, waiting for PRACK */
	UAS_RINGING,  /* 180 sent, 2xx after --answer-ms */
	UAS_WAIT_ACK, /* 2xx sent, waiting for ACK */
};

/** One INVITE server transaction and its early dialog, until the ACK. */
struct uas_call {
	uint32_t gen;
	uint8_t state;
	uint16_t r18_len;   /* resp: [0, r18_len) the 18x */
	uint16_t r2_len;    /* resp: [r18_len, + r2_len) the 2xx */
	uint16_t offer_off; /* offerless INVITE: our offer, in resp */
	uint16_t offer_len; /* 0: the INVITE had an offer */
	uint32_t hnext;	    /* hash chain */
	uint32_t cseq;
	uint32_t interval_ms;
	uint64_t key;		 /* hash of Call-ID and CSeq number */
	char tag[TOKEN_LEN + 1]; /* our To tag: 'u' and the token */
	int64_t t_start_ms;
	int64_t t_2xx_us; /* the first 2xx sent */
	struct peer peer;
	char resp[UAS_RESP_MAX];
};

struct worker {
	const struct worker_conf *c;
	unsigned id;
	uint64_t rng;
	int udp[SOCK__COUNT]; /* -1 when absent */
	int listen_fd;	      /* TCP UAS listener, -1 */
	struct conn conns[CONN_MAX + 1];
	struct txq *tx[SOCK__COUNT];
	char local_host[80]; /* as written in Via and Contact */
	uint16_t uac_port;
	char uas_host[80];
	uint16_t uas_port;
	struct peer target; /* where UAC requests go */
	/* Receive batch. */
	struct mmsghdr rx_m[RX_BATCH];
	struct iovec rx_iov[RX_BATCH];
	struct sockaddr_in6 rx_addr[RX_BATCH];
	char rx_ctl[RX_BATCH][64];
	char (*rx_buf)[RX_MAX];
	/* UAC. */
	struct uac_call *calls;
	uint32_t *uac_free;
	uint32_t uac_nfree;
	uint32_t uac_n;
	struct wheel uac_wheel;
	uint64_t user_seq;
	/* UAS. */
	struct uas_call *scalls;
	uint32_t *uas_free;
	uint32_t uas_nfree;
	uint32_t uas_n;
	struct wheel uas_wheel;
	uint32_t *uas_hash;
	uint32_t uas_mask;
	char nonce[24];
	/* Phase. */
	const struct worker_phase *ph;
	bool starting;
	int64_t now_ms;
	int64_t now_us;
	int64_t real_off_us; /* CLOCK_REALTIME - CLOCK_MONOTONIC, µs */
	struct worker_stats st;
	struct worker_live live;
	/* Scratch. */
	struct siphdr hdrs[MAX_HDRS];
	char scratch[PKT_MAX];
};

/* worker.c */
char *worker__out(struct worker *w, const struct peer *to);
void worker__send(struct worker *w, const struct peer *to, const char *buf,
		  size_t len);
uint64_t worker__token_hash(struct slice s);
void worker__token_print(struct wbuf *b, const struct worker *w, uint32_t slot,
			 uint32_t gen);
int worker__token_parse(const struct worker *w, struct slice s, uint32_t *slotp,
			uint32_t *genp);
/* The body of @p m when it is application/sdp, else an empty slice. */
struct slice worker__sdp_body(const struct sipmsg *m);

/* worker_uac.c */
int worker__uac_init(struct worker *w);
void worker__uac_fini(struct worker *w);
bool worker__uac_start(struct worker *w);
void worker__uac_timer(struct worker *w, uint32_t i);
void worker__uac_response(struct worker *w, const struct sipmsg *m,
			  const struct peer *from, int64_t rx_us);
void worker__uac_abandon(struct worker *w);
bool worker__uac_quick(struct worker *w, unsigned status, struct slice call_id,
		       uint32_t cseq, struct slice method, int64_t rx_us);

/* worker_uas.c */
int worker__uas_init(struct worker *w);
void worker__uas_fini(struct worker *w);
void worker__uas_timer(struct worker *w, uint32_t i);
bool worker__uas_quick_ack(struct worker *w, struct slice call_id,
			   uint32_t cseq);
void worker__uas_request(struct worker *w, const struct sipmsg *m,
			 const struct peer *from, int64_t rx_us);
