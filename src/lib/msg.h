/* SPDX-License-Identifier: MIT */
/* msg.h - refcounted, immutable outbound message shared by many send queues. */
#ifndef NT_MSG_H
#define NT_MSG_H

#include <stddef.h>
#include <stdint.h>

/* One outbound message. Immutable once built; freed when the last reference is dropped. */
struct nt_msg {
    uint32_t refs;   /* references held by builders, events and send queues */
    uint32_t len;    /* bytes in data */
    uint32_t queued; /* of those references, the ones held by send queues (net/conn.c counts the
                        bytes of a message queued anywhere once, against --max-output-total) */
    char data[];     /* owned, len bytes, not NUL-terminated */
};

/* Returns a message of len bytes with one reference, for the caller to fill before sharing. */
struct nt_msg *nt_msg_new(size_t len);

/*
 * Returns a message holding the concatenation of n parts (parts[i] of lens[i] bytes), with one
 * reference owned by the caller.
 */
struct nt_msg *nt_msg_concat(const char *const *parts, const size_t *lens, size_t n);

/* Returns a message holding the NUL-terminated string s, one reference owned by the caller. */
struct nt_msg *nt_msg_from_str(const char *s);

/* Takes one more reference; returns msg. */
struct nt_msg *nt_msg_ref(struct nt_msg *msg);

/* Drops one reference; the message is freed with the last one. */
void nt_msg_unref(struct nt_msg *msg);

#endif
