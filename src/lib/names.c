/* SPDX-License-Identifier: MIT */
/* names.c - name rules (PROTOCOL.md §2.2), case folding, and the registry of taken names. */
#include "names.h"

#include <errno.h>
#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "text.h"
#include "util.h"

static bool is_unicode_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

static bool is_forbidden_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF || cp == 0xFFFD;
}

enum nt_name_check nt_names_check(const char *name, size_t len)
{
    if (len == 0)
        return NT_NAME_EMPTY;
    /* Decode everything first: a byte-level problem is named before a rule about characters. */
    const unsigned char *s = (const unsigned char *)name;
    size_t chars = 0;
    enum nt_name_check worst = NT_NAME_OK;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += nt_text_utf8_decode(s + i, len - i, &cp);
        if (cp == UINT32_MAX)
            return NT_NAME_BAD_UTF8;
        chars++;
        if (worst == NT_NAME_OK && is_unicode_space(cp))
            worst = NT_NAME_SPACE;
        else if (worst == NT_NAME_OK && is_forbidden_control(cp))
            worst = NT_NAME_CONTROL;
    }
    if (worst != NT_NAME_OK)
        return worst;
    if (chars > NT_NAME_MAX_CHARS)
        return NT_NAME_TOO_LONG;
    /* Every name is also a legal IRC nick (PROTOCOL.md §8.1), as Ergo has them. */
    for (size_t i = 0; i < len; i++) {
        if (strchr(",*?.!@:", name[i]) != NULL && name[i] != '\0')
            return NT_NAME_BAD_CHAR;
    }
    if (strchr("/#~&%+-", name[0]) != NULL && name[0] != '\0')
        return NT_NAME_BAD_START;
    return NT_NAME_OK;
}

const char *nt_names_check_message(enum nt_name_check check)
{
    switch (check) {
    case NT_NAME_EMPTY:
        return "Name cannot be empty.";
    case NT_NAME_TOO_LONG:
        return "Name is too long (at most 32 characters).";
    case NT_NAME_BAD_UTF8:
        return "Name is not valid UTF-8.";
    case NT_NAME_SPACE:
        return "Name cannot contain spaces.";
    case NT_NAME_CONTROL:
        return "Name cannot contain control characters.";
    case NT_NAME_BAD_START:
        return "Name cannot start with '/', '#', '~', '&', '%', '+' or '-'.";
    case NT_NAME_BAD_CHAR:
        return "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'.";
    default:
        return NULL;
    }
}

/* glibc 2.35+ has C.UTF-8 built in, so this works on any Debian 12 without generated locales. */
static locale_t fold_locale(void)
{
    static locale_t loc;
    static bool tried;
    if (!tried) {
        tried = true;
        loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    }
    return loc;
}

static uint32_t fold_cp(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    locale_t loc = fold_locale();
    if (loc == (locale_t)0)
        return cp;
    /* Lower of upper also maps the variants simple folding merges: final sigma, Kelvin sign. */
    wint_t up = towupper_l((wint_t)cp, loc);
    uint32_t folded = (uint32_t)towlower_l(up, loc);
    /* A fold must not leave the set of code points valid in a name. */
    return folded <= 0x10FFFF ? folded : cp;
}

size_t nt_names_fold(const char *name, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (o + 4 > NT_NAME_MAX_BYTES) {
            /* Longer than any name: cutting it would make it equal to a name it is not. */
            out[o] = '\0';
            return NT_NAME_FOLD_TOO_LONG;
        }
        uint32_t cp;
        i += nt_text_utf8_decode(s + i, len - i, &cp);
        if (cp == UINT32_MAX)
            cp = 0xFFFD;
        o += nt_text_utf8_encode(fold_cp(cp), out + o);
    }
    out[o] = '\0';
    return o;
}

/* The registry: open addressing with linear probing, keyed by the folded name. */
struct nt_name_slot {
    char *key; /* owned folded name; NULL = empty; TOMBSTONE = removed */
    uint64_t hash;
    void *owner; /* borrowed */
};

static char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

static uint64_t hash_key(const char *key, size_t len)
{
    /* FNV-1a: keys are short and chosen by peers; the table never degrades past linear probing
     * of a half-full table for non-adversarial input. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void nt_names_init(struct nt_names *reg)
{
    memset(reg, 0, sizeof(*reg));
}

void nt_names_fini(struct nt_names *reg)
{
    for (size_t i = 0; i < reg->cap; i++) {
        if (reg->slots[i].key != NULL && reg->slots[i].key != TOMBSTONE)
            free(reg->slots[i].key);
    }
    free(reg->slots);
    memset(reg, 0, sizeof(*reg));
}

/* Returns the slot holding key, or NULL. */
static struct nt_name_slot *lookup(const struct nt_names *reg, const char *key, uint64_t h)
{
    if (reg->cap == 0)
        return NULL;
    size_t mask = reg->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct nt_name_slot *slot = &reg->slots[i];
        if (slot->key == NULL)
            return NULL;
        if (slot->key != TOMBSTONE && slot->hash == h && strcmp(slot->key, key) == 0)
            return slot;
    }
}

static void insert(struct nt_names *reg, char *key, uint64_t h, void *owner)
{
    size_t mask = reg->cap - 1;
    size_t i = h & mask;
    while (reg->slots[i].key != NULL && reg->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (reg->slots[i].key == NULL)
        reg->used++;
    reg->slots[i] = (struct nt_name_slot){key, h, owner};
    reg->count++;
}

/* Keeps the table at most half full of names and tombstones, rebuilding without tombstones. */
static void make_room(struct nt_names *reg)
{
    if (reg->cap != 0 && (reg->used + 1) * 2 <= reg->cap)
        return;
    size_t cap = reg->cap ? reg->cap : 16;
    while ((reg->count + 1) * 2 > cap)
        cap *= 2;
    struct nt_name_slot *old = reg->slots;
    size_t old_cap = reg->cap;
    reg->slots = nt_xcalloc(cap, sizeof(*reg->slots));
    reg->cap = cap;
    reg->count = 0;
    reg->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key != NULL && old[i].key != TOMBSTONE)
            insert(reg, old[i].key, old[i].hash, old[i].owner);
    }
    free(old);
}

int nt_names_add(struct nt_names *reg, const char *name, size_t len, void *owner)
{
    char key[NT_NAME_MAX_BYTES + 1];
    size_t klen = nt_names_fold(name, len, key);
    if (klen == NT_NAME_FOLD_TOO_LONG)
        return -EINVAL;
    uint64_t h = hash_key(key, klen);
    if (lookup(reg, key, h) != NULL)
        return -EEXIST;
    make_room(reg);
    insert(reg, nt_xstrndup(key, klen), h, owner);
    return 0;
}

void *nt_names_remove(struct nt_names *reg, const char *name, size_t len)
{
    char key[NT_NAME_MAX_BYTES + 1];
    size_t klen = nt_names_fold(name, len, key);
    if (klen == NT_NAME_FOLD_TOO_LONG)
        return NULL;
    struct nt_name_slot *slot = lookup(reg, key, hash_key(key, klen));
    if (slot == NULL)
        return NULL;
    void *owner = slot->owner;
    free(slot->key);
    slot->key = TOMBSTONE;
    slot->owner = NULL;
    reg->count--;
    return owner;
}

void *nt_names_find(const struct nt_names *reg, const char *name, size_t len)
{
    char key[NT_NAME_MAX_BYTES + 1];
    size_t klen = nt_names_fold(name, len, key);
    if (klen == NT_NAME_FOLD_TOO_LONG)
        return NULL;
    struct nt_name_slot *slot = lookup(reg, key, hash_key(key, klen));
    return slot ? slot->owner : NULL;
}
