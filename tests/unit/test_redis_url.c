/* SPDX-License-Identifier: MIT */
/* test_redis_url.c - unit tests for redis_url.c: --redis URLs, their refusals and their form. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/redis_url.h"
#include "lib/util.h"

/* Parses s from an exact-size heap copy (ASan sees a read past its end). */
static int parse(const char *s, struct nt_redis_url *u, const char **why)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, s, n);
    *why = NULL;
    int rc = nt_redis_url_parse(copy, u, why);
    free(copy);
    return rc;
}

/* Parses s, which must be good, and checks that its full form parses back to the same. */
static struct nt_redis_url good(const char *s)
{
    struct nt_redis_url u, again;
    const char *why;
    if (parse(s, &u, &why) != 0)
        print_error("'%s' refused: %s\n", s, why);
    assert_int_equal(parse(s, &u, &why), 0);
    char text[512];
    size_t n = nt_redis_url_format(&u, text, sizeof(text));
    assert_int_equal(n, strlen(text));
    assert_int_equal(parse(text, &again, &why), 0);
    assert_memory_equal(&u, &again, sizeof(u));
    return u;
}

static void test_tcp(void **state)
{
    (void)state;
    struct nt_redis_url u = good("redis://127.0.0.1:6390/1");
    assert_int_equal(u.kind, NT_REDIS_URL_TCP);
    assert_string_equal(u.host, "127.0.0.1");
    assert_true(u.is_numeric);
    assert_false(u.is_ipv6);
    assert_int_equal(u.port, 6390);
    assert_int_equal(u.db, 1);
    assert_string_equal(u.path, "");

    u = good("redis://redis.internal");
    assert_string_equal(u.host, "redis.internal");
    assert_false(u.is_numeric);
    assert_int_equal(u.port, NT_REDIS_URL_DEFAULT_PORT);
    assert_int_equal(u.db, 0);

    u = good("REDIS://Cache-01.example.org.:1/15");
    assert_string_equal(u.host, "Cache-01.example.org."); /* a rooted name keeps its dot */
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 15);

    u = good("redis://[::1]:65535/3");
    assert_string_equal(u.host, "::1");
    assert_true(u.is_numeric);
    assert_true(u.is_ipv6);
    assert_int_equal(u.port, 65535);
    assert_int_equal(u.db, 3);

    u = good("redis://[2001:db8::7]");
    assert_string_equal(u.host, "2001:db8::7");
    assert_int_equal(u.port, 6379);

    u = good("redis://[::ffff:10.0.0.1]/2");
    assert_true(u.is_ipv6);
    assert_int_equal(u.db, 2);

    u = good("redis://redis_1:06379/007"); /* compose names have '_'; leading zeros are fine */
    assert_string_equal(u.host, "redis_1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 7);

    u = good("redis://localhost");
    assert_string_equal(u.host, "localhost");

    u = good("redis://3com.example"); /* labels may start with a digit */
    assert_false(u.is_numeric);

    char longest[300];
    size_t n = 0;
    n += (size_t)snprintf(longest, sizeof(longest), "redis://");
    for (int i = 0; i < 3; i++) { /* 3 labels of 63, 3 dots and one label of 61: 253 */
        memset(longest + n, 'a' + i, 63);
        n += 63;
        longest[n++] = '.';
    }
    memset(longest + n, 'z', 61);
    n += 61;
    longest[n] = '\0';
    u = good(longest);
    assert_int_equal(strlen(u.host), NT_REDIS_URL_MAX_HOST);
}

static void test_unix(void **state)
{
    (void)state;
    struct nt_redis_url u = good("unix:///run/redis/redis-server.sock");
    assert_int_equal(u.kind, NT_REDIS_URL_UNIX);
    assert_string_equal(u.path, "/run/redis/redis-server.sock");
    assert_string_equal(u.host, "");
    assert_int_equal(u.port, 0);
    assert_int_equal(u.db, 0);

    u = good("UNIX:///tmp/r.sock?db=12");
    assert_string_equal(u.path, "/tmp/r.sock");
    assert_int_equal(u.db, 12);

    u = good("unix:///a b/#c.sock?db=0"); /* anything but '?' is part of the path */
    assert_string_equal(u.path, "/a b/#c.sock");

    char path[200] = "unix://";
    size_t n = strlen(path);
    path[n++] = '/';
    memset(path + n, 'p', NT_REDIS_URL_MAX_PATH - 1);
    path[n + NT_REDIS_URL_MAX_PATH - 1] = '\0';
    u = good(path);
    assert_int_equal(strlen(u.path), NT_REDIS_URL_MAX_PATH);
}

struct bad {
    const char *url;
    const char *why; /* a part of the reason */
};

static void test_refused(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"", "empty"},
        {"127.0.0.1:6379", "unknown scheme"},
        {"http://127.0.0.1", "unknown scheme"},
        {"redis:/127.0.0.1", "unknown scheme"},
        {"rediss://127.0.0.1:6380", "TLS"},
        {"unix:/tmp/r.sock", "unix:///PATH"},
        {"redis://", "missing host"},
        {"redis://:6379", "missing host"},
        {"redis:///1", "missing host"},
        {"redis://user:pw@127.0.0.1", "password"},
        {"redis://:pw@localhost:6379/0", "password"},
        {"redis://::1", "brackets"},
        {"redis://fe80::1:6379", "brackets"},
        {"redis://[::1", "missing ']'"},
        {"redis://[]:6379", "IPv6"},
        {"redis://[::g]", "IPv6"},
        {"redis://[fe80::1%eth0]", "IPv6"},
        {"redis://[127.0.0.1]", "IPv6"},
        {"redis://[::1]6379", "after ']'"},
        {"redis://[::1]x", "after ']'"},
        {"redis://127.0.0.256", "IPv4"},
        {"redis://127.1", "IPv4"},
        {"redis://2130706433", "IPv4"},
        {"redis://1.2.3.4.", "IPv4"},
        {"redis://1.2.3.4.5", "IPv4"},
        {"redis://host:", "missing port"},
        {"redis://host:/1", "missing port"},
        {"redis://host:0", "1 to 65535"},
        {"redis://host:65536", "1 to 65535"},
        {"redis://host:99999999999999999999", "1 to 65535"},
        {"redis://host:-1", "1 to 65535"},
        {"redis://host:+6379", "1 to 65535"},
        {"redis://host:63 79", "1 to 65535"},
        {"redis://host:6379:1", "brackets"},
        {"redis://host/", "missing database"},
        {"redis://host/16", "0 to 15"},
        {"redis://host/-0", "0 to 15"},
        {"redis://host/1/2", "0 to 15"},
        {"redis://host/x", "0 to 15"},
        {"redis://host?db=1", "no parameters"},
        {"redis://host:6379/1?x", "no parameters"},
        {"redis://host#frag", "unexpected text"},
        {"redis://host/1#frag", "unexpected text"},
        {"redis://ho st", "letters, digits"},
        {"redis://ho\tst", "letters, digits"},
        {"redis://h\xc3\xa9.example", "letters, digits"},
        {"redis://a..b", "labels"},
        {"redis://.a", "labels"},
        {"redis://.", "labels"},
        {"redis://a..", "labels"},
        {"redis://-a.b", "labels"},
        {"redis://a-.b", "labels"},
        {"redis://a.b-", "labels"},
        {"redis://a.b-.", "labels"},
        {"unix://", "absolute path"},
        {"unix://tmp/r.sock", "absolute path"},
        {"unix:///", "missing path"},
        {"unix:///?db=1", "missing path"},
        {"unix:///tmp/r.sock?", "?db=N"},
        {"unix:///tmp/r.sock?database=1", "?db=N"},
        {"unix:///tmp/r.sock?db=", "missing database"},
        {"unix:///tmp/r.sock?db=16", "0 to 15"},
        {"unix:///tmp/r.sock?db=1x", "0 to 15"},
        {"unix:///tmp/r.sock?db=1&db=2", "?db=N"},
        {"unix:///tmp/r.sock?db=1?", "0 to 15"},
    };
    for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
        struct nt_redis_url u;
        const char *why;
        int rc = parse(cases[i].url, &u, &why);
        if (rc != -1 || why == NULL || strstr(why, cases[i].why) == NULL)
            print_error("'%s': rc %d, why '%s', expected '%s'\n", cases[i].url, rc,
                        why ? why : "(null)", cases[i].why);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(why != NULL ? why : "", cases[i].why));
    }
}

static void test_over_long(void **state)
{
    (void)state;
    struct nt_redis_url u;
    const char *why;
    char s[400] = "redis://";
    size_t n = strlen(s);
    for (int i = 0; i < 3; i++) { /* 254 characters: one over */
        memset(s + n, 'a', 63);
        n += 63;
        s[n++] = '.';
    }
    memset(s + n, 'z', 62);
    n += 62;
    s[n] = '\0';
    assert_int_equal(parse(s, &u, &why), -1);
    assert_non_null(strstr(why, "over-long host"));
    s[n++] = '.'; /* a trailing dot is not counted, but it is still one over */
    s[n] = '\0';
    assert_int_equal(parse(s, &u, &why), -1);
    assert_non_null(strstr(why, "over-long host"));

    char label[80] = "redis://";
    n = strlen(label);
    memset(label + n, 'a', 64); /* a label of 64 */
    memcpy(label + n + 64, ".b", 3);
    assert_int_equal(parse(label, &u, &why), -1);
    assert_non_null(strstr(why, "labels"));
    memcpy(label + n + 63, ".b", 3); /* 63: fine */
    assert_int_equal(parse(label, &u, &why), 0);

    char p[300] = "unix://";
    n = strlen(p);
    p[n++] = '/';
    memset(p + n, 'p', NT_REDIS_URL_MAX_PATH); /* 108 bytes with the '/' */
    p[n + NT_REDIS_URL_MAX_PATH] = '\0';
    assert_int_equal(parse(p, &u, &why), -1);
    assert_non_null(strstr(why, "over-long path"));
}

static void test_format(void **state)
{
    (void)state;
    struct nt_redis_url u;
    const char *why;
    char text[128];
    assert_int_equal(parse("redis://localhost", &u, &why), 0);
    nt_redis_url_format(&u, text, sizeof(text));
    assert_string_equal(text, "redis://localhost:6379/0");
    assert_int_equal(parse("redis://[::1]:7000/2", &u, &why), 0);
    nt_redis_url_format(&u, text, sizeof(text));
    assert_string_equal(text, "redis://[::1]:7000/2");
    assert_int_equal(parse("unix:///run/r.sock", &u, &why), 0);
    assert_int_equal(nt_redis_url_format(&u, text, sizeof(text)),
                     strlen("unix:///run/r.sock?db=0"));
    assert_string_equal(text, "unix:///run/r.sock?db=0");
    /* Cut short, still terminated; the full length is returned. */
    assert_int_equal(nt_redis_url_format(&u, text, 8), strlen("unix:///run/r.sock?db=0"));
    assert_string_equal(text, "unix://");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp),     cmocka_unit_test(test_unix),
        cmocka_unit_test(test_refused), cmocka_unit_test(test_over_long),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
