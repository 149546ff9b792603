/*
 * One interface's ARP/NDP responder (l2_link.c), shared with the Node-API surface (l2_responder.c).
 */
#ifndef LBP_L2_LINK_H
#define LBP_L2_LINK_H

#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_ADDRESSES 4096

enum { C_ARP_REQUESTS, C_ARP_REPLIES, C_ND_SOLICITS, C_ND_ADVERTS, C_ANNOUNCED, C_CONFLICTS, C_SEND_ERRORS, C_N };

typedef struct {
  char ifname[IF_NAMESIZE];
  int ifindex;
  uint8_t mac[6];
  int arp_fd, nd_fd, mc_fd, wake_fd;
  pthread_t thread;
  int running;
  pthread_mutex_t lock;
  struct in_addr v4[MAX_ADDRESSES];
  size_t n4;
  struct in6_addr v6[MAX_ADDRESSES];
  size_t n6;
  /* solicited-node groups joined (for switches that snoop MLD), owned by the JavaScript thread */
  struct in6_addr groups[MAX_ADDRESSES];
  size_t ngroups;
  uint64_t counters[C_N];
} responder;

/* Opens the interface's packet sockets and starts the answering thread. -1 with errno set, and *what
 * saying which step failed (or errno 0 and *what the reason). */
int link_open(responder *r, const char **what);
/* Stops the thread and closes the sockets; idempotent. */
void link_close(responder *r);
/* Joins the solicited-node groups of the IPv6 set and leaves the others. */
void link_update_groups(responder *r, const struct in6_addr *v6, size_t n6);
/* One gratuitous ARP for an IPv4 address, or one unsolicited neighbour advertisement for an IPv6 one. */
void link_announce4(responder *r, const uint8_t ip[4]);
void link_announce6(responder *r, const uint8_t ip[16]);

#endif
