/* SPDX-License-Identifier: MIT */
/* main.c - natter-bench: argv -> options -> one run -> table, JSON line, exit status. */
#include <stdio.h>
#include <stdlib.h>

#include "options.h"
#include "report.h"
#include "run.h"

int main(int argc, char **argv)
{
    static struct nt_options opts;
    int rc = nt_options_parse(&opts, argc, argv, stdout, stderr);
    if (rc > 0)
        return 0;
    if (rc < 0)
        return 2;
    static struct nt_result res; /* large: per-second rates */
    if (nt_run(&opts, &res) != 0) {
        fprintf(stderr, "natter-bench: %s\n", res.error);
        if (opts.json)
            nt_report_json(stdout, &opts, &res, false);
        return 1;
    }
    bool failed = nt_result_failed(&opts, &res);
    nt_report_table(stdout, &opts, &res);
    if (opts.json)
        nt_report_json(stdout, &opts, &res, !failed);
    return failed ? 1 : 0;
}
