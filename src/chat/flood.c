/* SPDX-License-Identifier: MIT */
/* flood.c - the token bucket of flood control. */
#include "chat/flood.h"

void nt_flood_init(struct nt_flood *f, uint64_t burst, uint64_t now_ms)
{
    f->tokens = burst * 1000;
    f->refilled_ms = now_ms;
}

bool nt_flood_ready(struct nt_flood *f, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
    if (rate == 0 || burst == 0)
        return true;
    /* Refilled at every line: a bucket left full while idle must not bank the time. */
    uint64_t cap = burst * 1000;
    if (now_ms > f->refilled_ms)
        f->tokens += (now_ms - f->refilled_ms) * rate; /* ms x lines/s = thousandths of a line */
    if (f->tokens > cap)
        f->tokens = cap;
    f->refilled_ms = now_ms;
    return f->tokens >= 1000;
}

void nt_flood_spend(struct nt_flood *f, uint64_t rate, uint64_t burst)
{
    if (rate != 0 && burst != 0 && f->tokens >= 1000)
        f->tokens -= 1000;
}

uint64_t nt_flood_token_ms(uint64_t rate)
{
    return rate ? (1000 + rate - 1) / rate : 0;
}
