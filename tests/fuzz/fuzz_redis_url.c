/* SPDX-License-Identifier: MIT */
/* fuzz_redis_url.c - libFuzzer harness for redis_url.c: the --redis URL parser and formatter. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/redis_url.h"
#include "fuzz.h"

/*
 * Input: the text of --redis (up to its first NUL), from an exact-size heap copy. Invariants:
 *   - a refusal has a reason;
 *   - an accepted TCP URL has a host that fits, numeric exactly when inet_pton says so (and
 *     IPv6 only then), a port 1-65535, a database 0-15 and no path; a UNIX one an absolute path
 *     of at most 107 bytes, a database 0-15, no host and no port;
 *   - its full form (nt_redis_url_format) parses again to the same, and is returned whole.
 */

static void check(const struct nt_redis_url *u)
{
    CHECK(u->db <= NT_REDIS_URL_MAX_DB);
    if (u->kind == NT_REDIS_URL_UNIX) {
        size_t n = strnlen(u->path, sizeof(u->path));
        CHECK(n > 1 && n <= NT_REDIS_URL_MAX_PATH);
        CHECK(u->path[0] == '/' && strchr(u->path, '?') == NULL);
        CHECK(u->host[0] == '\0' && u->port == 0 && !u->is_numeric && !u->is_ipv6);
        return;
    }
    CHECK(u->kind == NT_REDIS_URL_TCP);
    size_t n = strnlen(u->host, sizeof(u->host));
    CHECK(n > 0 && n < sizeof(u->host));
    CHECK(u->port >= 1 && u->path[0] == '\0');
    unsigned char addr[16];
    bool v4 = inet_pton(AF_INET, u->host, addr) == 1;
    bool v6 = inet_pton(AF_INET6, u->host, addr) == 1;
    CHECK(u->is_ipv6 == v6);
    CHECK(u->is_numeric == (v4 || v6));
    if (!u->is_numeric) {
        for (size_t i = 0; i < n; i++) {
            char c = u->host[i];
            CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.');
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = strnlen((const char *)data, size);
    char *s = malloc(len + 1);
    CHECK(s != NULL);
    memcpy(s, data, len);
    s[len] = '\0';

    struct nt_redis_url u;
    const char *why = NULL;
    if (nt_redis_url_parse(s, &u, &why) != 0) {
        CHECK(why != NULL && why[0] != '\0');
    } else {
        check(&u);
        char text[512];
        size_t n = nt_redis_url_format(&u, text, sizeof(text));
        CHECK(n == strlen(text));
        struct nt_redis_url again;
        CHECK(nt_redis_url_parse(text, &again, &why) == 0);
        CHECK(memcmp(&u, &again, sizeof(u)) == 0);
    }
    free(s);
    return 0;
}
