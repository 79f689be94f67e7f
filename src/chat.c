/* SPDX-License-Identifier: MIT */
/* chat.c - the protocol state machine: name prompt, messages, notices (PROTOCOL.md). */
#include "chat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "names.h"
#include "server.h"
#include "text.h"

void nt_chat_start(struct nt_conn *c)
{
    struct nt_server *srv = c->srv;
    if (c->state == NT_CONN_ECHO) {
        NT_INFO("New connection from %s", c->peer);
        nt_timeouts_set(&srv->timeouts, &c->timeout, NT_TIMEOUT_IDLE);
        return;
    }
    nt_conn_send(c, srv->prompt); /* §2.1 */
    nt_timeouts_set(&srv->timeouts, &c->timeout, NT_TIMEOUT_NAME);
}

/* Counts a refused name (§2.3): the reason, then the prompt again, or the goodbye after 5. */
static void refuse_name(struct nt_conn *c, const char *why)
{
    c->name_attempts++;
    size_t why_len = strlen(why);
    if (c->name_attempts >= NT_MAX_NAME_ATTEMPTS) {
        const char *parts[] = {why, "\n"};
        const size_t lens[] = {why_len, 1};
        struct nt_msg *msg = nt_msg_concat(parts, lens, 2);
        nt_conn_send(c, msg);
        nt_msg_unref(msg);
        nt_conn_goodbye(c, "Too many invalid names; disconnecting.", "name-attempts");
        return;
    }
    const struct nt_msg *prompt = c->srv->prompt;
    const char *parts[] = {why, "\n", prompt->data};
    const size_t lens[] = {why_len, 1, prompt->len};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 3);
    nt_conn_send(c, msg);
    nt_msg_unref(msg);
}

/* Broadcasts "*** NAME<middle> ***\n" to everyone in the hub but except. */
static void notice(struct nt_conn *c, const char *middle, const struct nt_conn *except)
{
    const char *parts[] = {"*** ", c->name, middle, " ***\n"};
    const size_t lens[] = {4, c->name_len, strlen(middle), 5};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 4);
    nt_hub_broadcast(&c->srv->hub, msg, except);
    nt_msg_unref(msg);
}

static void take_name(struct nt_conn *c, const char *line, size_t len)
{
    struct nt_server *srv = c->srv;
    const char *name = nt_text_trim(line, &len);
    enum nt_name_check check = nt_names_check(name, len);
    if (check != NT_NAME_OK) {
        refuse_name(c, nt_names_check_message(check));
        return;
    }
    if (nt_names_add(&srv->names, name, len, c) == -EEXIST) {
        char why[NT_NAME_MAX_BYTES + 64];
        snprintf(why, sizeof(why), "Name \"%.*s\" is already taken.", (int)len, name);
        refuse_name(c, why);
        return;
    }
    c->name = nt_xstrndup(name, len);
    c->name_len = len;
    c->state = NT_CONN_NAMED;
    nt_hub_join(&srv->hub, c);
    nt_timeouts_set(&srv->timeouts, &c->timeout, NT_TIMEOUT_IDLE);
    NT_INFO("conn=%llu peer=%s joined as %s", (unsigned long long)c->id, c->peer, c->name);
    notice(c, " has joined the chat", c); /* §2.6 */
}

static void relay(struct nt_conn *c, const char *line, size_t len)
{
    struct nt_server *srv = c->srv;
    size_t n = nt_text_sanitize(line, len, srv->scratch); /* §3.1 */
    const char *text = nt_text_trim(srv->scratch, &n);
    if (n == 0)
        return;
    if (srv->cfg->log_messages)
        NT_INFO("conn=%llu %s: %.*s", (unsigned long long)c->id, c->name, (int)n, text);
    const char *parts[] = {c->name, ": ", text, "\n"};
    const size_t lens[] = {c->name_len, 2, n, 1};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 4);
    nt_hub_broadcast(&srv->hub, msg, c); /* §3.2 */
    nt_msg_unref(msg);
}

static void echo(struct nt_conn *c, const char *line, size_t len)
{
    /* §6: exactly as sent, so the CR the framer took off goes back. */
    const char *end = c->framer.had_cr ? "\r\n" : "\n";
    const char *parts[] = {line, end};
    const size_t lens[] = {len, strlen(end)};
    struct nt_msg *msg = nt_msg_concat(parts, lens, 2);
    nt_conn_send(c, msg);
    nt_msg_unref(msg);
}

void nt_chat_line(struct nt_conn *c, const char *line, size_t len)
{
    switch (c->state) {
    case NT_CONN_NAMING:
        take_name(c, line, len);
        break;
    case NT_CONN_NAMED:
        nt_timeouts_touch(&c->srv->timeouts, &c->timeout);
        relay(c, line, len);
        break;
    case NT_CONN_ECHO:
        nt_timeouts_touch(&c->srv->timeouts, &c->timeout);
        echo(c, line, len);
        break;
    default:
        break;
    }
}

void nt_chat_line_too_long(struct nt_conn *c)
{
    char why[96];
    snprintf(why, sizeof(why), "Line too long (more than %llu bytes); not sent.",
             (unsigned long long)c->srv->cfg->max_line);
    if (c->state == NT_CONN_NAMING) {
        refuse_name(c, why); /* §3.4: an over-long name line is a refused name */
        return;
    }
    if (c->state != NT_CONN_NAMED && c->state != NT_CONN_ECHO)
        return;
    nt_timeouts_touch(&c->srv->timeouts, &c->timeout);
    size_t len = strlen(why);
    why[len++] = '\n';
    why[len] = '\0';
    nt_conn_send_str(c, why);
}

void nt_chat_timeout(struct nt_conn *c, enum nt_timeout_kind kind)
{
    if (kind == NT_TIMEOUT_NAME)
        nt_conn_goodbye(c, "Disconnected: no valid name given in time.", "name-timeout"); /* §2.4 */
    else
        nt_conn_goodbye(c, "Disconnected: idle timeout.", "idle"); /* §4.2 */
}

void nt_chat_leave(struct nt_conn *c, const char *reason)
{
    struct nt_server *srv = c->srv;
    nt_timeouts_clear(&c->timeout);
    if (!c->is_counted)
        return; /* refused at the door: never part of the chat */
    switch (c->state) {
    case NT_CONN_NAMED:
        nt_hub_leave(&srv->hub, c);
        nt_names_remove(&srv->names, c->name, c->name_len);
        NT_INFO("conn=%llu peer=%s name=%s left: %s", (unsigned long long)c->id, c->peer, c->name,
                reason);
        if (strcmp(reason, "shutdown") != 0)
            notice(c, " has left the chat", NULL); /* §4.1 */
        break;
    case NT_CONN_ECHO:
        NT_INFO("Connection from %s closed", c->peer);
        break;
    default:
        NT_DEBUG("conn=%llu peer=%s closed before naming: %s", (unsigned long long)c->id, c->peer,
                 reason);
        break;
    }
}
