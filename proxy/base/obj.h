/* proxy/base/obj.h - reference-counted objects with a destructor */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/** Called once, when the last reference goes, before the memory is freed. */
typedef void obj_dtor_fn(void *obj);

/**
 * @p size zeroed bytes with one reference and @p dtor (may be NULL).
 * Returns NULL when out of memory.
 * Thread: any. Ownership: the caller holds the one reference.
 */
void *obj_new(size_t size, obj_dtor_fn *dtor);

/** Take one more reference to @p obj (not NULL, count > 0). Thread: any. */
void *obj_get(void *obj);

/**
 * Take a reference unless the count already reached zero (an object
 * found under RCU that is being retired). Returns @p obj or NULL.
 * Thread: any, inside an RCU read section.
 */
void *obj_tryget(void *obj);

/**
 * Drop one reference; the last one runs the destructor and frees.
 * NULL is allowed. Thread: any.
 */
void obj_put(void *obj);

/** Objects alive in this process now (tests check it returns to 0). */
long obj_live(void);
