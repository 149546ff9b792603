/*
 * The L2 speaker's responder, Node-API surface: open(ifname), setAddresses(h, ips), announce(h, ip),
 * stats(h), mac(h), close(h). Node.js has no packet sockets, hence this addon (ABI-stable: one build serves
 * every Node release that offers NAPI_VERSION 8); the packets are l2_link.c's.
 * Why not let the kernel answer (the VIP as a local address): README, "L2 data plane".
 * When the process dies, even by SIGKILL, its sockets close and the answers stop at once.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l2_link.h"

static const char *COUNTER_NAMES[C_N] = {"arpRequests", "arpReplies",   "ndSolicitations", "ndAdvertisements",
                                         "announcements", "conflicts", "sendErrors"};

static napi_value throw_errno(napi_env env, const char *what, const char *ifname) {
  char message[256];
  snprintf(message, sizeof message, "%s on %s: %s", what, ifname, strerror(errno));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  responder *r = data;
  link_close(r);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static responder *handle_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected a responder handle");
    return NULL;
  }
  return data;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->arp_fd = r->nd_fd = r->mc_fd = r->wake_fd = -1;
  pthread_mutex_init(&r->lock, NULL);
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], r->ifname, sizeof r->ifname, &len) != napi_ok || len == 0) {
    finalize(env, r, NULL);
    napi_throw_type_error(env, NULL, "expected an interface name");
    return NULL;
  }
  const char *what = "";
  if (link_open(r, &what) == 0) {
    napi_value result;
    napi_create_external(env, r, finalize, NULL, &result);
    return result;
  }
  if (errno != 0) throw_errno(env, what, r->ifname);
  else napi_throw_error(env, NULL, what);
  finalize(env, r, NULL);
  return NULL;
}

static napi_value js_set_addresses(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  responder *r = handle_arg(env, info, 2, argv);
  if (r == NULL) return NULL;
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok || n > MAX_ADDRESSES) {
    napi_throw_type_error(env, NULL, "expected an array of at most 4096 addresses");
    return NULL;
  }
  struct in_addr *v4 = malloc(sizeof(struct in_addr) * (n > 0 ? n : 1));
  struct in6_addr *v6 = malloc(sizeof(struct in6_addr) * (n > 0 ? n : 1));
  size_t n4 = 0, n6 = 0;
  if (v4 == NULL || v6 == NULL) {
    free(v4), free(v6);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    char text[INET6_ADDRSTRLEN + 1] = {0};
    size_t len = 0;
    napi_get_element(env, argv[1], i, &item);
    if (napi_get_value_string_utf8(env, item, text, sizeof text, &len) != napi_ok) len = 0;
    if (inet_pton(AF_INET, text, &v4[n4]) == 1) n4++;
    else if (inet_pton(AF_INET6, text, &v6[n6]) == 1) n6++;
    else {
      char message[96];
      snprintf(message, sizeof message, "not an IP address: \"%s\"", text);
      free(v4), free(v6);
      napi_throw_type_error(env, NULL, message);
      return NULL;
    }
  }
  pthread_mutex_lock(&r->lock);
  memcpy(r->v4, v4, n4 * sizeof v4[0]);
  r->n4 = n4;
  memcpy(r->v6, v6, n6 * sizeof v6[0]);
  r->n6 = n6;
  pthread_mutex_unlock(&r->lock);
  link_update_groups(r, v6, n6);
  free(v4), free(v6);
  return NULL;
}

static napi_value js_announce(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  responder *r = handle_arg(env, info, 2, argv);
  if (r == NULL) return NULL;
  char text[INET6_ADDRSTRLEN + 1] = {0};
  size_t len = 0;
  uint8_t ip[16];
  napi_get_value_string_utf8(env, argv[1], text, sizeof text, &len);
  if (inet_pton(AF_INET, text, ip) == 1) {
    link_announce4(r, ip);
  } else if (inet_pton(AF_INET6, text, ip) == 1) {
    link_announce6(r, ip);
  } else {
    napi_throw_type_error(env, NULL, "not an IP address");
  }
  return NULL;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, value;
  responder *r = handle_arg(env, info, 1, argv);
  if (r == NULL) return NULL;
  napi_create_object(env, &out);
  for (int i = 0; i < C_N; i++) {
    napi_create_double(env, (double)__atomic_load_n(&r->counters[i], __ATOMIC_RELAXED), &value);
    napi_set_named_property(env, out, COUNTER_NAMES[i], value);
  }
  return out;
}

static napi_value js_mac(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  responder *r = handle_arg(env, info, 1, argv);
  if (r == NULL) return NULL;
  char text[18];
  snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", r->mac[0], r->mac[1], r->mac[2], r->mac[3], r->mac[4],
           r->mac[5]);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  responder *r = handle_arg(env, info, 1, argv);
  if (r != NULL) link_close(r);
  return NULL;
}

NAPI_MODULE_INIT() {
  const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"open", js_open},   {"setAddresses", js_set_addresses}, {"announce", js_announce},
             {"stats", js_stats}, {"mac", js_mac},                    {"close", js_close}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}
