/* err.h — one error slot per thread.
 *
 * Convention used across the engine: functions that can fail return 0 (or a
 * valid pointer) on success and -1 (or NULL) on failure, after recording a
 * one-line message with ms_seterr(). Messages read "<what> (<where>)". The
 * caller that reports to the user prints "error: " + ms_geterr(). */
#ifndef MS_ERR_H
#define MS_ERR_H

#if defined(__GNUC__)
#define MS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MS_PRINTF(a, b)
#endif

/* Error slot (thread-local). ms_seterr returns -1 so callers can
 * `return ms_seterr("...")`. */
int ms_seterr(const char *fmt, ...) MS_PRINTF(1, 2);
const char *ms_geterr(void);
void ms_clearerr(void);

#endif
