/* SPDX-License-Identifier: MIT */
/* fuzz_names.c - libFuzzer harness for names.c: name rules, case folding, the registry (§2.2). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/names.h"
#include "lib/text.h"

/*
 * Input: records separated by LF, as name lines from peers. The first byte of a record picks an
 * operation on one registry, the rest is the name:
 *   % 4 == 0, 1  register (only names nt_names_check() accepts, as chat.c does)
 *   % 4 == 2     look up          % 4 == 3  remove
 * A shadow model (an array of folded keys) says what each call must return. Checks:
 * - nt_names_check() never crashes on any bytes, and has a message exactly when it refuses;
 * - a valid name folds to valid UTF-8 of the same number of characters, within
 *   NT_NAME_MAX_BYTES, NUL-terminated; folding is idempotent; an ASCII name folds to lower case;
 * - two ASCII names collide exactly when they are equal ignoring case;
 * - add / find / remove agree with the model; count matches; the table stays at most half full;
 * - find and remove with a name the rules refuse (/msg NAME gets any bytes) never crash and
 *   never find anybody: only valid names are registered; folding any bytes either fits the
 *   buffer or returns NT_NAME_FOLD_TOO_LONG, never a cut-off prefix (which once let a
 *   33-character name find a 32-character one: corpus/names/seed-regression-fold-truncation).
 */

#define MAX_NAMES 512

struct entry {
    char key[NT_NAME_MAX_BYTES + 1]; /* folded */
    char name[NT_NAME_MAX_BYTES + 1];
    size_t name_len;
    void *owner;
};

static size_t count_chars(const char *s, size_t n, bool *valid)
{
    size_t chars = 0;
    *valid = true;
    for (size_t i = 0; i < n; chars++) {
        uint32_t cp;
        i += nt_text_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (cp == UINT32_MAX)
            *valid = false;
    }
    return chars;
}

static bool is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return false;
    }
    return true;
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool ascii_equal_ignoring_case(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++) {
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    }
    return true;
}

/* Checks one valid name's fold; writes it to key. */
static size_t check_fold(const char *name, size_t len, char *key)
{
    size_t klen = nt_names_fold(name, len, key);
    CHECK(klen <= NT_NAME_MAX_BYTES && key[klen] == '\0' && strlen(key) == klen);
    bool valid_in, valid_out;
    size_t chars = count_chars(name, len, &valid_in);
    CHECK(valid_in);
    CHECK(count_chars(key, klen, &valid_out) == chars && valid_out);
    char again[NT_NAME_MAX_BYTES + 1];
    size_t alen = nt_names_fold(key, klen, again);
    CHECK(alen == klen && memcmp(again, key, klen) == 0);
    if (is_ascii(name, len)) {
        CHECK(klen == len);
        for (size_t i = 0; i < len; i++)
            CHECK(key[i] == ascii_lower(name[i]));
    }
    return klen;
}

static struct entry *model_find(struct entry *model, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(model[i].key, key) == 0)
            return &model[i];
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct entry model[MAX_NAMES];
    size_t n = 0;
    uintptr_t next_owner = 1;
    struct nt_names reg;
    nt_names_init(&reg);

    for (size_t off = 0; off < size;) {
        const uint8_t *lf = memchr(data + off, '\n', size - off);
        size_t rec_len = lf ? (size_t)(lf - (data + off)) : size - off;
        const uint8_t *rec = data + off;
        off += rec_len + 1;
        if (rec_len == 0)
            continue;
        unsigned op = rec[0] % 4;
        /* An exact-size copy: ASan sees reads past the name. */
        size_t len = rec_len - 1;
        char *raw = malloc(len ? len : 1);
        CHECK(raw != NULL);
        if (len > 0)
            memcpy(raw, rec + 1, len);
        /* As chat.c does: trim, then check. */
        size_t tlen = len;
        const char *name = nt_text_trim(raw, &tlen);
        enum nt_name_check check = nt_names_check(name, tlen);
        CHECK((nt_names_check_message(check) == NULL) == (check == NT_NAME_OK));
        CHECK(check != NT_NAME_OK || (tlen >= 1 && tlen <= NT_NAME_MAX_BYTES));

        if (check != NT_NAME_OK) {
            /* Arbitrary bytes (/msg NAME gets any): find and remove must not crash. */
            void *owner =
                op == 3 ? nt_names_remove(&reg, name, tlen) : nt_names_find(&reg, name, tlen);
            /* Only valid names are registered, so an invalid one names nobody. */
            CHECK(owner == NULL);
            /* Folding any bytes fits the buffer, or says it does not (never a cut-off prefix);
             * the bytes may hold NULs of their own. */
            char key[NT_NAME_MAX_BYTES + 1];
            size_t klen = nt_names_fold(name, tlen, key);
            CHECK(klen == NT_NAME_FOLD_TOO_LONG ||
                  (klen <= NT_NAME_MAX_BYTES && key[klen] == '\0'));
            free(raw);
            continue;
        }

        char key[NT_NAME_MAX_BYTES + 1];
        check_fold(name, tlen, key);
        struct entry *e = model_find(model, n, key);
        if (e != NULL && is_ascii(name, tlen) && is_ascii(e->name, e->name_len))
            CHECK(ascii_equal_ignoring_case(name, tlen, e->name, e->name_len));
        for (size_t i = 0; e == NULL && i < n; i++) {
            if (is_ascii(name, tlen) && is_ascii(model[i].name, model[i].name_len))
                CHECK(!ascii_equal_ignoring_case(name, tlen, model[i].name, model[i].name_len));
        }

        if (op <= 1) {
            void *owner = (void *)next_owner++;
            int rc = nt_names_add(&reg, name, tlen, owner);
            if (e != NULL) {
                CHECK(rc == -EEXIST);
            } else {
                CHECK(rc == 0);
                if (n < MAX_NAMES) {
                    e = &model[n++];
                    memcpy(e->key, key, sizeof(e->key));
                    memcpy(e->name, name, tlen);
                    e->name_len = tlen;
                    e->owner = owner;
                } else {
                    CHECK(nt_names_remove(&reg, name, tlen) == owner); /* keep the model whole */
                }
            }
        } else if (op == 2) {
            CHECK(nt_names_find(&reg, name, tlen) == (e ? e->owner : NULL));
        } else {
            CHECK(nt_names_remove(&reg, name, tlen) == (e ? e->owner : NULL));
            if (e != NULL) {
                *e = model[--n];
                CHECK(nt_names_find(&reg, name, tlen) == NULL);
            }
        }
        CHECK(reg.count == n);
        CHECK(reg.cap == 0 || (reg.used <= reg.cap / 2 && reg.count <= reg.used));
        free(raw);
    }

    /* Every name still registered is found under its own spelling. */
    for (size_t i = 0; i < n; i++)
        CHECK(nt_names_find(&reg, model[i].name, model[i].name_len) == model[i].owner);
    nt_names_fini(&reg);
    CHECK(reg.slots == NULL && reg.count == 0);
    return 0;
}
