/* SPDX-License-Identifier: MIT */
/* transport.h - a byte stream under a conn: plain TCP, or TLS or a WebSocket stacked on another
 * transport. */
#ifndef NT_TRANSPORT_H
#define NT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct nt_transport;

/* What a transport calls on its user (a conn, or a transport stacked on it). */
struct nt_transport_up {
    /* nread > 0: that many bytes at data, valid during the call only. nread < 0: UV_EOF or an
     * error; no more reads come. The user may call read_stop() or anything else from here. */
    void (*on_read)(struct nt_transport *t, ssize_t nread, const char *data);
    /* Output the transport was holding has drained: a try_write() that returned less than it was
     * offered may be repeated now. */
    void (*on_writable)(struct nt_transport *t);
    /* The shutdown() asked for is done (status 0) or failed (< 0). */
    void (*on_shutdown)(struct nt_transport *t, int status);
    /* A transport's own bytes for the peer (a WebSocket's Pong or Close): the user queues a copy
     * of data[0..n) after its own output, within its output cap unless past_cap (a Close, the
     * last thing sent). Never called by TCP or TLS. */
    void (*on_reply)(struct nt_transport *t, const char *data, size_t n, bool past_cap);
};

struct nt_transport_ops {
    /* Starts or resumes reading. Returns 0 or a libuv error. May call up->on_read before it
     * returns when the transport already holds input (TLS records decrypted earlier). */
    int (*read_start)(struct nt_transport *t);
    /* Stops reading; what arrives meanwhile waits in the kernel (TCP back-pressure). */
    void (*read_stop)(struct nt_transport *t);
    /*
     * Writes what it can of bufs now, without blocking. Returns the bytes taken (> 0; they are
     * sent or copied: the caller's buffers are free again), UV_EAGAIN when it takes nothing now
     * (then up->on_writable follows when it can), or another libuv error.
     */
    int (*try_write)(struct nt_transport *t, const uv_buf_t *bufs, unsigned n);
    /*
     * Writes all of bufs later, without copying: the caller keeps them valid until cb(req).
     * req->data is the caller's. NULL for a transport that copies (TLS): the caller then waits
     * for on_writable and tries again.
     */
    int (*write)(struct nt_transport *t, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                 uv_write_cb cb);
    /* Sends the end of the stream (TCP FIN; TLS close_notify, then its lower's shutdown) after
     * everything written; up->on_shutdown reports it. Returns 0 or a libuv error. */
    int (*shutdown)(struct nt_transport *t);
    /* Bytes taken but not yet handed to the kernel (libuv's write queue, TLS records). */
    size_t (*pending)(const struct nt_transport *t);
};

/* Embedded in each transport. */
struct nt_transport {
    const struct nt_transport_ops *ops; /* static */
    const struct nt_transport_up *up;   /* static; set by the user */
    void *up_ctx;                       /* the user's, for its callbacks */
    const char *name;                   /* "tcp", "tls", "ws": for logs */
};

#endif
