/* tests/common/guard.c - test inputs placed right before a PROT_NONE page */
#include "tests/common/guard.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

static char *kept[256];
static unsigned nkept;

/* Stored just before the copy, so that guard_free() finds the mapping. */
struct guard_meta {
	void *base;
	size_t size;
};

char *guard_copy(const void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data =
	    (len + sizeof(struct guard_meta) + page - 1) / page * page;
	struct guard_meta meta;
	char *base, *copy;

	base = mmap(NULL, data + page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base + data, page, PROT_NONE)) {
		munmap(base, data + page);
		return NULL;
	}
	copy = base + data - len;
	if (len)
		memcpy(copy, p, len);
	meta.base = base;
	meta.size = data + page;
	memcpy(copy - sizeof(meta), &meta, sizeof(meta));
	return copy;
}

void guard_free(char *p)
{
	struct guard_meta meta;

	if (!p)
		return;
	memcpy(&meta, p - sizeof(meta), sizeof(meta));
	munmap(meta.base, meta.size);
}

char *guard_keep(const void *p, size_t len)
{
	char *copy;

	cr_assert_lt(nkept, sizeof(kept) / sizeof(kept[0]),
		     "more than %zu guarded copies kept",
		     sizeof(kept) / sizeof(kept[0]));
	copy = guard_copy(p, len);
	cr_assert_not_null(copy);
	kept[nkept++] = copy;
	return copy;
}

void guard_free_kept(void)
{
	for (unsigned i = 0; i < nkept; i++)
		guard_free(kept[i]);
	nkept = 0;
}
