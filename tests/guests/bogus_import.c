/* Imports a td function that does not exist: prepare must reject it. */
#include <stdint.h>
__attribute__((import_module("td"), import_name("teleport"))) int64_t td_teleport(int32_t where);

int run(void) { return (int)td_teleport(42); }
