/* SPDX-License-Identifier: MIT */
/* fuzz_command.c - libFuzzer harness for command.c: the command parser (PROTOCOL.md §7). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "fuzz.h"

/* p[0..n) lies within [base, base + len], or n is 0. */
static bool within(const char *p, size_t n, const char *base, size_t len)
{
    return n == 0 || (p >= base && p + n <= base + len);
}

/*
 * Input: any bytes, as one (trimmed, sanitized or not) line. Checks: the result's pointers stay
 * inside the line; text is returned only for lines without a command ("//" loses exactly one
 * '/'); a known command's word matches its table name case-insensitively; nt_command_split's
 * word has no space and its rest has no leading or trailing space.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1); /* exact size: ASan sees any overrun */
    if (size)
        memcpy(line, data, size);
    struct nt_command cmd;
    nt_command_parse(line, size, &cmd);
    CHECK(within(cmd.arg, cmd.arg_len, line, size));
    if (cmd.id == NT_CMD_NONE) {
        bool escaped = size >= 2 && line[0] == '/' && line[1] == '/';
        CHECK(size == 0 || line[0] != '/' || escaped);
        CHECK(cmd.arg_len == (escaped ? size - 1 : size));
    } else {
        CHECK(size >= 1 && line[0] == '/');
        CHECK(within(cmd.name, cmd.name_len, line, size));
        const struct nt_command_info *info = nt_command_info(cmd.id);
        if (cmd.id != NT_CMD_UNKNOWN) {
            CHECK(info != NULL && strlen(info->name) == cmd.name_len);
            for (size_t i = 0; i < cmd.name_len; i++) {
                char c = cmd.name[i];
                CHECK((c >= 'A' && c <= 'Z' ? c + 32 : c) == info->name[i]);
            }
        }
    }
    const char *word, *rest;
    size_t word_len, rest_len;
    if (nt_command_split(line, size, &word, &word_len, &rest, &rest_len)) {
        CHECK(word_len > 0 && within(word, word_len, line, size));
        CHECK(memchr(word, ' ', word_len) == NULL);
        CHECK(within(rest, rest_len, line, size));
        CHECK(rest_len == 0 || (rest[0] != ' ' && rest[rest_len - 1] != ' '));
    }
    free(line);
    return 0;
}
