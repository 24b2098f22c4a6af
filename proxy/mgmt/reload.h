/* proxy/mgmt/reload.h - hot reload: load the file again, refuse what needs a
 * restart, swap the config in the shards (config.reload, SIGHUP) */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proxy/base/log.h"

struct conf;
struct mgmt_env;
struct uv_loop_s;

/*
 * A reload runs on the control thread: it reads the file again
 * (conf_load_mem(): a broken file is refused with "FILE:LINE: reason"),
 * refuses a change of a key that is read once at start (reload_restart_key()),
 * loads the users file again (a broken one is refused: nothing changed),
 * applies the log level and the management token, and hands the new
 * config to every shard (shards_set_conf()); each switches between two
 * messages, so no call in progress is dropped. The old config is kept
 * until nothing started under it can be alive (reload_grace_ms()), and
 * every config is freed at reload_free().
 */

/** How sipedge was started: the file, and the command line's overrides. */
struct reload_opts {
	const char *path;     /**< -c FILE, or NULL: the built-in default */
	long workers;	      /**< -w N, or -1 */
	bool have_level;      /**< -l given: it wins over the file's */
	enum log_level level; /**< with have_level */
};

/** The most top-level keys reload_result.changed lists. */
#define RELOAD_MAX_KEYS 64

/** The outcome of one reload. */
struct reload_result {
	/**
	 * 0: reloaded (or nothing to do: @p nothing); ERR_CONFIG: the file
	 * is broken or unreadable; -EPERM: a key needs a restart;
	 * -EBUSY: another reload is under way; -ESHUTDOWN: sipedge stops;
	 * -ENOMEM.
	 */
	int err;
	bool nothing;	  /**< no file (built-in default): nothing to do */
	const char *file; /**< the file, or NULL */
	char msg[1024];	  /**< why it was refused (one line), or "" */
	/** Top-level keys whose value in the file changed, in file order. */
	const char *changed[RELOAD_MAX_KEYS];
	unsigned nchanged;
};

/**
 * Called once with the outcome; @p res is valid during the call.
 * Thread: control.
 */
typedef void reload_done_fn(void *arg, const struct reload_result *res);

struct reload;

/**
 * Reload state for the process started with @p o (strings borrowed for
 * the process lifetime) and running @p env->conf (which stays the
 * caller's: reload_free() does not free it). @p loop is the control
 * thread's loop. Reads the file once now, to tell later which keys
 * changed. Errors: -ENOMEM, libuv's as -errno.
 * Thread: control. Ownership: reload_free(); @p env must outlive it.
 */
int reload_new(struct uv_loop_s *loop, struct mgmt_env *env,
	       const struct reload_opts *o, struct reload **rp);

/**
 * Reload now. @p done is called exactly once: before reload_start()
 * returns when the reload is refused or has nothing to do, later (on the
 * control loop) when the shards have switched. Returns 0.
 * Thread: control.
 */
int reload_start(struct reload *rl, reload_done_fn *done, void *arg);

/**
 * The shards are gone: answer a reload still under way (-ESHUTDOWN)
 * and close the handle. Idempotent; NULL is allowed. Thread: control,
 * after shards_stop(), while the control loop still runs.
 */
void reload_stop(struct reload *rl);

/**
 * Free every config a reload loaded and @p rl. NULL is allowed.
 * Thread: control, after reload_stop() and after the loop ran the
 * closing handle.
 */
void reload_free(struct reload *rl);

/**
 * The first key, by its path ("workers", "listen", "store.redis.address",
 * "management.listen"), whose value differs between @p old and @p new
 * and that only a restart applies; NULL when there is none.
 * Thread: any.
 */
const char *reload_restart_key(const struct conf *old, const struct conf *new);

/**
 * The top-level keys whose YAML value differs between the texts @p a
 * and @p b (comments, order of keys in a mapping and layout do not
 * count; a key in one text only does), in the order they appear in @p b
 * then @p a; at most @p max of them into @p keys. Returns the count, or
 * -EINVAL when a text is not YAML, or -ENOMEM (nothing in @p keys).
 * Thread: any. Ownership: the strings are malloc'd; the caller frees
 * each with free().
 */
int reload_changed_keys(const char *a, size_t alen, const char *b, size_t blen,
			char **keys, unsigned max);

/**
 * How long a config may still be in use by what started under @p c
 * after the shards left it: Timer C plus 64*T1 twice plus a minute,
 * as the dialog sweep bounds a transaction. Thread: any.
 */
long long reload_grace_ms(const struct conf *c);
