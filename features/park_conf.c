/* features/park_conf.c - the park: section: schema, checks, defaults */
#include "features/park_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "features/b2b/media.h"
#include "proxy/base/err.h"
#include "proxy/sip/uri.h"

enum { RAW_BOOL_TRUE = 1, RAW_BOOL_FALSE = 2 };
enum { RAW_BLF_CONFIRMED = 1, RAW_BLF_EARLY = 2 };

/* What libcyaml loads; 0 means "not in the file". */
struct raw_lot {
	char *domain;
	int enabled; /* RAW_BOOL_* */
	char *code;
	char *slots;
	unsigned timeout_s;
	unsigned comeback_ring_s;
	char *fallback;
	int blf_parked_state; /* RAW_BLF_* */
	char *music;
	char *announce;
};

struct raw {
	struct raw_lot *park;
	unsigned park_count;
};

static const cyaml_strval_t bool_strings[] = {
	{ "true", RAW_BOOL_TRUE },
	{ "false", RAW_BOOL_FALSE },
};

static const cyaml_strval_t blf_strings[] = {
	{ "confirmed", RAW_BLF_CONFIRMED },
	{ "early", RAW_BLF_EARLY },
};

static const cyaml_schema_field_t lot_fields[] = {
	CYAML_FIELD_STRING_PTR("domain", CYAML_FLAG_POINTER, struct raw_lot,
			       domain, 1, 253),
	CYAML_FIELD_ENUM("enabled", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_lot, enabled, bool_strings,
			 CYAML_ARRAY_LEN(bool_strings)),
	CYAML_FIELD_STRING_PTR("code", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_lot, code, 1, PARK_DIGITS_MAX),
	CYAML_FIELD_STRING_PTR(
	    "slots", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER, struct raw_lot,
	    slots, 1, 2 * PARK_DIGITS_MAX + 1),
	CYAML_FIELD_UINT("timeout_s", CYAML_FLAG_OPTIONAL, struct raw_lot,
			 timeout_s),
	CYAML_FIELD_UINT("comeback_ring_s", CYAML_FLAG_OPTIONAL, struct raw_lot,
			 comeback_ring_s),
	CYAML_FIELD_STRING_PTR("fallback",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_lot, fallback, 1, PARK_FALLBACK_MAX),
	CYAML_FIELD_ENUM("blf_parked_state",
			 CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
			 struct raw_lot, blf_parked_state, blf_strings,
			 CYAML_ARRAY_LEN(blf_strings)),
	CYAML_FIELD_STRING_PTR("music",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_lot, music, 1, 4095),
	CYAML_FIELD_STRING_PTR("announce",
			       CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_lot, announce, 1, 4095),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t lot_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_lot, lot_fields),
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_SEQUENCE("park", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw, park, &lot_entry, 0, 256),
	CYAML_FIELD_END
};

/* "701-799": two numbers of at most 5 digits, the first not above the
 * second, at most PARK_SLOTS_MAX slots. */
static int slots_parse(const char *v, unsigned *minp, unsigned *maxp)
{
	unsigned lo = 0, hi = 0;
	size_t a = strspn(v, "0123456789");
	size_t b;

	if (a == 0 || a > 5 || v[a] != '-')
		return -EINVAL;
	b = strspn(v + a + 1, "0123456789");
	if (b == 0 || b > 5 || v[a + 1 + b] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < a; i++)
		lo = lo * 10 + (unsigned)(v[i] - '0');
	for (size_t i = 0; i < b; i++)
		hi = hi * 10 + (unsigned)(v[a + 1 + i] - '0');
	if (lo == 0 || lo > hi || hi - lo + 1 > PARK_SLOTS_MAX)
		return -ERANGE;
	*minp = lo;
	*maxp = hi;
	return 0;
}

static int check(const char *spath, const char *path, const char *v, char *why,
		 size_t whylen)
{
	unsigned lo, hi;
	int err;

	if (strcmp(spath, "park.domain") == 0)
		return conf_domain_check(path, v, why, whylen);
	if (strcmp(spath, "park.music") == 0 ||
	    strcmp(spath, "park.announce") == 0) {
		/* Loaded here to be checked (8 kHz mono WAV, at most 10
		 * minutes), and again when the pool starts. */
		struct media_sound *snd = NULL;
		char reason[256];

		if (media_sound_load(v, &snd, reason, sizeof(reason)) == 0) {
			media_sound_free(snd);
			return 0;
		}
		snprintf(why, whylen, "%s: %s", path, reason);
		return ERR_CONFIG;
	}
	if (strcmp(spath, "park.code") == 0) {
		if (strspn(v, "0123456789") == strlen(v))
			return 0;
		snprintf(why, whylen, "%s: '%.40s' is not a park code (digits)",
			 path, v);
		return ERR_CONFIG;
	}
	if (strcmp(spath, "park.fallback") == 0) {
		struct sipuri u;

		if (uri_parse(slice_cstr(v), &u) == 0 &&
		    (u.scheme == URI_SIP || u.scheme == URI_SIPS) && u.host.len)
			return 0;
		snprintf(why, whylen,
			 "%s: '%.40s' is not a SIP URI (as "
			 "sip:operator@example.com)",
			 path, v);
		return ERR_CONFIG;
	}
	if (strcmp(spath, "park.slots") == 0) {
		err = slots_parse(v, &lo, &hi);
		if (err == -EINVAL) {
			snprintf(why, whylen,
				 "%s: '%.40s' is not a slot range "
				 "(FIRST-LAST, digits, as 701-799)",
				 path, v);
			return ERR_CONFIG;
		}
		if (err) {
			snprintf(
			    why, whylen,
			    "%s: '%.40s': the first slot must be 1 or "
			    "more and not above the last, at most %u slots",
			    path, v, PARK_SLOTS_MAX);
			return ERR_CONFIG;
		}
	}
	return 0;
}

static const struct conf_range ranges[] = {
	{ "park.timeout_s", 1, 86400 },
	{ "park.comeback_ring_s", 1, 3600 },
	{ NULL, 0, 0 },
};

/* True when @p code, read as a number, is a slot of @p l. */
static bool code_in_slots(const struct conf_park *l)
{
	size_t n = strlen(l->code);
	unsigned v = 0;

	if (n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(l->code[i] - '0');
	return v >= l->slot_min && v <= l->slot_max;
}

/* One park[] entry; its domain must be served, once. */
static int build_lot(struct park_conf *pc, const struct raw_lot *r,
		     struct conf_park *l, unsigned idx,
		     const struct conf_ctx *x)
{
	const char *what = NULL;

	l->domain = conf_lower_dup(r->domain);
	l->code = strdup(r->code ? r->code : PARK_CODE_DEFAULT);
	if (!l->domain || !l->code)
		return -ENOMEM;
	l->enabled = r->enabled != RAW_BOOL_FALSE;
	l->slot_min = PARK_SLOT_MIN_DEFAULT;
	l->slot_max = PARK_SLOT_MAX_DEFAULT;
	/* check() accepted the text already. */
	if (r->slots && slots_parse(r->slots, &l->slot_min, &l->slot_max))
		what = "slots is not a slot range";
	l->timeout_s = r->timeout_s ? r->timeout_s : PARK_TIMEOUT_S_DEFAULT;
	l->comeback_ring_s = r->comeback_ring_s ? r->comeback_ring_s
						: PARK_COMEBACK_RING_S_DEFAULT;
	if (r->fallback) {
		l->fallback = strdup(r->fallback);
		if (!l->fallback)
			return -ENOMEM;
	}
	l->blf_early = r->blf_parked_state == RAW_BLF_EARLY;
	if ((r->music && !(l->music = strdup(r->music))) ||
	    (r->announce && !(l->announce = strdup(r->announce))))
		return -ENOMEM;
	if (!what && !conf_is_domain(x->c, l->domain, strlen(l->domain)))
		what = "domain is not one of the served domains";
	if (!what && code_in_slots(l))
		what = "code is one of its own slots (a call to it could "
		       "not tell park from retrieve)";
	for (unsigned k = 0; k < idx && !what; k++)
		if (strcmp(pc->lots[k].domain, l->domain) == 0)
			what = "domain is given twice";
	if (what) {
		snprintf(x->why, x->whylen, "park[%u]: %s: %s", idx, l->domain,
			 what);
		return ERR_CONFIG;
	}
	return 0;
}

static int build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw *r = raw;
	struct park_conf *pc = out;
	int err;

	if (!r->park_count)
		return 0;
	pc->lots = calloc(r->park_count, sizeof(*pc->lots));
	if (!pc->lots)
		return -ENOMEM;
	for (unsigned i = 0; i < r->park_count; i++) {
		pc->nlots = i + 1;
		err = build_lot(pc, &r->park[i], &pc->lots[i], i, x);
		if (err)
			return err;
	}
	return 0;
}

static void fini(void *out)
{
	struct park_conf *pc = out;

	for (unsigned i = 0; i < pc->nlots; i++) {
		free(pc->lots[i].domain);
		free(pc->lots[i].code);
		free(pc->lots[i].fallback);
		free(pc->lots[i].music);
		free(pc->lots[i].announce);
	}
	free(pc->lots);
}

const struct conf_section park_conf_section = {
	.name = "park",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct park_conf),
	.ranges = ranges,
	.check = check,
	.build = build,
	.free = fini,
};

const struct park_conf *park_conf(const struct conf *c)
{
	static const struct park_conf none;
	const struct park_conf *pc = conf_section_get(c, &park_conf_section);

	return pc ? pc : &none;
}

const struct conf_park *park_conf_lot(const struct conf *c, struct slice domain)
{
	static const struct conf_park defaults = {
		.domain = NULL,
		.enabled = true,
		.code = (char *)PARK_CODE_DEFAULT,
		.slot_min = PARK_SLOT_MIN_DEFAULT,
		.slot_max = PARK_SLOT_MAX_DEFAULT,
		.timeout_s = PARK_TIMEOUT_S_DEFAULT,
		.comeback_ring_s = PARK_COMEBACK_RING_S_DEFAULT,
	};
	const struct park_conf *pc = park_conf(c);

	if (!conf_is_domain(c, domain.p, domain.len))
		return NULL;
	for (unsigned i = 0; i < pc->nlots; i++)
		if (slice_caseeq_cstr(domain, pc->lots[i].domain))
			return pc->lots[i].enabled ? &pc->lots[i] : NULL;
	return &defaults;
}
