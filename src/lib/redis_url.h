/* SPDX-License-Identifier: MIT */
/* redis_url.h - --redis: redis://HOST[:PORT][/DB] and unix:///PATH[?db=N], parsed and formatted. */
#ifndef NT_REDIS_URL_H
#define NT_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NT_REDIS_URL_DEFAULT_PORT 6379
#define NT_REDIS_URL_MAX_DB       15  /* Redis's default `databases 16` */
#define NT_REDIS_URL_MAX_HOST     253 /* a DNS name, without a trailing dot (RFC 1035 §2.3.4) */
#define NT_REDIS_URL_MAX_PATH     107 /* sockaddr_un's sun_path is 108 bytes with its NUL */

enum nt_redis_url_kind {
    NT_REDIS_URL_TCP,  /* redis://HOST[:PORT][/DB] */
    NT_REDIS_URL_UNIX, /* unix:///PATH[?db=N] */
};

/* Where a Redis server is, as --redis gives it. */
struct nt_redis_url {
    enum nt_redis_url_kind kind;
    /* TCP: a host name (to resolve with uv_getaddrinfo), or a numeric IPv4 or IPv6 address
     * (without the brackets); "" for UNIX. */
    char host[NT_REDIS_URL_MAX_HOST + 2];
    bool is_numeric; /* TCP: host is a numeric address (inet_pton), nothing to resolve */
    bool is_ipv6;    /* TCP: host is a numeric IPv6 address */
    uint16_t port;   /* TCP: 1-65535 (6379 when none is given); 0 for UNIX */
    char path[NT_REDIS_URL_MAX_PATH + 1]; /* UNIX: an absolute path; "" for TCP */
    unsigned db;                          /* 0-15 (SELECT), 0 when none is given */
};

/*
 * Parses s (a C string, borrowed) into *out:
 *   redis://HOST[:PORT][/DB]   HOST a numeric IPv4 address, [IPv6] in brackets, or a host name
 *                              (letters, digits, '-', '_', '.'; labels of 1-63 characters; a
 *                              trailing dot allowed); PORT 1-65535 (6379); DB 0-15 (0)
 *   unix:///PATH[?db=N]        an absolute PATH of at most 107 bytes; N 0-15 (0)
 * The schemes are case-insensitive; nothing else is: no user or password, no rediss:// (TLS), no
 * other parameter, nothing after the end. A host of digits and dots only must be a dotted quad
 * (getaddrinfo would read "127.1" as 127.0.0.1). Returns 0, or -1 with *why set to a static
 * string naming what is wrong (for "natter: --redis: WHY, got 'S'"); *out is then unspecified.
 * Pure: no allocation, no I/O.
 */
int nt_redis_url_parse(const char *s, struct nt_redis_url *out, const char **why);

/*
 * Writes u in its full form into out (cap bytes, NUL-terminated, cut short if cap is too small):
 * "redis://HOST:PORT/DB" (IPv6 in brackets) or "unix:///PATH?db=N". Parsing it again gives u.
 * Returns the length of the full form (as snprintf does).
 */
size_t nt_redis_url_format(const struct nt_redis_url *u, char *out, size_t cap);

#endif
