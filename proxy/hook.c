/* proxy/hook.c - request pipeline stages that the registrar and features fill
 */
#include "proxy/hook.h"

/*
 * One function per stage, installed by the control thread before the
 * shards start and only read afterwards (thread creation orders the
 * writes before every shard's reads). hook_reply() lives in the core
 * (proxy/pipeline.c), which owns the transactions it answers through.
 */
static hook_fn *stages[HOOK__COUNT];
/* Installed and read as the stages are. */
static hook_user_fn *user_check;
static hook_lookup_fn *lookup;
static hook_clean_fn *clean;

void hook_set(enum hook_stage stage, hook_fn *fn)
{
	if ((unsigned)stage < HOOK__COUNT)
		stages[stage] = fn;
}

int hook_run(enum hook_stage stage, struct hook_req *r)
{
	if ((unsigned)stage >= HOOK__COUNT || !stages[stage])
		return HOOK_NEXT;
	return stages[stage](r);
}

void hook_set_user_check(hook_user_fn *fn)
{
	user_check = fn;
}

bool hook_user_exists(struct slice user, struct slice domain)
{
	return !user_check || user_check(user, domain);
}

void hook_set_lookup(hook_lookup_fn *fn)
{
	lookup = fn;
}

int hook_lookup(const struct conf *c, struct slice ruri, int64_t now_s,
		struct arena *a, struct hook_fwd *fwp, unsigned *statusp)
{
	return lookup ? lookup(c, ruri, now_s, a, fwp, statusp) : 0;
}

void hook_set_clean(hook_clean_fn *fn)
{
	clean = fn;
}

int hook_clean(struct edit_list *el, const struct sipmsg *m, struct arena *a,
	       struct slice *rurip)
{
	return clean ? clean(el, m, a, rurip) : 0;
}
