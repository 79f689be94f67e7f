/* SPDX-License-Identifier: MIT */
/* redis_url.c - the --redis URL: parsing with a reason for every refusal, and formatting. */
#include "lib/redis_url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Parses the decimal at s[0..len) into *out when it is from min to max. Digits only, no sign;
 * leading zeros are allowed. Returns 0 or -1. */
static int parse_number(const char *s, size_t len, unsigned long min, unsigned long max,
                        unsigned long *out)
{
    if (len == 0)
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
        if (v > max)
            return -1; /* also stops before v can overflow */
    }
    if (v < min)
        return -1;
    *out = v;
    return 0;
}

/* Checks the host name (or dotted quad) at s[0..len) and copies it into u->host. */
static int parse_name(const char *s, size_t len, struct nt_redis_url *u, const char **why)
{
    if (len == 0) {
        *why = "missing host";
        return -1;
    }
    size_t name_len = s[len - 1] == '.' ? len - 1 : len; /* a trailing dot: a rooted name */
    if (name_len > NT_REDIS_URL_MAX_HOST) {
        *why = "over-long host name (at most 253 characters)";
        return -1;
    }
    bool only_digits_and_dots = true;
    size_t label = 0;
    for (size_t i = 0; i < name_len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                *why = "a host name's labels are 1 to 63 characters, not starting or ending with "
                       "'-'";
                return -1;
            }
            label = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-' && c != '_') {
            *why = "a host name has letters, digits, '-', '_' and '.' only";
            return -1;
        }
        if (!is_digit(c))
            only_digits_and_dots = false;
        if (++label > 63 || (label == 1 && c == '-')) {
            *why = "a host name's labels are 1 to 63 characters, not starting or ending with '-'";
            return -1;
        }
    }
    if (label == 0 || s[name_len - 1] == '-') {
        *why = "a host name's labels are 1 to 63 characters, not starting or ending with '-'";
        return -1;
    }
    memcpy(u->host, s, len);
    u->host[len] = '\0';
    unsigned char addr[4];
    if (only_digits_and_dots) {
        /* getaddrinfo takes inet_aton's forms ("127.1", "2130706433"): only a dotted quad is an
         * address, and such a "name" is a mistake. */
        if (s[len - 1] == '.' || inet_pton(AF_INET, u->host, addr) != 1) {
            *why = "not a numeric IPv4 address";
            return -1;
        }
        u->is_numeric = true;
    }
    return 0;
}

/* Parses the text after "redis://". */
static int parse_tcp(const char *s, struct nt_redis_url *u, const char **why)
{
    size_t auth = strcspn(s, "/?#");
    if (memchr(s, '@', auth) != NULL) {
        *why = "a user or password (USER:PASSWORD@) is not supported";
        return -1;
    }
    const char *rest; /* after the host: ":PORT", "/DB" or the end */
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL) {
            *why = "missing ']' after the IPv6 address";
            return -1;
        }
        size_t len = (size_t)(close - (s + 1));
        unsigned char addr[16];
        if (len == 0 || len >= sizeof(u->host)) {
            *why = "not a numeric IPv6 address";
            return -1;
        }
        memcpy(u->host, s + 1, len);
        u->host[len] = '\0';
        if (inet_pton(AF_INET6, u->host, addr) != 1) {
            *why = "not a numeric IPv6 address";
            return -1;
        }
        u->is_numeric = true;
        u->is_ipv6 = true;
        rest = close + 1;
        if (*rest != '\0' && *rest != ':' && *rest != '/') {
            *why = "expected ':PORT', '/DB' or the end after ']'";
            return -1;
        }
    } else {
        size_t len = strcspn(s, ":/?#");
        /* An unbracketed IPv6 address: its colons are not a port. */
        if (s[len] == ':' && memchr(s + len + 1, ':', auth - len - 1) != NULL) {
            *why = "an IPv6 address needs brackets: redis://[ADDR]:PORT";
            return -1;
        }
        if (parse_name(s, len, u, why) != 0)
            return -1;
        rest = s + len;
    }
    u->port = NT_REDIS_URL_DEFAULT_PORT;
    if (*rest == ':') {
        rest++;
        size_t len = strcspn(rest, "/?#");
        unsigned long port;
        if (len == 0) {
            *why = "missing port after ':'";
            return -1;
        }
        if (parse_number(rest, len, 1, 65535, &port) != 0) {
            *why = "the port must be a number from 1 to 65535";
            return -1;
        }
        u->port = (uint16_t)port;
        rest += len;
    }
    if (*rest == '/') {
        rest++;
        size_t len = strcspn(rest, "?#");
        unsigned long db;
        if (len == 0) {
            *why = "missing database number after '/'";
            return -1;
        }
        if (parse_number(rest, len, 0, NT_REDIS_URL_MAX_DB, &db) != 0) {
            *why = "the database must be a number from 0 to 15";
            return -1;
        }
        u->db = (unsigned)db;
        rest += len;
    }
    if (*rest == '?') {
        *why = "redis:// takes no parameters ('?...')";
        return -1;
    }
    if (*rest != '\0') {
        *why = "unexpected text after the address";
        return -1;
    }
    return 0;
}

/* Parses the text after "unix://". */
static int parse_unix(const char *s, struct nt_redis_url *u, const char **why)
{
    if (s[0] != '/') {
        *why = "unix:// needs an absolute path: unix:///PATH";
        return -1;
    }
    size_t len = strcspn(s, "?");
    if (len == 1) {
        *why = "missing path after unix://";
        return -1;
    }
    if (len > NT_REDIS_URL_MAX_PATH) {
        *why = "over-long path (a unix socket path has at most 107 bytes)";
        return -1;
    }
    memcpy(u->path, s, len);
    u->path[len] = '\0';
    const char *q = s + len;
    if (*q == '\0')
        return 0;
    q++;
    if (strncmp(q, "db=", 3) != 0) {
        *why = "the only parameter is ?db=N";
        return -1;
    }
    q += 3;
    size_t n = strcspn(q, "&");
    unsigned long db;
    if (n == 0) {
        *why = "missing database number after '?db='";
        return -1;
    }
    if (parse_number(q, n, 0, NT_REDIS_URL_MAX_DB, &db) != 0) {
        *why = "the database must be a number from 0 to 15";
        return -1;
    }
    if (q[n] != '\0') {
        *why = "the only parameter is ?db=N";
        return -1;
    }
    u->db = (unsigned)db;
    return 0;
}

int nt_redis_url_parse(const char *s, struct nt_redis_url *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (s[0] == '\0') {
        *why = "empty";
        return -1;
    }
    if (strncasecmp(s, "redis://", 8) == 0) {
        out->kind = NT_REDIS_URL_TCP;
        return parse_tcp(s + 8, out, why);
    }
    if (strncasecmp(s, "unix://", 7) == 0) {
        out->kind = NT_REDIS_URL_UNIX;
        return parse_unix(s + 7, out, why);
    }
    if (strncasecmp(s, "unix:", 5) == 0) {
        *why = "a unix socket is written unix:///PATH";
        return -1;
    }
    if (strncasecmp(s, "rediss://", 9) == 0) {
        *why = "TLS to Redis (rediss://) is not supported";
        return -1;
    }
    *why = "unknown scheme (redis:// or unix://)";
    return -1;
}

size_t nt_redis_url_format(const struct nt_redis_url *u, char *out, size_t cap)
{
    int n;
    if (u->kind == NT_REDIS_URL_UNIX)
        n = snprintf(out, cap, "unix://%s?db=%u", u->path, u->db);
    else if (u->is_ipv6)
        n = snprintf(out, cap, "redis://[%s]:%u/%u", u->host, (unsigned)u->port, u->db);
    else
        n = snprintf(out, cap, "redis://%s:%u/%u", u->host, (unsigned)u->port, u->db);
    return n < 0 ? 0 : (size_t)n;
}
