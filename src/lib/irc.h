/* SPDX-License-Identifier: MIT */
/* irc.h - one IRC message (RFC 1459/2812, IRCv3 message-tags) parsed in place; pure, fuzzed. */
#ifndef NT_IRC_H
#define NT_IRC_H

#include <stdbool.h>
#include <stddef.h>

/* The most parameters a message may carry (RFC 2812 §2.3: 14 middle + 1 trailing). */
#define NT_IRC_MAX_PARAMS 15
/* The body (source, command, parameters) of a client's message is at most 512 bytes with its
 * CR LF, so 510 without (modern IRC §Message format). */
#define NT_IRC_MAX_BODY 510
/* The tags of a client's message, '@' and the space after them included, at most 4096 bytes
 * (IRCv3 message-tags: 4094 of client tags plus "@" and " "); the whole tag section a server may
 * accept is 8191 bytes with the '@' and the space. */
#define NT_IRC_MAX_CLIENT_TAGS 4096
#define NT_IRC_MAX_TAGS        8191
/* The longest line (without LF) the IRC door's framer accepts before 417. */
#define NT_IRC_MAX_LINE (NT_IRC_MAX_TAGS + NT_IRC_MAX_BODY + 1)

enum nt_irc_parse {
    NT_IRC_OK,            /* *msg holds the message */
    NT_IRC_EMPTY,         /* nothing but spaces (or tags alone): ignored, as the spec says */
    NT_IRC_NO_COMMAND,    /* a source or tags but no command, or a command that is not a word */
    NT_IRC_BODY_TOO_LONG, /* the body is over NT_IRC_MAX_BODY bytes (417) */
    NT_IRC_TAGS_TOO_LONG, /* the tag section is over NT_IRC_MAX_TAGS bytes (417) */
    /* the client-only (+) tags are over NT_IRC_MAX_CLIENT_TAGS bytes (417) */
    NT_IRC_CLIENT_TAGS_TOO_LONG,
};

/* A part of the line: a pointer into it and a length; not NUL-terminated. */
struct nt_irc_span {
    const char *p;
    size_t len;
};

/* A parsed message. Every span points into the line given to nt_irc_parse(). */
struct nt_irc_msg {
    struct nt_irc_span tags;    /* the tag section without '@' and the space; len 0 if none */
    struct nt_irc_span source;  /* the prefix without ':'; len 0 if none */
    struct nt_irc_span command; /* as sent (compare with nt_irc_command_is()) */
    struct nt_irc_span params[NT_IRC_MAX_PARAMS];
    size_t n_params;
    bool has_trailing; /* the last parameter came after " :" (it may be empty or hold spaces) */
};

/*
 * Parses one line (without its CR LF; CR, LF and NUL inside it are taken as ordinary bytes, the
 * door refuses them in texts) into *msg. Leading spaces are skipped; parameters are separated by
 * one or more spaces; a parameter starting with ':' is the trailing one and takes the rest of the
 * line; past NT_IRC_MAX_PARAMS - 1 middle parameters, the rest of the line is the last parameter
 * (RFC 2812), trailing spaces and all, without its ':' if it has one (has_trailing is then true).
 * A command is letters, or exactly three digits. Never reads outside line[0..len); line may be
 * NULL when len is 0.
 *
 * The tag section is "@" up to the first space; the body is what follows it and its spaces (or
 * the leading spaces when there are no tags), trailing spaces included. The checks, in order:
 * tags.len + 2 ("@" and " ", counted even when no space follows) over NT_IRC_MAX_TAGS; the
 * client-only tags as sent (every "+" tag, joined by ';', the ones nt_irc_client_tags() drops
 * too) + 2 over NT_IRC_MAX_CLIENT_TAGS; the body over NT_IRC_MAX_BODY; an empty body (EMPTY);
 * no command after the source (NO_COMMAND). So after NT_IRC_OK, nt_irc_client_tags() of msg->tags
 * fits NT_IRC_MAX_CLIENT_TAGS - 2 bytes. ":" with no name is a source of length 0.
 * On any result but NT_IRC_OK, *msg is zeroed (every span NULL and empty).
 */
enum nt_irc_parse nt_irc_parse(const char *line, size_t len, struct nt_irc_msg *msg);

/* Whether the command span equals name (upper case), compared ASCII case-insensitively. */
bool nt_irc_command_is(struct nt_irc_span command, const char *name);

/*
 * Writes the client-only tags ("+" keys) of the tag section tags[0..len) (without '@', as
 * msg->tags) to out (cap bytes) as "+key=value;+key2" in their order, each as sent (values kept
 * escaped), and returns their length (0 when none; out is not NUL-terminated). Empty elements
 * (";;") are skipped. A tag with a control byte (below 0x20, or 0x7f) in its key or value, or
 * whose value holds the escapes "\r" or "\n" (CR and LF once unescaped), is dropped
 * (PROTOCOL.md §8.9). Tags longer than cap are not written at all: returns (size_t)-1. Never
 * writes past out[cap); out may be NULL when cap is 0.
 */
size_t nt_irc_client_tags(const char *tags, size_t len, char *out, size_t cap);

/*
 * Splits a comma-separated list (JOIN #a,#b; PRIVMSG a,b): the next element of *list (advanced
 * past it and its comma) in *item, a part of the list. Returns false when the list is used up
 * (*list is then empty and *item NULL and empty). Empty elements are skipped.
 */
bool nt_irc_next_item(struct nt_irc_span *list, struct nt_irc_span *item);

/*
 * Finds a CTCP message in text[0..len): "\x01COMMAND ARGS\x01" (the closing \x01 optional, as
 * clients send it). Returns false when text is not CTCP (it does not start with \x01, or the
 * command is empty; *command and *args are then untouched); otherwise *command is the command
 * (up to the first space or the end) and *args what follows that one space (maybe empty), both
 * parts of text. The message ends at the first \x01 after the opening one: whatever follows it
 * is not in *args.
 */
bool nt_irc_ctcp(const char *text, size_t len, struct nt_irc_span *command,
                 struct nt_irc_span *args);

/*
 * Writes text[0..len) to out without IRC formatting (PROTOCOL.md §8.5): \x02 bold, \x1d italics,
 * \x1f underline, \x1e strike, \x11 monospace, \x16 reverse, \x0f reset, \x03 colour with its
 * up to two digits and optional ",NN" background, \x04 hex colour with its 6 hex digits and
 * optional ",RRGGBB". A background is taken only after a foreground and only when a digit (for
 * \x04: six hex digits) follows the comma, so "\x03,5" leaves ",5" and "\x031,x" leaves ",x";
 * \x04 without six hex digits after it is removed alone. out holds len bytes and may be text
 * itself (or not overlap it at all). Returns the bytes written, at most len.
 */
size_t nt_irc_strip_formatting(const char *text, size_t len, char *out);

#endif
