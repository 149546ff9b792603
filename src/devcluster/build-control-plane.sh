#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the Go module proxy into a cache outside the repo,
# keyed by version. A warm cache makes this a no-op. Prints progress lines on stderr and the bin
# directory on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
K8S_VERSION=${LBP_K8S_VERSION:-$K8S_VERSION}
ETCD_VERSION=${LBP_ETCD_VERSION:-$ETCD_VERSION}

command -v go >/dev/null 2>&1 || {
  echo "build-control-plane: Go is required to build the dev control plane (kube-apiserver, etcd, kubectl) on first run; install Go >= 1.26 and make sure the Go module proxy is reachable" >&2
  exit 3
}

cache_root=${LBP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lb-provisioner}
out="$cache_root/control-plane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
bin="$out/bin"
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kubectl" ] && [ -x "$bin/etcd" ] && [ -f "$out/.complete" ]; then
  echo "$bin"
  exit 0
fi

log() { echo "build-control-plane: $*" >&2; }
mkdir -p "$bin"
# jest workers (and parallel CI steps) may all start on a cold cache: one builds, the others wait
exec 9>"$out/.build-lock"
if ! flock -n 9; then
  log "waiting for another build of the control plane to finish"
  flock 9
fi
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kubectl" ] && [ -x "$bin/etcd" ] && [ -f "$out/.complete" ]; then
  echo "$bin"
  exit 0
fi
work="$out/src"
mkdir -p "$work/k8s" "$work/etcd"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
staging_version="v0.${K8S_VERSION#v1.}"

if [ ! -x "$bin/kube-apiserver" ] || [ ! -x "$bin/kubectl" ]; then
  log "fetching k8s.io/kubernetes@$K8S_VERSION module metadata"
  k8s_mod=$(cd "$work/k8s" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$k8s_mod" ] || { log "could not download k8s.io/kubernetes@$K8S_VERSION (is the Go module proxy reachable?)"; exit 3; }
  go_line=$(grep -E '^go [0-9]' "$k8s_mod" | head -1)
  godebug_line=$(grep -E '^godebug ' "$k8s_mod" | head -1 || true)
  {
    echo "module lbprovisioner.test/controlplane"
    echo
    echo "$go_line"
    [ -n "$godebug_line" ] && echo "$godebug_line"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    # every staging module k8s.io/kubernetes requires at v0.0.0, pinned to the matching release
    awk '/^require \(/{r=1;next} r&&/^\)/{r=0} r&&$2=="v0.0.0"{print $1}' "$k8s_mod" | sort -u |
      while read -r m; do echo "replace $m => $m $staging_version"; done
  } >"$work/k8s/go.mod"
  log "resolving kube-apiserver and kubectl dependencies (first run downloads a few hundred MB)"
  (cd "$work/k8s" && go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2)
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  log "building kube-apiserver $K8S_VERSION (cold: 10-25 minutes on 2 cores)"
  (cd "$work/k8s" && go build -trimpath -ldflags "$ldflags" -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
  log "building kubectl $K8S_VERSION"
  (cd "$work/k8s" && go build -trimpath -ldflags "$ldflags" -o "$bin/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl)
  mv "$bin/kubectl.tmp" "$bin/kubectl"
fi

if [ ! -x "$bin/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  cat >"$work/etcd/go.mod" <<MOD
module lbprovisioner.test/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  (cd "$work/etcd" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2)
  (cd "$work/etcd" && go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
fi

touch "$out/.complete"
log "control plane ready in $bin"
echo "$bin"
