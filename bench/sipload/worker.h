/* bench/sipload/worker.h - one sipload thread: its sockets, timers, call
 * tables, the UAC and UAS state machines and its statistics */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/sipload/hist.h"
#include "bench/sipload/sdpoa.h"

struct userlist;
struct worker;

/** What a call (operation) is. */
enum worker_scenario {
	WORKER_OPTIONS = 0,
	WORKER_REGISTER,
	WORKER_CALL,
	WORKER_CALL_100REL,
	WORKER_CALL_3PCC, /**< offerless INVITE, the answer in the ACK */
	WORKER__SCENARIOS,
};

/** Roles, as bits. */
enum {
	WORKER_UAC = 1 << 0,
	WORKER_UAS = 1 << 1,
};

/** Highest status code counted one by one. */
#define WORKER_STATUS_MAX 700

/**
 * The run's settings, shared read-only by every worker. main.c fills
 * it; it must outlive the workers.
 */
struct worker_conf {
	enum worker_scenario scenario;
	unsigned roles; /**< WORKER_UAC | WORKER_UAS */
	bool tcp;	/**< TCP instead of UDP */
	unsigned threads;
	uint64_t run_id;  /**< random; in every Call-ID, tag and branch */
	uint64_t seed;	  /**< for --drop-rate */
	double drop_rate; /**< drop this share of received datagrams */
	unsigned t1_ms;
	unsigned t2_ms;
	/* UAC */
	struct sockaddr_storage target; /**< where requests go */
	socklen_t target_len;
	char local_ip[64];	   /**< UAC sockets bind here (loopback) */
	char domain[128];	   /**< host part of R-URI, From, To */
	bool ruri_user;		   /**< R-URI has a user part (callee) */
	struct userlist *users;	   /**< callers, registering users */
	struct userlist *callees;  /**< R-URI users */
	char contact[160];	   /**< REGISTER Contact host:port; "" = ours */
	char contact_transport[4]; /**< "udp", "tcp"; "" = the REGISTER's */
	unsigned expires;	   /**< REGISTER Expires */
	unsigned hold_ms;	   /**< between ACK and BYE */
	unsigned call_timeout_ms;  /**< INVITE sent to final response */
	uint32_t uac_slots;	   /**< concurrent operations per thread */
	enum sdpoa_mode answer_mode; /**< call-3pcc: the ACK's answer */
	/* UAS */
	struct sockaddr_storage listen; /**< UAS address (loopback) */
	socklen_t listen_len;
	unsigned answer_ms; /**< ringing time before 200 */
	unsigned uas_auth;  /**< enum digest_alg bits; 0: no challenge */
	char realm[128];    /**< realm of the challenge */
	struct userlist *uas_users; /**< passwords to verify against */
	uint32_t uas_slots;	    /**< INVITEs awaiting ACK per thread */
	bool uas_100rel_supported;  /**< reliable 18x when merely Supported */
};

/** One phase of a run (a run, or one step of --search). */
struct worker_phase {
	double rate;	     /**< per thread, operations/s; 0: no pacing */
	double ramp_s;	     /**< linear ramp from 0 to @c rate */
	uint64_t count;	     /**< per thread operations to start; 0: none */
	int64_t start_ms;    /**< CLOCK_MONOTONIC ms when the phase starts */
	int64_t window_ms;   /**< start operations for this long; 0: none */
	int64_t drain_ms;    /**< then wait this long at most for the rest */
	int64_t deadline_ms; /**< absolute hard stop (monotonic ms) */
	uint64_t uas_count;  /**< UAS only: stop after so many operations */
	int64_t linger_ms;   /**< UAS only: keep answering after that */
	int64_t slack_us;    /**< timers and starts may be this late */
	_Atomic uint64_t *uas_done; /**< shared UAS operation counter */
	_Atomic unsigned *uac_left; /**< UAC threads still running */
	_Atomic int *stop;	    /**< 1: stop starting, drain; 2: now */
};

/** What a worker counted during one phase. */
struct worker_stats {
	/* UAC */
	uint64_t started;
	uint64_t succeeded;
	uint64_t failed;     /**< every failure, timeouts included */
	uint64_t timeouts;   /**< Timer B/F or the call time-out fired */
	uint64_t unfinished; /**< still running when the phase ended */
	uint64_t skipped;    /**< due but not started (concurrency cap) */
	uint64_t fail_status[WORKER_STATUS_MAX]; /**< failures by code */
	uint64_t fail_other;   /**< transport errors, bad responses */
	uint64_t challenges;   /**< 401/407 answered with credentials */
	uint64_t retx_sent;    /**< requests or responses sent again */
	uint64_t dup_rcvd;     /**< retransmissions received */
	uint64_t stray;	       /**< responses matching no operation */
	int64_t window_us;     /**< how long operations were started */
	int64_t elapsed_us;    /**< the whole phase, drain included */
	double offered;	       /**< operations due by the schedule */
	struct hist lat_first; /**< INVITE to first 1xx, µs */
	struct hist lat_final; /**< request to final response, µs */
	uint64_t bad_offers;   /**< call-3pcc: 2xx without a usable offer
				    (also in failed and fail_other) */
	/* UAS */
	uint64_t uas_requests[16]; /**< by enum sip_method (low values) */
	uint64_t uas_ops;	   /**< operations completed as UAS */
	uint64_t uas_ack_timeouts; /**< 2xx never acknowledged */
	uint64_t uas_prack_timeouts;
	uint64_t uas_auth_ok;
	uint64_t uas_auth_fail;
	uint64_t uas_busy; /**< no free slot: answered 503 */
	/* UAS, 3pcc (RFC 3725 flow I): an INVITE without a body gets an
	 * offer in the 2xx, its ACK must carry a matching answer. */
	uint64_t uas_offerless;	 /**< INVITEs without a body */
	uint64_t uas_with_offer; /**< INVITEs with one: answered as usual */
	uint64_t uas_answers_ok; /**< ACKs with a matching answer */
	uint64_t uas_3pcc_ack_timeouts; /**< no ACK: no answer (also in
					     uas_ack_timeouts); failed */
	/** ACKs whose answer was missing or wrong, by enum sdpoa_verdict
	 * (index SDPOA_OK unused); each is a failed call. */
	uint64_t uas_answer_bad[SDPOA__VERDICTS];
	struct hist uas_lat_answer; /**< 2xx with the offer to ACK, µs */
	/* Both */
	uint64_t msgs_in;
	uint64_t msgs_out;
	uint64_t bad_msgs; /**< could not be parsed or used */
	uint64_t dropped;  /**< thrown away by --drop-rate */
	uint64_t send_errors;
};

/** Counters another thread may read while the worker runs. */
struct worker_live {
	_Atomic uint64_t started;
	_Atomic uint64_t succeeded;
	_Atomic uint64_t failed;
	_Atomic uint64_t active;
	_Atomic uint64_t retx;
	_Atomic uint64_t uas_ops;
};

/**
 * Create worker @p id (0 .. threads-1) for @p c: allocate its tables
 * and open its sockets (UAS: bind the listen address with SO_REUSEPORT;
 * UAC: bind an ephemeral port, TCP: connect to the target).
 * Returns 0 with *wp set, or -errno with @p why (at least 256 bytes)
 * saying what failed. Thread: the caller's. Ownership: worker_free().
 */
int worker_new(const struct worker_conf *c, unsigned id, struct worker **wp,
	       char *why, size_t why_size);

/** Close the sockets and free @p w (NULL is fine). */
void worker_free(struct worker *w);

/**
 * Run one phase in the calling thread until it ends (see struct
 * worker_phase). Statistics start from zero; read them with
 * worker_stats() afterwards. Operations still running at the end are
 * counted as unfinished and forgotten; UAS state is kept.
 * Returns 0, or -errno on a fatal socket error.
 * Thread: one thread at a time per worker.
 */
int worker_run(struct worker *w, const struct worker_phase *p);

/** The statistics of the last phase. Valid until the next worker_run(). */
const struct worker_stats *worker_stats(const struct worker *w);

/** The live counters (any thread may read them). */
const struct worker_live *worker_live(const struct worker *w);

/** Add the counters of @p from into @p into. */
void worker_stats_merge(struct worker_stats *into,
			const struct worker_stats *from);
