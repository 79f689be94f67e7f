/* SPDX-License-Identifier: MIT */
/* cluster.c - the door to the other nodes: events out through Redis, theirs in through ghosts. */
#include "door/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/irc.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/text.h"
#include "lib/util.h"
#include "lib/wire.h"
#include "net/link.h"

/* A node silent this long (while our own link works) is gone: its users leave (§10.4). */
#define PEER_DEAD_MS 5000
/* A node's liveness key lives this long; refreshed every tick. */
#define ALIVE_MS 5000
#define TICK_MS  1000
/* Ghost ids start here, far from conn ids, so an event's actor id names one member. */
#define GHOST_ID_BASE (1ULL << 48)

/*
 * Names in Redis (docs/ARCHITECTURE.md, "The cluster"): the hash natter:DB:names maps a folded
 * name to the node holding it; natter:DB:alive:NODE exists while the node lives. A claim takes a
 * name that is free, ours, or held by a node whose key expired (it died holding it).
 */
static const char CLAIM_LUA[] =
    "local o = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if o and o ~= ARGV[2] and redis.call('EXISTS', ARGV[3] .. o) == 1 then return 0 end "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1";
/* Forgets every name held by this node (it links again: it claims those it has right after, so
 * names it lost meanwhile, a crash before a restart under the same name, are freed). */
static const char FORGET_LUA[] =
    "local all = redis.call('HGETALL', KEYS[1]) "
    "for i = 1, #all, 2 do if all[i + 1] == ARGV[1] then redis.call('HDEL', KEYS[1], all[i]) end "
    "end return 1";
static const char RELEASE_LUA[] = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then "
                                  "redis.call('HDEL', KEYS[1], ARGV[1]) end return 1";

struct peer {
    struct nt_list link; /* in cluster->peers */
    char name[NT_WIRE_MAX_NODE + 1];
    size_t len;
    uint64_t heard;      /* loop ms of its last message */
    uint64_t heard_wall; /* wall ms of its last message */
    uint64_t epoch;      /* its snapshot round: ghosts it did not name by its DONE are gone */
    bool in_snapshot;    /* its DONE 0 came, its DONE 1 not yet */
    /* Its messages that never came, told at most once a second (a burst of drops is one line):
     * the span not told yet, and when the last was told (loop ms). */
    bool has_gap;
    uint64_t gap_from, gap_to, gap_told, gap_missing;
    struct nt_list ghosts; /* of struct ghost, by link */
};

/* A user of another node, as a member here: deliver does nothing (its node delivers). */
struct ghost {
    struct nt_member m;
    struct nt_cluster *c;
    struct peer *peer; /* NULL once out */
    uint64_t remote_id;
    uint64_t epoch;
    struct nt_list link; /* in peer->ghosts, then in cluster->dead until freed */
};

struct nt_cluster {
    struct nt_chat *chat; /* borrowed */
    uv_loop_t *loop;
    struct nt_link *link;
    struct nt_chat_cluster hooks;
    char node[NT_WIRE_MAX_NODE + 1];
    size_t node_len;
    char names_key[48];
    char alive_prefix[48];
    size_t alive_prefix_len;
    struct nt_list peers;
    struct nt_list dead; /* ghosts out of the chat, freed at the next tick */
    uint64_t next_ghost_id;
    uv_timer_t tick;
    struct nt_cluster_stats stats;
    unsigned in_flight;     /* commands whose answer uses c: it lives until they came */
    bool is_applying_bans;  /* a ban of another node is being applied: not told back */
    bool wants_history;     /* no room's past asked yet: asked of the first node that answers */
    uint64_t history_lines; /* lines of the rooms' past that came */
    uint64_t queue_drops;   /* messages the full queue to Redis dropped since the last tick */
    char *text_buf; /* owned: NT_TEXT_SANITIZED_MAX((size_t)NT_WIRE_MAX_STR) bytes (clean()) */
    char tags_buf[NT_IRC_MAX_CLIENT_TAGS];
    char tags_clean[NT_TEXT_SANITIZED_MAX(NT_IRC_MAX_CLIENT_TAGS)];
    bool is_dropping;  /* it dropped some in the tick before too (no second warning) */
    bool has_linked;   /* the link has come up once (on_up) */
    char bans_key[48]; /* natter:DB:bans: every node's bans (a set of addresses) */
    bool is_closed, is_tick_closed;
};

/* A claim in flight. */
struct claim {
    struct nt_cluster *c;
    uint64_t id;
    size_t len;
    char name[];
};

/* "HH:MM:SSZ" of wall ms (UTC). */
static void clock_of(uint64_t ms, char out[16])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%H:%M:%SZ", &tm);
}

static struct ghost *ghost_of(struct nt_member *m)
{
    return NT_CONTAINER_OF(m, struct ghost, m);
}

/* --- ghosts -------------------------------------------------------------------------------- */

static int ghost_deliver(struct nt_member *m, struct nt_event *ev)
{
    (void)m;
    (void)ev; /* its own node delivers to it */
    return 0;
}

/* Out of the chat (kicked here): forgotten now, freed at the next tick. */
static void ghost_goodbye(struct nt_member *m, const char *text, const char *reason,
                          const struct nt_event *why)
{
    (void)text;
    (void)reason;
    (void)why;
    struct ghost *g = ghost_of(m);
    if (g->peer == NULL)
        return;
    nt_list_remove(&g->link);
    g->peer = NULL;
    nt_list_append(&g->c->dead, &g->link);
    g->c->stats.ghosts--;
}

static const struct nt_member_ops ghost_ops = {.deliver = ghost_deliver, .goodbye = ghost_goodbye};

/* Takes g out of the chat (told: its leave announced) and forgets it. */
static void ghost_out(struct nt_cluster *c, struct ghost *g, const char *reason, bool is_told)
{
    nt_chat_ghost_leave(c->chat, &g->m, reason, is_told);
    ghost_goodbye(&g->m, NULL, reason, NULL);
}

static void free_dead(struct nt_cluster *c)
{
    for (struct nt_list *l = c->dead.next, *next; l != &c->dead; l = next) {
        next = l->next;
        struct ghost *g = NT_CONTAINER_OF(l, struct ghost, link);
        nt_member_fini(&g->m);
        free(g);
    }
    nt_list_init(&c->dead);
}

/* The ghost of peer's user remote_id called name[0..len), or NULL. */
static struct ghost *find_ghost(struct nt_cluster *c, struct peer *p, const char *name, size_t len,
                                uint64_t remote_id)
{
    struct nt_member *m = len > 0 ? nt_chat_find(c->chat, name, len) : NULL;
    if (m != NULL && m->node != NULL) {
        struct ghost *g = ghost_of(m);
        if (g->peer == p && g->remote_id == remote_id)
            return g;
    }
    for (struct nt_list *l = p->ghosts.next; l != &p->ghosts; l = l->next) {
        struct ghost *g = NT_CONTAINER_OF(l, struct ghost, link);
        if (g->remote_id == remote_id)
            return g;
    }
    return NULL;
}

/* Whether a claim (claimed_ms, node a) came before (claimed_ms, node b): the earlier keeps. */
static bool is_earlier(uint64_t a_ms, const char *a, size_t a_len, uint64_t b_ms, const char *b,
                       size_t b_len)
{
    if (a_ms != b_ms)
        return a_ms < b_ms;
    int cmp = memcmp(a, b, a_len < b_len ? a_len : b_len);
    return cmp != 0 ? cmp < 0 : a_len < b_len;
}

static void publish_user(struct nt_cluster *c, const struct nt_member *m);
static bool claim_name(struct nt_cluster *c, const struct nt_member *m, const char *name,
                       size_t len, bool is_forced);

/* NAME-2, NAME-3...: the first that is valid and free here. */
static size_t free_variant(struct nt_cluster *c, const char *name, size_t len, char *out)
{
    for (unsigned n = 2; n < 1000; n++) {
        char suffix[8];
        size_t sl = (size_t)snprintf(suffix, sizeof(suffix), "-%u", n);
        size_t keep = len;
        while (keep + sl > NT_NAME_MAX_BYTES && keep > 0) {
            keep--;
            while (keep > 0 && ((unsigned char)name[keep] & 0xC0) == 0x80)
                keep--; /* never cut a UTF-8 character in two */
        }
        memcpy(out, name, keep);
        memcpy(out + keep, suffix, sl);
        size_t total = keep + sl;
        if (nt_names_check(out, total) == NT_NAME_OK && nt_chat_find(c->chat, out, total) == NULL)
            return total;
    }
    return 0;
}

/*
 * Peer p's user claims name[0..len) at claimed_ms, which holder h has here: the earlier claim
 * keeps it (the same answer on every node). Returns whether the name is free for p's user now.
 */
static bool settle_clash(struct nt_cluster *c, struct peer *p, struct nt_member *h,
                         const char *name, size_t len, uint64_t claimed_ms)
{
    const char *h_node = h->node != NULL ? h->node : c->node;
    bool h_keeps = is_earlier(h->claimed_ms, h_node, strlen(h_node), claimed_ms, p->name, p->len);
    c->stats.clashes++;
    NT_INFO("cluster: %.*s of %s and of %s: the earlier claim (%s) keeps the name", (int)len, name,
            h_node, p->name, h_keeps ? h_node : p->name);
    if (h_keeps) {
        if (h->node == NULL) { /* ours keeps it: Redis says so, and the other node is told */
            claim_name(c, h, h->name, h->name_len, true);
            publish_user(c, h);
        }
        return false;
    }
    if (h->node != NULL) { /* another node's user loses: its node renames it */
        ghost_out(c, ghost_of(h), "name-clash", false);
        return true;
    }
    char renamed[NT_NAME_MAX_BYTES + 1];
    size_t rl = free_variant(c, h->name, h->name_len, renamed);
    if (rl == 0)
        return false;
    char text[3 * NT_NAME_MAX_BYTES + 64];
    snprintf(text, sizeof(text), "%s was taken on another node; you are now %.*s", h->name, (int)rl,
             renamed);
    NT_INFO("conn=%llu name=%s renamed to %.*s: the name was taken on %s",
            (unsigned long long)h->id, h->name, (int)rl, renamed, p->name);
    claim_name(c, h, renamed, rl, true);
    nt_chat_force_rename(c->chat, h, renamed, rl, text);
    return true;
}

/* The ghost of p's user remote_id called name, made if new. NULL when the name stays with
 * another member here (a clash it lost). */
static struct ghost *ghost_for(struct nt_cluster *c, struct peer *p, const char *name, size_t len,
                               uint64_t remote_id, uint64_t claimed_ms)
{
    struct ghost *g = find_ghost(c, p, name, len, remote_id);
    if (g != NULL)
        return g;
    if (nt_names_check(name, len) != NT_NAME_OK)
        return NULL;
    struct nt_member *h = nt_chat_find(c->chat, name, len);
    if (h != NULL && h->node != NULL && ghost_of(h)->peer == p) {
        ghost_out(c, ghost_of(h), "gone", false); /* that node's older word (it restarted) */
        h = NULL;
    }
    if (h != NULL && !settle_clash(c, p, h, name, len, claimed_ms))
        return NULL;
    g = nt_xcalloc(1, sizeof(*g));
    g->c = c;
    g->peer = p;
    g->remote_id = remote_id;
    g->epoch = p->epoch;
    nt_member_init(&g->m, &ghost_ops, c->next_ghost_id++, p->name, "");
    g->m.node = p->name;
    g->m.door = p->name;
    if (nt_chat_ghost_add(c->chat, &g->m, name, len, claimed_ms) != NT_CHAT_JOINED) {
        nt_member_fini(&g->m);
        free(g);
        return NULL;
    }
    nt_list_append(&p->ghosts, &g->link);
    c->stats.ghosts++;
    return g;
}

/* --- peers --------------------------------------------------------------------------------- */

static struct peer *peer_for(struct nt_cluster *c, const struct nt_wire_str *node)
{
    for (struct nt_list *l = c->peers.next; l != &c->peers; l = l->next) {
        struct peer *p = NT_CONTAINER_OF(l, struct peer, link);
        if (p->len == node->len && memcmp(p->name, node->p, node->len) == 0)
            return p;
    }
    struct peer *p = nt_xcalloc(1, sizeof(*p));
    memcpy(p->name, node->p, node->len);
    p->len = node->len;
    nt_list_init(&p->ghosts);
    nt_list_append(&c->peers, &p->link);
    c->stats.peers++;
    NT_INFO("cluster: node %s is here", p->name);
    return p;
}

/* p is gone: its users leave (told, or silently when our own link is what failed). */
static void peer_gone(struct nt_cluster *c, struct peer *p, const char *reason, bool is_told)
{
    for (struct nt_list *l = p->ghosts.next, *next; l != &p->ghosts; l = next) {
        next = l->next; /* ghost_out moves the ghost to the dead list */
        ghost_out(c, NT_CONTAINER_OF(l, struct ghost, link), reason, is_told);
    }
    nt_list_remove(&p->link);
    c->stats.peers--;
    free(p);
}

static void all_peers_gone(struct nt_cluster *c, const char *reason, bool is_told)
{
    for (struct nt_list *l = c->peers.next, *next; l != &c->peers; l = next) {
        next = l->next;
        peer_gone(c, NT_CONTAINER_OF(l, struct peer, link), reason, is_told);
    }
}

/* --- out: this node's events --------------------------------------------------------------- */

static struct nt_wire_str str(const char *p, size_t len)
{
    if (len > NT_WIRE_MAX_STR) { /* a --max-line over 64 KiB: cut at a character */
        len = NT_WIRE_MAX_STR;
        while (len > 0 && ((unsigned char)p[len] & 0xC0) == 0x80)
            len--;
    }
    return (struct nt_wire_str){p, len};
}

static void send_msg(struct nt_cluster *c, struct nt_wire_msg *w)
{
    if (!c->has_linked) { /* nobody hears us yet: no number spent, so no false gap */
        c->stats.dropped++;
        return;
    }
    int rc = nt_link_publish(c->link, w);
    if (rc == 0) {
        c->stats.published++;
        return;
    }
    c->stats.dropped++;
    if (rc == UV_ENOBUFS && c->queue_drops++ == 0 && !c->is_dropping)
        NT_WARN("cluster: the queue to Redis is full (--redis-queue): messages for the other "
                "nodes are dropped");
}

/* Once a second: how many messages the full queue dropped since the last tick (one line for a
 * burst, however long). */
static void report_drops(struct nt_cluster *c)
{
    c->is_dropping = c->queue_drops > 0;
    if (c->queue_drops == 0)
        return;
    NT_WARN("cluster: %llu messages for the other nodes were dropped: the queue to Redis was full "
            "(--redis-queue)",
            (unsigned long long)c->queue_drops);
    c->queue_drops = 0;
}

/* "lobby,rust": the rooms of m, in out (cap bytes). */
static size_t rooms_of(const struct nt_member *m, char *out, size_t cap)
{
    size_t n = 0;
    for (const struct nt_list *l = m->seats.next; l != &m->seats; l = l->next) {
        const struct nt_room *r = NT_CONTAINER_OF_CONST(l, struct nt_seat, member_link)->room;
        if (n + r->name_len + 1 >= cap)
            break;
        if (n > 0)
            out[n++] = ',';
        memcpy(out + n, r->name, r->name_len);
        n += r->name_len;
    }
    return n;
}

static void publish_user(struct nt_cluster *c, const struct nt_member *m)
{
    char rooms[NT_CHAT_MAX_ROOMS * (NT_NAME_MAX_BYTES + 1) + 1];
    size_t rl = rooms_of(m, rooms, sizeof(rooms));
    struct nt_wire_msg w = {
        .type = NT_WIRE_USER,
        .time_ms = m->claimed_ms,
        .kind = m->is_oper ? NT_WIRE_USER_OPER : 0,
        .actor_id = m->id,
        .actor = str(m->name, m->name_len),
        .target = str(rooms, rl),
        .text = m->away != NULL ? str(m->away, strlen(m->away)) : str("", 0),
    };
    send_msg(c, &w);
}

/* DONE 0, every local user, DONE 1: the answer to a SYNC, and what a node says when it
 * (re)links. */
static void publish_snapshot(struct nt_cluster *c)
{
    struct nt_wire_msg begin = {.type = NT_WIRE_DONE, .time_ms = nt_wall_ms(), .kind = 0};
    send_msg(c, &begin);
    for (const struct nt_list *l = c->chat->members.next; l != &c->chat->members; l = l->next) {
        const struct nt_member *m = NT_CONTAINER_OF_CONST(l, struct nt_member, all_link);
        if (m->node == NULL && m->state == NT_MEMBER_IN)
            publish_user(c, m);
    }
    struct nt_wire_msg w = {.type = NT_WIRE_DONE, .time_ms = nt_wall_ms(), .kind = 1};
    send_msg(c, &w);
}

static void hook_publish(void *ctx, const struct nt_event *ev, const struct nt_member *m)
{
    struct nt_cluster *c = ctx;
    if (!nt_link_is_up(c->link))
        return; /* alone: nobody to tell (the others learn it from the snapshot when back) */
    if (ev == NULL) {
        publish_user(c, m);
        return;
    }
    struct nt_wire_msg w = {
        .type = NT_WIRE_EVENT,
        .time_ms = ev->time_ms,
        .kind = (uint32_t)ev->kind,
        .actor_id = m->id,
        .room = str(ev->room, ev->room_len),
        .actor = str(ev->actor, ev->actor_len),
        .target = str(ev->target, ev->target_len),
        .text = str(ev->text, ev->text_len),
        .tags = str(ev->tags, ev->tags_len),
        .reason = ev->reason != NULL ? str(ev->reason, strlen(ev->reason)) : str("", 0),
    };
    send_msg(c, &w);
}

/* --- names --------------------------------------------------------------------------------- */

static void free_cluster(struct nt_cluster *c)
{
    free(c->text_buf);
    free(c);
}

/* An answer to a command that holds c came: whether c is still open (else it may be freed). */
static bool answered(struct nt_cluster *c)
{
    c->in_flight--;
    if (!c->is_closed)
        return true;
    if (c->in_flight == 0 && c->is_tick_closed)
        free_cluster(c);
    return false;
}

static void on_claimed(struct nt_link *l, const struct redisReply *reply, void *arg)
{
    (void)l;
    struct claim *cl = arg;
    struct nt_cluster *c = cl->c;
    if (!answered(c)) {
        free(cl);
        return;
    }
    /* No answer (the link went down): this node goes on alone, and the name is the user's. */
    bool granted = reply == NULL || reply->type != REDIS_REPLY_INTEGER || reply->integer == 1;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        NT_WARN("cluster: a name claim failed: %s", reply->str);
    if (!nt_chat_claimed(c->chat, cl->id, cl->name, cl->len, granted) && granted &&
        nt_chat_find(c->chat, cl->name, cl->len) == NULL)
        c->hooks.release(c, NULL, cl->name, cl->len); /* nobody waits for it any more */
    free(cl);
}

static void on_forced(struct nt_link *l, const struct redisReply *reply, void *arg)
{
    (void)l;
    (void)reply;
    free(arg);
}

/* Runs script on name's folded form; 0, or the link's error (fn never comes then). */
static int eval(struct nt_cluster *c, const char *script, size_t script_len, const char *name,
                size_t len, nt_link_reply_fn fn, void *arg)
{
    char folded[NT_NAME_MAX_BYTES + 1];
    size_t fl = nt_names_fold(name, len, folded);
    if (fl > NT_NAME_MAX_BYTES)
        return UV_EINVAL; /* never reached: names are checked */
    const char *argv[] = {"EVAL", script, "1", c->names_key, folded, c->node, c->alive_prefix};
    const size_t lens[] = {4,           script_len,         1, strlen(c->names_key), fl,
                           c->node_len, c->alive_prefix_len};
    return nt_link_command(c->link, 7, argv, lens, fn, arg);
}

/* Asks Redis for name for m (is_forced: takes it whoever holds it, after a clash m won).
 * Returns whether the answer will come (on_claimed), not forced. */
static bool claim_name(struct nt_cluster *c, const struct nt_member *m, const char *name,
                       size_t len, bool is_forced)
{
    if (is_forced) {
        char folded[NT_NAME_MAX_BYTES + 1];
        size_t fl = nt_names_fold(name, len, folded);
        const char *argv[] = {"HSET", c->names_key, folded, c->node};
        const size_t lens[] = {4, strlen(c->names_key), fl, c->node_len};
        if (fl <= NT_NAME_MAX_BYTES)
            nt_link_command(c->link, 4, argv, lens, on_forced, NULL);
        return false;
    }
    struct claim *cl = nt_xmalloc(sizeof(*cl) + len + 1);
    cl->c = c;
    cl->id = m->id;
    cl->len = len;
    memcpy(cl->name, name, len);
    cl->name[len] = '\0';
    if (eval(c, CLAIM_LUA, sizeof(CLAIM_LUA) - 1, name, len, on_claimed, cl) != 0) {
        free(cl);
        return false; /* no connection now: the name is the user's (a clash is settled later) */
    }
    c->stats.claims++;
    c->in_flight++;
    return true;
}

static bool hook_claim(void *ctx, const struct nt_member *m, const char *name, size_t len)
{
    struct nt_cluster *c = ctx;
    if (!nt_link_is_up(c->link))
        return false; /* alone: a clash, if any, is settled when the others are back */
    return claim_name(c, m, name, len, false);
}

static void hook_release(void *ctx, const struct nt_member *m, const char *name, size_t len)
{
    (void)m;
    struct nt_cluster *c = ctx;
    if (nt_link_is_up(c->link))
        eval(c, RELEASE_LUA, sizeof(RELEASE_LUA) - 1, name, len, on_forced, NULL);
}

/* --- bans ---------------------------------------------------------------------------------- */

static void ban_here(struct nt_cluster *c, const char *ip, size_t len, bool is_banned)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf) || memchr(ip, '\0', len) != NULL)
        return; /* no address natter bans (PROTOCOL.md §7.10) */
    memcpy(buf, ip, len);
    buf[len] = '\0';
    c->is_applying_bans = true;
    if (is_banned) {
        if (nt_chat_ban(c->chat, buf))
            NT_INFO("cluster: %s banned on another node", buf);
    } else if (nt_chat_unban(c->chat, buf)) {
        NT_INFO("cluster: %s unbanned on another node", buf);
    }
    c->is_applying_bans = false;
}

/* A ban or unban made here: into Redis's set, and told to the nodes linked now. */
static void hook_bans_changed(void *ctx, const char *ip, bool is_banned)
{
    struct nt_cluster *c = ctx;
    if (c->is_applying_bans || !nt_link_is_up(c->link))
        return; /* theirs; or alone: given to Redis when the link is back (on_up) */
    const char *argv[] = {is_banned ? "SADD" : "SREM", c->bans_key, ip};
    const size_t lens[] = {4, strlen(c->bans_key), strlen(ip)};
    nt_link_command(c->link, 3, argv, lens, on_forced, NULL);
    struct nt_wire_msg w = {.type = NT_WIRE_BANS,
                            .time_ms = nt_wall_ms(),
                            .kind = is_banned,
                            .text = str(ip, strlen(ip))};
    send_msg(c, &w);
}

/* Every node's bans, when the link comes up: added here. */
static void on_bans(struct nt_link *l, const struct redisReply *reply, void *arg)
{
    (void)l;
    struct nt_cluster *c = arg;
    if (!answered(c) || reply == NULL || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements; i++) {
        const struct redisReply *e = reply->element[i];
        if (e->type == REDIS_REPLY_STRING)
            ban_here(c, e->str, e->len, true);
    }
}

/* --- in: the other nodes' messages --------------------------------------------------------- */

/* Rooms "a,b,c" of a snapshot: g is seated in each (silently). */
static void seat_all(struct nt_cluster *c, struct ghost *g, struct nt_wire_str rooms)
{
    const char *p = rooms.p, *end = rooms.p + rooms.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        if (stop > p)
            nt_chat_ghost_seat(c->chat, &g->m, p, (size_t)(stop - p));
        p = stop + 1;
    }
}

static void on_user(struct nt_cluster *c, struct peer *p, const struct nt_wire_msg *w)
{
    struct ghost *g = ghost_for(c, p, w->actor.p, w->actor.len, w->actor_id, w->time_ms);
    if (g == NULL)
        return;
    g->epoch = p->epoch;
    seat_all(c, g, w->target);
}

/* Asks p to say again who is on it (its USERs, then DONE). */
static void ask_sync(struct nt_cluster *c, struct peer *p)
{
    struct nt_wire_msg s = {
        .type = NT_WIRE_SYNC, .time_ms = nt_wall_ms(), .target = {p->name, p->len}};
    send_msg(c, &s);
}

static bool kind_is_known(uint32_t kind);
static uint64_t sane_time(uint64_t t);
static struct nt_event_fields clean(struct nt_cluster *c, const struct nt_wire_msg *w, size_t max);

/* Sends the history of every room here to the node named for (it has just started). */
static void publish_history(struct nt_cluster *c, struct nt_wire_str for_node)
{
    const struct nt_hub *hub = &c->chat->hub;
    for (const struct nt_list *l = hub->rooms.next; l != &hub->rooms; l = l->next) {
        const struct nt_room *r = NT_CONTAINER_OF_CONST(l, struct nt_room, link);
        for (size_t i = 0; i < r->hist_len; i++) {
            const struct nt_event *ev = r->history[(r->hist_head + i) % hub->history_cap];
            struct nt_wire_msg w = {.type = NT_WIRE_HISTORY,
                                    .time_ms = ev->time_ms,
                                    .kind = (uint32_t)ev->kind,
                                    .actor_id = i,
                                    .room = str(r->name, r->name_len),
                                    .actor = str(ev->actor, ev->actor_len),
                                    .text = str(ev->text, ev->text_len),
                                    .tags = str(ev->tags, ev->tags_len),
                                    .reason = for_node};
            send_msg(c, &w);
        }
    }
    struct nt_wire_msg end = {
        .type = NT_WIRE_HISTORY, .time_ms = nt_wall_ms(), .kind = NT_EV_KINDS, .reason = for_node};
    send_msg(c, &end);
}

static bool is_us(const struct nt_cluster *c, struct nt_wire_str s)
{
    return s.len == c->node_len && memcmp(s.p, c->node, c->node_len) == 0;
}

static void on_history(struct nt_cluster *c, struct peer *p, const struct nt_wire_msg *w)
{
    if (!is_us(c, w->reason))
        return;
    if (w->kind == NT_EV_KINDS) {
        NT_INFO("cluster: the rooms' past came from node %s: %llu lines", p->name,
                (unsigned long long)c->history_lines);
        return;
    }
    if (!kind_is_known(w->kind))
        return;
    c->history_lines++;
    struct nt_event_fields f = clean(c, w, NT_WIRE_MAX_STR);
    f.target = NULL;
    f.target_len = 0;
    nt_chat_remember(c->chat, (enum nt_event_kind)w->kind, &f, sane_time(w->time_ms),
                     w->actor_id == 0);
}

/* A time another node gives, shown to users (server-time, 333): its own unless it is before 2020
 * or more than a minute ahead of ours. */
static uint64_t sane_time(uint64_t t)
{
    uint64_t now = nt_wall_ms();
    return t < 1577836800000ULL || t > now + 60000 ? now : t;
}

/*
 * The fields of another node's event w, as safe as a local user's (PROTOCOL.md §5.3, §8.9): its
 * text sanitized and trimmed (at most max bytes of it, cut between characters), its tags only
 * the client tags the IRC door relays, and clean; room, actor and target as they came (the core
 * checks them against its rules and its members). Valid until the next call.
 */
static struct nt_event_fields clean(struct nt_cluster *c, const struct nt_wire_msg *w, size_t max)
{
    size_t len = w->text.len;
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)w->text.p[len] & 0xC0) == 0x80)
            len--;
    }
    const char *text = w->text.p;
    size_t n = len;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)w->text.p[i];
        if (b < 0x20 || b > 0x7E) { /* printable ASCII is what it is: no copy (most lines) */
            n = nt_text_sanitize(w->text.p, len, c->text_buf);
            text = c->text_buf;
            break;
        }
    }
    text = nt_text_trim(text, &n);
    size_t tl = 0;
    if (w->tags.len > 0) {
        tl = nt_irc_client_tags(w->tags.p, w->tags.len, c->tags_buf, sizeof(c->tags_buf));
        if (tl == (size_t)-1 || memchr(c->tags_buf, ' ', tl) != NULL ||
            nt_text_sanitize(c->tags_buf, tl, c->tags_clean) != tl ||
            memcmp(c->tags_clean, c->tags_buf, tl) != 0)
            tl = 0; /* UTF-8 without controls or spaces (a client's never has one), or none */
    }
    return (struct nt_event_fields){.room = w->room.p,
                                    .room_len = w->room.len,
                                    .actor = w->actor.p,
                                    .actor_len = w->actor.len,
                                    .target = w->target.p,
                                    .target_len = w->target.len,
                                    .text = text,
                                    .text_len = n,
                                    .tags = c->tags_buf,
                                    .tags_len = tl};
}

/* Whether kind is one the chat core knows, as a number from another node. */
static bool kind_is_known(uint32_t kind)
{
    return kind < NT_EV_KINDS && kind != NT_EV_NOTICE;
}

static void on_event(struct nt_cluster *c, struct peer *p, const struct nt_wire_msg *w)
{
    if (!kind_is_known(w->kind))
        return;
    enum nt_event_kind kind = (enum nt_event_kind)w->kind;
    struct ghost *g;
    if (kind == NT_EV_LEAVE || kind == NT_EV_PART) {
        g = find_ghost(c, p, w->actor.p, w->actor.len, w->actor_id);
    } else if (kind == NT_EV_RENAME) {
        g = find_ghost(c, p, w->actor.p, w->actor.len, w->actor_id);
        if (g == NULL) { /* a user we did not know (a clash it lost): here under its new name */
            g = ghost_for(c, p, w->target.p, w->target.len, w->actor_id, w->time_ms);
            if (g != NULL && w->room.len > 0)
                nt_chat_ghost_seat(c->chat, &g->m, w->room.p, w->room.len);
            ask_sync(c, p); /* and its other rooms */
            return;
        }
        struct nt_member *h = nt_chat_find(c->chat, w->target.p, w->target.len);
        if (h != NULL && h != &g->m &&
            !settle_clash(c, p, h, w->target.p, w->target.len, w->time_ms))
            return;
    } else {
        g = ghost_for(c, p, w->actor.p, w->actor.len, w->actor_id, w->time_ms);
    }
    if (g == NULL)
        return;
    g->epoch = p->epoch;
    /* The reason, as one of the core's static words (the log shows it). */
    static const char *const reasons[] = {"quit",   "closed", "slow",    "idle",  "kicked",
                                          "banned", "ping",   "stalled", "error", "name-timeout"};
    const char *reason = "left";
    for (size_t i = 0; i < NT_ARRAY_LEN(reasons); i++) {
        if (w->reason.len == strlen(reasons[i]) &&
            memcmp(w->reason.p, reasons[i], w->reason.len) == 0)
            reason = reasons[i];
    }
    size_t max = kind == NT_EV_TOPIC  ? NT_TOPIC_MAX
                 : kind == NT_EV_AWAY ? NT_AWAY_MAX
                                      : NT_WIRE_MAX_STR;
    struct nt_event_fields f = clean(c, w, max);
    f.reason = reason;
    c->stats.received++;
    nt_chat_apply(c->chat, &g->m, kind, &f, sane_time(w->time_ms));
    if (g->m.state == NT_MEMBER_LEFT)
        ghost_goodbye(&g->m, NULL, reason, NULL);
}

/* The start of p's snapshot (a new round: what it names from now on is there), or its end: whom
 * it did not name or make act since the start is gone. */
static void on_done(struct nt_cluster *c, struct peer *p, bool is_end)
{
    if (!is_end) {
        p->epoch++;
        p->in_snapshot = true;
        return;
    }
    if (!p->in_snapshot)
        return; /* an end without its start (we came in between): nothing to judge by */
    p->in_snapshot = false;
    for (struct nt_list *l = p->ghosts.next, *next; l != &p->ghosts; l = next) {
        next = l->next;
        struct ghost *g = NT_CONTAINER_OF(l, struct ghost, link);
        if (g->epoch != p->epoch)
            ghost_out(c, g, "gone", true);
    }
}

static void handle(struct nt_cluster *c, const struct nt_wire_msg *w)
{
    for (size_t i = 0; i < w->node.len; i++) {
        if (strchr(NT_NODE_NAME_CHARS, w->node.p[i]) == NULL || w->node.p[i] == '\0') {
            NT_DEBUG("cluster: a message from a node name --node-name refuses");
            return; /* no node natter starts has that name: shown in /who *, never */
        }
    }
    struct peer *p = peer_for(c, &w->node);
    p->heard = uv_now(c->loop);
    p->heard_wall = sane_time(w->time_ms); /* its clock, as the gap notice shows its lines' */
    switch (w->type) {
    case NT_WIRE_BYE:
        NT_INFO("cluster: node %s left", p->name);
        peer_gone(c, p, "node-shutdown", true);
        break;
    case NT_WIRE_SYNC:
        if (w->kind == 1 && is_us(c, w->target))
            publish_history(c, w->node);
        else if (w->kind == 0 && (w->target.len == 0 || is_us(c, w->target)))
            publish_snapshot(c);
        break;
    case NT_WIRE_HISTORY:
        on_history(c, p, w);
        break;
    case NT_WIRE_USER:
        on_user(c, p, w);
        break;
    case NT_WIRE_DONE:
        on_done(c, p, w->kind != 0);
        if (w->kind != 0 && c->wants_history && c->chat->cfg->history > 0) {
            c->wants_history = false; /* its rooms are here now: their past, from it */
            struct nt_wire_msg s = {.type = NT_WIRE_SYNC,
                                    .time_ms = nt_wall_ms(),
                                    .kind = 1,
                                    .target = {p->name, p->len}};
            send_msg(c, &s);
        }
        break;
    case NT_WIRE_BANS:
        ban_here(c, w->text.p, w->text.len, w->kind != 0);
        break;
    case NT_WIRE_EVENT:
        on_event(c, p, w);
        break;
    default: /* HEARTBEAT: heard is all it says */
        break;
    }
    free_dead(c);
}

static void on_message(struct nt_link *l, const struct nt_wire_msg *w)
{
    handle(nt_link_ctx(l), w);
}

void nt_cluster_receive(struct nt_cluster *c, const char *payload, size_t len)
{
    struct nt_wire_msg w;
    if (nt_wire_decode(payload, len, &w) != NT_WIRE_OK)
        return;
    if (w.node.len == c->node_len && memcmp(w.node.p, c->node, c->node_len) == 0)
        return; /* our own, back */
    handle(c, &w);
}

/* Tells the local users the span of p's messages that never came. */
static void tell_gap(struct nt_cluster *c, struct peer *p)
{
    char from[16], to[16], text[NT_WIRE_MAX_NODE + 128];
    clock_of(p->gap_from, from);
    clock_of(p->gap_to, to);
    snprintf(text, sizeof(text), "Lines from node %s between %s and %s may be missing", p->name,
             from, to);
    NT_WARN("cluster: %llu messages of node %s never came, between %s and %s",
            (unsigned long long)p->gap_missing, p->name, from, to);
    nt_chat_notice_all(c->chat, text);
    p->has_gap = false;
    p->gap_missing = 0;
    p->gap_told = uv_now(c->loop);
    ask_sync(c, p); /* what its users did meanwhile: it says again who is there */
}

static void on_gap(struct nt_link *l, const struct nt_wire_msg *w, uint64_t missing)
{
    struct nt_cluster *c = nt_link_ctx(l);
    struct peer *p = peer_for(c, &w->node);
    c->stats.missing += missing;
    p->gap_missing += missing;
    if (!p->has_gap)
        p->gap_from = p->heard_wall != 0 ? p->heard_wall : w->time_ms;
    p->gap_to = w->time_ms;
    p->has_gap = true;
    if (p->gap_told == 0 || uv_now(c->loop) - p->gap_told >= TICK_MS)
        tell_gap(c, p);
}

/* natter:DB:alive:NODE for ALIVE_MS more: while it lives, the names this node holds are its. */
static void refresh_alive(struct nt_cluster *c)
{
    char alive[sizeof(c->alive_prefix) + NT_WIRE_MAX_NODE], ms[24];
    snprintf(alive, sizeof(alive), "%s%s", c->alive_prefix, c->node);
    snprintf(ms, sizeof(ms), "%d", ALIVE_MS);
    const char *argv[] = {"SET", alive, "1", "PX", ms};
    const size_t lens[] = {3, strlen(alive), 1, 2, strlen(ms)};
    nt_link_command(c->link, 5, argv, lens, on_forced, NULL);
}

/* Our own link works (again): say who is here, ask who is there, and take our names back. */
static void on_up(struct nt_link *l, uint64_t down_since)
{
    struct nt_cluster *c = nt_link_ctx(l);
    c->has_linked = true;
    refresh_alive(c);
    const char *fargv[] = {"EVAL", FORGET_LUA, "1", c->names_key, c->node};
    const size_t flens[] = {4, sizeof(FORGET_LUA) - 1, 1, strlen(c->names_key), c->node_len};
    nt_link_command(c->link, 5, fargv, flens, on_forced, NULL);
    for (const struct nt_list *n = c->chat->members.next; n != &c->chat->members; n = n->next) {
        const struct nt_member *m = NT_CONTAINER_OF_CONST(n, struct nt_member, all_link);
        if (m->node == NULL && m->state == NT_MEMBER_IN)
            eval(c, CLAIM_LUA, sizeof(CLAIM_LUA) - 1, m->name, m->name_len, on_forced, NULL);
    }
    /* Bans: this node's (made while alone too) into the set, then the set's here. */
    for (size_t i = 0; i < c->chat->n_bans; i++) {
        const char *bargv[] = {"SADD", c->bans_key, c->chat->bans[i]};
        const size_t blens[] = {4, strlen(c->bans_key), strlen(c->chat->bans[i])};
        nt_link_command(c->link, 3, bargv, blens, on_forced, NULL);
    }
    const char *margv[] = {"SMEMBERS", c->bans_key};
    const size_t mlens[] = {8, strlen(c->bans_key)};
    if (nt_link_command(c->link, 2, margv, mlens, on_bans, c) == 0)
        c->in_flight++; /* c lives until the answer */
    struct nt_wire_msg s = {.type = NT_WIRE_SYNC, .time_ms = nt_wall_ms()};
    send_msg(c, &s);
    publish_snapshot(c);
    if (down_since != 0) {
        char from[16], to[16], text[160];
        clock_of(down_since, from);
        clock_of(nt_wall_ms(), to);
        snprintf(text, sizeof(text),
                 "The other nodes are back; lines from them between %s and %s may be missing", from,
                 to);
        NT_INFO("cluster: %s", text);
        nt_chat_notice_all(c->chat, text);
    }
}

static void on_down(struct nt_link *l, uint64_t since)
{
    struct nt_cluster *c = nt_link_ctx(l);
    char at[16], text[128];
    clock_of(since, at);
    snprintf(text, sizeof(text),
             "The other nodes are unreachable since %s; this node goes on alone", at);
    NT_WARN("cluster: %s", text);
    all_peers_gone(c, "unreachable", false);
    nt_chat_notice_all(c->chat, text);
    free_dead(c);
}

static const struct nt_link_callbacks link_callbacks = {
    .on_up = on_up, .on_down = on_down, .on_message = on_message, .on_gap = on_gap};

/* Every second: our liveness key, and the nodes that went silent. */
static void on_tick(uv_timer_t *t)
{
    struct nt_cluster *c = t->data;
    if (nt_link_is_up(c->link)) {
        refresh_alive(c);
        uint64_t now = uv_now(c->loop);
        for (struct nt_list *l = c->peers.next; l != &c->peers;) {
            struct peer *p = NT_CONTAINER_OF(l, struct peer, link);
            l = l->next;
            if (now - p->heard > PEER_DEAD_MS) {
                NT_WARN("cluster: node %s is silent for %d s: its users leave", p->name,
                        PEER_DEAD_MS / 1000);
                peer_gone(c, p, "node-lost", true);
            } else if (p->has_gap && now - p->gap_told >= TICK_MS) {
                tell_gap(c, p);
            }
        }
    }
    report_drops(c);
    free_dead(c);
}

/* --- life ---------------------------------------------------------------------------------- */

struct nt_cluster *nt_cluster_new(uv_loop_t *loop, struct nt_chat *chat,
                                  const struct nt_config *cfg, const char *node)
{
    struct nt_cluster *c = nt_xcalloc(1, sizeof(*c));
    c->chat = chat;
    c->loop = loop;
    c->node_len = strlen(node);
    NT_ASSERT(c->node_len >= 1 && c->node_len <= NT_WIRE_MAX_NODE);
    memcpy(c->node, node, c->node_len);
    snprintf(c->names_key, sizeof(c->names_key), "natter:%u:names", cfg->redis.db);
    snprintf(c->bans_key, sizeof(c->bans_key), "natter:%u:bans", cfg->redis.db);
    c->alive_prefix_len = (size_t)snprintf(c->alive_prefix, sizeof(c->alive_prefix),
                                           "natter:%u:alive:", cfg->redis.db);
    nt_list_init(&c->peers);
    nt_list_init(&c->dead);
    c->next_ghost_id = GHOST_ID_BASE;
    c->wants_history = true;
    c->text_buf = nt_xmalloc(NT_TEXT_SANITIZED_MAX((size_t)NT_WIRE_MAX_STR));
    c->hooks = (struct nt_chat_cluster){.claim = hook_claim,
                                        .release = hook_release,
                                        .publish = hook_publish,
                                        .bans_changed = hook_bans_changed,
                                        .node = c->node,
                                        .ctx = c};
    chat->cluster = &c->hooks;
    NT_ASSERT(uv_timer_init(loop, &c->tick) == 0);
    c->tick.data = c;
    uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
    c->link = nt_link_new(loop, &cfg->redis, c->node, cfg->redis_queue, &link_callbacks, c);
    char url[NT_REDIS_URL_MAX_HOST + 64];
    nt_redis_url_format(&cfg->redis, url, sizeof(url));
    NT_INFO("cluster: node %s, through %s", c->node, url);
    return c;
}

bool nt_cluster_is_up(const struct nt_cluster *c)
{
    return nt_link_is_up(c->link);
}

void nt_cluster_stats(const struct nt_cluster *c, struct nt_cluster_stats *out)
{
    *out = c->stats;
    const struct nt_link_stats *ls = nt_link_stats(c->link);
    out->missing = ls->missing;
    out->outages = ls->downs;
    out->is_up = nt_link_is_up(c->link);
}

const char *nt_cluster_node(const struct nt_cluster *c)
{
    return c->node;
}

static void on_tick_closed(uv_handle_t *h)
{
    struct nt_cluster *c = h->data;
    c->is_tick_closed = true;
    if (c->in_flight == 0)
        free_cluster(c);
}

void nt_cluster_close(struct nt_cluster *c)
{
    if (nt_link_is_up(c->link)) {
        struct nt_wire_msg bye = {.type = NT_WIRE_BYE, .time_ms = nt_wall_ms()};
        send_msg(c, &bye);
    }
    all_peers_gone(c, "node-shutdown", false);
    free_dead(c);
    c->chat->cluster = NULL;
    c->is_closed = true;
    nt_link_close(c->link);
    uv_close((uv_handle_t *)&c->tick, on_tick_closed);
}
