/* SPDX-License-Identifier: MIT */
/* procstat.c - CPU time and memory of a process, from /proc/PID. */
#include "procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads a whole small /proc file into buf (NUL-terminated). Returns its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

int nt_proc_cpu_us(pid_t pid, uint64_t *us)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    ssize_t n = read_small(path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    /* The command name (field 2) may hold spaces and parentheses: fields restart after the
     * last ')'. Field 3 is the state; utime and stime are fields 14 and 15. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -EINVAL;
    p++;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return -EINVAL;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (field == 14)
            utime = v;
        else if (field == 15)
            stime = v;
        p = strchr(p, ' ');
        if (p == NULL && field < 15)
            return -EINVAL;
        if (p == NULL)
            break;
    }
    long tck = sysconf(_SC_CLK_TCK);
    if (tck <= 0)
        tck = 100;
    *us = (uint64_t)(utime + stime) * 1000000u / (uint64_t)tck;
    return 0;
}

int nt_proc_rss_kib(pid_t pid, uint64_t *kib)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    ssize_t n = read_small(path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    const char *p = strstr(buf, "\nVmRSS:");
    if (p == NULL)
        return -EINVAL;
    *kib = strtoull(p + 7, NULL, 10);
    return 0;
}

uint64_t nt_self_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}
