/* SPDX-License-Identifier: MIT */
/* command.c - the command parser and the command table (PROTOCOL.md §7). */
#include "command.h"

#include <string.h>

#include "text.h"
#include "util.h"

static const struct nt_command_info table[] = {
    {NT_CMD_HELP, "help", "/help", "list the commands", false},
    {NT_CMD_WHO, "who", "/who [*]", "who is in your room; with *, everyone, by room", false},
    {NT_CMD_NICK, "nick", "/nick NEW", "change your name", false},
    {NT_CMD_ME, "me", "/me ACTION", "tell your room what you do: * NAME ACTION", false},
    {NT_CMD_MSG, "msg", "/msg NAME TEXT", "a private message to NAME, in any room", false},
    {NT_CMD_JOIN, "join", "/join ROOM", "move to ROOM (created if new); everyone starts in lobby",
     false},
    {NT_CMD_ROOMS, "rooms", "/rooms", "every room and how many are in it", false},
    {NT_CMD_TOPIC, "topic", "/topic [TEXT]",
     "show your room's topic, or set it (anyone in the room may)", false},
    {NT_CMD_QUIT, "quit", "/quit [REASON]", "leave the chat", false},
    {NT_CMD_OPER, "oper", "/oper PASSWORD", "become an operator", false},
    {NT_CMD_KICK, "kick", "/kick NAME [REASON]", "disconnect NAME (operators)", true},
    {NT_CMD_BAN, "ban", "/ban NAME", "kick NAME and refuse their address until restart (operators)",
     true},
    {NT_CMD_UNBAN, "unban", "/unban ADDRESS", "lift a ban (operators)", true},
    {NT_CMD_BANS, "bans", "/bans", "list the banned addresses (operators)", true},
    {NT_CMD_WALL, "wall", "/wall TEXT", "a notice to everyone on the server (operators)", true},
};

const struct nt_command_info *nt_command_table(size_t *count)
{
    *count = NT_ARRAY_LEN(table);
    return table;
}

const struct nt_command_info *nt_command_info(enum nt_command_id id)
{
    for (size_t i = 0; i < NT_ARRAY_LEN(table); i++) {
        if (table[i].id == id)
            return &table[i];
    }
    return NULL;
}

bool nt_command_split(const char *s, size_t len, const char **word, size_t *word_len,
                      const char **rest, size_t *rest_len)
{
    s = nt_text_trim(s, &len);
    if (len == 0)
        return false;
    const char *sp = memchr(s, ' ', len);
    size_t n = sp ? (size_t)(sp - s) : len;
    *word = s;
    *word_len = n;
    *rest = s + n;
    *rest_len = len - n;
    *rest = nt_text_trim(*rest, rest_len);
    return true;
}

static bool equal_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != b[i])
            return false;
    }
    return true;
}

void nt_command_parse(const char *line, size_t len, struct nt_command *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || line[0] != '/') {
        out->id = NT_CMD_NONE;
        out->arg = line;
        out->arg_len = len;
        return;
    }
    if (len >= 2 && line[1] == '/') {
        /* "//text" sends "/text" */
        out->id = NT_CMD_NONE;
        out->arg = line + 1;
        out->arg_len = len - 1;
        return;
    }
    /* "/" alone or "/ text" has an empty command word: an unknown command. */
    const char *word = line + 1;
    size_t word_len = 0;
    out->arg = line + 1;
    out->arg_len = len - 1;
    if (len > 1 && line[1] != ' ')
        nt_command_split(line + 1, len - 1, &word, &word_len, &out->arg, &out->arg_len);
    else
        out->arg = nt_text_trim(out->arg, &out->arg_len);
    out->name = word;
    out->name_len = word_len;
    out->id = NT_CMD_UNKNOWN;
    for (size_t i = 0; i < NT_ARRAY_LEN(table); i++) {
        if (equal_nocase(word, word_len, table[i].name)) {
            out->id = table[i].id;
            break;
        }
    }
}
