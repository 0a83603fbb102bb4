/* Allocates 4 MiB per step until malloc fails, then aborts: the memory limit test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tardigrade.h"

int run(void) {
    char out[16];
    for (int i = 0; i < 1024; i++) {
        char *p = malloc(4 << 20);
        if (p == NULL) {
            printf("malloc failed after %d MiB\n", i * 4);
            abort();
        }
        memset(p, i, 4 << 20);
        td_call("echo", "x", 1, out, sizeof out);
    }
    return 0;
}
