// What Swift's Glibc module leaves out for mtcp-impair's nanosecond waits:
// ppoll(2) and the timer slack of prctl(2) are behind _GNU_SOURCE or variadic.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <poll.h>
#include <sys/prctl.h>
#include <time.h>

/// poll(2) with a timeout in nanoseconds.
static inline int precise_wait_poll(struct pollfd *fds, nfds_t count, unsigned long long nanoseconds) {
    struct timespec timeout = { .tv_sec = (time_t)(nanoseconds / 1000000000ULL),
                                .tv_nsec = (long)(nanoseconds % 1000000000ULL) };
    return ppoll(fds, count, &timeout, NULL);
}

/// The calling thread's timers fire on time instead of up to 50 µs late.
static inline int precise_wait_no_slack(void) {
    return prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}
