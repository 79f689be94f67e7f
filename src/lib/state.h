/* SPDX-License-Identifier: MIT */
/* state.h - what outlives a restart (--state-dir): the ban list, one address a line. */
#ifndef NT_STATE_H
#define NT_STATE_H

#include <stddef.h>

/* The ban list's file in dir ("DIR/bans"), written into out (size bytes); false if too long. */
int nt_state_bans_path(const char *dir, char *out, size_t size);

/*
 * Reads the ban list at path: calls add(ctx, address) for each valid line (a numeric IPv4 or
 * IPv6 address; '#' comments and empty lines skipped). A damaged line is reported through
 * warn(ctx, lineno, line) and skipped; the rest is loaded. A missing file is an empty list.
 * Returns the number of addresses loaded, or -1 (errno set) when the file exists but cannot be
 * read.
 */
int nt_state_bans_load(const char *path, void (*add)(void *ctx, const char *address),
                       void (*warn)(void *ctx, unsigned lineno, const char *line), void *ctx);

/*
 * Writes the n addresses to path atomically: a temporary file beside it, fsync, rename over
 * path, fsync of the directory, so a crash leaves the old list or the new one, never a mix.
 * Returns 0, or -1 with errno set (the old file is untouched then).
 */
int nt_state_bans_save(const char *path, char *const *addresses, size_t n);

#endif
