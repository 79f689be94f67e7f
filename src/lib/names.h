/* SPDX-License-Identifier: MIT */
/* names.h - name rules, case folding, uniqueness; name -> owner lookup. Pure. */
#ifndef NT_NAMES_H
#define NT_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define NT_NAME_MAX_CHARS 32
/* A folded name is at most this many bytes (32 code points of up to 4 bytes) plus a NUL. */
#define NT_NAME_MAX_BYTES ((size_t)NT_NAME_MAX_CHARS * 4)

enum nt_name_check {
    NT_NAME_OK,
    NT_NAME_EMPTY,
    NT_NAME_TOO_LONG,
    NT_NAME_BAD_UTF8,
    NT_NAME_SPACE,
    NT_NAME_CONTROL,
    NT_NAME_BAD_START,
    NT_NAME_BAD_CHAR, /* one of , * ? . ! @ : (not allowed in IRC nicks) */
};

/* Checks name[0..len) against PROTOCOL.md §2.2 (everything but uniqueness). The name must already
 * be trimmed. */
enum nt_name_check nt_names_check(const char *name, size_t len);

/* The reply line for a refused name (PROTOCOL.md §2.3), without LF; NULL for NT_NAME_OK. */
const char *nt_names_check_message(enum nt_name_check check);

/* nt_names_fold()'s answer for a string whose folded form does not fit: longer than any name. */
#define NT_NAME_FOLD_TOO_LONG ((size_t)-1)

/*
 * Writes the case-folded form of name to out, which holds NT_NAME_MAX_BYTES + 1 bytes,
 * NUL-terminated. Returns its length, or NT_NAME_FOLD_TOO_LONG when it would not fit (so it is no
 * valid name; the registry then finds nothing, and refuses to add it with -EINVAL). Folding is
 * Unicode simple case folding as glibc's C.UTF-8 tables give it (towlower(towupper(c))).
 */
size_t nt_names_fold(const char *name, size_t len, char *out);

/* Registry of taken names: folded name -> owner (borrowed). Open addressing, grows as needed. */
struct nt_names {
    struct nt_name_slot *slots; /* owned */
    size_t cap;                 /* a power of two, or 0 before the first add */
    size_t count;               /* names held */
    size_t used;                /* slots holding a name or a tombstone */
};

void nt_names_init(struct nt_names *reg);
/* Frees the registry's memory (not the owners). */
void nt_names_fini(struct nt_names *reg);

/* Registers the valid name for owner. Returns 0, or -EEXIST (== UV_EEXIST) when its folded form is
 * taken, or -EINVAL when it is too long to fold; the registry is unchanged then. */
int nt_names_add(struct nt_names *reg, const char *name, size_t len, void *owner);

/* Removes the name; returns its owner, or NULL when it was not registered. */
void *nt_names_remove(struct nt_names *reg, const char *name, size_t len);

/* Returns the owner of name (compared folded), or NULL. */
void *nt_names_find(const struct nt_names *reg, const char *name, size_t len);

#endif
