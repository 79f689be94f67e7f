/* SPDX-License-Identifier: MIT */
/* test_msg.c - unit tests for msg.c: building, sharing and freeing outbound messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/msg.h"

/* Under ASan a leaked message, a double free or a use after the last unref is reported. */

static void test_new(void **state)
{
    (void)state;
    struct nt_msg *m = nt_msg_new(5);
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    assert_int_equal(m->len, 5);
    memcpy(m->data, "hello", 5); /* the caller fills all len bytes */
    assert_memory_equal(m->data, "hello", 5);
    nt_msg_unref(m);
}

static void test_new_empty(void **state)
{
    (void)state;
    struct nt_msg *m = nt_msg_new(0);
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    assert_int_equal(m->len, 0);
    nt_msg_unref(m);
}

static void test_new_large(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    struct nt_msg *m = nt_msg_new(n);
    assert_int_equal(m->len, n);
    memset(m->data, 'x', n); /* ASan: the whole of data is ours */
    assert_int_equal(m->data[n - 1], 'x');
    nt_msg_unref(m);
}

static void test_from_str(void **state)
{
    (void)state;
    struct nt_msg *m = nt_msg_from_str("*** Alice has joined the chat ***\n");
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    assert_int_equal(m->len, 34);
    assert_memory_equal(m->data, "*** Alice has joined the chat ***\n", 34);
    nt_msg_unref(m);

    m = nt_msg_from_str("");
    assert_int_equal(m->len, 0);
    assert_int_equal(m->refs, 1);
    nt_msg_unref(m);
}

static void test_from_str_copies(void **state)
{
    (void)state;
    char *s = malloc(6);
    assert_non_null(s);
    memcpy(s, "hello", 6);
    struct nt_msg *m = nt_msg_from_str(s);
    memset(s, 'X', 5);
    free(s); /* the message owns its own bytes */
    assert_int_equal(m->len, 5);
    assert_memory_equal(m->data, "hello", 5);
    nt_msg_unref(m);
}

static void test_concat(void **state)
{
    (void)state;
    const char *const parts[] = {"Alice", ": ", "Hi Bob!", "\n"};
    const size_t lens[] = {5, 2, 7, 1};
    struct nt_msg *m = nt_msg_concat(parts, lens, 4);
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    assert_int_equal(m->len, 15);
    assert_memory_equal(m->data, "Alice: Hi Bob!\n", 15);
    nt_msg_unref(m);
}

static void test_concat_uses_lens_not_nul(void **state)
{
    (void)state;
    /* lens decide: parts are not NUL-terminated strings, and may hold NUL bytes */
    const char *const parts[] = {"abcdef", "\0x\0", "", "zz"};
    const size_t lens[] = {3, 3, 0, 1};
    struct nt_msg *m = nt_msg_concat(parts, lens, 4);
    assert_int_equal(m->len, 7);
    assert_memory_equal(m->data, "abc\0x\0z", 7);
    nt_msg_unref(m);
}

static void test_concat_empty(void **state)
{
    (void)state;
    struct nt_msg *m = nt_msg_concat(NULL, NULL, 0);
    assert_non_null(m);
    assert_int_equal(m->len, 0);
    assert_int_equal(m->refs, 1);
    nt_msg_unref(m);

    const char *const parts[] = {"", ""};
    const size_t lens[] = {0, 0};
    m = nt_msg_concat(parts, lens, 2);
    assert_int_equal(m->len, 0);
    nt_msg_unref(m);
}

static void test_concat_one_and_large(void **state)
{
    (void)state;
    const char *const one[] = {"single"};
    const size_t one_len[] = {6};
    struct nt_msg *m = nt_msg_concat(one, one_len, 1);
    assert_int_equal(m->len, 6);
    assert_memory_equal(m->data, "single", 6);
    nt_msg_unref(m);

    /* a 4096-byte line with its name and LF, as chat builds it */
    char *text = malloc(4096);
    assert_non_null(text);
    memset(text, 'y', 4096);
    const char *const parts[] = {"Bob", ": ", text, "\n"};
    const size_t lens[] = {3, 2, 4096, 1};
    m = nt_msg_concat(parts, lens, 4);
    assert_int_equal(m->len, 3 + 2 + 4096 + 1);
    assert_memory_equal(m->data, "Bob: ", 5);
    assert_memory_equal(m->data + 5, text, 4096);
    assert_int_equal(m->data[m->len - 1], '\n');
    free(text);
    nt_msg_unref(m);
}

static void test_ref_unref_counts(void **state)
{
    (void)state;
    struct nt_msg *m = nt_msg_from_str("shared\n");
    assert_ptr_equal(nt_msg_ref(m), m);
    assert_int_equal(m->refs, 2);
    assert_ptr_equal(nt_msg_ref(m), m);
    assert_int_equal(m->refs, 3);
    nt_msg_unref(m);
    assert_int_equal(m->refs, 2);
    /* still intact while referenced */
    assert_int_equal(m->len, 7);
    assert_memory_equal(m->data, "shared\n", 7);
    nt_msg_unref(m);
    assert_int_equal(m->refs, 1);
    nt_msg_unref(m); /* freed here: ASan reports a leak otherwise */
}

static void test_many_references(void **state)
{
    (void)state;
    /* one message queued to 10000 recipients, released in any order */
    enum { N = 10000 };
    struct nt_msg *m = nt_msg_from_str("*** Server is shutting down ***\n");
    struct nt_msg **queue = malloc(N * sizeof(*queue));
    assert_non_null(queue);
    for (size_t i = 0; i < N; i++)
        queue[i] = nt_msg_ref(m);
    assert_int_equal(m->refs, N + 1);
    nt_msg_unref(m); /* the builder lets go first */
    assert_int_equal(queue[0]->refs, N);
    for (size_t i = 0; i < N; i++) {
        assert_ptr_equal(queue[i], queue[N - 1]);
        if (i + 1 < N)
            assert_int_equal(queue[N - 1]->refs, N - i);
        nt_msg_unref(queue[i]);
    }
    free(queue);
}

static void test_independent_messages(void **state)
{
    (void)state;
    struct nt_msg *a = nt_msg_from_str("a");
    struct nt_msg *b = nt_msg_from_str("b");
    assert_ptr_not_equal(a, b);
    nt_msg_ref(a);
    nt_msg_unref(b);
    assert_int_equal(a->refs, 2);
    assert_memory_equal(a->data, "a", 1);
    nt_msg_unref(a);
    nt_msg_unref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_new_empty),
        cmocka_unit_test(test_new_large),
        cmocka_unit_test(test_from_str),
        cmocka_unit_test(test_from_str_copies),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_concat_uses_lens_not_nul),
        cmocka_unit_test(test_concat_empty),
        cmocka_unit_test(test_concat_one_and_large),
        cmocka_unit_test(test_ref_unref_counts),
        cmocka_unit_test(test_many_references),
        cmocka_unit_test(test_independent_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
