/* notify: a service that becomes ready when told to, for the readiness benchmarks (bench/run.py
 * compiles it with gcc at bench time).
 *
 *   notify STARTS TRIGGER READY FD [PROG ARGS...]
 *
 * Appends CLOCK_MONOTONIC in ns ("%llu\n") to STARTS; opens the FIFO TRIGGER read+write (so that
 * it never reads EOF) and blocks until it reads one byte; then takes CLOCK_MONOTONIC, writes a
 * newline on descriptor FD (s6's readiness notification, which herd's supervise reads too),
 * closes FD and appends the time it took to READY. Then it execs PROG (or exits 0 when there is
 * no PROG). The time is taken just before the newline: every readiness latency is measured from
 * there. The same clock is Python's time.monotonic_ns().
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int die(const char *what) {
  perror(what);
  return 111;
}

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static int append(const char *path, unsigned long long t) {
  char line[32];
  int len = snprintf(line, sizeof line, "%llu\n", t);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  int ok = write(fd, line, (size_t)len) == len;
  close(fd);
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fputs("notify: usage: notify STARTS TRIGGER READY FD [PROG ARGS...]\n", stderr);
    return 100;
  }
  if (append(argv[1], now_ns()) < 0) return die("notify: unable to write STARTS");
  int trig = open(argv[2], O_RDWR | O_CLOEXEC);
  if (trig < 0) return die("notify: unable to open TRIGGER");
  char c;
  for (;;) {
    ssize_t r = read(trig, &c, 1);
    if (r == 1) break;
    if (r < 0) return die("notify: unable to read TRIGGER");
  }
  close(trig);
  unsigned long long t = now_ns();
  int fd = atoi(argv[4]);
  if (write(fd, "\n", 1) != 1) return die("notify: unable to write the newline");
  close(fd);
  if (append(argv[3], t) < 0) return die("notify: unable to write READY");
  if (argc < 6) return 0;
  execv(argv[5], argv + 5);
  return die("notify: unable to exec");
}
