/* proxy/hook.c - request pipeline stages that the registrar and features fill
 */
#include "proxy/hook.h"

#include <errno.h>
#include <string.h>

/*
 * Each stage is a list sorted by priority, filled by the control thread
 * before the shards start and only read afterwards (thread creation
 * orders the writes before every shard's reads). hook_reply() lives in
 * the core (proxy/pipeline.c), which owns the transactions it answers
 * through.
 */
struct entry {
	union {
		hook_fn *req;
		hook_lookup_fn *lookup;
		hook_clean_fn *clean;
		hook_user_fn *user;
		const void *any; /* to compare entries */
	} fn;
	int prio;
};

struct list {
	struct entry e[HOOK_MAX];
	unsigned n;
};

static struct list stages[HOOK__COUNT];

static bool is_req_stage(enum hook_stage stage)
{
	return stage == HOOK_AUTH || stage == HOOK_REGISTRAR ||
	       stage == HOOK_FEATURES;
}

/* Insert @p e after every entry of @p stage with a priority <= its own. */
static int add(enum hook_stage stage, struct entry e)
{
	struct list *l = &stages[stage];
	unsigned at;

	if (!e.fn.any)
		return -EINVAL;
	for (unsigned i = 0; i < l->n; i++)
		if (l->e[i].fn.any == e.fn.any)
			return -EEXIST;
	if (l->n == HOOK_MAX)
		return -ENOSPC;
	for (at = l->n; at > 0 && l->e[at - 1].prio > e.prio; at--)
		;
	memmove(&l->e[at + 1], &l->e[at], (l->n - at) * sizeof(l->e[0]));
	l->e[at] = e;
	l->n++;
	return 0;
}

int hook_add(enum hook_stage stage, hook_fn *fn, int prio)
{
	struct entry e = { .fn.req = fn, .prio = prio };

	if ((unsigned)stage >= HOOK__COUNT || !is_req_stage(stage))
		return -EINVAL;
	return add(stage, e);
}

void hook_clear(void)
{
	memset(stages, 0, sizeof(stages));
}

int hook_run(enum hook_stage stage, struct hook_req *r)
{
	const struct list *l;
	int ret;

	if ((unsigned)stage >= HOOK__COUNT || !is_req_stage(stage))
		return HOOK_NEXT;
	l = &stages[stage];
	for (unsigned i = 0; i < l->n; i++) {
		ret = l->e[i].fn.req(r);
		if (ret != HOOK_NEXT)
			return ret;
	}
	return HOOK_NEXT;
}

int hook_add_user_check(hook_user_fn *fn, int prio)
{
	struct entry e = { .fn.user = fn, .prio = prio };

	return add(HOOK_USER_CHECK, e);
}

bool hook_user_exists(struct slice user, struct slice domain)
{
	const struct list *l = &stages[HOOK_USER_CHECK];

	if (!l->n)
		return true;
	for (unsigned i = 0; i < l->n; i++)
		if (l->e[i].fn.user(user, domain))
			return true;
	return false;
}

int hook_add_lookup(hook_lookup_fn *fn, int prio)
{
	struct entry e = { .fn.lookup = fn, .prio = prio };

	return add(HOOK_LOOKUP, e);
}

int hook_lookup(const struct conf *c, struct slice ruri, int64_t now_s,
		struct arena *a, struct hook_fwd *fwp, unsigned *statusp)
{
	const struct list *l = &stages[HOOK_LOOKUP];
	int ret;

	for (unsigned i = 0; i < l->n; i++) {
		ret = l->e[i].fn.lookup(c, ruri, now_s, a, fwp, statusp);
		if (ret)
			return ret;
	}
	return 0;
}

int hook_add_clean(hook_clean_fn *fn, int prio)
{
	struct entry e = { .fn.clean = fn, .prio = prio };

	return add(HOOK_CLEAN, e);
}

int hook_clean(struct edit_list *el, const struct sipmsg *m, struct arena *a,
	       struct slice *rurip)
{
	const struct list *l = &stages[HOOK_CLEAN];
	int err;

	for (unsigned i = 0; i < l->n; i++) {
		err = l->e[i].fn.clean(el, m, a, rurip);
		if (err)
			return err;
	}
	return 0;
}
