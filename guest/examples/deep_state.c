/*
 * deep_state: the canary for a snapshot that forgets part of the guest state.
 *
 * Recursion with stack frames whose addresses escape into callees, a malloc'd
 * linked list, memory growth to several MiB in the middle of the run, and
 * activity calls from deep inside the recursion, on the way down and up. After
 * every call returns, the code writes through pointers into outer frames and
 * pushes new frames on the shadow stack. Restoring without the stack pointer
 * (or any other global) makes those new frames land on live ones, and the
 * final checksum changes.
 *
 * Input: the recursion depth (default 12): 2 * (depth + 1) activity calls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tardigrade.h"

typedef struct node {
    struct node *next;
    uint32_t depth;
    uint32_t value;
    char tag[40];
} node;

static node *head;
static uint8_t *big;
static size_t big_len;
static uint64_t checksum = 1469598103934665603ULL; /* FNV-1a */

static void mix(const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++) checksum = (checksum ^ b[i]) * 1099511628211ULL;
}

/* A fresh frame below the caller's that writes through a pointer into an outer frame. */
static void scribble(uint32_t *slot, uint32_t depth, const char *reply) {
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%s/%u/%08x", reply, depth, *slot);
    *slot = (*slot ^ (uint32_t)n) * 2654435761u + depth;
    mix(tmp, (size_t)n);
}

static int64_t echo(const char *what, uint32_t depth, char out[64]) {
    char in[32];
    int k = snprintf(in, sizeof in, "%s-%u", what, depth);
    memset(out, 0, 64);
    int64_t n = td_call("echo", in, (size_t)k, out, 63);
    if (n < 0) {
        printf("echo failed at depth %u: %s\n", depth, out);
        abort();
    }
    return n;
}

static uint32_t descend(uint32_t depth, uint32_t max, uint32_t *parent_slot) {
    uint32_t frame[16]; /* its address escapes into callees and deeper frames */
    char out[64];
    for (uint32_t i = 0; i < 16; i++) frame[i] = depth * 31u + i;

    echo("down", depth, out);
    scribble(&frame[depth % 16], depth, out);
    scribble(parent_slot, depth, out);

    node *nd = (node *)malloc(sizeof *nd);
    nd->depth = depth;
    nd->value = frame[depth % 16];
    snprintf(nd->tag, sizeof nd->tag, "node-%u-%s", depth, out);
    nd->next = head;
    head = nd;

    if (depth == max / 2 && big == NULL) {
        big_len = (size_t)6 << 20; /* grows linear memory mid-run */
        big = (uint8_t *)malloc(big_len);
        if (big == NULL) {
            printf("out of memory at depth %u\n", depth);
            abort();
        }
        for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)(i * 7 + depth);
    }

    uint32_t sub = depth < max ? descend(depth + 1, max, &frame[(depth + 3) % 16]) : 0;

    echo("up", depth, out);
    scribble(&frame[(depth + 7) % 16], depth, out);
    if (big != NULL) {
        big[(depth * 4099u) % big_len] ^= (uint8_t)frame[depth % 16];
        mix(big + (depth * 65537u) % (big_len - 64), 64);
    }
    uint32_t acc = sub;
    for (uint32_t i = 0; i < 16; i++) acc = acc * 33u + frame[i];
    mix(frame, sizeof frame);
    char line[48];
    int k = snprintf(line, sizeof line, "up %u %08x\n", depth, acc);
    td_output(line, (size_t)k); /* output accumulates across snapshots, restores and moves */
    return acc;
}

int run(void) {
    char input[32] = {0};
    td_input(input, sizeof input - 1);
    int max = atoi(input);
    if (max <= 0) max = 12;

    uint32_t root_slot = 7;
    uint32_t result = descend(0, (uint32_t)max, &root_slot);

    uint32_t nodes = 0;
    for (node *n = head; n != NULL; n = n->next, nodes++) {
        mix(&n->depth, sizeof n->depth);
        mix(&n->value, sizeof n->value);
        mix(n->tag, strlen(n->tag));
    }
    char msg[160];
    int n = snprintf(msg, sizeof msg, "depth=%d result=%08x root=%08x nodes=%u checksum=%016llx\n", max,
                     result, root_slot, nodes, (unsigned long long)checksum);
    td_output(msg, (size_t)n);
    printf("deep_state done: %u nodes, %zu MiB buffer\n", nodes, big_len >> 20);
    return 0;
}
