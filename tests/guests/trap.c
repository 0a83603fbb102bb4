/* Two activity calls, then a trap: the execution fails and keeps its last good snapshot. */
#include "tardigrade.h"

int run(void) {
    char out[16];
    td_call("echo", "one", 3, out, sizeof out);
    td_call("echo", "two", 3, out, sizeof out);
    __builtin_trap();
}
