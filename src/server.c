/* SPDX-License-Identifier: MIT */
/* server.c - the uv_loop, listeners, signals, the conn list; start / drain / stop. */
#include "server.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "conn.h"
#include "log.h"
#include "text.h"

static void on_expire(struct nt_timeouts *t, struct nt_timeout_node *node)
{
    (void)t;
    if (node->kind == NT_TIMEOUT_THROTTLE) {
        nt_conn_unthrottle(NT_CONTAINER_OF(node, struct nt_conn, throttle));
        return;
    }
    struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, timeout);
    if (node->kind == NT_TIMEOUT_LINGER)
        nt_conn_close(c, c->reason);
    else
        nt_chat_timeout(c, node->kind);
}

static void on_idle(uv_idle_t *idle)
{
    (void)idle; /* only there so that the poll phase does not block while output waits */
}

static void on_check(uv_check_t *check)
{
    struct nt_server *srv = NT_CONTAINER_OF(check, struct nt_server, flush_check);
    /* A flush can drop a conn, whose leave notice dirties others: take them from the head until
     * the list is empty. */
    while (!nt_list_is_empty(&srv->dirty)) {
        struct nt_list *node = srv->dirty.next;
        nt_list_remove(node);
        nt_conn_flush(NT_CONTAINER_OF(node, struct nt_conn, dirty_link));
    }
    uv_idle_stop(&srv->flush_idle);
}

void nt_server_mark_dirty(struct nt_server *srv, struct nt_conn *c)
{
    if (nt_list_is_linked(&c->dirty_link))
        return;
    if (nt_list_is_empty(&srv->dirty))
        uv_idle_start(&srv->flush_idle, on_idle);
    nt_list_append(&srv->dirty, &c->dirty_link);
}

/* Loopback peers are exempt from --max-per-ip unless --no-loopback-exempt. */
static bool is_exempt(const struct nt_server *srv, const char *ip)
{
    if (srv->cfg->no_loopback_exempt)
        return false;
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

/* Per-address counts live in a string-keyed registry (the one names use), each owning a
 * heap counter. */
struct ip_count {
    uint64_t n;
};

uint64_t nt_server_ip_count(const struct nt_server *srv, const char *ip)
{
    const struct ip_count *ic = nt_names_find(&srv->ip_counts, ip, strlen(ip));
    return ic ? ic->n : 0;
}

static void ip_count_add(struct nt_server *srv, const char *ip, int delta)
{
    size_t len = strlen(ip);
    struct ip_count *ic = nt_names_find(&srv->ip_counts, ip, len);
    if (ic == NULL) {
        NT_ASSERT(delta > 0);
        ic = nt_xcalloc(1, sizeof(*ic));
        nt_names_add(&srv->ip_counts, ip, len, ic);
    }
    ic->n = delta > 0 ? ic->n + (uint64_t)delta : ic->n - (uint64_t)-delta;
    if (ic->n == 0) {
        nt_names_remove(&srv->ip_counts, ip, len);
        free(ic);
    }
}

void nt_server_ip_release(struct nt_server *srv, const char *ip)
{
    ip_count_add(srv, ip, -1);
}

bool nt_server_is_banned(const struct nt_server *srv, const char *ip)
{
    for (size_t i = 0; i < srv->n_bans; i++) {
        if (strcmp(srv->bans[i], ip) == 0)
            return true;
    }
    return false;
}

bool nt_server_ban(struct nt_server *srv, const char *ip)
{
    if (nt_server_is_banned(srv, ip))
        return false;
    srv->bans = nt_xrealloc(srv->bans, (srv->n_bans + 1) * sizeof(*srv->bans));
    srv->bans[srv->n_bans++] = nt_xstrndup(ip, strlen(ip));
    return true;
}

bool nt_server_unban(struct nt_server *srv, const char *ip)
{
    for (size_t i = 0; i < srv->n_bans; i++) {
        if (strcmp(srv->bans[i], ip) == 0) {
            free(srv->bans[i]);
            srv->bans[i] = srv->bans[--srv->n_bans];
            return true;
        }
    }
    return false;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct nt_server *srv = server->data;
    if (status < 0) {
        /* EMFILE/ENFILE: libuv already shed the pending connection with its reserve descriptor,
         * so this cannot spin; say so at most once a second. */
        uint64_t now = uv_now(srv->loop);
        if (srv->last_accept_warning_ms == 0 || now - srv->last_accept_warning_ms >= 1000) {
            srv->last_accept_warning_ms = now;
            NT_WARN("accept failed: %s", uv_strerror(status));
        }
        return;
    }
    struct nt_conn *c = nt_conn_accept(srv, server);
    if (c == NULL)
        return;
    if (srv->n_conns + NT_FD_MARGIN >= srv->fd_limit) {
        /* Past the limit libuv sheds new connections itself (its reserve-descriptor trick),
         * usually without telling us: warn while we are close to it, at most once a second. */
        uint64_t now = uv_now(srv->loop);
        if (srv->last_accept_warning_ms == 0 || now - srv->last_accept_warning_ms >= 1000) {
            srv->last_accept_warning_ms = now;
            NT_WARN("open-file limit %llu nearly reached with %llu connections: new connections "
                    "are shed",
                    (unsigned long long)srv->fd_limit, (unsigned long long)srv->n_conns);
        }
    }
    if (srv->is_shutting_down) {
        nt_conn_close(c, "shutdown");
        return;
    }
    nt_conn_start(c);
    const char *refusal = NULL, *why = NULL;
    if (nt_server_is_banned(srv, c->ip)) {
        refusal = "You are banned from this server.";
        why = "banned";
    } else if (srv->cfg->max_per_ip > 0 && !is_exempt(srv, c->ip) &&
               nt_server_ip_count(srv, c->ip) >= srv->cfg->max_per_ip) {
        refusal = "Too many connections from your address.";
        why = "too many connections from the address";
    } else if (srv->n_clients >= srv->max_clients) {
        refusal = "Server is full, try again later.";
        why = "server full";
    }
    if (refusal != NULL) {
        NT_WARN("conn=%llu peer=%s refused: %s", (unsigned long long)c->id, c->peer, why);
        nt_conn_goodbye(c, refusal, "refused"); /* §4.4, §7.10 */
        return;
    }
    c->is_counted = true;
    srv->n_clients++;
    if (!srv->cfg->echo && srv->cfg->max_per_ip > 0 && !is_exempt(srv, c->ip)) {
        ip_count_add(srv, c->ip, 1);
        c->is_ip_counted = true;
    }
    nt_chat_start(c);
}

static void on_trim_timer(uv_timer_t *timer)
{
    (void)timer;
    malloc_trim(0);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct nt_server *srv = sig->data;
    if (srv->is_shutting_down) {
        NT_WARN("received %s again, exiting now", signum == SIGINT ? "SIGINT" : "SIGTERM");
        _exit(1);
    }
    NT_INFO("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    nt_server_shutdown(srv);
}

int nt_server_init(struct nt_server *srv, uv_loop_t *loop, const struct nt_config *cfg,
                   uint64_t max_clients, uint64_t fd_limit)
{
    srv->loop = loop;
    srv->fd_limit = fd_limit;
    srv->cfg = cfg;
    srv->max_clients = max_clients;
    nt_list_init(&srv->conns);
    nt_list_init(&srv->dirty);
    nt_hub_init(&srv->hub, cfg->history);
    nt_names_init(&srv->names);
    nt_names_init(&srv->ip_counts);
    srv->prompt = nt_msg_from_str("Enter your name: ");
    srv->scratch = nt_xmalloc(NT_TEXT_SANITIZED_MAX(cfg->max_line));
    const uint64_t durations[NT_TIMEOUT_KINDS] = {
        [NT_TIMEOUT_NAME] = cfg->name_timeout_ms,
        [NT_TIMEOUT_IDLE] = cfg->idle_timeout_ms,
        [NT_TIMEOUT_LINGER] = NT_LINGER_MS,
        /* The time one token takes, rounded up: waking sooner would find none. */
        [NT_TIMEOUT_THROTTLE] = cfg->rate ? (1000 + cfg->rate - 1) / cfg->rate : 0,
    };
    int rc = nt_timeouts_init(&srv->timeouts, loop, durations, on_expire);
    if (rc == 0)
        rc = uv_check_init(loop, &srv->flush_check);
    if (rc == 0)
        rc = uv_check_start(&srv->flush_check, on_check);
    if (rc == 0)
        rc = uv_idle_init(loop, &srv->flush_idle);
    if (rc == 0)
        rc = uv_timer_init(loop, &srv->shutdown_timer);
    if (rc == 0)
        rc = uv_timer_init(loop, &srv->trim_timer);
    if (rc == 0)
        rc = uv_signal_init(loop, &srv->sig_int);
    if (rc == 0)
        rc = uv_signal_init(loop, &srv->sig_term);
    if (rc != 0)
        return rc;
    /* Long-lived conns interleave with short-lived queue rings and messages on the heap, so a
     * join storm or a flood leaves free pages that free() alone never returns: the RSS would
     * stay at its peak. glibc's malloc_trim() gives whole free pages back (madvise); every 2 s it
     * costs well under a millisecond. Unref'd: it never keeps the loop alive. */
    uv_timer_start(&srv->trim_timer, on_trim_timer, NT_TRIM_INTERVAL_MS, NT_TRIM_INTERVAL_MS);
    uv_unref((uv_handle_t *)&srv->trim_timer);
    srv->sig_int.data = srv;
    srv->sig_term.data = srv;
    uv_signal_start(&srv->sig_int, on_signal, SIGINT);
    uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
    return 0;
}

static int listen_one(const struct nt_listen_addr *la, uv_tcp_t *tcp)
{
    struct sockaddr_storage ss;
    int rc;
    if (la->is_ipv6)
        rc = uv_ip6_addr(la->host, la->port, (struct sockaddr_in6 *)(void *)&ss);
    else
        rc = uv_ip4_addr(la->host, la->port, (struct sockaddr_in *)(void *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(tcp, (const struct sockaddr *)&ss, la->is_ipv6 ? UV_TCP_IPV6ONLY : 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)tcp, 511, on_connection);
    if (rc != 0) {
        NT_ERROR("cannot listen on %s%s%s:%d: %s", la->is_ipv6 ? "[" : "", la->host,
                 la->is_ipv6 ? "]" : "", la->port, uv_strerror(rc));
        return rc;
    }
    int len = sizeof(ss);
    char name[96];
    uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len);
    nt_conn_format_addr(&ss, name, sizeof(name));
    NT_INFO("listening on %s", name);
    return 0;
}

int nt_server_start(struct nt_server *srv)
{
    const struct nt_config *cfg = srv->cfg;
    for (size_t i = 0; i < cfg->n_listen; i++) {
        uv_tcp_t *tcp = &srv->listeners[i];
        int rc = uv_tcp_init(srv->loop, tcp);
        if (rc != 0)
            return rc;
        tcp->data = srv;
        srv->n_listeners++;
        rc = listen_one(&cfg->listen[i], tcp);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Closes the server's own handles; the loop ends once the conns are gone too. */
static void close_server_handles(struct nt_server *srv)
{
    for (size_t i = 0; i < srv->n_listeners; i++)
        close_handle((uv_handle_t *)&srv->listeners[i]);
    close_handle((uv_handle_t *)&srv->sig_int);
    close_handle((uv_handle_t *)&srv->sig_term);
    close_handle((uv_handle_t *)&srv->flush_check);
    close_handle((uv_handle_t *)&srv->flush_idle);
    close_handle((uv_handle_t *)&srv->shutdown_timer);
    close_handle((uv_handle_t *)&srv->trim_timer);
    nt_timeouts_close(&srv->timeouts);
}

static void on_shutdown_timer(uv_timer_t *timer)
{
    struct nt_server *srv = NT_CONTAINER_OF(timer, struct nt_server, shutdown_timer);
    /* Out of time to flush: close whatever is left (§4.5). */
    struct nt_list *node = srv->conns.next;
    while (node != &srv->conns) {
        struct nt_list *next = node->next; /* closing frees later, in the close callback */
        nt_conn_close(NT_CONTAINER_OF(node, struct nt_conn, all_link), "shutdown");
        node = next;
    }
}

void nt_server_shutdown(struct nt_server *srv)
{
    if (srv->is_shutting_down)
        return;
    srv->is_shutting_down = true;
    for (size_t i = 0; i < srv->n_listeners; i++)
        close_handle((uv_handle_t *)&srv->listeners[i]);
    for (struct nt_list *node = srv->conns.next; node != &srv->conns; node = node->next) {
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, all_link);
        nt_conn_goodbye(c, "*** Server is shutting down ***", "shutdown");
    }
    if (srv->n_conns == 0) {
        nt_server_conn_closed(srv);
        return;
    }
    uv_timer_start(&srv->shutdown_timer, on_shutdown_timer, NT_SHUTDOWN_FLUSH_MS, 0);
}

void nt_server_conn_closed(struct nt_server *srv)
{
    if (srv->is_shutting_down && srv->n_conns == 0) {
        close_server_handles(srv);
        NT_INFO("shutdown complete");
    }
}

void nt_server_stop(struct nt_server *srv)
{
    srv->is_shutting_down = true;
    on_shutdown_timer(&srv->shutdown_timer);
    close_server_handles(srv);
}

void nt_server_fini(struct nt_server *srv)
{
    nt_hub_fini(&srv->hub);
    nt_names_fini(&srv->names);
    nt_names_fini(&srv->ip_counts); /* empty: every conn released its address */
    for (size_t i = 0; i < srv->n_bans; i++)
        free(srv->bans[i]);
    free(srv->bans);
    nt_msg_unref(srv->prompt);
    free(srv->scratch);
}
