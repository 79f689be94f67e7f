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

/* Whether a conn from ip counts against --max-per-ip under srv's config now. */
static bool counts_per_ip(const struct nt_server *srv, const char *ip)
{
    return !srv->cfg->echo && srv->cfg->max_per_ip > 0 && !is_exempt(srv, ip);
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

static void on_listener_closed(uv_handle_t *h)
{
    free(h->data);
}

static struct nt_listener *listener_new(struct nt_server *srv, const struct nt_listen_addr *la)
{
    struct nt_listener *l = nt_xcalloc(1, sizeof(*l));
    int rc = uv_tcp_init(srv->loop, &l->tcp);
    NT_ASSERT(rc == 0); /* only fails for a bad flag */
    l->tcp.data = l;
    l->srv = srv;
    l->la = *la;
    return l;
}

static void listener_close(struct nt_listener *l)
{
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

/* Stops accepting: every listener is closed (and freed when its close completes). */
static void close_listeners(struct nt_server *srv)
{
    for (size_t i = 0; i < srv->n_listeners; i++)
        listener_close(srv->listeners[i]);
    srv->n_listeners = 0;
}

/* Closes the server's own handles; the loop ends once the conns are gone too. */
static void close_server_handles(struct nt_server *srv)
{
    close_listeners(srv);
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
    enum nt_scheme scheme = l->la.scheme;
    bool is_irc = scheme == NT_SCHEME_IRC || scheme == NT_SCHEME_IRCS;
    bool is_web = scheme == NT_SCHEME_HTTP || scheme == NT_SCHEME_HTTPS;
    struct nt_tls_ctx *tls = nt_config_scheme_is_tls(scheme) ? srv->tls_ctx : NULL;
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
    int http_status = 0; /* the web door's answer */
    if (nt_chat_is_banned(&srv->chat, c->ip)) {
        http_status = 403;
        refusal = "You are banned from this server.";
        why = "banned";
        srv->net.stats.refused_banned++;
    } else if (srv->cfg->max_per_ip > 0 && !is_exempt(srv, c->ip) &&
               nt_server_ip_count(srv, c->ip) >= srv->cfg->max_per_ip) {
        refusal = "Too many connections from your address.";
        why = "too many connections from the address";
        http_status = 429;
        srv->net.stats.refused_per_ip++;
    } else if (srv->n_clients >= srv->max_clients) {
        refusal = "Server is full, try again later.";
        why = "server full";
        http_status = 503;
        srv->net.stats.refused_full++;
    }
    if (refusal != NULL) {
        NT_WARN("conn=%llu peer=%s refused: %s", (unsigned long long)c->id, c->peer, why);
        if (is_irc)
            nt_irc_door_refuse(&srv->irc, c, refusal); /* §8.9: as an IRC ERROR */
        else if (is_web)
            nt_web_door_refuse(&srv->web, c, http_status, refusal); /* §9.1: an HTTP answer */
        else
            nt_conn_goodbye(c, refusal, "refused"); /* §4.4, §7.10 */
        return;
    }
    c->is_counted = true;
    srv->n_clients++;
    if (counts_per_ip(srv, c->ip)) {
        ip_count_add(srv, c->ip, 1);
        c->is_ip_counted = true;
    }
    if (is_irc)
        nt_irc_door_open(&srv->irc, c);
    else if (is_web)
        nt_web_door_open(&srv->web, c);
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

/* What net takes from cfg: the output limits and the deadlines' durations. */
static void net_settings(const struct nt_config *cfg, struct nt_net_limits *limits,
                         uint64_t durations[NT_TIMEOUT_KINDS])
{
    limits->max_output = cfg->max_output;
    limits->max_output_total = cfg->max_output_total;
    limits->sndbuf = cfg->sndbuf;
    durations[NT_TIMEOUT_NAME] = cfg->name_timeout_ms;
    durations[NT_TIMEOUT_IDLE] = cfg->idle_timeout_ms;
    durations[NT_TIMEOUT_LINGER] = NT_LINGER_MS;
    /* The time one token takes, rounded up: waking sooner would find none. Without flood
     * control nobody is paced, but a reload that turns it off must wake who is: 1 ms. */
    durations[NT_TIMEOUT_THROTTLE] = cfg->rate > 0 ? nt_flood_token_ms(cfg->rate) : 1;
    durations[NT_TIMEOUT_STALL] = cfg->stall_timeout_ms;
    durations[NT_TIMEOUT_PING] = nt_irc_ping_ms(cfg->idle_timeout_ms);
    durations[NT_TIMEOUT_HTTP] = nt_web_head_ms(cfg->name_timeout_ms);
}

/* The clients an open-file limit allows: it less the descriptors that are not clients. */
static uint64_t fd_budget(uint64_t fd_limit)
{
    return fd_limit > 2ULL * NT_FD_RESERVE ? fd_limit - NT_FD_RESERVE : fd_limit / 2;
}

/* --max-clients, or what the open-file limit allows; warns when it asks for more than that. */
static void set_max_clients(struct nt_server *srv)
{
    const struct nt_config *cfg = srv->cfg;
    uint64_t budget = fd_budget(srv->fd_limit);
    srv->max_clients = cfg->max_clients ? cfg->max_clients : budget;
    if (cfg->max_clients > budget)
        NT_WARN("--max-clients %llu is above what the open-file limit %llu allows (%llu): "
                "connections past that are shed",
                (unsigned long long)cfg->max_clients, (unsigned long long)srv->fd_limit,
                (unsigned long long)budget);
}

int nt_server_init(struct nt_server *srv, uv_loop_t *loop, struct nt_config *cfg, uint64_t fd_limit)
{
    srv->loop = loop;
    srv->fd_limit = fd_limit;
    srv->cfg = cfg;
    set_max_clients(srv);
    nt_names_init(&srv->ip_counts);
    nt_chat_init(&srv->chat, cfg);
    nt_line_door_init(&srv->line, &srv->chat, cfg);
    nt_irc_door_init(&srv->irc, &srv->chat, cfg);
    nt_web_door_init(&srv->web, &srv->chat, &srv->net, &srv->line, &srv->irc, cfg);
    struct nt_net_limits limits;
    uint64_t durations[NT_TIMEOUT_KINDS];
    net_settings(cfg, &limits, durations);
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

/* The address la says, as a socket address. Returns 0 or a libuv error. */
static int listen_sockaddr(const struct nt_listen_addr *la, struct sockaddr_storage *ss)
{
    if (la->is_ipv6)
        return uv_ip6_addr(la->host, la->port, (struct sockaddr_in6 *)(void *)ss);
    return uv_ip4_addr(la->host, la->port, (struct sockaddr_in *)(void *)ss);
}

/* Binds and listens on l's address, or listens on fd when systemd passed a socket bound to it
 * (fd >= 0); logs "PREFIXlistening on ADDR" or why not. */
static int listen_one(struct nt_listener *l, const char *prefix, int fd)
{
    const struct nt_listen_addr *la = &l->la;
    struct sockaddr_storage ss;
    int rc;
    if (fd >= 0) {
        rc = uv_tcp_open(&l->tcp, fd);
    } else {
        rc = listen_sockaddr(la, &ss);
        if (rc == 0)
            rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss,
                             la->is_ipv6 ? UV_TCP_IPV6ONLY : 0);
    }
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    const char *scheme = la->scheme == NT_SCHEME_TCP ? "" : nt_config_scheme_name(la->scheme);
    const char *sep = la->scheme == NT_SCHEME_TCP ? "" : "://";
    if (rc != 0) {
        NT_ERROR("%scannot listen on %s%s%s%s%s:%d: %s", prefix, scheme, sep,
                 la->is_ipv6 ? "[" : "", la->host, la->is_ipv6 ? "]" : "", la->port,
                 uv_strerror(rc));
        return rc;
    }
    int len = sizeof(ss);
    char name[96];
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    nt_net_format_addr(&ss, name, sizeof(name));
    snprintf(l->name, sizeof(l->name), "%s%s%s", scheme, sep, name);
    NT_INFO("%slistening on %s", prefix, l->name);
    return 0;
}

/* Whether the socket address a is the one b says (family, address, port). */
static bool same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return a->ss_family == AF_INET6 && x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/*
 * Socket activation (dist/natter.socket; docs/OPERATIONS.md "systemd"): the listening sockets
 * systemd passed (LISTEN_FDS) go to the --listen of the same address, which then speaks what its
 * scheme says; fd_of[i] is the socket of cfg->listen[i], or -1 when natter binds it itself. A
 * socket that is not a listening TCP one, or that no --listen names, is logged and closed.
 */
static void take_systemd_sockets(const struct nt_config *cfg, int *fd_of)
{
    for (size_t i = 0; i < cfg->n_listen; i++)
        fd_of[i] = -1;
    int n = sd_listen_fds(1); /* and unsets LISTEN_FDS: nothing natter starts inherits them */
    if (n < 0)
        NT_WARN("socket activation: %s", strerror(-n));
    if (n <= 0)
        return;
    NT_INFO("socket activation: %d socket%s from systemd", n, n == 1 ? "" : "s");
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char name[96] = "?";
        bool is_tcp = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0 &&
                      getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
                      (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
        if (is_tcp)
            nt_net_format_addr(&ss, name, sizeof(name));
        size_t match = cfg->n_listen;
        for (size_t i = 0; is_tcp && i < cfg->n_listen && match == cfg->n_listen; i++) {
            struct sockaddr_storage want;
            if (fd_of[i] < 0 && listen_sockaddr(&cfg->listen[i], &want) == 0 &&
                same_sockaddr(&ss, &want))
                match = i;
        }
        if (!is_tcp)
            NT_WARN("socket activation: descriptor %d is not a listening TCP socket; closed", fd);
        else if (match == cfg->n_listen)
            NT_WARN("socket activation: %s is not a --listen address; closed", name);
        else
            fd_of[match] = fd;
        if (match == cfg->n_listen)
            close(fd);
    }
}

/* --node-name, or HOST-PID with what --node-name would refuse left out. */
static void node_name(const struct nt_config *cfg, char out[NT_NODE_NAME_MAX + 1])
{
    if (cfg->node_name != NULL) {
        snprintf(out, NT_NODE_NAME_MAX + 1, "%s", cfg->node_name);
        return;
    }
    char host[256] = "natter";
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "natter");
    host[sizeof(host) - 1] = '\0';
    char pid[24];
    int pl = snprintf(pid, sizeof(pid), "-%ld", (long)getpid());
    size_t n = 0;
    for (const char *p = host; *p != '\0' && n + (size_t)pl < NT_NODE_NAME_MAX; p++) {
        if (strchr(NT_NODE_NAME_CHARS, *p) != NULL)
            out[n++] = *p;
    }
    memcpy(out + n, pid, (size_t)pl + 1);
}

int nt_server_start(struct nt_server *srv)
{
    const struct nt_config *cfg = srv->cfg;
    int fd_of[NT_MAX_LISTEN];
    take_systemd_sockets(cfg, fd_of);
    for (size_t i = 0; i < cfg->n_listen; i++) {
        struct nt_listener *l = listener_new(srv, &cfg->listen[i]);
        srv->listeners[srv->n_listeners++] = l;
        int rc = listen_one(l, "", fd_of[i]);
        if (rc != 0) {
            for (size_t j = i + 1; j < cfg->n_listen; j++) {
                if (fd_of[j] >= 0)
                    close(fd_of[j]);
            }
            return rc;
        }
    }
    if (cfg->redis_url != NULL) {
        node_name(cfg, srv->node_name);
        srv->cluster = nt_cluster_new(srv->loop, &srv->chat, cfg, srv->node_name);
        srv->web.cluster = srv->cluster;
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

/* --- reloading (SIGHUP; docs/OPERATIONS.md "Reloading") ------------------------------------ */

/* Logs each line of what a reload's checks wrote, as errors. */
static void log_errors(char *text)
{
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "natter: ", 8) == 0)
            line += 8;
        NT_ERROR("reload: %s", line);
    }
}

/* nt_config_change_fn: one line per option that changed. */
static void log_change(void *ctx, const char *name, const char *from, const char *to,
                       bool needs_restart)
{
    (void)ctx;
    if (needs_restart)
        NT_WARN("reload: %s %s -> %s needs a restart; %s stays until then", name, from, to, from);
    else
        NT_INFO("reload: %s %s -> %s", name, from, to);
}

/* --max-per-ip or the loopback exemption changed: open conns are counted (or not) as new ones
 * would be, so the limit holds for what is open already. */
static void recount_per_ip(struct nt_server *srv)
{
    for (struct nt_list *l = srv->net.conns.next; l != &srv->net.conns; l = l->next) {
        struct nt_conn *c = NT_CONTAINER_OF(l, struct nt_conn, all_link);
        if (!c->is_counted || c->is_ip_counted == counts_per_ip(srv, c->ip))
            continue;
        c->is_ip_counted = !c->is_ip_counted;
        ip_count_add(srv, c->ip, c->is_ip_counted ? 1 : -1);
    }
}

/* The listeners of next: those that run already are kept (kept[i] set for srv->listeners[i]),
 * the others opened into fresh[]. Returns how many were opened, or -1 (after closing them)
 * when one cannot listen: the reload is then an error. */
static int open_new_listeners(struct nt_server *srv, const struct nt_config *next, bool *kept,
                              struct nt_listener **fresh)
{
    int n = 0;
    for (size_t i = 0; i < next->n_listen; i++) {
        bool runs = false;
        for (size_t j = 0; j < srv->n_listeners && !runs; j++) {
            if (!kept[j] && nt_config_listen_equal(&srv->listeners[j]->la, &next->listen[i]))
                runs = kept[j] = true;
        }
        if (runs)
            continue;
        struct nt_listener *l = listener_new(srv, &next->listen[i]);
        fresh[n++] = l;
        if (listen_one(l, "reload: ", -1) != 0) {
            for (int k = 0; k < n; k++)
                listener_close(fresh[k]);
            return -1;
        }
    }
    return n;
}

int nt_server_reload(struct nt_server *srv)
{
    struct nt_config *cur = srv->cfg;
    struct nt_config next;
    nt_config_defaults(&next);
    char *errors = NULL;
    size_t errors_len = 0;
    FILE *err = open_memstream(&errors, &errors_len);
    if (err == NULL) {
        NT_ERROR("reload: %s; nothing changed", strerror(errno));
        return -1;
    }
    NT_ASSERT(srv->read_config != NULL);
    bool bad = srv->read_config(&next, err, srv->read_config_arg) != 0;
    struct nt_tls_ctx *ctx = NULL;
    if (!bad && nt_config_has_tls(&next)) {
        char why[512];
        ctx = nt_tls_ctx_new(next.tls_cert_file, next.tls_key_file, why, sizeof(why));
        if (ctx == NULL) {
            fprintf(err, "kept the old TLS certificate: %s\n", why);
            bad = true;
        }
    }
    fclose(err);
    log_errors(errors);
    free(errors);
    bool kept[NT_MAX_LISTEN] = {false};
    struct nt_listener *fresh[NT_MAX_LISTEN];
    int n_fresh = bad ? 0 : open_new_listeners(srv, &next, kept, fresh);
    if (bad || n_fresh < 0) {
        if (ctx != NULL)
            nt_tls_ctx_free(ctx);
        nt_config_fini(&next);
        NT_ERROR("reload: the configuration has errors; nothing changed");
        return -1;
    }

    /* From here on nothing fails: log what changes, then apply it. */
    size_t changes = nt_config_diff(&next, cur, log_change, NULL) + (size_t)n_fresh;
    size_t n_kept = 0;
    for (size_t j = 0; j < srv->n_listeners; j++) {
        struct nt_listener *l = srv->listeners[j];
        if (kept[j]) {
            srv->listeners[n_kept++] = l;
            continue;
        }
        NT_INFO("reload: stopped listening on %s; its clients stay", l->name);
        listener_close(l);
        changes++;
    }
    srv->n_listeners = n_kept;
    for (int k = 0; k < n_fresh; k++)
        srv->listeners[srv->n_listeners++] = fresh[k];
    if (strcmp(next.oper_password, cur->oper_password) != 0) {
        NT_INFO("reload: operator password %s", next.oper_password[0] ? "changed" : "removed");
        changes++;
    }
    if (ctx != NULL)
        NT_INFO("reload: TLS certificate %s and key %s loaded", next.tls_cert_file,
                next.tls_key_file);
    if (srv->tls_ctx != NULL)
        nt_tls_ctx_free(srv->tls_ctx); /* open connections hold their own reference */
    srv->tls_ctx = ctx;

    nt_config_fini(cur); /* everything borrowed from it now points into next's copies */
    *cur = next;
    nt_log_threshold = cur->log_level;
    struct nt_net_limits limits;
    uint64_t durations[NT_TIMEOUT_KINDS];
    net_settings(cur, &limits, durations);
    nt_conn_net_reload(&srv->net, &limits, durations);
    nt_chat_reload(&srv->chat);
    nt_line_door_reload(&srv->line, &srv->net);
    set_max_clients(srv);
    recount_per_ip(srv);
    if (changes == 0 && ctx == NULL)
        NT_INFO("reload: nothing changed");
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

/* The other nodes are told this one goes (its users leave there), and the link closes. */
static void close_cluster(struct nt_server *srv)
{
    if (srv->cluster != NULL)
        nt_cluster_close(srv->cluster);
    srv->cluster = NULL;
    srv->web.cluster = NULL;
}

void nt_server_shutdown(struct nt_server *srv)
{
    if (srv->is_shutting_down)
        return;
    srv->is_shutting_down = true;
    notify("STOPPING=1");
    close_cluster(srv);
    nt_chat_shutdown(&srv->chat);
    close_listeners(srv);
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
    close_cluster(srv);
    nt_chat_shutdown(&srv->chat);
    close_all(srv);
    close_server_handles(srv);
}

void nt_server_fini(struct nt_server *srv)
{
    nt_line_door_fini(&srv->line);
    nt_web_door_fini(&srv->web);
    nt_chat_fini(&srv->chat);
    nt_names_fini(&srv->ip_counts); /* empty: every conn released its address */
    if (srv->tls_ctx != NULL)
        nt_tls_ctx_free(srv->tls_ctx);
}
