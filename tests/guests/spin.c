/* Loops forever without a host call: the fuel limit must stop it. */
#include "tardigrade.h"

int run(void) {
    volatile unsigned long n = 0;
    char out[8];
    td_call("echo", "go", 2, out, sizeof out);
    for (;;) n++;
}
