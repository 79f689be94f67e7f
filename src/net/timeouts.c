/* SPDX-License-Identifier: MIT */
/* timeouts.c - O(1) deadlines: one list per kind in deadline order, one timer for all. */
#include "net/timeouts.h"

static void on_timer(uv_timer_t *timer);

static void arm(struct nt_timeouts *t, uint64_t deadline)
{
    if (t->armed_for != 0 && t->armed_for <= deadline)
        return;
    uint64_t now = uv_now(t->timer.loop);
    t->armed_for = deadline;
    uv_timer_start(&t->timer, on_timer, deadline > now ? deadline - now : 0, 0);
}

static void on_timer(uv_timer_t *timer)
{
    struct nt_timeouts *t = NT_CONTAINER_OF(timer, struct nt_timeouts, timer);
    uint64_t now = uv_now(timer->loop);
    t->armed_for = 0;
    for (int k = 0; k < NT_TIMEOUT_KINDS; k++) {
        /* The head is re-read every time: a callback may unlink or relink any node. */
        while (!nt_list_is_empty(&t->lists[k])) {
            struct nt_timeout_node *node =
                NT_CONTAINER_OF(t->lists[k].next, struct nt_timeout_node, link);
            if (node->deadline > now)
                break;
            nt_list_remove(&node->link);
            t->on_expire(t, node);
        }
    }
    uint64_t next = 0;
    for (int k = 0; k < NT_TIMEOUT_KINDS; k++) {
        if (nt_list_is_empty(&t->lists[k]))
            continue;
        struct nt_timeout_node *head =
            NT_CONTAINER_OF(t->lists[k].next, struct nt_timeout_node, link);
        if (next == 0 || head->deadline < next)
            next = head->deadline;
    }
    if (next != 0)
        arm(t, next);
}

int nt_timeouts_init(struct nt_timeouts *t, uv_loop_t *loop, const uint64_t *durations_ms,
                     nt_timeout_fn on_expire)
{
    for (int k = 0; k < NT_TIMEOUT_KINDS; k++) {
        nt_list_init(&t->lists[k]);
        t->duration_ms[k] = durations_ms[k];
    }
    t->armed_for = 0;
    t->on_expire = on_expire;
    int rc = uv_timer_init(loop, &t->timer);
    if (rc == 0)
        uv_unref((uv_handle_t *)&t->timer); /* deadlines alone never keep the loop alive */
    return rc;
}

void nt_timeouts_node_init(struct nt_timeout_node *node)
{
    node->link.next = node->link.prev = NULL;
    node->deadline = 0;
    node->kind = NT_TIMEOUT_NAME;
}

void nt_timeouts_set(struct nt_timeouts *t, struct nt_timeout_node *node, enum nt_timeout_kind kind)
{
    nt_list_remove(&node->link);
    node->kind = kind;
    if (t->duration_ms[kind] == 0)
        return;
    /* uv_now() is the loop's cached time: set a deadline once per event, not per line. */
    node->deadline = uv_now(t->timer.loop) + t->duration_ms[kind];
    if (node->deadline == 0)
        node->deadline = 1;
    nt_list_append(&t->lists[kind], &node->link);
    arm(t, node->deadline);
}

void nt_timeouts_touch(struct nt_timeouts *t, struct nt_timeout_node *node)
{
    if (!nt_list_is_linked(&node->link))
        return;
    /* Deadlines only move later, so the armed timer may fire early; it re-arms then. */
    nt_list_remove(&node->link);
    node->deadline = uv_now(t->timer.loop) + t->duration_ms[node->kind];
    nt_list_append(&t->lists[node->kind], &node->link);
}

void nt_timeouts_clear(struct nt_timeout_node *node)
{
    nt_list_remove(&node->link);
}

void nt_timeouts_close(struct nt_timeouts *t)
{
    if (!uv_is_closing((uv_handle_t *)&t->timer))
        uv_close((uv_handle_t *)&t->timer, NULL);
}
