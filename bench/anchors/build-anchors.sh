#!/usr/bin/env bash
# Builds the benchmark anchors from the Go module proxy into a cache outside the repo, keyed by version
# (and, for our own wrapper main, by its content). A warm cache makes this a no-op.
#
#   bash bench/anchors/build-anchors.sh [service-controller] [metallb] [aws]    (default: all three)
#
# Prints progress on stderr and, on stdout, one line per anchor: "<name> <path of its binary>".
#   service-controller  k8s.io/cloud-provider/controllers/service run by bench/anchors/service-controller/main.go
#                       with a fake cloud (a wrapper module requiring k8s.io/cloud-provider)
#   metallb             go.universe.tf/metallb/controller, unchanged (a wrapper module requiring MetalLB)
#   aws                 k8s.io/cloud-provider-aws/cmd/aws-cloud-controller-manager, unchanged (a wrapper module
#                       with cloud-provider-aws's own replace directives, which Go ignores in a dependency)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

command -v go >/dev/null 2>&1 || {
  echo "build-anchors: Go >= 1.26 is required to build the benchmark anchors" >&2
  exit 3
}
cache_root=${LBP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lb-provisioner}
# the same flags as the test control plane's build, so the Go build cache shares compiled k8s.io packages
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
log() { echo "build-anchors: $*" >&2; }

# go_line <go.mod>: the module's go directive (a wrapper must not ask for less)
go_line() { grep -E '^go [0-9]' "$1" | head -1; }
mod_file() { (cd "$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p'); }

# build <name> <key> <wrapper-setup-function> <package> <binary>
build() {
  local name=$1 key=$2 setup=$3 pkg=$4 binary=$5
  local out="$cache_root/anchors/$name-$key"
  local bin="$out/bin/$binary"
  if [ -x "$bin" ] && [ -f "$out/.complete" ]; then
    echo "$name $bin"
    return
  fi
  mkdir -p "$out/bin" "$out/src"
  exec 9>"$out/.build-lock"
  if ! flock -n 9; then
    log "$name: waiting for another build to finish"
    flock 9
  fi
  if ! { [ -x "$bin" ] && [ -f "$out/.complete" ]; }; then
    log "$name: resolving dependencies (first run downloads from the Go module proxy)"
    "$setup" "$out/src"
    log "$name: building $pkg (cold: several minutes on 2 cores)"
    (cd "$out/src" && go build -trimpath -ldflags "-s -w" -o "$bin.tmp" "$pkg")
    mv "$bin.tmp" "$bin"
    touch "$out/.complete"
    log "$name: ready at $bin"
  fi
  exec 9>&-
  echo "$name $bin"
}

setup_service_controller() {
  local src=$1
  local mod
  mod=$(mod_file "$src" "k8s.io/cloud-provider@$CLOUD_PROVIDER_VERSION")
  cp "$here/service-controller/main.go" "$src/main.go"
  cat >"$src/go.mod" <<MOD
module lbprovisioner.bench/service-controller

$(go_line "$mod")

require k8s.io/cloud-provider $CLOUD_PROVIDER_VERSION
MOD
  (cd "$src" && go mod tidy >&2)
}

setup_metallb() {
  local src=$1
  local mod
  mod=$(mod_file "$src" "go.universe.tf/metallb@$METALLB_VERSION")
  cat >"$src/go.mod" <<MOD
module lbprovisioner.bench/metallb

$(go_line "$mod")
MOD
  substitute_frr_k8s "$src" "$mod"
  (cd "$src" && go get "go.universe.tf/metallb/controller@$METALLB_VERSION" >&2)
}

# MetalLB's controller binary links its frr-k8s BGP backend (only the speaker runs it), and with it
# github.com/metallb/frr-k8s/api/v1beta1. proxy.golang.org answers 403 "This module version is not
# available" for the zip of the frr-k8s version MetalLB v0.16.2 requires (v0.0.27: its .info and .mod are
# served, the zip is not), so the build can't fetch it. Then this substitutes the newest version the proxy
# serves (FRR_K8S_SUBSTITUTE) with the two declarations MetalLB's BGP backend references that it lacks.
# Nothing the controller's IP allocation runs is touched.
substitute_frr_k8s() {
  local src=$1 mod=$2 want why dir
  want=$(awk '$1=="github.com/metallb/frr-k8s"{print $2; exit}' "$mod")
  [ -n "$want" ] || return 0
  if why=$(cd "$src" && go mod download "github.com/metallb/frr-k8s@$want" 2>&1); then
    return 0
  fi
  log "metallb: the Go module proxy withholds github.com/metallb/frr-k8s@$want ($(echo "$why" | tail -2 | tr '\n' ' '))"
  log "metallb: substituting frr-k8s $FRR_K8S_SUBSTITUTE + AsPathPrependPrefixes (used only by the speaker's BGP backend)"
  dir=$(cd "$src" && go mod download -json "github.com/metallb/frr-k8s@$FRR_K8S_SUBSTITUTE" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  rm -rf "$src/frr-k8s"
  cp -r "$dir" "$src/frr-k8s"
  chmod -R u+w "$src/frr-k8s"
  local types="$src/frr-k8s/api/v1beta1/frrconfiguration_types.go"
  grep -q 'PrefixesWithCommunity \[\]CommunityPrefixes' "$types" || {
    log "metallb: frr-k8s $FRR_K8S_SUBSTITUTE has no Advertise.PrefixesWithCommunity to extend"
    exit 4
  }
  sed -i 's/^\([[:space:]]*\)PrefixesWithCommunity \[\]CommunityPrefixes.*$/&\n\1PrefixesWithAsPathPrepend []AsPathPrependPrefixes `json:"withAsPathPrepend,omitempty"`/' "$types"
  cat >"$src/frr-k8s/api/v1beta1/zz_bench_substitute.go" <<'GO'
package v1beta1

// AsPathPrependPrefixes: declared by the benchmark's substitute for a frr-k8s version the Go module proxy
// withholds; MetalLB's frr-k8s BGP backend references it, the controller never runs that code.
type AsPathPrependPrefixes struct {
	AsPathPrepend uint8    `json:"asPathPrepend,omitempty"`
	Prefixes      []string `json:"prefixes,omitempty"`
}
GO
  echo "replace github.com/metallb/frr-k8s => ./frr-k8s" >>"$src/go.mod"
}

setup_aws() {
  local src=$1
  local mod
  mod=$(mod_file "$src" "k8s.io/cloud-provider-aws@$CLOUD_PROVIDER_AWS_VERSION")
  {
    echo "module lbprovisioner.bench/cloud-provider-aws"
    echo
    go_line "$mod"
    echo
  } >"$src/go.mod"
  # the anchor's own replace directives (single-line and block form), which a dependency's go.mod can't apply
  local old new version why
  while read -r old new version; do
    if why=$(cd "$src" && go mod download "$new@$version" 2>&1); then
      echo "replace $old => $new $version" >>"$src/go.mod"
    elif [ "$new" != "$old" ] && (cd "$src" && go mod download "$old@$version" >/dev/null 2>&1); then
      # github.com/google/cel-go moved to github.com/cel-expr/cel-go and keeps its module path; the proxy
      # withholds the new repository's name but serves the same version under the module path
      log "aws: the Go module proxy withholds $new@$version ($(echo "$why" | tail -1)); using $old $version, the same version under its module path"
      echo "replace $old => $old $version" >>"$src/go.mod"
    else
      log "aws: cannot fetch $new@$version, which cloud-provider-aws's go.mod replaces $old with: $why"
      exit 4
    fi
  done < <(awk '/^replace \(/{r=1;next} r&&/^\)/{r=0;next} r&&NF{print $1, $3, $4} /^replace [^(]/{print $2, $4, $5}' "$mod")
  (cd "$src" && go get "k8s.io/cloud-provider-aws/cmd/aws-cloud-controller-manager@$CLOUD_PROVIDER_AWS_VERSION" >&2)
}

hash_of() { sha256sum "$1" | cut -c1-12; }

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(service-controller metallb aws)
for name in "${names[@]}"; do
  case $name in
    service-controller)
      build service-controller "$CLOUD_PROVIDER_VERSION-$(hash_of "$here/service-controller/main.go")" \
        setup_service_controller . service-controller
      ;;
    metallb)
      build metallb "$METALLB_VERSION" setup_metallb go.universe.tf/metallb/controller metallb-controller
      ;;
    aws)
      build aws "$CLOUD_PROVIDER_AWS_VERSION" setup_aws k8s.io/cloud-provider-aws/cmd/aws-cloud-controller-manager \
        aws-cloud-controller-manager
      ;;
    *)
      log "unknown anchor: $name (service-controller, metallb, aws)"
      exit 2
      ;;
  esac
done
