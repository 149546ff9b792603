# The controller and L2 speaker image. Its build stage compiles our TypeScript to JavaScript (a checkout runs
# the .ts sources directly). No Docker engine runs in CI: test/integration/image.test.ts copies what the COPY
# lines below copy (minus what .dockerignore leaves out), installs production dependencies the way the deps
# stage does, compiles the way the build stage does, and runs `lb-provisioner --help` and `run` from there, so
# a file left out, a shipped import of a dev dependency, or a module the compiled tree can't load fails a test.
FROM node:26-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# production dependencies only, exactly the lockfile's; the `node` devDependency (the pinned binary for
# development) is not needed on the node:26 base, and no install script runs
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# our TypeScript compiled to JavaScript beside itself, then the .ts files removed: bin/lb-provisioner.js runs
# main.js when main.ts is absent. Node could strip the types at every start, as it does in a checkout, but its
# stripper (a WebAssembly module) stays loaded: about 20 MB more RSS for good and 30 MB more at start.
# tsconfig.build.json only emits (no type check: CI checks types); the dev dependencies stay in this stage, and
# the base image's node runs tsc (the `node` devDependency's binary is not installed without its script).
# Then @kubernetes/client-node becomes one module with only the names the compiled code uses
# (tools/bundle-dependencies.ts, esbuild): as published it is about 2,700 modules; Node with it loaded idles at
# 109 MB, bundled at 84-88 MB (bench/lib/runtime-floor.ts). Last, `run` becomes a bundle of its own, with only
# the code it reaches (tools/bundle-controller.ts, esbuild): no typed API classes of client-node, and a few
# modules in place of about 500.
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
COPY providers ./providers
COPY tools ./tools
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json && find src providers -name '*.ts' -delete
RUN node tools/bundle-dependencies.ts bundled
RUN node tools/bundle-controller.ts dist

# the L2 speaker's Node-API addon (providers/local/l2/native): one cc call against the image's Node headers
FROM node:26-slim AS addon
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY providers/local/l2/native ./providers/local/l2/native
RUN NODE_API_INCLUDE=/usr/local/include/node bash providers/local/l2/native/build.sh

FROM node:26-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.source="https://github.com/lb-provisioner/lb-provisioner" \
      org.opencontainers.image.title="lb-provisioner" \
      org.opencontainers.image.description="A Kubernetes service controller that gives every Service of type LoadBalancer a load balancer (AWS NLB, Azure Load Balancer, or a local MetalLB-like provider); also the L2 speaker." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /app
ENV NODE_ENV=production
# V8 heap sizing (src/cli/runtime-flags.ts): the old space is half the container's memory limit
ENV NODE_OPTIONS="--max-semi-space-size=1 --max-old-space-size-percentage=50"
# glibc's malloc in one arena: steadier and smaller RSS (src/cli/runtime-flags.ts)
ENV MALLOC_ARENA_MAX=1
COPY --from=deps /app/node_modules ./node_modules
# over it: the bundled @kubernetes/client-node entry module (build stage)
COPY --from=build /app/bundled/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/src ./src
COPY --from=build /app/providers ./providers
# `run` loads the controller bundle (bin/lb-provisioner.js); the compiled tree above serves every other command
COPY --from=build /app/dist ./dist
COPY --from=addon /app/providers/local/l2/native/build ./providers/local/l2/native/build
# the manifests, for `kubectl kustomize` from the image and the commands that read deploy/crds
COPY deploy ./deploy
# bin/lb-provisioner.js has a node shebang; Node resolves the link, so its relative imports hold
RUN ln -s /app/bin/lb-provisioner.js /usr/local/bin/lb-provisioner
USER 65532:65532
ENTRYPOINT ["lb-provisioner"]
CMD ["--help"]
