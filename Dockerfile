# syntax=docker/dockerfile:1
# redbin: built with dev dependencies, run with production dependencies only, as a non-root
# user. Needs a Redis: set REDIS_URL (docker-compose.yml does). The image has no redis-server,
# so the embedded-Redis fallback of `npm start` does not apply here.
ARG NODE_IMAGE=node:22-bookworm-slim

# ——— build: compile TypeScript (src/ → dist/) ———
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY views ./views
COPY public ./public
RUN npm run build

# ——— bench: the load-test harness (docker compose --profile bench) ———
FROM build AS bench
COPY bench ./bench
CMD ["npm", "run", "bench", "--", "--url", "http://app:3000"]

# ——— runtime: the server alone ———
FROM ${NODE_IMAGE} AS runtime
# MALLOC_ARENA_MAX as in `npm start` (package.json): glibc's per-thread arenas kept ~100 MB of
# freed paste buffers resident after a load.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# dist/ holds the compiled server and the worker's plain-JS files (src/pastes/*.js).
COPY --from=build /app/dist ./dist
COPY views ./views
COPY public ./public
# The command-line client: `docker compose exec app redbin get URL` (bin/redbin.js runs dist/cli).
COPY bin ./bin
RUN ln -s /app/bin/redbin.js /usr/local/bin/redbin
USER node
EXPOSE 3000
# No curl in the slim image: Node's own fetch asks /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The node flags of `npm start` (package.json): one process per CPU, so GC stays on its thread;
# a fixed young generation, small enough for the memory goal (docs/performance.md, Memory).
CMD ["node", "--single-threaded-gc", "--max-semi-space-size=4", "--min-semi-space-size=4", "--expose-gc", "dist/server.js"]
