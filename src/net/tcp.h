/* SPDX-License-Identifier: MIT */
/* tcp.h - the plain TCP transport: a uv_tcp_t, read into one shared buffer, zero-copy writes. */
#ifndef NT_TCP_H
#define NT_TCP_H

#include <uv.h>

#include "net/transport.h"

struct nt_tcp {
    struct nt_transport base;
    uv_tcp_t handle; /* embedded; handle.data is the owner's */
    char *read_buf;  /* borrowed: one buffer shared by every conn (reads are synchronous) */
    size_t read_size;
    uv_shutdown_t sreq; /* embedded: at most one shutdown per stream */
};

/*
 * Initialises t's handle on loop. read_buf (read_size bytes, borrowed) receives every read.
 * Returns 0 or a libuv error. The owner closes t->handle itself (uv_close), once.
 */
int nt_tcp_init(struct nt_tcp *t, uv_loop_t *loop, char *read_buf, size_t read_size);

#endif
