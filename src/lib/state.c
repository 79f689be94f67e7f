/* SPDX-License-Identifier: MIT */
/* state.c - the ban list on disk (--state-dir): loaded at start, saved atomically on change. */
#include "state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nt_state_bans_path(const char *dir, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/bans", dir);
    return n > 0 && (size_t)n < size;
}

static bool is_address(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int nt_state_bans_load(const char *path, void (*add)(void *ctx, const char *address),
                       void (*warn)(void *ctx, unsigned lineno, const char *line), void *ctx)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    int loaded = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)len;
        bool has_nul = memchr(line, '\0', n) != NULL;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                         line[n - 1] == '\t'))
            n--;
        line[n] = '\0';
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!has_nul && (*p == '\0' || *p == '#'))
            continue;
        if (has_nul || !is_address(p)) {
            warn(ctx, lineno, has_nul ? "(a NUL byte)" : p);
            continue;
        }
        add(ctx, p);
        loaded++;
    }
    int saved = errno;
    bool failed = ferror(f) != 0;
    free(line);
    fclose(f);
    if (failed) {
        errno = saved;
        return -1;
    }
    return loaded;
}

/* fsync of the directory that holds path, so the rename itself is on disk. */
static int sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0 || n >= sizeof(dir)) {
        memcpy(dir, slash == path ? "/" : ".", 2);
    } else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int nt_state_bans_save(const char *path, char *const *addresses, size_t n)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    fputs("# natter's ban list: one address a line (written by natter; /ban and /unban)\n", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", addresses[i]);
    bool ok = fflush(f) == 0 && fsync(fd) == 0;
    int saved = errno;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        saved = ok ? errno : saved;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return sync_dir(path);
}
