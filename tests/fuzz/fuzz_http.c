/* SPDX-License-Identifier: MIT */
/* fuzz_http.c - libFuzzer harness for http.c: the web door's request-head parser. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http.h"
#include "fuzz.h"

/*
 * Input: the bytes a peer sends before (and after) its request head, parsed the way the door
 * does: whole, and as each prefix a slow peer could have sent so far. Invariants:
 *   - the answer is one of 0 (more), 200, 400, 405, 414, 431, 505;
 *   - a 200 describes a head inside the input and the limits: head_len <= NT_HTTP_MAX_HEAD,
 *     every field and the target inside buf[0..head_len), Host set for HTTP/1.1;
 *   - the head alone, buf[0..head_len), parses to the same request (what follows it is never
 *     looked at: a pipelined request stays whole);
 *   - over growing prefixes a decision never goes back to "more", a 200 stays the same 200,
 *     and an error stays an error.
 */

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p + n <= buf + len;
}

static void check_request(const struct nt_http_request *r, const char *buf, size_t len)
{
    CHECK(r->head_len > 0 && r->head_len <= len && r->head_len <= NT_HTTP_MAX_HEAD);
    CHECK(r->method == NT_HTTP_GET || r->method == NT_HTTP_HEAD);
    CHECK(r->minor == 0 || r->minor == 1);
    CHECK(r->target_len > 0 && inside(r->target, r->target_len, buf, r->head_len));
    CHECK(r->target[0] == '/' || r->target[0] == 'h' || r->target[0] == 'H');
    CHECK(r->n_fields <= NT_HTTP_MAX_HEADERS);
    for (size_t i = 0; i < r->n_fields; i++) {
        const struct nt_http_field *f = &r->fields[i];
        CHECK(f->name_len > 0 && inside(f->name, f->name_len, buf, r->head_len));
        CHECK(f->value_len == 0 || inside(f->value, f->value_len, buf, r->head_len));
        CHECK(memchr(f->name, ':', f->name_len) == NULL);
        CHECK(f->value_len == 0 || (f->value[0] != ' ' && f->value[f->value_len - 1] != ' '));
        CHECK(memchr(f->value, '\r', f->value_len) == NULL);
        CHECK(memchr(f->value, '\n', f->value_len) == NULL);
    }
    if (r->minor == 1)
        CHECK(r->host != NULL && r->host_len > 0);
}

static bool same(const struct nt_http_request *a, const struct nt_http_request *b)
{
    if (a->method != b->method || a->minor != b->minor || a->target_len != b->target_len ||
        a->n_fields != b->n_fields || a->head_len != b->head_len || a->host_len != b->host_len)
        return false;
    if (memcmp(a->target, b->target, a->target_len) != 0)
        return false;
    for (size_t i = 0; i < a->n_fields; i++) {
        if (a->fields[i].name_len != b->fields[i].name_len ||
            a->fields[i].value_len != b->fields[i].value_len ||
            memcmp(a->fields[i].name, b->fields[i].name, a->fields[i].name_len) != 0 ||
            (a->fields[i].value_len > 0 &&
             memcmp(a->fields[i].value, b->fields[i].value, a->fields[i].value_len) != 0))
            return false;
    }
    return true;
}

static int parse_copy(const uint8_t *data, size_t len, char **copy, struct nt_http_request *r)
{
    *copy = malloc(len ? len : 1);
    CHECK(*copy != NULL);
    if (len > 0)
        memcpy(*copy, data, len);
    return nt_http_parse(*copy, len, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct nt_http_request whole, part;
    char *buf;
    int status = parse_copy(data, size, &buf, &whole);
    CHECK(status == 0 || status == 200 || status == 400 || status == 405 || status == 414 ||
          status == 431 || status == 505);
    if (status == 200) {
        check_request(&whole, buf, size);
        char *head;
        CHECK(parse_copy(data, whole.head_len, &head, &part) == 200);
        CHECK(same(&whole, &part));
        free(head);
    }
    /* Growing prefixes, as a slow peer sends them (every length up to 64, then strides). */
    int before = 0;
    for (size_t n = 0; n <= size; n += n < 64 ? 1 : 1 + n / 16) {
        char *p;
        int got = parse_copy(data, n, &p, &part);
        if (before != 0)
            CHECK(got != 0 && (got == 200) == (before == 200));
        if (got == 200)
            CHECK(n >= part.head_len);
        free(p);
        if (got != 0)
            before = got;
    }
    if (before != 0)
        CHECK(status != 0 && (status == 200) == (before == 200));
    free(buf);
    return 0;
}
