/* SPDX-License-Identifier: MIT */
/* command.h - the command parser: "/name args" lines into a command and its arguments. Pure. */
#ifndef NT_COMMAND_H
#define NT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

enum nt_command_id {
    NT_CMD_NONE,    /* not a command: chat text (maybe unescaped from "//") */
    NT_CMD_UNKNOWN, /* "/something" natter does not know */
    NT_CMD_HELP,
    NT_CMD_WHO,
    NT_CMD_NICK,
    NT_CMD_ME,
    NT_CMD_MSG,
    NT_CMD_JOIN,
    NT_CMD_ROOMS,
    NT_CMD_TOPIC,
    NT_CMD_QUIT,
    NT_CMD_OPER,
    NT_CMD_KICK,
    NT_CMD_BAN,
    NT_CMD_UNBAN,
    NT_CMD_BANS,
    NT_CMD_WALL,
};

/* One parsed line. Pointers borrow from the parsed line. */
struct nt_command {
    enum nt_command_id id;
    const char *name; /* the command word without '/', for NT_CMD_UNKNOWN replies */
    size_t name_len;
    const char *arg; /* everything after the command word, trimmed; or the chat text */
    size_t arg_len;
};

/* A command's entry in the table that drives parsing and /help. */
struct nt_command_info {
    enum nt_command_id id;
    const char *name;  /* without '/' */
    const char *usage; /* "/msg NAME TEXT" */
    const char *help;  /* one line */
    bool is_oper;      /* operators only */
};

/*
 * Parses a sanitized, trimmed line (PROTOCOL.md §7). "//text" is chat text "/text"; "/cmd args"
 * is a command, matched case-insensitively; anything else is chat text. Never fails.
 */
void nt_command_parse(const char *line, size_t len, struct nt_command *out);

/*
 * Splits the first word (up to a space) off s[0..len): word and word_len get it, rest and
 * rest_len what follows it, trimmed. Returns false when s is empty.
 */
bool nt_command_split(const char *s, size_t len, const char **word, size_t *word_len,
                      const char **rest, size_t *rest_len);

/* The command table, in /help order; *count gets its length. */
const struct nt_command_info *nt_command_table(size_t *count);

/* The table entry of id (not NONE or UNKNOWN). */
const struct nt_command_info *nt_command_info(enum nt_command_id id);

#endif
