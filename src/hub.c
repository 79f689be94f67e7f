/* SPDX-License-Identifier: MIT */
/* hub.c - membership and fan-out. */
#include "hub.h"

#include <stdlib.h>

void nt_hub_init(struct nt_hub *hub)
{
    nt_list_init(&hub->members);
    hub->count = 0;
    hub->is_broadcasting = false;
    hub->later = NULL;
    hub->later_head = hub->later_len = hub->later_cap = 0;
}

void nt_hub_fini(struct nt_hub *hub)
{
    NT_ASSERT(hub->count == 0 && hub->later_len == 0);
    free(hub->later);
    hub->later = NULL;
}

void nt_hub_join(struct nt_hub *hub, struct nt_conn *c)
{
    NT_ASSERT(!nt_list_is_linked(&c->hub_link));
    nt_list_append(&hub->members, &c->hub_link);
    hub->count++;
}

void nt_hub_leave(struct nt_hub *hub, struct nt_conn *c)
{
    if (!nt_list_is_linked(&c->hub_link))
        return;
    nt_list_remove(&c->hub_link);
    hub->count--;
}

static void send_to_members(struct nt_hub *hub, struct nt_msg *msg, const struct nt_conn *except)
{
    /* nt_conn_send() may drop c as too slow, which unlinks c and only c: keep the next node. */
    struct nt_list *node = hub->members.next;
    while (node != &hub->members) {
        struct nt_list *next = node->next;
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, hub_link);
        if (c != except)
            nt_conn_send(c, msg);
        node = next;
    }
}

static void push_later(struct nt_hub *hub, struct nt_msg *msg)
{
    if (hub->later_len == hub->later_cap) {
        size_t cap = hub->later_cap ? hub->later_cap * 2 : 8;
        struct nt_msg **arr = nt_xmalloc(cap * sizeof(*arr));
        for (size_t i = 0; i < hub->later_len; i++)
            arr[i] = hub->later[(hub->later_head + i) % hub->later_cap];
        free(hub->later);
        hub->later = arr;
        hub->later_cap = cap;
        hub->later_head = 0;
    }
    hub->later[(hub->later_head + hub->later_len) % hub->later_cap] = nt_msg_ref(msg);
    hub->later_len++;
}

void nt_hub_broadcast(struct nt_hub *hub, struct nt_msg *msg, const struct nt_conn *except)
{
    if (hub->is_broadcasting) {
        /* Only leave notices get here, and they go to everybody: except is always NULL. */
        NT_ASSERT(except == NULL);
        push_later(hub, msg);
        return;
    }
    hub->is_broadcasting = true;
    send_to_members(hub, msg, except);
    while (hub->later_len > 0) {
        struct nt_msg *next = hub->later[hub->later_head];
        hub->later_head = (hub->later_head + 1) % hub->later_cap;
        hub->later_len--;
        send_to_members(hub, next, NULL);
        nt_msg_unref(next);
    }
    hub->is_broadcasting = false;
}
