/* Defines no run(): the build must say so. */
int not_run(void) { return 0; }
