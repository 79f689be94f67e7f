/* SPDX-License-Identifier: MIT */
/* flood.h - flood control: a token bucket per client, refilled from the clock it is given. */
#ifndef NT_FLOOD_H
#define NT_FLOOD_H

#include <stdbool.h>
#include <stdint.h>

/* Tokens in thousandths of a line (PROTOCOL.md §7.9). No timer: refilled when asked. */
struct nt_flood {
    uint64_t tokens;
    uint64_t refilled_ms;
};

/* Fills the bucket (burst lines) at time now_ms. */
void nt_flood_init(struct nt_flood *f, uint64_t burst, uint64_t now_ms);

/*
 * Whether a line may be taken at now_ms: refills what rate (lines/s) earned since the last
 * refill, up to burst, and returns true when a whole token is there (the caller spends it with
 * nt_flood_spend() once it has a whole line), false when none is (the caller stops reading and
 * asks again when one is due). rate or burst 0: always true.
 */
bool nt_flood_ready(struct nt_flood *f, uint64_t rate, uint64_t burst, uint64_t now_ms);

/* Spends the token nt_flood_ready() found (nothing when rate or burst is 0). */
void nt_flood_spend(struct nt_flood *f, uint64_t rate, uint64_t burst);

/* Milliseconds one token takes to earn at rate lines/s, rounded up (0 when rate is 0). */
uint64_t nt_flood_token_ms(uint64_t rate);

#endif
