/* SPDX-License-Identifier: MIT */
/* test_http.c - unit tests for http.c: the request-head parser's answers, field access, lists. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http.h"

/* Parses s (a C string) from an exact-size heap copy, so ASan sees a read past its end; the
 * copy is freed on return, so only req's lengths and numbers may be looked at after it. */
static int parse(const char *s, struct nt_http_request *req)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int status = nt_http_parse(copy, n, req);
    if (status == 200) /* the pointers stay inside the input */
        assert_true(req->target >= copy && req->target + req->target_len <= copy + n);
    free(copy);
    return status;
}

struct want {
    const char *head;
    int status;
};

static void check_all(const struct want *w, size_t n)
{
    struct nt_http_request req;
    for (size_t i = 0; i < n; i++) {
        int got = parse(w[i].head, &req);
        if (got != w[i].status)
            print_error("case %zu: %d, expected %d for \"%s\"\n", i, got, w[i].status, w[i].head);
        assert_int_equal(got, w[i].status);
    }
}

#define OK11(target) "GET " target " HTTP/1.1\r\nHost: a\r\n\r\n"

static void test_good_requests(void **state)
{
    (void)state;
    struct nt_http_request req;
    const char *s = "GET /ws?x=1 HTTP/1.1\r\nHost: chat.example:8080\r\nUpgrade:websocket\r\n"
                    "Connection:  keep-alive, Upgrade  \r\nX-Empty:\r\n\r\nNEXT";
    size_t n = strlen(s);
    assert_int_equal(nt_http_parse(s, n, &req), 200);
    assert_int_equal(req.method, NT_HTTP_GET);
    assert_int_equal(req.minor, 1);
    assert_int_equal(req.target_len, 7);
    assert_memory_equal(req.target, "/ws?x=1", 7);
    assert_int_equal(req.host_len, 17);
    assert_memory_equal(req.host, "chat.example:8080", 17);
    assert_int_equal(req.n_fields, 4);
    assert_int_equal(req.head_len, n - 4); /* a pipelined request after it is not eaten */
    const struct nt_http_field *c = nt_http_field(&req, "CONNECTION");
    assert_non_null(c);
    assert_int_equal(c->value_len, strlen("keep-alive, Upgrade"));
    assert_true(nt_http_has_token(c->value, c->value_len, "upgrade"));
    assert_true(nt_http_has_token(c->value, c->value_len, "Keep-Alive"));
    assert_false(nt_http_has_token(c->value, c->value_len, "close"));
    const struct nt_http_field *u = nt_http_field(&req, "upgrade");
    assert_non_null(u);
    assert_memory_equal(u->value, "websocket", 9);
    assert_int_equal(nt_http_field(&req, "x-empty")->value_len, 0);
    assert_null(nt_http_field(&req, "origin"));

    assert_int_equal(parse("HEAD / HTTP/1.0\n\n", &req), 200); /* LF alone, 1.0 without Host */
    assert_int_equal(req.method, NT_HTTP_HEAD);
    assert_int_equal(req.minor, 0);
    assert_null(req.host);
    const char *absolute = "\r\n\nGET http://a/b HTTP/1.1\r\nhost: [::1]:80\r\n\r\n";
    assert_int_equal(nt_http_parse(absolute, strlen(absolute), &req), 200);
    assert_memory_equal(req.target, "http://a/b", 10);
    assert_memory_equal(req.host, "[::1]:80", 8);
    assert_int_equal(parse(OK11("/"), &req), 200);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &req), 200);
}

static void test_incomplete_heads_ask_for_more(void **state)
{
    (void)state;
    static const struct want w[] = {
        {"", 0},
        {"\r\n", 0},
        {"GET", 0},
        {"GET / HTTP/1.1\r", 0},
        {"GET / HTTP/1.1\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\n\r", 0},
        {"GET / HTTP/1.1\r\nHost: a", 0},
    };
    check_all(w, sizeof(w) / sizeof(w[0]));
}

static void test_bad_syntax_is_400(void **state)
{
    (void)state;
    static const struct want w[] = {
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},           /* two spaces */
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},           /* a space after the version */
        {"GET /\tx HTTP/1.1\r\nHost: a\r\n\r\n", 400},         /* a tab in the target */
        {"GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400},        /* a non-ASCII target byte */
        {"GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", 400},         /* a bare CR */
        {"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},         /* a bare CR in a field */
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},           /* space before the colon */
        {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400}, /* obs-fold */
        {"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 400}, /* a control byte */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n", 400}, /* DEL */
        {"GET / HTTP/1.1\r\n\r\n", 400},                         /* HTTP/1.1 without Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},   /* two Hosts */
        {"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400}, /* an empty Host */
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 400}, /* a body */
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},              /* asterisk-form */
        {"GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* authority-form */
        {"GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/11\r\nHost: a\r\n\r\n", 400},
        {"GET / http/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400}, /* HTTP/0.9 */
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    };
    check_all(w, sizeof(w) / sizeof(w[0]));
}

static void test_other_methods_405_versions_505(void **state)
{
    (void)state;
    static const struct want w[] = {
        {"POST / HTTP/1.1\r\nHost: a\r\n\r\n", 405},
        {"get / HTTP/1.1\r\nHost: a\r\n\r\n", 405}, /* methods are case-sensitive */
        {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 405},
        {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505}, /* the HTTP/2 preface */
        {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
    };
    check_all(w, sizeof(w) / sizeof(w[0]));
}

/* A head of n bytes: the request line, fields of filler, the blank line. */
static char *head_with(size_t line_len, size_t n_fields, size_t field_len, bool complete)
{
    size_t cap = line_len + 64 + n_fields * (field_len + 16) + 8;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, cap, "GET /");
    while (n < line_len - strlen(" HTTP/1.1"))
        s[n++] = 'a';
    n += (size_t)snprintf(s + n, cap - n, " HTTP/1.1\r\nHost: a\r\n");
    for (size_t i = 0; i < n_fields; i++) {
        n += (size_t)snprintf(s + n, cap - n, "X-%zu: ", i);
        for (size_t j = 0; j < field_len; j++)
            s[n++] = 'v';
        s[n++] = '\r';
        s[n++] = '\n';
    }
    if (complete)
        n += (size_t)snprintf(s + n, cap - n, "\r\n");
    s[n] = '\0';
    return s;
}

static void test_limits_414_431(void **state)
{
    (void)state;
    struct nt_http_request req;
    char *s = head_with(NT_HTTP_MAX_LINE, 0, 0, true);
    assert_int_equal(parse(s, &req), 200); /* a request line of exactly 4096 bytes */
    free(s);
    s = head_with(NT_HTTP_MAX_LINE + 1, 0, 0, true);
    assert_int_equal(parse(s, &req), 414);
    s[NT_HTTP_MAX_LINE + 1] = '\0'; /* too long before its end has come */
    assert_int_equal(parse(s, &req), 414);
    free(s);
    s = head_with(20, NT_HTTP_MAX_HEADERS - 1, 4, true); /* 63 + Host = 64 fields */
    assert_int_equal(parse(s, &req), 200);
    assert_int_equal(req.n_fields, NT_HTTP_MAX_HEADERS);
    free(s);
    s = head_with(20, NT_HTTP_MAX_HEADERS, 4, true);
    assert_int_equal(parse(s, &req), 431);
    free(s);
    s = head_with(20, 20, 500, true); /* about 10 KB in 21 fields */
    assert_int_equal(parse(s, &req), 431);
    s[NT_HTTP_MAX_HEAD + 1] = '\0'; /* over 8 KiB with no blank line yet */
    assert_int_equal(parse(s, &req), 431);
    free(s);
    s = head_with(20, 0, 0, false); /* incomplete, small */
    assert_int_equal(parse(s, &req), 0);
    free(s);
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(nt_http_reason(400), "Bad Request");
    assert_string_equal(nt_http_reason(405), "Method Not Allowed");
    assert_string_equal(nt_http_reason(414), "URI Too Long");
    assert_string_equal(nt_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(nt_http_reason(505), "HTTP Version Not Supported");
    assert_false(nt_http_has_token("", 0, "x"));
    assert_true(nt_http_has_token(",,x ,", 5, "X"));
    assert_false(nt_http_has_token("xx", 2, "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_requests),
        cmocka_unit_test(test_incomplete_heads_ask_for_more),
        cmocka_unit_test(test_bad_syntax_is_400),
        cmocka_unit_test(test_other_methods_405_versions_505),
        cmocka_unit_test(test_limits_414_431),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
