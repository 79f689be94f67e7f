/* SPDX-License-Identifier: MIT */
/* util.h - allocation that never returns NULL, assertions, small macros. */
#ifndef NT_UTIL_H
#define NT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Container of a member: the struct of type `type` whose field `member` is at `ptr`. */
#define NT_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* The same for a pointer to const. */
#define NT_CONTAINER_OF_CONST(ptr, type, member)                                                   \
    ((const type *)(const void *)((const char *)(ptr)-offsetof(type, member)))

#define NT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Program-bug check, on in release builds: prints file:line and the condition, then aborts. */
#define NT_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            nt_assert_fail(__FILE__, __LINE__, #cond);                                             \
    } while (0)

/* Prints "file:line: assertion failed: cond" on stderr and aborts. Never returns. */
_Noreturn void nt_assert_fail(const char *file, int line, const char *cond);

/*
 * malloc/calloc/realloc/strndup that abort on out-of-memory instead of returning NULL: natter caps
 * every per-client buffer, so running out of memory is not a peer's doing. Sizes of 0 are allowed
 * and return a unique pointer that must be freed.
 */
void *nt_xmalloc(size_t size);
void *nt_xcalloc(size_t n, size_t size);
void *nt_xrealloc(void *p, size_t size);
char *nt_xstrndup(const char *s, size_t len);

/* The wall clock in ms since the epoch (UTC): event times, the cluster's messages, /metrics. */
uint64_t nt_wall_ms(void);

/* An intrusive doubly-linked list; a head is a node whose next/prev point to itself when empty.
 * A node that is in no list has next == NULL. */
struct nt_list {
    struct nt_list *prev;
    struct nt_list *next;
};

static inline void nt_list_init(struct nt_list *head)
{
    head->prev = head->next = head;
}

static inline int nt_list_is_empty(const struct nt_list *head)
{
    return head->next == head;
}

static inline int nt_list_is_linked(const struct nt_list *node)
{
    return node->next != NULL;
}

/* Appends node (in no list) at the tail of head. */
static inline void nt_list_append(struct nt_list *head, struct nt_list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

/* Unlinks node if it is in a list; then it is in none. */
static inline void nt_list_remove(struct nt_list *node)
{
    if (node->next == NULL)
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = NULL;
}

#endif
