/*
 * The packet side of the L2 responder: a thread per interface answers ARP requests and IPv6 neighbour
 * solicitations for the addresses in its set, from packet sockets with a kernel-side BPF filter, and the
 * gratuitous ARP / unsolicited neighbour advertisements sent on takeover. Why a thread: replies must never
 * wait for the JavaScript event loop (a GC pause, a burst of watch events).
 */
#define _GNU_SOURCE
#include "l2_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define ETH_HLEN 14
#define IP6_HLEN 40

static void count(responder *r, int which) { __atomic_add_fetch(&r->counters[which], 1, __ATOMIC_RELAXED); }

static int holds4(responder *r, const uint8_t ip[4]) {
  int found = 0;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->n4 && !found; i++) found = memcmp(&r->v4[i], ip, 4) == 0;
  pthread_mutex_unlock(&r->lock);
  return found;
}

static int holds6(responder *r, const uint8_t ip[16]) {
  int found = 0;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->n6 && !found; i++) found = memcmp(&r->v6[i], ip, 16) == 0;
  pthread_mutex_unlock(&r->lock);
  return found;
}

static void send_frame(responder *r, int fd, const uint8_t *frame, size_t len, const uint8_t dst[6], uint16_t proto) {
  struct sockaddr_ll to = {0};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = r->ifindex;
  to.sll_protocol = htons(proto);
  to.sll_halen = 6;
  memcpy(to.sll_addr, dst, 6);
  if (sendto(fd, frame, len, 0, (struct sockaddr *)&to, sizeof to) < 0) count(r, C_SEND_ERRORS);
}

/* An ARP frame: op 1 request, 2 reply. Frames are padded to Ethernet's 60-byte minimum. */
static void send_arp(responder *r, uint16_t op, const uint8_t eth_dst[6], const uint8_t sip[4], const uint8_t tha[6],
                     const uint8_t tip[4]) {
  uint8_t f[60] = {0};
  memcpy(f, eth_dst, 6);
  memcpy(f + 6, r->mac, 6);
  f[12] = 0x08, f[13] = 0x06;                     /* ARP */
  f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0;  /* Ethernet, IPv4 */
  f[18] = 6, f[19] = 4, f[20] = 0, f[21] = (uint8_t)op;
  memcpy(f + 22, r->mac, 6);
  memcpy(f + 28, sip, 4);
  memcpy(f + 32, tha, 6);
  memcpy(f + 38, tip, 4);
  send_frame(r, r->arp_fd, f, sizeof f, eth_dst, 0x0806);
}

static uint16_t icmp6_checksum(const uint8_t *ip6, const uint8_t *icmp, size_t len) {
  uint32_t sum = 0;
  for (int i = 8; i < 40; i += 2) sum += (uint32_t)(ip6[i] << 8 | ip6[i + 1]); /* source, destination */
  sum += (uint32_t)len + 58;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(icmp[i] << 8 | icmp[i + 1]);
  if (len & 1) sum += (uint32_t)(icmp[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* A neighbour advertisement for `target` (sent from it), with our MAC as the target link-layer option. */
static void send_na(responder *r, const uint8_t eth_dst[6], const uint8_t ip_dst[16], const uint8_t target[16],
                    int solicited) {
  uint8_t f[ETH_HLEN + IP6_HLEN + 32] = {0};
  uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP6_HLEN;
  memcpy(f, eth_dst, 6);
  memcpy(f + 6, r->mac, 6);
  f[12] = 0x86, f[13] = 0xdd;
  ip[0] = 0x60;
  ip[5] = 32;   /* payload length */
  ip[6] = 58;   /* ICMPv6 */
  ip[7] = 255;  /* hop limit: receivers drop neighbour discovery that crossed a router */
  memcpy(ip + 8, target, 16);
  memcpy(ip + 24, ip_dst, 16);
  icmp[0] = 136;
  icmp[4] = (uint8_t)((solicited ? 0x40 : 0) | 0x20); /* Solicited, Override */
  memcpy(icmp + 8, target, 16);
  icmp[24] = 2, icmp[25] = 1; /* target link-layer address option */
  memcpy(icmp + 26, r->mac, 6);
  uint16_t sum = icmp6_checksum(ip, icmp, 32);
  icmp[2] = (uint8_t)(sum >> 8), icmp[3] = (uint8_t)sum;
  send_frame(r, r->nd_fd, f, sizeof f, eth_dst, 0x86dd);
}

static const uint8_t BROADCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t ALL_NODES_MAC[6] = {0x33, 0x33, 0, 0, 0, 1};
static const uint8_t ALL_NODES[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static void on_arp(responder *r, const uint8_t *f, size_t len) {
  if (len < 42 || f[14] != 0 || f[15] != 1 || f[16] != 0x08 || f[17] != 0 || f[18] != 6 || f[19] != 4) return;
  const uint8_t *sha = f + 22, *sip = f + 28, *tip = f + 38;
  int op = f[20] << 8 | f[21];
  if (memcmp(sha, r->mac, 6) == 0) return;
  /* someone else claims one of our addresses (a reply, or a gratuitous request): two holders */
  if ((op == 2 || memcmp(sip, tip, 4) == 0) && holds4(r, sip)) count(r, C_CONFLICTS);
  if (op != 1 || memcmp(sip, tip, 4) == 0 || !holds4(r, tip)) return;
  count(r, C_ARP_REQUESTS);
  send_arp(r, 2, sha, tip, sha, sip);
  count(r, C_ARP_REPLIES);
}

static void on_ns(responder *r, const uint8_t *f, size_t len) {
  const uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP6_HLEN;
  if (len < ETH_HLEN + IP6_HLEN + 24 || ip[6] != 58 || ip[7] != 255 || icmp[0] != 135 || icmp[1] != 0) return;
  size_t icmp_len = (size_t)(ip[4] << 8 | ip[5]);
  if (icmp_len < 24 || ETH_HLEN + IP6_HLEN + icmp_len > len) return;
  const uint8_t *target = icmp + 8;
  if (!holds6(r, target)) return;
  count(r, C_ND_SOLICITS);
  static const uint8_t unspecified[16] = {0};
  if (memcmp(ip + 8, unspecified, 16) == 0) {
    /* duplicate address detection: the answer goes to all nodes, not solicited */
    send_na(r, ALL_NODES_MAC, ALL_NODES, target, 0);
  } else {
    const uint8_t *lladdr = f + 6; /* the frame's source, unless a source link-layer option says otherwise */
    for (size_t at = 24; at + 8 <= icmp_len && icmp[at + 1] != 0; at += (size_t)icmp[at + 1] * 8) {
      if (icmp[at] == 1 && icmp[at + 1] == 1) lladdr = icmp + at + 2;
    }
    send_na(r, lladdr, ip + 8, target, 1);
  }
  count(r, C_ND_ADVERTS);
}

static void drain(responder *r, int fd, void (*handle)(responder *, const uint8_t *, size_t)) {
  uint8_t buf[2048];
  for (;;) {
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
    if (n < 0) return;
    if (from.sll_pkttype != PACKET_OUTGOING) handle(r, buf, (size_t)n);
  }
}

static void *run(void *arg) {
  responder *r = arg;
  struct pollfd fds[3] = {{r->arp_fd, POLLIN, 0}, {r->nd_fd, POLLIN, 0}, {r->wake_fd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    if (fds[2].revents) return NULL;
    if (fds[0].revents) drain(r, r->arp_fd, on_arp);
    if (fds[1].revents) drain(r, r->nd_fd, on_ns);
  }
}

/* Classic BPF run by the kernel, so the thread only wakes for ARP or for neighbour solicitations. */
static struct sock_filter ARP_FILTER[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0806, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0xffff),      BPF_STMT(BPF_RET | BPF_K, 0),
};
static struct sock_filter NS_FILTER[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0, 5),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 3),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0xffff),      BPF_STMT(BPF_RET | BPF_K, 0),
};

static int packet_socket(responder *r, uint16_t proto, struct sock_filter *code, unsigned short ncode) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));
  if (fd < 0) return -1;
  struct sock_fprog prog = {ncode, code};
  struct sockaddr_ll at = {0};
  at.sll_family = AF_PACKET;
  at.sll_protocol = htons(proto);
  at.sll_ifindex = r->ifindex;
  int one = 1;
#ifdef PACKET_IGNORE_OUTGOING
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
#endif
  (void)one;
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0 ||
      bind(fd, (struct sockaddr *)&at, sizeof at) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

void link_close(responder *r) {
  if (r->running) {
    uint64_t one = 1;
    if (write(r->wake_fd, &one, sizeof one) < 0) { /* the thread also ends when the fd closes */
    }
    pthread_join(r->thread, NULL);
    r->running = 0;
  }
  int *fds[] = {&r->arp_fd, &r->nd_fd, &r->mc_fd, &r->wake_fd};
  for (size_t i = 0; i < 4; i++) {
    if (*fds[i] >= 0) close(*fds[i]);
    *fds[i] = -1;
  }
}

static void solicited_node_group(const struct in6_addr *ip, struct in6_addr *group) {
  static const uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
  memcpy(group->s6_addr, prefix, 13);
  memcpy(group->s6_addr + 13, ip->s6_addr + 13, 3);
}

static int group_in(const struct in6_addr *groups, size_t n, const struct in6_addr *g) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&groups[i], g, 16) == 0) return 1;
  return 0;
}

/* Joins the solicited-node groups of the new IPv6 set (so the NIC and MLD-snooping switches pass the
 * solicitations) and leaves those no longer needed. */
void link_update_groups(responder *r, const struct in6_addr *v6, size_t n6) {
  struct in6_addr *wanted = malloc(sizeof(struct in6_addr) * (n6 > 0 ? n6 : 1));
  size_t nwanted = 0;
  if (wanted == NULL) return;
  for (size_t i = 0; i < n6; i++) {
    struct in6_addr g;
    solicited_node_group(&v6[i], &g);
    if (!group_in(wanted, nwanted, &g)) wanted[nwanted++] = g;
  }
  if (r->mc_fd < 0) {
    free(wanted);
    return;
  }
  for (size_t i = 0; i < r->ngroups; i++) {
    if (group_in(wanted, nwanted, &r->groups[i])) continue;
    struct ipv6_mreq m = {r->groups[i], (unsigned)r->ifindex};
    setsockopt(r->mc_fd, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m, sizeof m);
  }
  for (size_t i = 0; i < nwanted; i++) {
    if (group_in(r->groups, r->ngroups, &wanted[i])) continue;
    struct ipv6_mreq m = {wanted[i], (unsigned)r->ifindex};
    setsockopt(r->mc_fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
  }
  memcpy(r->groups, wanted, nwanted * sizeof wanted[0]);
  r->ngroups = nwanted;
  free(wanted);
}

int link_open(responder *r, const char **what) {
  struct ifreq ifr = {0};
  memcpy(ifr.ifr_name, r->ifname, sizeof ifr.ifr_name - 1);
  int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int ok = probe >= 0 && ioctl(probe, SIOCGIFINDEX, &ifr) == 0;
  r->ifindex = ifr.ifr_ifindex;
  ok = ok && ioctl(probe, SIOCGIFHWADDR, &ifr) == 0;
  int saved = errno;
  if (probe >= 0) close(probe);
  errno = saved;
  if (!ok) {
    *what = "reading the interface";
    return -1;
  }
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    errno = 0;
    *what = "the interface is not Ethernet: ARP and NDP cannot be answered on it";
    return -1;
  }
  memcpy(r->mac, ifr.ifr_hwaddr.sa_data, 6);
  r->arp_fd = packet_socket(r, 0x0806, ARP_FILTER, sizeof ARP_FILTER / sizeof ARP_FILTER[0]);
  if (r->arp_fd >= 0) r->nd_fd = packet_socket(r, 0x86dd, NS_FILTER, sizeof NS_FILTER / sizeof NS_FILTER[0]);
  if (r->arp_fd < 0 || r->nd_fd < 0) {
    *what = "opening a packet socket (needs CAP_NET_RAW)";
    return -1;
  }
  r->mc_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* -1 without IPv6: no groups to join */
  r->wake_fd = eventfd(0, EFD_CLOEXEC);
  if (r->wake_fd < 0 || pthread_create(&r->thread, NULL, run, r) != 0) {
    *what = "starting the responder thread";
    return -1;
  }
  r->running = 1;
  return 0;
}

void link_announce4(responder *r, const uint8_t ip[4]) {
  static const uint8_t zero[6] = {0};
  send_arp(r, 1, BROADCAST, ip, zero, ip); /* gratuitous: sender and target are the VIP */
  count(r, C_ANNOUNCED);
}

void link_announce6(responder *r, const uint8_t ip[16]) {
  send_na(r, ALL_NODES_MAC, ALL_NODES, ip, 0);
  count(r, C_ANNOUNCED);
}
