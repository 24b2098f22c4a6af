/* tests/unit/proxy/core/test_conf_section.c - config: sections modules
 * register (schema, checks, defaults beside the module) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proxy/base/err.h"
#include "proxy/base/obj.h"
#include "proxy/core/conf.h"
#include "registrar/reg_conf.h"
#include "tests/unit/conftest.h"

/* A module of the test's own: "demo: {name, level, tags: [...]}". */
struct demo_conf {
	char *name;	  /* ("anon") */
	unsigned level;	  /* 1 .. 5 (3) */
	unsigned ntags;	  /* given */
	bool tags_given;  /* "tags: []" is not the same as none */
	unsigned nbuilds; /* how often build ran (once) */
};

struct raw_demo {
	char *name;
	unsigned level;
	char **tags;
	unsigned tags_count;
};

struct raw {
	struct raw_demo demo;
};

static const cyaml_schema_value_t tag_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 16),
};

static const cyaml_schema_field_t demo_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			       struct raw_demo, name, 1, 32),
	CYAML_FIELD_UINT("level", CYAML_FLAG_OPTIONAL, struct raw_demo, level),
	CYAML_FIELD_SEQUENCE("tags", CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER,
			     struct raw_demo, tags, &tag_entry, 0, 8),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_MAPPING("demo", CYAML_FLAG_OPTIONAL, struct raw, demo,
			    demo_fields),
	CYAML_FIELD_END
};

static bool demo_range(const char *spath, long long *minp, long long *maxp)
{
	if (strcmp(spath, "demo.level") != 0)
		return false;
	*minp = 1;
	*maxp = 5;
	return true;
}

static int demo_check(const char *spath, const char *path, const char *v,
		      char *why, size_t whylen)
{
	if (strcmp(spath, "demo.tags") != 0 || v[0] != '!')
		return 0;
	snprintf(why, whylen, "%s: '%s' starts with '!'", path, v);
	return ERR_CONFIG;
}

static const char *const demo_given[] = { "demo.tags", NULL };

static int demo_build(void *out, const void *raw, const struct conf_ctx *x)
{
	const struct raw_demo *r = &((const struct raw *)raw)->demo;
	struct demo_conf *d = out;

	d->nbuilds++;
	d->name = strdup(r->name ? r->name : "anon");
	if (!d->name)
		return -ENOMEM;
	d->level = r->level ? r->level : 3;
	d->ntags = r->tags_count;
	d->tags_given = x->given & 1u;
	/* A rule between keys, which the walk cannot check. */
	if (d->level == 5 && strcmp(d->name, "anon") == 0) {
		snprintf(x->why, x->whylen, "demo: level 5 needs a name");
		return ERR_CONFIG;
	}
	/* The runtime's keys are built first. */
	cr_assert_not_null(x->c);
	cr_assert_gt(x->c->ndomains, 0);
	return 0;
}

static void demo_free(void *out)
{
	struct demo_conf *d = out;

	free(d->name);
}

static const struct conf_section demo_section = {
	.name = "demo",
	.fields = top_fields,
	.raw_size = sizeof(struct raw),
	.size = sizeof(struct demo_conf),
	.range = demo_range,
	.check = demo_check,
	.given = demo_given,
	.build = demo_build,
	.free = demo_free,
};

static const struct demo_conf *demo_conf(const struct conf *c)
{
	return conf_section_get(c, &demo_section);
}

static struct conf *c;
static char err[512];

static void setup(void)
{
	conftest_init(&c, err, sizeof(err));
	cr_assert_eq(conf_section_add(&demo_section), 0);
}

TestSuite(conf_section, .init = setup, .fini = conftest_fini, .timeout = 10);

/* Loading @text fails with ERR_CONFIG and exactly the message @want. */
static void expect_error(const char *text, const char *want)
{
	int e = conftest_load(text);

	cr_assert_eq(e, ERR_CONFIG, "loaded: %s", text);
	cr_assert_null(c);
	cr_assert_str_eq(err, want);
}

Test(conf_section, registered_section_is_loaded_and_built)
{
	const struct demo_conf *d;

	cr_assert_eq(conftest_load("workers: 1\n"
				   "demo:\n"
				   "  name: box\n"
				   "  level: 4\n"
				   "  tags: [a, b]\n"),
		     0, "%s", err);
	d = demo_conf(c);
	cr_assert_not_null(d);
	cr_assert_str_eq(d->name, "box");
	cr_assert_eq(d->level, 4);
	cr_assert_eq(d->ntags, 2);
	cr_assert(d->tags_given);
	cr_assert_eq(d->nbuilds, 1);
	cr_assert_eq(c->workers, 1);
}

Test(conf_section, defaults_when_the_key_is_absent)
{
	const struct demo_conf *d;

	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", err);
	d = demo_conf(c);
	cr_assert_str_eq(d->name, "anon");
	cr_assert_eq(d->level, 3);
	cr_assert_not(d->tags_given);
	conf_free(c);
	c = NULL;
	cr_assert_eq(conf_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(demo_conf(c)->name, "anon");
	/* The other modules' sections are still there. */
	cr_assert_eq(reg_conf(c)->ntrusted, 2);
}

Test(conf_section, an_empty_list_is_given)
{
	cr_assert_eq(conftest_load("demo:\n  tags: []\n"), 0, "%s", err);
	cr_assert(demo_conf(c)->tags_given);
	cr_assert_eq(demo_conf(c)->ntags, 0);
}

Test(conf_section, unknown_key_in_a_section_names_its_line)
{
	expect_error("workers: 1\n"
		     "demo:\n"
		     "  name: box\n"
		     "  bogus: 1\n",
		     "t.yaml:4: unknown key 'demo.bogus'");
	expect_error("demo:\n"
		     "  name: box\n"
		     "  name: again\n",
		     "t.yaml:3: duplicate key 'demo.name'");
	expect_error("demo: 3\n",
		     "t.yaml:1: demo: expected a mapping, got '3'");
}

Test(conf_section, range_and_check_of_a_section_name_their_line)
{
	expect_error("demo:\n"
		     "  level: 9\n",
		     "t.yaml:2: demo.level: 9 is out of range (1..5)");
	expect_error("demo:\n"
		     "  tags:\n"
		     "    - ok\n"
		     "    - \"!no\"\n",
		     "t.yaml:4: demo.tags[1]: '!no' starts with '!'");
}

Test(conf_section, build_error_names_the_file)
{
	expect_error("demo:\n  level: 5\n",
		     "t.yaml: demo: level 5 needs a name");
}

Test(conf_section, adding_is_idempotent_and_keys_have_one_owner)
{
	static const cyaml_schema_field_t taken[] = {
		CYAML_FIELD_MAPPING("registrar", CYAML_FLAG_OPTIONAL,
				    struct raw, demo, demo_fields),
		CYAML_FIELD_END
	};
	static const cyaml_schema_field_t runtime[] = {
		CYAML_FIELD_UINT("workers", CYAML_FLAG_OPTIONAL, struct raw,
				 demo.level),
		CYAML_FIELD_END
	};
	struct conf_section clash = demo_section;

	cr_assert_eq(conf_section_add(&demo_section), 0);
	clash.fields = taken;
	cr_assert_eq(conf_section_add(&clash), -EEXIST);
	clash.fields = runtime;
	cr_assert_eq(conf_section_add(&clash), -EEXIST);
}

Test(conf_section, a_section_not_registered_is_absent)
{
	static const struct conf_section other = {
		.name = "other",
		.fields = top_fields,
		.raw_size = sizeof(struct raw),
		.size = sizeof(struct demo_conf),
		.build = demo_build,
		.free = demo_free,
	};

	cr_assert_eq(conftest_load("workers: 1\n"), 0, "%s", err);
	cr_assert_null(conf_section_get(c, &other));
	cr_assert_null(conf_section_get(NULL, &demo_section));
}
