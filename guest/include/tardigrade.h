/*
 * tardigrade.h - the C API of Tardigrade workflows.
 *
 * A workflow is plain sequential C: define `int run(void)` (0 = completed) and
 * call the host for everything that touches the outside world. After every
 * activity call, durable sleep and signal wait the host snapshots the whole
 * guest - memory, globals and call stack - so the workflow continues from
 * exactly here after a crash, a week-long sleep or a move to another host.
 *
 * Build with `tardigrade build workflow.c -o workflow.wasm`.
 */
#ifndef TARDIGRADE_H
#define TARDIGRADE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Negative results of td_call and td_signal_wait. */
#define TD_ERR_FAILED    (-1) /* failed for good (non-retryable, or retries exhausted); out holds the error text */
#define TD_ERR_CANCELLED (-2) /* the execution was cancelled: compensate, then return from run() */
#define TD_ERR_TIMEOUT   (-3) /* td_signal_wait_for: the deadline passed before a signal arrived */

#define TD_IMPORT(n) __attribute__((import_module("td"), import_name(n)))

/* The raw ABI (import module "td"); any language binds these same imports. */
TD_IMPORT("call")         int64_t td__call(const char *name, size_t name_len, const void *in, size_t in_len);
TD_IMPORT("sleep")        void    td__sleep(int64_t ms);
TD_IMPORT("signal")       int64_t td__signal(const char *name, size_t name_len);
TD_IMPORT("wait_timeout") void    td__wait_timeout(int64_t ms);
TD_IMPORT("result")       int32_t td__result(void *buf, size_t cap);
TD_IMPORT("input")        int32_t td__input(void *buf, size_t cap);
TD_IMPORT("output")       void    td__output(const void *buf, size_t len);
TD_IMPORT("log")          void    td__log(const char *msg, size_t len);
TD_IMPORT("now")          int64_t td__now(void);
TD_IMPORT("random")       void    td__random(void *buf, size_t len);

/*
 * Run activity `name` with `in_len` bytes of input. Suspension point.
 * Returns the result length (>= 0; only out_cap bytes are copied if longer) or
 * a negative TD_ERR_* code; on TD_ERR_FAILED `out` holds the error text.
 */
static inline int64_t td_call(const char *name, const void *in, size_t in_len, void *out, size_t out_cap) {
    int64_t n = td__call(name, strlen(name), in, in_len);
    if (out != NULL && out_cap > 0) td__result(out, out_cap);
    return n;
}

/* Durable timer. Long sleeps park the execution: no instance in memory while it waits. */
static inline void td_sleep_ms(int64_t ms) { td__sleep(ms); }

/*
 * Wait for an external signal called `name`; its payload goes to `out`.
 * Signals that arrive before the wait are buffered in order.
 * Returns the payload length or a negative TD_ERR_* code.
 */
static inline int64_t td_signal_wait(const char *name, void *out, size_t out_cap) {
    int64_t n = td__signal(name, strlen(name));
    if (out != NULL && out_cap > 0) td__result(out, out_cap);
    return n;
}

/* Like td_signal_wait, but gives up with TD_ERR_TIMEOUT after `timeout_ms`. */
static inline int64_t td_signal_wait_for(const char *name, int64_t timeout_ms, void *out, size_t out_cap) {
    td__wait_timeout(timeout_ms);
    return td_signal_wait(name, out, out_cap);
}

/* Wall-clock time in milliseconds since the Unix epoch. */
static inline int64_t td_now_ms(void) { return td__now(); }

/* Fill buf with random bytes from the host. */
static inline void td_random(void *buf, size_t len) { td__random(buf, len); }

/* Copy the execution's input into buf; returns the full input length. */
static inline size_t td_input(void *buf, size_t cap) { return (size_t)td__input(buf, cap); }

/* Append bytes to the execution's output. */
static inline void td_output(const void *buf, size_t len) { td__output(buf, len); }

/* Write a line to the execution's log (stdout and stderr go there too). */
static inline void td_log(const char *msg) { td__log(msg, strlen(msg)); }

#ifdef __cplusplus
}
#endif
#endif /* TARDIGRADE_H */
