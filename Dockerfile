# fileshare image: one image, every service (`fileshare start all|gateway|storage|tokens|expiry`).
# Node 20.20 is what the project is tested on (package.json engines, .ci/run).

FROM node:20.20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY services/gateway/package.json services/gateway/
COPY services/storage/package.json services/storage/
COPY services/tokens/package.json services/tokens/
COPY services/expiry/package.json services/expiry/
COPY cli/package.json cli/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY shared shared
COPY services services
COPY cli cli
COPY docs docs
COPY deploy/healthcheck.mjs deploy/healthcheck.mjs
# Compile TypeScript once here; the image runs plain JavaScript (no loader at run time).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20.20-bookworm-slim
ENV NODE_ENV=production \
    FILESHARE_DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=root:root /app /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# 1446 gateway, 7001 storage data plane, 7002 tokens health, 7003 expiry health
EXPOSE 1446 7001 7002 7003
ENTRYPOINT ["node", "/app/cli/bin/fileshare.js"]
CMD ["start", "all"]
