/* proxy/base/file.h - read a whole file, bounded */
#pragma once

#include <stddef.h>

/**
 * Read the regular file @p path whole, at most @p max bytes, into a
 * malloc'd buffer with a NUL after the last byte (not counted in
 * *lenp). Reads until end of file whatever stat says, so a file that
 * grows meanwhile is still bounded.
 * Errors: -errno from open/read, -EISDIR (a directory), -EINVAL (not a
 * regular file: a FIFO or device could block or never end), -EFBIG (more
 * than @p max bytes), -ENOMEM. *textp and *lenp are written only on
 * success.
 * Thread: any; blocking I/O, so never on a shard. Ownership: the caller
 * frees *textp.
 */
int file_read(const char *path, size_t max, char **textp, size_t *lenp);
