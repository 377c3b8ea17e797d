# syntax=docker/dockerfile:1
# The gateway as a container image: built in one stage (compilers, dev dependencies, TypeScript),
# run from another that holds only what `npm start` runs in production. docs/operations.md
# ("Containers") says how to run it and what of this file has been checked.

ARG NODE_VERSION=20.19

# ---- build: native SQLite driver, TypeScript, the web client --------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source where no prebuilt binary fits (or none can be downloaded):
# it needs Python, make and a C++ compiler, here and only here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.web.json ./
COPY src ./src
COPY tools ./tools
COPY client ./client
COPY web ./web
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production dependencies (the compiled driver among them) and dist/ -----------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=4000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
# The image's own `node` user (uid 1000) runs the gateway; /data is its only writable place.
RUN mkdir -p /data && chown node:node /data
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
VOLUME ["/data"]
EXPOSE 4000
# /healthz answers 200 while the process serves; readiness (/readyz) is the orchestrator's business.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node itself is PID 1, so SIGTERM from `docker stop` reaches the gateway's graceful shutdown.
CMD ["node", "dist/src/main.js"]
