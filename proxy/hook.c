/* proxy/hook.c - request pipeline stages that the registrar and features fill
 */
#include "proxy/hook.h"

/*
 * One function per stage, installed by the control thread before the
 * shards start and only read afterwards (thread creation orders the
 * writes before every shard's reads). hook_reply() lives in the core
 * (proxy/core.c), which owns the transactions it answers through.
 */
static hook_fn *stages[HOOK__COUNT];

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
