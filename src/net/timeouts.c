/* SPDX-License-Identifier: MIT */
/* timeouts.c - O(1) deadlines: one list per kind in deadline order, one timer for all. */
#include "net/timeouts.h"

static void on_timer(uv_timer_t *timer);
static uint64_t earliest(const struct nt_timeouts *t);

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
    uint64_t next = earliest(t);
    if (next != 0)
        arm(t, next);
}

int nt_timeouts_init(struct nt_timeouts *t, uv_loop_t *loop, const uint64_t *durations_ms,
                     nt_timeout_fn on_expire)
{
    for (int k = 0; k < NT_TIMEOUT_KINDS; k++) {
        nt_list_init(&t->lists[k]);
        nt_list_init(&t->dormant[k]);
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
    if (t->duration_ms[kind] == 0) {
        node->deadline = 0;
        nt_list_append(&t->dormant[kind], &node->link);
        return;
    }
    /* uv_now() is the loop's cached time: set a deadline once per event, not per line. */
    node->deadline = uv_now(t->timer.loop) + t->duration_ms[kind];
    if (node->deadline == 0)
        node->deadline = 1;
    nt_list_append(&t->lists[kind], &node->link);
    arm(t, node->deadline);
}

void nt_timeouts_touch(struct nt_timeouts *t, struct nt_timeout_node *node)
{
    if (!nt_list_is_linked(&node->link) || node->deadline == 0)
        return; /* not set, or dormant */
    /* Deadlines only move later, so the armed timer may fire early; it re-arms then. */
    nt_list_remove(&node->link);
    node->deadline = uv_now(t->timer.loop) + t->duration_ms[node->kind];
    nt_list_append(&t->lists[node->kind], &node->link);
}

/* The earliest deadline of every running one, or 0 if none runs. */
static uint64_t earliest(const struct nt_timeouts *t)
{
    uint64_t next = 0;
    for (int k = 0; k < NT_TIMEOUT_KINDS; k++) {
        if (nt_list_is_empty(&t->lists[k]))
            continue;
        const struct nt_timeout_node *head =
            NT_CONTAINER_OF(t->lists[k].next, struct nt_timeout_node, link);
        if (next == 0 || head->deadline < next)
            next = head->deadline;
    }
    return next;
}

void nt_timeouts_set_duration(struct nt_timeouts *t, enum nt_timeout_kind kind, uint64_t ms)
{
    uint64_t old = t->duration_ms[kind];
    if (old == ms)
        return;
    t->duration_ms[kind] = ms;
    struct nt_list *live = &t->lists[kind], *dormant = &t->dormant[kind];
    uint64_t now = uv_now(t->timer.loop);
    if (ms == 0) {
        while (!nt_list_is_empty(live)) {
            struct nt_timeout_node *node =
                NT_CONTAINER_OF(live->next, struct nt_timeout_node, link);
            nt_list_remove(&node->link);
            node->deadline = 0;
            nt_list_append(dormant, &node->link);
        }
        return; /* the timer may fire early; it re-arms then */
    }
    if (old == 0) {
        while (!nt_list_is_empty(dormant)) {
            struct nt_timeout_node *node =
                NT_CONTAINER_OF(dormant->next, struct nt_timeout_node, link);
            nt_list_remove(&node->link);
            node->deadline = now + ms;
            nt_list_append(live, &node->link);
        }
    } else {
        for (struct nt_list *l = live->next; l != live; l = l->next) {
            struct nt_timeout_node *node = NT_CONTAINER_OF(l, struct nt_timeout_node, link);
            uint64_t started = node->deadline - old; /* when it was set or touched */
            node->deadline = started + ms > now ? started + ms : now;
            if (node->deadline == 0)
                node->deadline = 1;
        }
    }
    /* A shorter duration may bring the earliest deadline forward: arm for it now. */
    uint64_t next = earliest(t);
    if (next != 0) {
        t->armed_for = 0;
        arm(t, next);
    }
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
