/* features/b2b/media.h - the media engine: RTP sessions of a pool worker,
 * G.711 prompts and music, RFC 4733 events, SDP offer/answer */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "features/b2b/rtp.h"
#include "proxy/sip/sdp.h"

struct uv_loop_s;

/*
 * One struct media per pool worker (DESIGN.md §1: the B2B worker owns
 * the RTP streams of its calls). It owns its sessions: each is one UDP
 * socket on an even port of the configured range, read from the
 * worker's loop (uv_poll), written from ONE repeating timer of the
 * engine that sends every packet that is due, for every session, in one
 * pass. Nothing is locked on the packet path: a media and its sessions
 * are touched only by the thread that runs their loop.
 *
 * Sounds (struct media_sound) are immutable once loaded and shared
 * read-only by every worker: load them on the control thread before the
 * workers use them, free them after the workers stopped.
 */

struct media;
struct media_session;
struct media_sound;

/** The most prompts one media_play() queues. */
#define MEDIA_MAX_PROMPTS 16
/** The default RTP port range (b2b.media.ports). */
#define MEDIA_PORT_MIN 20000
#define MEDIA_PORT_MAX 29999
/** The engine's tick by default: one timer per worker, running while
 * the worker has a session open. */
#define MEDIA_TICK_MS 5
/** The packet time: 20 ms of 8 kHz audio per packet. */
#define MEDIA_PTIME_MS 20

/** What media_new() is given. Copied. */
struct media_opts {
	/** The address sessions bind (the pool's IP; the port is ignored). */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	/** The port range, inclusive; only even ports are used (RTP,
	 * RFC 3550 §11), odd ones left to RTCP. */
	uint16_t port_min, port_max;
	/** This worker's share of the range: the even ports p with
	 * (p / 2) % nworkers == worker, so that the workers of one process
	 * never try the same port. nworkers 0 counts as 1. */
	unsigned worker, nworkers;
	unsigned tick_ms; /**< 0: MEDIA_TICK_MS */
	/** No timer of its own: the caller calls media_tick() (from the
	 * pool's tick, or a test's clock). */
	bool manual;
};

struct conf;

/**
 * Fill @p o for pool worker @p worker of @p nworkers from @p c: the
 * pool's IP (b2b.listen, its port dropped), b2b.media.ports, the
 * default tick, not manual. Returns 0, or -EINVAL (@p c has no b2b
 * section, @p worker not below @p nworkers). Thread: any.
 */
int media_opts_conf(const struct conf *c, unsigned worker, unsigned nworkers,
		    struct media_opts *o);

/**
 * Start an engine on @p loop (one repeating timer; sessions come with
 * media_session_open()). Returns 0 with *mp set, or -EINVAL (@p o's
 * range empty or without an even port in this worker's share, a
 * family other than IPv4/IPv6), -ENOMEM.
 * Thread: the thread that runs @p loop (or any before it runs).
 * Ownership: *mp is the caller's: media_free().
 */
int media_new(struct uv_loop_s *loop, const struct media_opts *o,
	      struct media **mp);

/**
 * Close every session (no callback is called any more) and the timer;
 * the memory goes when libuv has closed the handles, on the loop's next
 * iteration (the caller runs the loop once more: the shard runtime
 * does). NULL allowed. Thread: the loop's.
 */
void media_free(struct media *m);

/**
 * Send every packet due at @p now_ns (uv_hrtime() clock) for every
 * session: what the engine's timer does on each tick. A session sends
 * at most 10 packets late in one call; after a longer stall it skips
 * the lost time (its timestamps jump by it, its sequence numbers do
 * not). Thread: the loop's.
 */
void media_tick(struct media *m, uint64_t now_ns);

/** Packet counters of an engine (all its sessions, closed ones too). */
struct media_stats {
	uint64_t sessions;    /**< gauge: open */
	uint64_t tx;	      /**< RTP packets sent */
	uint64_t tx_errors;   /**< sends that failed (not retried) */
	uint64_t rx;	      /**< RTP packets received */
	uint64_t rx_bad;      /**< datagrams that are not RTP, dropped */
	uint64_t dtmf;	      /**< RFC 4733 events reported */
	uint64_t ticks;	      /**< timer callbacks run */
	uint64_t late_max_us; /**< the latest packet: send - due time */
	/** Lateness histogram: late_hist[i] packets were i * 100 µs to
	 * (i + 1) * 100 µs late; the last bucket holds the rest. */
	uint64_t late_hist[MEDIA_PTIME_MS * 10 * 4 + 1];
};

/**
 * Publish the engines' counters in /metrics and stats.get (`b2b_media`,
 * label worker: sessions, tx, tx_errors, rx, late_5ms, late_20ms),
 * each engine after each of its ticks under its
 * media_opts.worker. Returns 0, -EINVAL (more than B2B_MAX_WORKERS),
 * -ENOMEM. Thread: control, before the pool starts.
 */
int media_stats_init(unsigned nworkers);

/** Remove them. Thread: control, after the pool stopped. */
void media_stats_fini(void);

/** Copy @p m's counters into @p out. Thread: the loop's. */
void media_stats_get(const struct media *m, struct media_stats *out);

/**
 * The lateness under which @p pct percent of the packets of @p st were
 * sent, in µs (from the histogram: a multiple of 100 µs). 0 when none
 * was sent. Thread: any.
 */
uint64_t media_stats_late_pct(const struct media_stats *st, double pct);

/* Sessions. */

/**
 * Open a session: a UDP socket bound to the engine's address and the
 * next free even port of this worker's share of the range, read from
 * the loop. It sends nothing until it has a remote
 * (media_session_set_remote*()); then it sends silence until something
 * plays. Returns 0 with *sp set, or -ENOSPC (every port of the share is
 * taken by a session or by another process: the range is exhausted),
 * -ENOMEM, or the socket's error. Thread: the loop's.
 * Ownership: the engine's; the caller closes it (media_session_close())
 * or media_free() does.
 */
int media_session_open(struct media *m, struct media_session **sp);

/** Close @p s: its socket, its play queue (ended is not called). NULL
 * allowed. Thread: the loop's. */
void media_session_close(struct media_session *s);

/** The local port of @p s. Thread: the loop's. */
uint16_t media_session_port(const struct media_session *s);

/**
 * Send to @p addr with @p law, and telephone-events with payload type
 * @p event_pt (-1: none offered; media_send_dtmf() then fails).
 * Sending starts at the next tick. Symmetric RTP (RFC 4961): the first
 * packet received moves the remote to its source (once: later packets
 * from elsewhere are dropped), also when it came before this first
 * call (early media racing the answer). Called again with the same
 * address (a new codec, say) the latched source stays; with another
 * address the remote moves there and the next packet latches again.
 * Before the first call the session sends nothing.
 * Returns 0, or -EINVAL (@p addr not of the engine's family, @p
 * event_pt over 127). Thread: the loop's.
 */
int media_session_set_remote(struct media_session *s,
			     const struct sockaddr *addr, socklen_t addrlen,
			     enum rtp_law law, int event_pt);

/** A session's view: what it negotiated and counted. */
struct media_session_info {
	uint16_t port;
	bool has_remote;
	bool latched; /**< the remote is the source of a packet received */
	bool sending; /**< has a remote, not held (sendonly, inactive) */
	struct sockaddr_storage remote;
	enum rtp_law law;
	uint8_t pt;
	int event_pt;
	uint32_t ssrc;
	uint64_t tx, rx, dtmf;
};

/** @p s's view into @p out. Thread: the loop's. */
void media_session_info(const struct media_session *s,
			struct media_session_info *out);

/* Playing. */

/** Called once when the last prompt of a media_play() was sent. */
typedef void media_ended_fn(struct media_session *s, void *arg);

/**
 * Replace what @p s plays: @p prompts (@p n of them, in order), then
 * @p music looped (NULL: silence). A prompt's last frame is completed
 * with silence; the next prompt starts on a frame of its own. @p ended
 * (may be NULL) is called once from the tick after the last prompt's
 * last frame was sent (not when @p n is 0, not when replaced or
 * closed first). The RTP sequence number and timestamp go on across
 * the change; the first frame of sound after silence has the marker.
 * Returns 0, or -EINVAL (@p n over MEDIA_MAX_PROMPTS, a NULL prompt).
 * Thread: the loop's. Ownership: the sounds are borrowed until
 * replaced, the session closed or the engine freed.
 */
int media_play(struct media_session *s,
	       const struct media_sound *const *prompts, unsigned n,
	       const struct media_sound *music, media_ended_fn *ended,
	       void *arg);

/**
 * Send DTMF @p digit ('0'-'9', '*', '#', 'A'-'D') as RFC 4733 events
 * lasting @p duration_ms (40..5000): one packet every 20 ms with the
 * event's timestamp (the first with the marker), then the end packet
 * three times; audio pauses meanwhile (its timestamps go on). Returns
 * 0, or -EINVAL (a bad digit or duration), -ENOTCONN (no remote),
 * -EPROTONOSUPPORT (the remote did not offer telephone-event), -EBUSY
 * (an event is being sent). Thread: the loop's.
 */
int media_send_dtmf(struct media_session *s, char digit, unsigned duration_ms);

/** Called once per RFC 4733 event received: the DTMF character (0 for
 * another event code), the event code and its duration in ms. */
typedef void media_dtmf_fn(struct media_session *s, void *arg, char digit,
			   uint8_t event, unsigned duration_ms);

/** Tell @p fn(@p arg) the events @p s receives (NULL: none).
 * Thread: the loop's. */
void media_session_on_dtmf(struct media_session *s, media_dtmf_fn *fn,
			   void *arg);

/* SDP offer/answer (RFC 3264). */

/**
 * Write the pool's offer for @p s into @p buf (@p len bytes, NUL
 * ended): one audio stream on the session's address and port offering
 * PCMU (0), PCMA (8) and telephone-event (101, events 0-16), ptime 20,
 * sendrecv. o= has a random session id and a version that goes up by
 * one per offer or answer written for @p s. Returns the length written,
 * or -ENOSPC (@p buf too small). Thread: the loop's.
 */
int media_sdp_offer(struct media_session *s, char *buf, size_t len);

/** What media_sdp_choose() takes from an offer or an answer. */
struct media_remote {
	struct sockaddr_storage addr; /**< c= address, m= port */
	socklen_t addrlen;
	unsigned stream; /**< the m= index chosen */
	enum rtp_law law;
	uint8_t pt;   /**< the chosen law's payload type */
	int event_pt; /**< telephone-event/8000's, or -1 */
	/** The stream's direction as the SDP says it (RFC 3264 §5.1):
	 * sendonly or inactive: the remote does not want our media. */
	enum sdp_dir dir;
};

/**
 * Choose from @p s (an offer, or the answer to media_sdp_offer()) the
 * first audio stream with a port and RTP/AVP: its first format that is
 * PCMU or PCMA (static 0 or 8, or a dynamic type with that rtpmap at
 * 8000 Hz), and telephone-event/8000 if listed. The c= address must be
 * an IPv4 or IPv6 literal (the media level's, else the session's).
 * Returns 0 with *r set, or -EPROTONOSUPPORT (no audio stream with
 * G.711: answer 488 Not Acceptable Here, RFC 3264 §6), -EBADMSG (the
 * chosen stream's address is not an IP literal). Thread: any.
 */
int media_sdp_choose(const struct sdp *s, struct media_remote *r);

/**
 * Answer @p offer for @p s (RFC 3264 §6): media_sdp_choose(), the
 * remote set from it, and the answer written into @p buf (@p len
 * bytes, NUL ended): every m= line of the offer, in order, the chosen
 * one accepted on the session's port with the chosen law and
 * telephone-event if offered and the direction that mirrors the offer's
 * (RFC 3264 §6.1: sendonly -> recvonly, ...), the others rejected
 * (port 0). An offer that is sendonly or inactive holds the session: it
 * sends nothing until an offer or answer without it (a re-INVITE).
 * Returns the length written, or media_sdp_choose()'s error (nothing
 * changed), -ENOSPC. Thread: the loop's.
 */
int media_sdp_answer(struct media_session *s, const struct sdp *offer,
		     char *buf, size_t len);

/**
 * Take the answer to media_sdp_offer(): media_sdp_choose() and the
 * remote set from it. Returns 0 or its errors. Thread: the loop's.
 */
int media_sdp_set_answer(struct media_session *s, const struct sdp *answer);

/* Sounds. */

/**
 * Load the WAV file @p path (libsndfile): 8000 Hz, one channel, any
 * sample format libsndfile reads; kept G.711-encoded both ways. At most
 * 10 minutes. Returns 0 with *sp set, or -ENOENT (no such file),
 * -EBADMSG (not a sound file libsndfile reads), -EINVAL (not 8 kHz
 * mono: convert it with `sox IN -r 8000 -c 1 -b 16 OUT.wav`), -ENODATA
 * (no samples), -EFBIG (too long), -ENOMEM; with the reason, naming
 * the file, in @p why (@p whylen bytes; may be NULL).
 * Thread: any (the control thread at start or reload).
 * Ownership: *sp is the caller's (media_sound_free()); immutable, may
 * be read by any thread.
 */
int media_sound_load(const char *path, struct media_sound **sp, char *why,
		     size_t whylen);

/** Free @p s (no session may still play it). NULL allowed.
 * Thread: any. */
void media_sound_free(struct media_sound *s);

/** @p s's length in samples (8000 per second). Thread: any. */
size_t media_sound_samples(const struct media_sound *s);

/** @p s's samples encoded with @p law (media_sound_samples() bytes).
 * Thread: any. Ownership: @p s's. */
const uint8_t *media_sound_bytes(const struct media_sound *s, enum rtp_law law);

/**
 * The built-in sounds' directory: @p dir when not NULL and not empty
 * (b2b.media.sounds), else "sounds" beside the running binary when it
 * exists (build/sounds for build/sipedge), else
 * "../share/sipedge/sounds" from the binary's directory when it exists
 * (an install: PREFIX/sbin/sipedge), else the directory compiled in
 * (SIPEDGE_SOUNDS_DIR: where `make install` puts them). Writes it
 * into @p buf (@p len bytes). Returns 0, or -ENAMETOOLONG.
 * Thread: any.
 */
int media_sounds_dir(const char *dir, char *buf, size_t len);

/**
 * Load every built-in sound ("zero".."nine", "parked-at", "lot-full",
 * "slot-empty", "music": media_sound_builtin()) from @p dir (each
 * NAME.wav). Returns 0, or the first media_sound_load() error (with
 * @p why), nothing kept. Loading again replaces the set.
 * Thread: control, while no worker plays a built-in sound.
 */
int media_sounds_load(const char *dir, char *why, size_t whylen);

/** Free the built-in sounds. Thread: control, after the workers
 * stopped. */
void media_sounds_unload(void);

/**
 * The built-in sound @p name, or NULL (no such name, or not loaded).
 * Thread: any, between media_sounds_load() and media_sounds_unload().
 * Ownership: the process's.
 */
const struct media_sound *media_sound_builtin(const char *name);

/** The built-in prompt of digit @p d ('0'..'9'), or NULL. Thread: any. */
const struct media_sound *media_sound_digit(char d);
