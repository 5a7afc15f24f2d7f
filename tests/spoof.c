/*
 * spoof.c: UDP datagrams with forged IPv4 sources, and a counter of what
 * comes back, for the hostile-input tests (issue 12). Needs root (raw
 * sockets). Only for 127.0.0.0/8: it refuses any other address.
 *
 *   spoof send SRC_IP SRC_PORT DST_IP DST_PORT HEX COUNT SOURCES GAP_US
 *     sends COUNT datagrams (payload HEX) to DST; source i % SOURCES is
 *     SRC_IP + (i % SOURCES) (the address as a number), GAP_US microseconds apart.
 *   spoof sniff FROM_PORT NET_IP PREFIX SECONDS
 *     counts UDP datagrams from port FROM_PORT to addresses in NET_IP/PREFIX
 *     for SECONDS seconds (the last second without traffic ends it early once
 *     something arrived), then prints "DATAGRAMS BYTES" (UDP payload bytes).
 */
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int loopback(uint32_t host) { return (host >> 24) == 127; }

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int send_mode(int argc, char **argv) {
  if (argc != 10) return 2;
  uint32_t src = ntohl(inet_addr(argv[2]));
  uint16_t sport = (uint16_t)atoi(argv[3]);
  uint32_t dst = ntohl(inet_addr(argv[4]));
  uint16_t dport = (uint16_t)atoi(argv[5]);
  const char *hex = argv[6];
  long count = atol(argv[7]);
  long sources = atol(argv[8]);
  long gap = atol(argv[9]);
  if (!loopback(dst) || !loopback(src) || !loopback(src + (uint32_t)sources - 1) || sources < 1 ||
      count < 0 || count > 1000000) {
    fprintf(stderr, "spoof: 127.0.0.0/8 only, 1..1000000 datagrams\n");
    return 2;
  }
  size_t n = strlen(hex) / 2;
  if (n > 1400) return 2;
  unsigned char packet[1500];
  unsigned char *payload = packet + sizeof(struct iphdr) + sizeof(struct udphdr);
  for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &payload[i]);
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    perror("spoof: socket");
    return 1;
  }
  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(dst);
  for (long i = 0; i < count; i++) {
    struct iphdr *ip = (struct iphdr *)packet;
    struct udphdr *udp = (struct udphdr *)(packet + sizeof(struct iphdr));
    memset(packet, 0, sizeof(struct iphdr) + sizeof(struct udphdr));
    ip->ihl = 5;
    ip->version = 4;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->saddr = htonl(src + (uint32_t)(i % sources));
    ip->daddr = htonl(dst);
    ip->tot_len = htons((uint16_t)(sizeof(struct iphdr) + sizeof(struct udphdr) + n));
    udp->source = htons(sport);
    udp->dest = htons(dport);
    udp->len = htons((uint16_t)(sizeof(struct udphdr) + n));
    udp->check = 0; /* optional in IPv4; the kernel fills the IP checksum */
    if (sendto(fd, packet, sizeof(struct iphdr) + sizeof(struct udphdr) + n, 0,
               (struct sockaddr *)&to, sizeof to) < 0) {
      perror("spoof: sendto");
      return 1;
    }
    if (gap > 0) usleep((useconds_t)gap);
  }
  close(fd);
  return 0;
}

static int sniff_mode(int argc, char **argv) {
  if (argc != 6) return 2;
  uint16_t from = (uint16_t)atoi(argv[2]);
  uint32_t net = ntohl(inet_addr(argv[3]));
  int prefix = atoi(argv[4]);
  double seconds = atof(argv[5]);
  uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
  if (!loopback(net) || prefix < 8 || seconds <= 0 || seconds > 120) return 2;
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
  if (fd < 0) {
    perror("spoof: socket");
    return 1;
  }
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  printf("ready\n");
  fflush(stdout);
  long datagrams = 0, bytes = 0;
  double start = now_s(), last = 0;
  unsigned char buf[65536];
  while (now_s() - start < seconds) {
    if (datagrams > 0 && now_s() - last > 1.0) break;
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got < (ssize_t)(sizeof(struct iphdr) + sizeof(struct udphdr))) continue;
    struct iphdr *ip = (struct iphdr *)buf;
    struct udphdr *udp = (struct udphdr *)(buf + ip->ihl * 4);
    if (ntohs(udp->source) != from || (ntohl(ip->daddr) & mask) != (net & mask)) continue;
    datagrams++;
    bytes += ntohs(udp->len) - (long)sizeof(struct udphdr);
    last = now_s();
  }
  printf("%ld %ld\n", datagrams, bytes);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "send") == 0) return send_mode(argc, argv);
  if (argc > 1 && strcmp(argv[1], "sniff") == 0) return sniff_mode(argc, argv);
  fprintf(stderr, "usage: spoof send|sniff ...\n");
  return 2;
}
