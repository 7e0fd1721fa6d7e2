ARG NODE_IMAGE=node:24-bookworm-slim
FROM ${NODE_IMAGE} AS build
# One image for every role: ROLE=api serves HTTP, ROLE=worker runs jobs (see README).
WORKDIR /app
# --ignore-scripts: no dependency needs its install script (esbuild and msgpackr-extract get their
# platform binaries as optional dependencies), and npm versions differ in whether they run them.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
COPY migrations ./migrations
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    ROLE=api \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
RUN groupadd --system atrium \
 && useradd --system --gid atrium --home-dir /app --no-create-home --shell /usr/sbin/nologin atrium
COPY package.json package-lock.json ./
COPY scripts/patch-postgres.mjs ./scripts/
# postgres.js crashes the process when PostgreSQL goes away mid-transaction: see the script
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node scripts/patch-postgres.mjs
COPY --from=build /app/dist ./dist
# the code stays owned by root: the app user can read it, not change it
USER atrium
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/server.js"]
