/* loggen: the log throughput benchmark's writer and pipe sink (bench/run.py compiles it with gcc
 * at bench time).
 *
 *   loggen N    write N numbered lines to stdout, then exit 0: line k (0 <= k < N) is the 10-digit,
 *               zero-padded decimal k, a `-`, 88 filler characters (letters and digits, no space)
 *               and a newline: 100 bytes, each line unique, none with a space (a logger's timestamp
 *               prefix ends at the first space). Lines go out in 64,000-byte writes (640 lines).
 *   loggen -s   read stdin to EOF and discard it (a sink, to measure the bare pipe)
 *   loggen -x FILE PROG ARGS...
 *               run PROG (fork, exec), wait for it and write "STATUS UTIME_US STIME_US MAXRSS_KIB\n"
 *               (from wait4) to FILE, then exit as PROG did (128 + the signal if it was killed).
 *               The point is MAXRSS: a process's peak RSS carries over an exec, so a logger forked
 *               straight from the Python harness would report Python's 30 MB; forked from this small
 *               static program it reports its own.
 *
 * The number is kept as ASCII digits and incremented in place, so the writer costs about a
 * memcpy per line: it must never be the bottleneck of what it feeds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINE 100
#define DIGITS 10
#define PER_WRITE 640

static const char filler[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";

static int write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      perror("loggen: write");
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int sink(void) {
  static char buf[1 << 16];
  for (;;) {
    ssize_t r = read(0, buf, sizeof buf);
    if (r == 0) return 0;
    if (r < 0) {
      if (errno == EINTR) continue;
      perror("loggen: read");
      return 111;
    }
  }
}

static int run(char *out, char **argv) {
  pid_t pid = fork();
  if (pid < 0) {
    perror("loggen: fork");
    return 111;
  }
  if (pid == 0) {
    execv(argv[0], argv);
    perror("loggen: exec");
    _exit(127);
  }
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror("loggen: wait4");
      return 111;
    }
  }
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    perror("loggen: open");
    return 111;
  }
  dprintf(fd, "%d %lld %lld %ld\n", status,
          (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
          (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss);
  close(fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "-s") == 0) return sink();
  if (argc >= 4 && strcmp(argv[1], "-x") == 0) return run(argv[2], argv + 3);
  if (argc != 2) {
    fputs("loggen: usage: loggen N | loggen -s\n", stderr);
    return 100;
  }
  unsigned long long n = strtoull(argv[1], NULL, 10);
  if (sizeof filler - 1 != LINE - DIGITS - 2) {
    fputs("loggen: filler has the wrong length\n", stderr);
    return 100;
  }
  static char buf[PER_WRITE * LINE];
  char digits[DIGITS];
  memset(digits, '0', DIGITS);
  for (int i = 0; i < PER_WRITE; i++) {
    char *l = buf + i * LINE;
    l[DIGITS] = '-';
    memcpy(l + DIGITS + 1, filler, LINE - DIGITS - 2);
    l[LINE - 1] = '\n';
  }
  unsigned long long k = 0;
  while (k < n) {
    int m = 0;
    for (; m < PER_WRITE && k < n; m++, k++) {
      memcpy(buf + m * LINE, digits, DIGITS);
      for (int d = DIGITS - 1; d >= 0; d--) {  /* digits = k + 1, for the next line */
        if (digits[d] != '9') {
          digits[d]++;
          break;
        }
        digits[d] = '0';
      }
    }
    if (write_all(buf, (size_t)m * LINE) != 0) return 111;
  }
  return 0;
}
