/* tests/common/baresip.h - integration harness: Debian's baresip as a real
 * softphone, headless, driven over its ctrl_tcp socket */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/common/proc.h"

/**
 * One baresip process: its own config directory (config, accounts), no
 * audio device (ausine as the source, aufile as the player, Opus at
 * 48 kHz), SIP trace (-s) into its output file, the menu's commands on
 * ctrl_tcp. The caller embeds it zeroed; fields are read-only.
 */
struct baresip {
	pid_t pid;		      /**< 0 when not running */
	int ctrl;		      /**< the ctrl_tcp connection, -1: none */
	uint16_t sip_port;	      /**< its SIP listen port (UDP and TCP) */
	uint16_t ctrl_port;	      /**< ctrl_tcp on 127.0.0.1 */
	char dir[PROC_PATH_MAX];      /**< its config directory */
	char out[PROC_PATH_MAX + 16]; /**< stdout and stderr (SIP trace) */
	char *rbuf;		      /**< ctrl bytes received, not consumed */
	size_t rlen;
};

/**
 * Start baresip in a new directory under @p parent with one account
 * @p user@@p domain, password @p password, registering through the
 * proxy at 127.0.0.1:@p proxy_port over @p transport ("udp", "tcp", "tls"),
 * answering calls itself (answermode=auto), and connect to its control
 * socket (bounded: about 10 s). Returns 0 or -errno (-ENOENT: baresip is
 * not installed). Ownership: baresip_stop() in any case.
 */
int baresip_start(struct baresip *b, const char *parent, const char *user,
		  const char *domain, const char *password, uint16_t proxy_port,
		  const char *transport);

/**
 * baresip_start() over TLS to the proxy's TLS port @p proxy_port
 * (";transport=tls" in the account and the outbound proxy), the proxy's
 * certificate checked against the PEM file @p cafile (sip_cafile), and
 * its own TLS listener (SIP port + 1) showing @p certfile (a PEM file
 * with certificate and key; NULL: none), which the proxy reaches when
 * a request names the Contact of baresip rather than its connection.
 * Returns 0 or -errno. Ownership: baresip_stop() in any case.
 */
int baresip_start_tls(struct baresip *b, const char *parent, const char *user,
		      const char *domain, const char *password,
		      uint16_t proxy_port, const char *cafile,
		      const char *certfile);

/**
 * Send the command @p cmd with @p params (NULL: none) over ctrl_tcp and
 * wait at most @p timeout_ms for its response. Returns 0 (ok), -EIO
 * (baresip said no), -ETIMEDOUT, -errno. Events read meanwhile are kept
 * for baresip_wait_event().
 */
int baresip_cmd(struct baresip *b, const char *cmd, const char *params,
		int timeout_ms);

/**
 * Wait at most @p timeout_ms for an event of type @p type
 * ("REGISTER_OK", "CALL_ESTABLISHED", "CALL_CLOSED", ...) and consume
 * every message up to it. Returns 0, -EPROTO (REGISTER_FAIL while
 * waiting for REGISTER_OK), -ETIMEDOUT, -errno.
 */
int baresip_wait_event(struct baresip *b, const char *type, int timeout_ms);

/**
 * How many times its output (the SIP trace) holds @p needle. Returns the
 * count, or -errno.
 */
int baresip_out_count(const struct baresip *b, const char *needle);

/**
 * Wait at most @p timeout_ms until its output holds @p needle (polled
 * every 50 ms: baresip prints "USER@DOMAIN: {0/TCP/v4} 200 OK" once
 * registered, maybe before the control socket is connected, so the
 * REGISTER_OK event can be missed). Returns 0 or -ETIMEDOUT.
 */
int baresip_wait_out(const struct baresip *b, const char *needle,
		     int timeout_ms);

/** Stop it (SIGTERM, then SIGKILL after 5 s) and free. Safe twice. */
void baresip_stop(struct baresip *b);
