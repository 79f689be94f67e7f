/* SPDX-License-Identifier: MIT */
/* server.c - wiring: listeners -> transports -> doors -> the chat core; signals; shutdown. */
#include "server.h"

#include <errno.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/flood.h"
#include "lib/log.h"
#include "lib/state.h"
#include "net/conn.h"
#include "net/tls.h"

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

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Closes the server's own handles; the loop ends once the conns are gone too. */
static void close_server_handles(struct nt_server *srv)
{
    for (size_t i = 0; i < srv->n_listeners; i++)
        close_handle((uv_handle_t *)&srv->listeners[i].tcp);
    close_handle((uv_handle_t *)&srv->sig_int);
    close_handle((uv_handle_t *)&srv->sig_term);
    close_handle((uv_handle_t *)&srv->sig_hup);
    close_handle((uv_handle_t *)&srv->shutdown_timer);
    close_handle((uv_handle_t *)&srv->trim_timer);
    nt_log_nonblocking(NULL, NULL);
    close_handle((uv_handle_t *)&srv->log_timer);
    close_handle((uv_handle_t *)&srv->watchdog_timer);
    nt_conn_net_close(&srv->net);
}

/* net's hook, from a conn's close callback. */
static void on_conn_closed(struct nt_net *net, struct nt_conn *c)
{
    struct nt_server *srv = net->owner;
    if (c->is_counted)
        srv->n_clients--;
    if (c->is_ip_counted)
        ip_count_add(srv, c->ip, -1);
    if (srv->is_shutting_down && net->n_conns == 0) {
        close_server_handles(srv);
        NT_INFO("shutdown complete");
    }
}

/* Says at most once a second that accepting is in trouble. */
static bool may_warn(struct nt_server *srv)
{
    uint64_t now = uv_now(srv->loop);
    if (srv->last_accept_warning_ms != 0 && now - srv->last_accept_warning_ms < 1000)
        return false;
    srv->last_accept_warning_ms = now;
    return true;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct nt_listener *l = server->data;
    struct nt_server *srv = l->srv;
    if (status < 0) {
        /* EMFILE/ENFILE: libuv already shed the pending connection with its reserve descriptor,
         * so this cannot spin. */
        if (may_warn(srv))
            NT_WARN("accept failed: %s", uv_strerror(status));
        return;
    }
    enum nt_scheme scheme = l->la->scheme;
    bool is_irc = scheme == NT_SCHEME_IRC || scheme == NT_SCHEME_IRCS;
    struct nt_tls_ctx *tls =
        scheme == NT_SCHEME_TLS || scheme == NT_SCHEME_IRCS ? srv->tls_ctx : NULL;
    struct nt_conn *c = nt_conn_accept(&srv->net, server, tls);
    if (c == NULL)
        return;
    if (srv->net.n_conns + NT_FD_MARGIN >= srv->fd_limit && may_warn(srv)) {
        /* Past the limit libuv sheds new connections itself (its reserve-descriptor trick),
         * usually without telling us: warn while we are close to it. */
        NT_WARN("open-file limit %llu nearly reached with %llu connections: new connections "
                "are shed",
                (unsigned long long)srv->fd_limit, (unsigned long long)srv->net.n_conns);
    }
    if (srv->is_shutting_down) {
        nt_conn_close(c, "shutdown");
        return;
    }
    nt_conn_start(c);
    const char *refusal = NULL, *why = NULL;
    if (nt_chat_is_banned(&srv->chat, c->ip)) {
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
        if (is_irc)
            nt_irc_door_refuse(&srv->irc, c, refusal); /* §8.9: as an IRC ERROR */
        else
            nt_conn_goodbye(c, refusal, "refused"); /* §4.4, §7.10 */
        return;
    }
    c->is_counted = true;
    srv->n_clients++;
    if (!srv->cfg->echo && srv->cfg->max_per_ip > 0 && !is_exempt(srv, c->ip)) {
        ip_count_add(srv, c->ip, 1);
        c->is_ip_counted = true;
    }
    if (is_irc)
        nt_irc_door_open(&srv->irc, c);
    else
        nt_line_door_open(&srv->line, c);
}

static void on_trim_timer(uv_timer_t *timer)
{
    (void)timer;
    malloc_trim(0);
}

static void on_log_timer(uv_timer_t *timer)
{
    if (nt_log_flush())
        uv_timer_stop(timer);
}

/* log.h's hook: log lines wait for stderr's reader. */
static void on_log_pending(void *arg)
{
    struct nt_server *srv = arg;
    if (!uv_is_active((uv_handle_t *)&srv->log_timer))
        uv_timer_start(&srv->log_timer, on_log_timer, NT_LOG_RETRY_MS, NT_LOG_RETRY_MS);
}

int nt_server_reload(struct nt_server *srv)
{
    const struct nt_config *cfg = srv->cfg;
    if (srv->tls_ctx == NULL) {
        NT_INFO("reload: nothing to reload (no tls:// listener)");
        return 0;
    }
    char err[512];
    struct nt_tls_ctx *ctx =
        nt_tls_ctx_new(cfg->tls_cert_file, cfg->tls_key_file, err, sizeof(err));
    if (ctx == NULL) {
        NT_ERROR("reload: kept the old TLS certificate: %s", err);
        return -1;
    }
    nt_tls_ctx_free(srv->tls_ctx); /* open connections hold their own reference */
    srv->tls_ctx = ctx;
    NT_INFO("reload: TLS certificate %s and key %s loaded", cfg->tls_cert_file, cfg->tls_key_file);
    return 0;
}

/* Tells systemd (Type=notify) how the service is: a no-op without NOTIFY_SOCKET. */
static void notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        NT_WARN("sd_notify: %s", strerror(-rc));
}

static void on_watchdog(uv_timer_t *timer)
{
    (void)timer;
    notify("WATCHDOG=1"); /* the loop turns: nothing blocks it */
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct nt_server *srv = sig->data;
    if (signum == SIGHUP) {
        NT_INFO("received SIGHUP, reloading");
        notify("RELOADING=1");
        nt_server_reload(srv);
        notify("READY=1");
        return;
    }
    if (srv->is_shutting_down) {
        NT_WARN("received %s again, exiting now", signum == SIGINT ? "SIGINT" : "SIGTERM");
        _exit(1);
    }
    NT_INFO("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    nt_server_shutdown(srv);
}

/* --- what outlives a restart (--state-dir) --------------------------------------------------- */

static void on_bans_changed(void *ctx)
{
    struct nt_server *srv = ctx;
    if (nt_state_bans_save(srv->bans_path, srv->chat.bans, srv->chat.n_bans) != 0)
        NT_ERROR("state: cannot save the ban list to %s: %s (the ban holds until restart)",
                 srv->bans_path, strerror(errno));
}

static void add_ban(void *ctx, const char *address)
{
    struct nt_server *srv = ctx;
    nt_chat_ban(&srv->chat, address);
}

static void warn_ban(void *ctx, unsigned lineno, const char *line)
{
    struct nt_server *srv = ctx;
    NT_WARN("state: %s:%u: not an address, skipped: '%.100s'", srv->bans_path, lineno, line);
}

/* Loads the ban list of --state-dir (creating the directory if missing) and saves it on every
 * change from now on. Returns 0, or -1 after logging why (a configuration error). */
static int load_state(struct nt_server *srv)
{
    const char *dir = srv->cfg->state_dir;
    srv->bans_path[0] = '\0';
    if (dir == NULL)
        return 0;
    if (!nt_state_bans_path(dir, srv->bans_path, sizeof(srv->bans_path))) {
        NT_ERROR("--state-dir: path too long: %s", dir);
        return -1;
    }
    if (mkdir(dir, 0700) == 0)
        NT_INFO("state: created %s", dir);
    else if (errno != EEXIST) {
        NT_ERROR("--state-dir: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int n = nt_state_bans_load(srv->bans_path, add_ban, warn_ban, srv);
    if (n < 0) {
        NT_ERROR("--state-dir: cannot read %s: %s", srv->bans_path, strerror(errno));
        return -1;
    }
    NT_INFO("state: %d banned address%s loaded from %s", n, n == 1 ? "" : "es", srv->bans_path);
    srv->chat.on_bans_changed = on_bans_changed; /* after loading: loading saves nothing */
    srv->chat.bans_ctx = srv;
    return 0;
}

int nt_server_check_config(const struct nt_config *cfg, FILE *err)
{
    int rc = 0;
    struct stat st;
    bool has_dir = cfg->state_dir != NULL && stat(cfg->state_dir, &st) == 0;
    if (has_dir && !S_ISDIR(st.st_mode)) {
        fprintf(err, "natter: --state-dir: %s is not a directory\n", cfg->state_dir);
        rc = -1;
    } else if (has_dir && access(cfg->state_dir, W_OK) != 0) {
        fprintf(err, "natter: --state-dir: %s is not writable: %s\n", cfg->state_dir,
                strerror(errno));
        rc = -1;
    }
    if (!nt_config_has_tls(cfg) || cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL)
        return rc; /* no TLS, or the missing file is an error of the command line already */
    char why[512];
    struct nt_tls_ctx *ctx =
        nt_tls_ctx_new(cfg->tls_cert_file, cfg->tls_key_file, why, sizeof(why));
    if (ctx == NULL) {
        fprintf(err, "natter: %s\n", why);
        return -1;
    }
    nt_tls_ctx_free(ctx);
    return rc;
}

int nt_server_init(struct nt_server *srv, uv_loop_t *loop, const struct nt_config *cfg,
                   uint64_t max_clients, uint64_t fd_limit)
{
    srv->loop = loop;
    srv->fd_limit = fd_limit;
    srv->cfg = cfg;
    srv->max_clients = max_clients;
    nt_names_init(&srv->ip_counts);
    nt_chat_init(&srv->chat, cfg);
    nt_line_door_init(&srv->line, &srv->chat, cfg);
    nt_irc_door_init(&srv->irc, &srv->chat, cfg);
    const struct nt_net_limits limits = {
        .max_output = cfg->max_output,
        .max_output_total = cfg->max_output_total,
        .sndbuf = cfg->sndbuf,
    };
    const uint64_t durations[NT_TIMEOUT_KINDS] = {
        [NT_TIMEOUT_NAME] = cfg->name_timeout_ms,
        [NT_TIMEOUT_IDLE] = cfg->idle_timeout_ms,
        [NT_TIMEOUT_LINGER] = NT_LINGER_MS,
        /* The time one token takes, rounded up: waking sooner would find none. */
        [NT_TIMEOUT_THROTTLE] = nt_flood_token_ms(cfg->rate),
        [NT_TIMEOUT_STALL] = cfg->stall_timeout_ms,
        [NT_TIMEOUT_PING] = nt_irc_ping_ms(cfg->idle_timeout_ms),
    };
    srv->net.owner = srv;
    srv->net.on_conn_closed = on_conn_closed;
    int rc = nt_conn_net_init(&srv->net, loop, &limits, durations);
    if (rc == 0)
        rc = uv_timer_init(loop, &srv->shutdown_timer);
    if (rc == 0)
        rc = uv_timer_init(loop, &srv->trim_timer);
    if (rc == 0)
        rc = uv_timer_init(loop, &srv->log_timer);
    if (rc == 0)
        rc = uv_timer_init(loop, &srv->watchdog_timer);
    if (rc == 0)
        rc = uv_signal_init(loop, &srv->sig_int);
    if (rc == 0)
        rc = uv_signal_init(loop, &srv->sig_term);
    if (rc == 0)
        rc = uv_signal_init(loop, &srv->sig_hup);
    if (rc != 0)
        return rc;
    /* Long-lived conns interleave with short-lived queue rings and messages on the heap, so a
     * join storm or a flood leaves free pages that free() alone never returns: the RSS would
     * stay at its peak. glibc's malloc_trim() gives whole free pages back (madvise); every 2 s it
     * costs well under a millisecond. Unref'd: it never keeps the loop alive. */
    uv_timer_start(&srv->trim_timer, on_trim_timer, NT_TRIM_INTERVAL_MS, NT_TRIM_INTERVAL_MS);
    uv_unref((uv_handle_t *)&srv->trim_timer);
    /* From here a log line never waits for stderr's reader. Unref'd: waiting log lines never
     * keep a finished server alive (what is left gets one last try at exit). */
    uv_unref((uv_handle_t *)&srv->log_timer);
    nt_log_nonblocking(on_log_pending, srv);
    srv->sig_int.data = srv;
    srv->sig_term.data = srv;
    srv->sig_hup.data = srv;
    uv_signal_start(&srv->sig_int, on_signal, SIGINT);
    uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
    /* SIGHUP reloads and never stops the server (its default action would). */
    uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);
    if (nt_config_has_tls(cfg)) {
        char err[512];
        srv->tls_ctx = nt_tls_ctx_new(cfg->tls_cert_file, cfg->tls_key_file, err, sizeof(err));
        if (srv->tls_ctx == NULL) {
            NT_ERROR("%s", err);
            return UV_EINVAL;
        }
    }
    if (load_state(srv) != 0)
        return UV_EINVAL; /* a configuration error, logged: exit 2 */
    return 0;
}

static int listen_one(struct nt_listener *l)
{
    const struct nt_listen_addr *la = l->la;
    struct sockaddr_storage ss;
    int rc;
    if (la->is_ipv6)
        rc = uv_ip6_addr(la->host, la->port, (struct sockaddr_in6 *)(void *)&ss);
    else
        rc = uv_ip4_addr(la->host, la->port, (struct sockaddr_in *)(void *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, la->is_ipv6 ? UV_TCP_IPV6ONLY : 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    const char *scheme = la->scheme == NT_SCHEME_TCP ? "" : nt_config_scheme_name(la->scheme);
    const char *sep = la->scheme == NT_SCHEME_TCP ? "" : "://";
    if (rc != 0) {
        NT_ERROR("cannot listen on %s%s%s%s%s:%d: %s", scheme, sep, la->is_ipv6 ? "[" : "",
                 la->host, la->is_ipv6 ? "]" : "", la->port, uv_strerror(rc));
        return rc;
    }
    int len = sizeof(ss);
    char name[96];
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    nt_net_format_addr(&ss, name, sizeof(name));
    NT_INFO("listening on %s%s%s", scheme, sep, name);
    return 0;
}

int nt_server_start(struct nt_server *srv)
{
    const struct nt_config *cfg = srv->cfg;
    for (size_t i = 0; i < cfg->n_listen; i++) {
        struct nt_listener *l = &srv->listeners[i];
        int rc = uv_tcp_init(srv->loop, &l->tcp);
        if (rc != 0)
            return rc;
        l->tcp.data = l;
        l->srv = srv;
        l->la = &cfg->listen[i];
        srv->n_listeners++;
        rc = listen_one(l);
        if (rc != 0)
            return rc;
    }
    /* systemd: ready once every listener is bound; the watchdog from now on. */
    char status[64];
    snprintf(status, sizeof(status), "READY=1\nSTATUS=serving on %zu listener%s", srv->n_listeners,
             srv->n_listeners == 1 ? "" : "s");
    notify(status);
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
        uv_timer_start(&srv->watchdog_timer, on_watchdog, usec / 2000, usec / 2000);
        uv_unref((uv_handle_t *)&srv->watchdog_timer);
        NT_INFO("systemd watchdog: every %llu ms", (unsigned long long)(usec / 2000));
    }
    return 0;
}

/* Out of time to flush: close whatever is left (§4.5). */
static void close_all(struct nt_server *srv)
{
    struct nt_list *node = srv->net.conns.next;
    while (node != &srv->net.conns) {
        struct nt_list *next = node->next; /* closing frees later, in the close callback */
        nt_conn_close(NT_CONTAINER_OF(node, struct nt_conn, all_link), "shutdown");
        node = next;
    }
}

static void on_shutdown_timer(uv_timer_t *timer)
{
    close_all(NT_CONTAINER_OF(timer, struct nt_server, shutdown_timer));
}

void nt_server_shutdown(struct nt_server *srv)
{
    if (srv->is_shutting_down)
        return;
    srv->is_shutting_down = true;
    notify("STOPPING=1");
    nt_chat_shutdown(&srv->chat);
    for (size_t i = 0; i < srv->n_listeners; i++)
        close_handle((uv_handle_t *)&srv->listeners[i].tcp);
    for (struct nt_list *node = srv->net.conns.next; node != &srv->net.conns; node = node->next) {
        struct nt_conn *c = NT_CONTAINER_OF(node, struct nt_conn, all_link);
        nt_conn_goodbye(c, "*** Server is shutting down ***", "shutdown");
    }
    if (srv->net.n_conns == 0) {
        close_server_handles(srv);
        NT_INFO("shutdown complete");
        return;
    }
    uv_timer_start(&srv->shutdown_timer, on_shutdown_timer, NT_SHUTDOWN_FLUSH_MS, 0);
}

void nt_server_stop(struct nt_server *srv)
{
    srv->is_shutting_down = true;
    nt_chat_shutdown(&srv->chat);
    close_all(srv);
    close_server_handles(srv);
}

void nt_server_fini(struct nt_server *srv)
{
    nt_line_door_fini(&srv->line);
    nt_chat_fini(&srv->chat);
    nt_names_fini(&srv->ip_counts); /* empty: every conn released its address */
    if (srv->tls_ctx != NULL)
        nt_tls_ctx_free(srv->tls_ctx);
}
