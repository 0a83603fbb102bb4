/* Allocates 4 MiB per step until malloc fails, then aborts: the memory limit test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tardigrade.h"

static char *blocks[1024]; /* keeps every block live, so the compiler cannot elide them */

int run(void) {
    char out[16];
    for (int i = 0; i < 1024; i++) {
        blocks[i] = malloc(4 << 20);
        if (blocks[i] == NULL) {
            printf("malloc failed after %d MiB\n", i * 4);
            abort();
        }
        memset(blocks[i], i + 1, 4 << 20);
        td_call("echo", blocks[i], 1, out, sizeof out);
    }
    return 0;
}
