/* SPDX-License-Identifier: MIT */
/* tcp.c - the plain TCP transport over libuv. */
#include "net/tcp.h"

#include "lib/util.h"

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct nt_tcp *t = NT_CONTAINER_OF(handle, struct nt_tcp, handle);
    (void)suggested;
    buf->base = t->read_buf;
    buf->len = t->read_size;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct nt_tcp *t = NT_CONTAINER_OF(stream, struct nt_tcp, handle);
    if (nread == 0)
        return; /* EAGAIN, not EOF */
    t->base.up->on_read(&t->base, nread, buf->base);
}

static int tcp_read_start(struct nt_transport *base)
{
    struct nt_tcp *t = NT_CONTAINER_OF(base, struct nt_tcp, base);
    return uv_read_start((uv_stream_t *)&t->handle, on_alloc, on_read);
}

static void tcp_read_stop(struct nt_transport *base)
{
    struct nt_tcp *t = NT_CONTAINER_OF(base, struct nt_tcp, base);
    uv_read_stop((uv_stream_t *)&t->handle);
}

static int tcp_try_write(struct nt_transport *base, const uv_buf_t *bufs, unsigned n)
{
    struct nt_tcp *t = NT_CONTAINER_OF(base, struct nt_tcp, base);
    int rc = uv_try_write((uv_stream_t *)&t->handle, bufs, n);
    return rc == 0 ? UV_EAGAIN : rc;
}

static int tcp_write(struct nt_transport *base, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                     uv_write_cb cb)
{
    struct nt_tcp *t = NT_CONTAINER_OF(base, struct nt_tcp, base);
    return uv_write(req, (uv_stream_t *)&t->handle, bufs, n, cb);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct nt_tcp *t = NT_CONTAINER_OF(req, struct nt_tcp, sreq);
    t->base.up->on_shutdown(&t->base, status);
}

static int tcp_shutdown(struct nt_transport *base)
{
    struct nt_tcp *t = NT_CONTAINER_OF(base, struct nt_tcp, base);
    return uv_shutdown(&t->sreq, (uv_stream_t *)&t->handle, on_shutdown);
}

static size_t tcp_pending(const struct nt_transport *base)
{
    const struct nt_tcp *t = NT_CONTAINER_OF_CONST(base, struct nt_tcp, base);
    return uv_stream_get_write_queue_size((const uv_stream_t *)&t->handle);
}

static const struct nt_transport_ops tcp_ops = {
    .read_start = tcp_read_start,
    .read_stop = tcp_read_stop,
    .try_write = tcp_try_write,
    .write = tcp_write,
    .shutdown = tcp_shutdown,
    .pending = tcp_pending,
};

int nt_tcp_init(struct nt_tcp *t, uv_loop_t *loop, char *read_buf, size_t read_size)
{
    t->base.ops = &tcp_ops;
    t->base.name = "tcp";
    t->read_buf = read_buf;
    t->read_size = read_size;
    return uv_tcp_init(loop, &t->handle);
}
