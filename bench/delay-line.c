// delay-line: a two-ended emulated network link for bench/netem.ts, used when the kernel has no
// sch_netem. It opens one TUN device in the current network namespace and one inside another, and
// hands every packet from one to the other after a one-way delay — like `tc qdisc ... netem delay`
// on both ends of a veth pair. TCP runs end to end through it, unchanged: the RTT, the congestion
// window and the socket buffers behave as over a real link with that delay.
//
//   delay-line <host-ifname> <netns-path> <ns-ifname> <delay-us> <jitter-us> <rate-bit/s> <limit>
//
// rate 0 = unlimited. limit = packets held per direction before tail drop (netem's `limit`).
// Prints "ready" once both devices exist; the devices vanish when it exits (not persistent), and it
// exits when its parent dies (PR_SET_PDEATHSIG), so a killed bench leaves no link behind.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

// A GSO super-packet is at most 64 KiB plus the virtio-net header; leave room for BIG TCP too.
#define READ_BUFFER (256 * 1024)
#define READ_BATCH 64

struct packet {
  struct packet *next;
  uint64_t due_ns;
  size_t len;
  unsigned char data[];
};

struct direction {
  int from, to;
  struct packet *head, *tail;
  size_t queued;
  uint64_t last_due_ns, busy_until_ns;
  uint64_t forwarded, dropped;
};

static uint64_t delay_ns, jitter_ns, rate_bps, limit;
static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

// IFF_VNET_HDR + offloads: the kernel hands over TSO super-packets with their virtio-net header,
// and the other device accepts them back as they are, so a 64 KiB burst costs one read and one
// write instead of 45. The wire still carries 1500-byte segments' worth of TCP semantics (MSS,
// congestion window in segments), as a veth with TSO does.
static int open_tun(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) die("TUNSETOFFLOAD");
  return fd;
}

static uint64_t jitter(void) {
  if (jitter_ns == 0) return 0;
  return (uint64_t)((double)random() / RAND_MAX * 2.0 * (double)jitter_ns);
}

static void enqueue(struct direction *d, const unsigned char *data, size_t len, uint64_t now) {
  if (d->queued >= limit) {
    d->dropped++;
    return;
  }
  struct packet *p = malloc(sizeof *p + len);
  if (!p) {
    d->dropped++;
    return;
  }
  uint64_t sent = now;
  if (rate_bps) {
    // Serialisation at the link rate, as netem's `rate`: a packet starts when the previous one is out.
    uint64_t start = d->busy_until_ns > now ? d->busy_until_ns : now;
    d->busy_until_ns = start + (uint64_t)len * 8u * 1000000000u / rate_bps;
    sent = d->busy_until_ns;
  }
  // Jitter around the delay, never reordering: a packet leaves no earlier than the one before it.
  uint64_t due = sent + delay_ns - (jitter_ns < delay_ns ? jitter_ns : delay_ns) + jitter();
  if (due < d->last_due_ns) due = d->last_due_ns;
  d->last_due_ns = due;
  p->next = NULL;
  p->due_ns = due;
  p->len = len;
  memcpy(p->data, data, len);
  if (d->tail) d->tail->next = p;
  else d->head = p;
  d->tail = p;
  d->queued++;
}

static void receive(struct direction *d, unsigned char *buffer) {
  for (int i = 0; i < READ_BATCH; i++) {
    ssize_t n = read(d->from, buffer, READ_BUFFER);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      die("read");
    }
    enqueue(d, buffer, (size_t)n, now_ns());
  }
}

static void deliver(struct direction *d, uint64_t now) {
  while (d->head && d->head->due_ns <= now) {
    struct packet *p = d->head;
    d->head = p->next;
    if (!d->head) d->tail = NULL;
    d->queued--;
    // A failed write is a packet lost on the wire; TCP recovers from it as it would there.
    if (write(d->to, p->data, p->len) < 0) d->dropped++;
    else d->forwarded++;
    free(p);
  }
}

static uint64_t parse(const char *text, const char *what) {
  char *end;
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno || *end || end == text) {
    fprintf(stderr, "delay-line: bad %s: %s\n", what, text);
    exit(2);
  }
  return value;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s <host-if> <netns-path> <ns-if> <delay-us> <jitter-us> <rate-bit/s> <limit>\n", argv[0]);
    return 2;
  }
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) die("PR_SET_PDEATHSIG");
  if (getppid() != parent) return 1;
  // Timer slack 1 µs instead of 50 µs: the delay is honoured to the tick, not rounded up.
  prctl(PR_SET_TIMERSLACK, 1000UL);
  delay_ns = parse(argv[4], "delay") * 1000u;
  jitter_ns = parse(argv[5], "jitter") * 1000u;
  rate_bps = parse(argv[6], "rate");
  limit = parse(argv[7], "limit");
  srandom((unsigned)now_ns());

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int host = open_tun(argv[1]);
  int netns = open(argv[2], O_RDONLY | O_CLOEXEC);
  if (netns < 0) die("open netns");
  // A TUN device is created in the namespace current at TUNSETIFF; its fd keeps working from here.
  if (setns(netns, CLONE_NEWNET) < 0) die("setns");
  close(netns);
  int inside = open_tun(argv[3]);
  printf("ready\n");
  fflush(stdout);

  unsigned char *buffer = malloc(READ_BUFFER);
  if (!buffer) die("malloc");
  struct direction out = {.from = host, .to = inside}, back = {.from = inside, .to = host};
  struct pollfd fds[2] = {{.fd = host, .events = POLLIN}, {.fd = inside, .events = POLLIN}};
  while (!stopping) {
    uint64_t now = now_ns();
    deliver(&out, now);
    deliver(&back, now);
    uint64_t next = UINT64_MAX;
    if (out.head) next = out.head->due_ns;
    if (back.head && back.head->due_ns < next) next = back.head->due_ns;
    struct timespec timeout, *wait = NULL;
    if (next != UINT64_MAX) {
      uint64_t left = next > now ? next - now : 0;
      timeout.tv_sec = (time_t)(left / 1000000000u);
      timeout.tv_nsec = (long)(left % 1000000000u);
      wait = &timeout;
    }
    int ready = ppoll(fds, 2, wait, NULL);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    if (fds[0].revents & POLLIN) receive(&out, buffer);
    if (fds[1].revents & POLLIN) receive(&back, buffer);
    if ((fds[0].revents | fds[1].revents) & (POLLERR | POLLHUP | POLLNVAL)) break;
  }
  fprintf(stderr, "delay-line: to namespace %llu forwarded %llu dropped; back %llu forwarded %llu dropped\n",
          (unsigned long long)out.forwarded, (unsigned long long)out.dropped, (unsigned long long)back.forwarded,
          (unsigned long long)back.dropped);
  return 0;
}
