/* SPDX-License-Identifier: MIT */
/* procstat.h - CPU time and memory of a process, from /proc/PID (Linux). */
#ifndef NT_BENCH_PROCSTAT_H
#define NT_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/*
 * User + system CPU time of every thread of pid, dead ones included, in µs (/proc/PID/stat,
 * fields 14 and 15; the kernel counts in clock ticks, usually 10 ms). Returns 0, or -errno when
 * the process is gone or the file cannot be read.
 */
int nt_proc_cpu_us(pid_t pid, uint64_t *us);

/* VmRSS of pid in KiB (/proc/PID/status). Returns 0 or -errno. */
int nt_proc_rss_kib(pid_t pid, uint64_t *kib);

/* This process's own user + system CPU time in µs, every thread (getrusage). */
uint64_t nt_self_cpu_us(void);

#endif
