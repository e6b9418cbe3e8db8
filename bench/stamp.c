/* stamp: the benchmark's time marker (bench/run.py compiles it with gcc at bench time).
 *
 *   stamp FILE [PROG ARGS...]   append CLOCK_MONOTONIC in ns ("%llu\n") to FILE, then exec PROG
 *                               (or exit 0 when there is no PROG)
 *   run [ANY...]                invoked by a name whose last component is `run`: ignore the
 *                               arguments, read them from ./stamp.argv (one per line) instead
 *
 * The second form lets a service's `run` be a symlink to this binary: every supervisor execs
 * ./run in the service directory (s6-supervise 2.11 passes the directory as argv[1], the others
 * pass nothing), so the start marker is taken by the very process the supervisor forked, with no
 * shell in between. The same clock is Python's
 * time.monotonic_ns(), so the harness can compare its own readings with these.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARGV_FILE "stamp.argv"
#define MAX_ARGS 32
#define MAX_ARGV_BYTES 4096

static char argbuf[MAX_ARGV_BYTES];
static char *args[MAX_ARGS + 1];

static int die(const char *what) {
  perror(what);
  return 111;
}

/* Splits ./stamp.argv into args[] (one argument per line). Returns the count, or -1. */
static int read_argv_file(void) {
  int fd = open(ARGV_FILE, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, argbuf, sizeof argbuf - 1);
  close(fd);
  if (n <= 0) return -1;
  argbuf[n] = '\0';
  int argc = 0;
  char *p = argbuf;
  while (*p && argc < MAX_ARGS) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    args[argc++] = p;
    if (!nl) break;
    p = nl + 1;
  }
  args[argc] = NULL;
  return argc;
}

static int invoked_as_run(const char *argv0) {
  const char *slash = strrchr(argv0, '/');
  return strcmp(slash ? slash + 1 : argv0, "run") == 0;
}

int main(int argc, char **argv) {
  char **av = argv + 1;
  if (argc < 1 || invoked_as_run(argv[0])) {
    if (read_argv_file() < 1) return die("stamp: unable to read " ARGV_FILE);
    av = args;
  } else if (argc < 2) {
    fputs("stamp: usage: stamp FILE [PROG ARGS...]\n", stderr);
    return 100;
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  char line[32];
  int len = snprintf(line, sizeof line, "%llu\n",
                     (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
  int fd = open(av[0], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return die("stamp: unable to open stamp file");
  if (write(fd, line, (size_t)len) != len) return die("stamp: unable to write stamp file");
  close(fd);
  if (!av[1]) return 0;
  execv(av[1], av + 1);
  return die("stamp: unable to exec");
}
