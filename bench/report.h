/* SPDX-License-Identifier: MIT */
/* report.h - a run's figures as a readable table and as one JSON line. */
#ifndef NT_BENCH_REPORT_H
#define NT_BENCH_REPORT_H

#include <stdio.h>

#include "options.h"
#include "run.h"

/* Prints the table for a completed run. */
void nt_report_table(FILE *out, const struct nt_options *opts, const struct nt_result *res);

/* Prints one JSON object on one line: every figure, null where there is none. ok says whether
 * the checks passed. */
void nt_report_json(FILE *out, const struct nt_options *opts, const struct nt_result *res, bool ok);

#endif
