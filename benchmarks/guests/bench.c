/*
 * The benchmark guest: a workflow with tunable state.
 *
 * Input: "steps=N mem=MiB pages=P compute=C fill=random|zero" (any subset).
 * It allocates `mem` MiB, fills it, then makes `steps` activity calls ("echo");
 * before each call it changes `pages` pages of that memory and spins `compute`
 * rounds of integer work. Prints a checksum of the memory at the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tardigrade.h"

static uint64_t arg(const char *in, const char *key, uint64_t dflt) {
    const char *p = strstr(in, key);
    if (p == NULL) return dflt;
    return strtoull(p + strlen(key), NULL, 10);
}

int run(void) {
    char in[256] = {0};
    td_input(in, sizeof in - 1);
    uint64_t steps = arg(in, "steps=", 100);
    uint64_t mem = arg(in, "mem=", 1);
    uint64_t pages = arg(in, "pages=", 1);
    uint64_t compute = arg(in, "compute=", 0);
    int zero = strstr(in, "fill=zero") != NULL;

    size_t len = (size_t)mem << 20;
    size_t npages = len / 4096;
    uint8_t *buf = (uint8_t *)malloc(len);
    if (buf == NULL) {
        printf("cannot allocate %llu MiB\n", (unsigned long long)mem);
        return 2;
    }
    uint64_t x = 88172645463325252ULL;
    if (zero) {
        memset(buf, 0, len);
    } else {
        for (size_t i = 0; i < len; i += 8) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            memcpy(buf + i, &x, 8);
        }
    }

    uint64_t acc = 0;
    char out[16];
    for (uint64_t s = 0; s < steps; s++) {
        for (uint64_t p = 0; p < pages; p++) {
            size_t page = (size_t)((s * pages + p) * 2654435761ULL % npages);
            uint64_t *w = (uint64_t *)(buf + page * 4096);
            for (int k = 0; k < 8; k++) w[k * 64] += s + (uint64_t)k + 1;
        }
        for (uint64_t c = 0; c < compute; c++) acc = acc * 6364136223846793005ULL + c;
        td_call("echo", &s, sizeof s, out, sizeof out);
    }
    uint64_t sum = acc;
    for (size_t i = 0; i < len; i += 64) sum = sum * 31 + buf[i];
    char msg[96];
    int n = snprintf(msg, sizeof msg, "steps=%llu checksum=%016llx\n", (unsigned long long)steps,
                     (unsigned long long)sum);
    td_output(msg, (size_t)n);
    return 0;
}
