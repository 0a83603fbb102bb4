/*
 * A scriptable workflow for tests. The input is a list of operations, run in order;
 * each appends one line to the output:
 *   call:NAME[:INPUT]      td_call              -> "call NAME = RESULT" or "call NAME ! CODE ERROR"
 *   sleep:MS               td_sleep_ms          -> "slept MS"
 *   signal:NAME            td_signal_wait       -> "signal NAME = PAYLOAD" or "signal NAME ! CODE"
 *   signalt:NAME:MS        td_signal_wait_for   -> same
 *   now                    td_now_ms            -> "now" (and remembers the time; "elapsed" prints ms since)
 *   elapsed                                     -> "elapsed MS"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tardigrade.h"

static char line[512];

static void emit(void) { td_output(line, strlen(line)); }

int run(void) {
    char script[1024] = {0};
    td_input(script, sizeof script - 1);
    int64_t mark = 0;
    char *save = NULL;
    for (char *op = strtok_r(script, " ", &save); op != NULL; op = strtok_r(NULL, " ", &save)) {
        char buf[256] = {0};
        if (strncmp(op, "call:", 5) == 0) {
            char *name = op + 5, *in = strchr(name, ':');
            if (in) *in++ = 0;
            int64_t n = td_call(name, in ? in : "", in ? strlen(in) : 0, buf, sizeof buf - 1);
            if (n >= 0) snprintf(line, sizeof line, "call %s = %s\n", name, buf);
            else snprintf(line, sizeof line, "call %s ! %lld %s\n", name, (long long)n, buf);
        } else if (strncmp(op, "sleep:", 6) == 0) {
            td_sleep_ms(atoll(op + 6));
            snprintf(line, sizeof line, "slept %s\n", op + 6);
        } else if (strncmp(op, "signal:", 7) == 0 || strncmp(op, "signalt:", 8) == 0) {
            int timed = op[6] == 't';
            char *name = op + (timed ? 8 : 7), *ms = strchr(name, ':');
            if (ms) *ms++ = 0;
            int64_t n = timed ? td_signal_wait_for(name, atoll(ms ? ms : "0"), buf, sizeof buf - 1)
                              : td_signal_wait(name, buf, sizeof buf - 1);
            if (n >= 0) snprintf(line, sizeof line, "signal %s = %s\n", name, buf);
            else snprintf(line, sizeof line, "signal %s ! %lld\n", name, (long long)n);
        } else if (strcmp(op, "now") == 0) {
            mark = td_now_ms();
            snprintf(line, sizeof line, "now\n");
        } else if (strcmp(op, "elapsed") == 0) {
            snprintf(line, sizeof line, "elapsed %lld\n", (long long)(td_now_ms() - mark));
        } else {
            snprintf(line, sizeof line, "unknown op %s\n", op);
        }
        emit();
    }
    return 0;
}
