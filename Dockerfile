# The controller and L2 speaker image. Node 26 runs the TypeScript sources directly (type stripping): no build step.
FROM node:26-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# the `node` devDependency (the pinned binary for development) is not needed on the node:26 base
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# the L2 speaker's Node-API addon (providers/local/l2/native): one cc call against the image's Node headers
FROM node:26-slim AS addon
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY providers/local/l2/native ./providers/local/l2/native
RUN NODE_API_INCLUDE=/usr/local/include/node bash providers/local/l2/native/build.sh

FROM node:26-slim
WORKDIR /app
ENV NODE_ENV=production
# V8 heap sizing measured by bench/controlplane-burst.ts (src/cli/runtime-flags.ts)
ENV NODE_OPTIONS="--max-semi-space-size=1 --max-old-space-size=96"
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY providers ./providers
COPY --from=addon /app/providers/local/l2/native/build ./providers/local/l2/native/build
COPY deploy ./deploy
USER 65532:65532
ENTRYPOINT ["node", "bin/lb-provisioner.js"]
CMD ["run", "--help"]
