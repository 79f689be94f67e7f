/* SPDX-License-Identifier: MIT */
/* net.c - the per-iteration flush, the output budget, and the shared deadlines. */
#include "net/net.h"

#include <stdio.h>

#include "net/conn.h"

void nt_net_format_addr(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(out, size, "%s:%u", ip, ntohs(a->sin_port));
    }
}

static void on_idle(uv_idle_t *idle)
{
    (void)idle; /* only there so that the poll phase does not block while output waits */
}

static void on_check(uv_check_t *check)
{
    struct nt_net *net = NT_CONTAINER_OF(check, struct nt_net, flush_check);
    /* Memory first: past --max-output-total the largest backlogs go, before anything is
     * written (a paste to a big room never cuts the readers that keep up). */
    while (net->queued_bytes > net->limits.max_output_total) {
        uint64_t before = net->queued_bytes;
        nt_conn_cut_largest(net);
        if (net->queued_bytes >= before)
            break; /* nothing left to cut */
    }
    /* A flush can close a conn, whose door tells others: take from the head until empty. */
    while (!nt_list_is_empty(&net->dirty)) {
        struct nt_list *node = net->dirty.next;
        nt_list_remove(node);
        nt_conn_flush(NT_CONTAINER_OF(node, struct nt_conn, dirty_link));
    }
    uv_idle_stop(&net->flush_idle);
}

void nt_net_mark_dirty(struct nt_net *net, struct nt_conn *c)
{
    if (nt_list_is_linked(&c->dirty_link))
        return;
    if (nt_list_is_empty(&net->dirty))
        uv_idle_start(&net->flush_idle, on_idle);
    nt_list_append(&net->dirty, &c->dirty_link);
}

int nt_net_init(struct nt_net *net, uv_loop_t *loop, const struct nt_net_limits *limits,
                const uint64_t *durations_ms)
{
    net->loop = loop;
    net->limits = *limits;
    nt_list_init(&net->conns);
    nt_list_init(&net->dirty);
    int rc = nt_timeouts_init(&net->timeouts, loop, durations_ms, nt_conn_expired);
    if (rc == 0)
        rc = uv_check_init(loop, &net->flush_check);
    if (rc == 0)
        rc = uv_check_start(&net->flush_check, on_check);
    if (rc == 0)
        rc = uv_idle_init(loop, &net->flush_idle);
    return rc;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void nt_net_close(struct nt_net *net)
{
    close_handle((uv_handle_t *)&net->flush_check);
    close_handle((uv_handle_t *)&net->flush_idle);
    nt_timeouts_close(&net->timeouts);
}
