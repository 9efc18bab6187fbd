/* Small helpers: whole-file read/write, secrets, random bytes, time. */
#ifndef SA_UTIL_H
#define SA_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NSEC_PER_SEC	1000000000ull
#define NSEC_PER_MSEC	1000000ull

/* Reads a whole file (at most max bytes) into a NUL-terminated malloc'd buffer.
 * Returns NULL and sets errno (EFBIG when larger than max). */
char *util_read_file(const char *path, size_t max, size_t *len_out);
/* Writes data to path atomically (temp file + fsync + rename) with the given mode.
 * 0 or -errno. */
int util_write_file(const char *path, const void *data, size_t len, mode_t mode)
	__attribute__((warn_unused_result));
/* mkdir -p with mode; 0 or -errno. */
int util_mkdir_p(const char *path, mode_t mode) __attribute__((warn_unused_result));
/* Fills buf from getrandom(); 0 or -errno. */
int util_random(void *buf, size_t len) __attribute__((warn_unused_result));
/* Random lowercase hex string of 2*nbytes chars into out (size 2*nbytes+1). */
int util_random_hex(char *out, size_t nbytes) __attribute__((warn_unused_result));
/* Formats a reason into err (len bytes, NULL-safe) and returns -EINVAL: the one line
 * parsers use to refuse their input. */
int util_einval(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with another error code (-EPERM for a refusal on policy). */
int util_refuse(char *err, size_t len, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Wipes and frees a secret string. NULL-safe. */
void util_free_secret(char *s);
/* The Internet checksum (RFC 1071) of data, in network byte order. */
uint16_t util_inet_csum(const void *data, size_t len);
/* A decimal number without sign or leading zeros, at most max (a resourceVersion, a
 * counter). 0 or -EINVAL. */
int util_parse_u64(const char *s, uint64_t max, uint64_t *out) __attribute__((warn_unused_result));
/* The next delay of an exponential backoff: first, then twice the last, at most max. */
uint64_t util_backoff(uint64_t last, uint64_t first, uint64_t max);
/* Monotonic clock in nanoseconds. */
uint64_t util_now_ns(void);
/* Wall clock (CLOCK_REALTIME) in nanoseconds. */
uint64_t util_realtime_ns(void);

#endif
