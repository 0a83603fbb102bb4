/*
 * Reminder: send a message, sleep 48 hours, send a reminder.
 *
 * The sleep parks the execution: the snapshot is committed, the instance is
 * dropped, and a due-index entry lets any host resume it when the time comes.
 * A sleep of days costs one small object in the store while it waits.
 *
 * Input: the recipient (default "ada@example.com").
 */
#include <stdio.h>
#include <string.h>

#include "tardigrade.h"

#define HOURS(h) ((int64_t)(h) * 60 * 60 * 1000)

int run(void) {
    char who[96] = "ada@example.com";
    size_t len = td_input(who, sizeof who - 1);
    if (len > 0) who[len < sizeof who - 1 ? len : sizeof who - 1] = 0;

    char msg[160], id1[64] = {0}, id2[64] = {0}, out[320];
    int64_t started = td_now_ms();
    snprintf(msg, sizeof msg, "to %s: your invoice is ready", who);
    if (td_call("notify.send", msg, strlen(msg), id1, sizeof id1 - 1) < 0) return 1;

    td_sleep_ms(HOURS(48));

    snprintf(msg, sizeof msg, "to %s: reminder, your invoice is still open", who);
    if (td_call("notify.send", msg, strlen(msg), id2, sizeof id2 - 1) < 0) return 1;
    int64_t hours = (td_now_ms() - started) / HOURS(1);
    int k = snprintf(out, sizeof out, "{\"to\":\"%s\",\"sent\":\"%s\",\"reminded\":\"%s\",\"hours_between\":%lld}\n", who,
                     id1, id2, (long long)hours);
    td_output(out, (size_t)k);
    return 0;
}
